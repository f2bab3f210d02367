"""Banks of recordings that corruptions crop excerpts from (noise, babble, impulse responses).

A bank holds its clips end to end in one constant tensor, so an excerpt is a slice picked with the clip's
seed: cropping a pre-generated bank costs a copy, where generating noise per clip with `tf.random.normal`
doubled the pipeline's cost when measured.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_audio.audio import AUDIO_SUFFIXES, read_audio
from keras_audio.corruptions.seeds import batch_split_seed, batch_uniform_int, split_seed

DEFAULT_MAX_BANK_SECONDS = 1800.0


def audio_files(folder: str | os.PathLike, what: str) -> list[Path]:
    """The audio files under `folder` (recursively, sorted), by suffix.

    Args:
        folder: the folder to list.
        what: what the folder is for (``"noise_dir"``), named in errors.

    Raises:
        ValueError: the folder is missing, not a folder, or holds no audio file.
    """
    path = Path(folder)
    if not path.exists():
        raise ValueError(f"{what} {str(path)!r}: no such folder")
    if not path.is_dir():
        raise ValueError(f"{what} {str(path)!r}: not a folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"{what} {str(path)!r}: holds no audio file (looked for {', '.join(AUDIO_SUFFIXES)})")
    return files


def load_folder(
    folder: str | os.PathLike, sample_rate: int, what: str, max_seconds: float = DEFAULT_MAX_BANK_SECONDS
) -> tuple[list[np.ndarray], list[Path]]:
    """Every audio file under `folder` as mono float32 at `sample_rate` (stereo is downmixed).

    Raises:
        ValueError: see `audio_files`; or the recordings total more than `max_seconds` (the bank is a graph
            constant: pass a smaller folder or raise the limit).
        keras_audio.audio.AudioError: a file that cannot be read, naming it.
    """
    files = audio_files(folder, what)
    waveforms = [read_audio(f, sample_rate, max_seconds=max_seconds) for f in files]
    total = sum(len(w) for w in waveforms) / sample_rate
    if total > max_seconds:
        raise ValueError(
            f"{what} {str(folder)!r}: {total:.0f} s of audio, more than the limit of "
            f"{max_seconds:.0f} s for a bank held in memory; pass a smaller folder or raise max_seconds"
        )
    return waveforms, files


class ClipBank:
    """Clips stored end to end, with seeded excerpts.

    Args:
        clips: 1-D float arrays (at least one, none empty).
        what: what the bank holds, named in errors.
    """

    def __init__(self, clips: Sequence[np.ndarray], what: str = "bank"):
        if len(clips) == 0:
            raise ValueError(f"{what}: needs at least one clip, got none")
        clips = [np.asarray(c, np.float32).reshape(-1) for c in clips]
        empty = [i for i, c in enumerate(clips) if c.size == 0]
        if empty:
            raise ValueError(f"{what}: clip(s) {empty} are empty")
        lengths = np.array([c.size for c in clips], np.int32)
        self.num_clips = len(clips)
        self.samples = tf.constant(np.concatenate(clips))
        self.starts = tf.constant(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int32))
        self.lengths = tf.constant(lengths)

    def excerpt(self, length: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """`[length]` samples of one clip picked with `seed`, starting at a random offset.

        A clip at least `length` long gives a contiguous slice (it never wraps round, which would splice the
        clip's end onto its start); a shorter clip is looped from a random offset.
        """
        length = tf.cast(length, tf.int32)
        if self.num_clips == 1:
            index, offset_seed = tf.constant(0), seed
        else:
            choice_seed, offset_seed = split_seed(seed, 2)
            index = tf.random.stateless_uniform([], choice_seed, 0, self.num_clips, dtype=tf.int32)
        start = tf.gather(self.starts, index)
        clip_length = tf.gather(self.lengths, index)

        def contiguous():
            offset = tf.random.stateless_uniform([], offset_seed, 0, clip_length - length + 1, dtype=tf.int32)
            return tf.slice(self.samples, tf.reshape(start + offset, [1]), tf.reshape(length, [1]))

        def looped():
            offset = tf.random.stateless_uniform([], offset_seed, 0, clip_length, dtype=tf.int32)
            positions = start + tf.math.floormod(offset + tf.range(length), clip_length)
            return tf.gather(self.samples, positions)

        return tf.cond(clip_length >= length, contiguous, looped)

    def excerpts(self, lengths: tf.Tensor, seeds: tf.Tensor, samples: tf.Tensor) -> tf.Tensor:
        """`excerpt` for a batch of clips of their own lengths: `[batch, samples]`, row `i` equal to
        `excerpt(lengths[i], seeds[i])` followed by zeros up to `samples` (each `lengths[i] <= samples`)."""
        lengths = tf.cast(lengths, tf.int32)
        samples = tf.cast(samples, tf.int32)
        count = tf.shape(seeds)[0]
        if self.num_clips == 1:
            index, offset_seeds = tf.zeros([count], tf.int32), seeds
        else:
            choice_seeds, offset_seeds = batch_split_seed(seeds, 2)
            index = batch_uniform_int(choice_seeds, 0, self.num_clips)
        start = tf.gather(self.starts, index)
        clip_length = tf.gather(self.lengths, index)
        contiguous = clip_length >= lengths
        # `excerpt` draws the offset from the same seed in either branch; only the range differs.
        offset = batch_uniform_int(offset_seeds, 0, tf.where(contiguous, clip_length - lengths + 1, clip_length))

        def cut(example):
            start_, offset_, clip_length_, contiguous_, length_ = example
            excerpt = tf.cond(
                contiguous_,
                lambda: tf.slice(self.samples, tf.reshape(start_ + offset_, [1]), tf.reshape(length_, [1])),
                lambda: tf.gather(self.samples, start_ + tf.math.floormod(offset_ + tf.range(length_), clip_length_)),
            )
            return tf.pad(excerpt, [[0, samples - length_]])

        # A slice per clip, not one gather of batch × length positions: gathering costs ten times a copy.
        return tf.map_fn(
            cut, (start, offset, clip_length, contiguous, lengths), fn_output_signature=tf.TensorSpec([None])
        )


LOWEST_AUDIBLE_HZ = 20.0


def noise_bank(kind: str, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Pre-generated unit-RMS noise, cropped at random per clip (`banks.ClipBank`).

    Cropping a bank costs a slice; drawing `tf.random.normal` per clip doubled the pipeline's cost when
    measured. Coloured noise is white noise shaped in the frequency domain: power ∝ 1/f (pink) or 1/f²
    (brown). Everything below 20 Hz is removed: brown noise would otherwise put most of its power into
    inaudible drift, and an SNR should count noise a listener hears.
    """
    exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}.get(kind)
    if exponent is None:
        raise ValueError(f"noise kind must be 'white', 'pink' or 'brown', got {kind!r}")
    n = int(seconds * sample_rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1.0 / sample_rate)
    scale = np.zeros_like(frequencies)
    audible = frequencies >= LOWEST_AUDIBLE_HZ
    scale[audible] = frequencies[audible] ** -exponent  # amplitude ∝ f^-exponent
    shaped = np.fft.irfft(spectrum * scale, n)
    return (shaped / np.sqrt(np.mean(shaped**2))).astype(np.float32)
