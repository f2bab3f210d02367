"""Manifest + decoded waveforms -> `tf.data` datasets: crop or pad, corrupt on the fly, batch, prefetch.

Elements are `(waveform [batch, clip_samples] float32, label [batch] int32)`; models take raw waveforms.

Seeds: every random draw in a map is stateless and seeded per element, so a dataset gives identical
batches however many threads run the map.

- Training: the stream is shuffled with a seed, repeated, and enumerated; element `k` of the stream gets
  the seed `fold_in(seed, k)`, split into a crop seed and a corruption-policy seed.
- Evaluation: the crop is deterministic (the centre), and a spoiled clip's seed is derived from
  `(run seed, clip id, corruption, severity)` (`corruptions.seeds.clip_seed`), so the spoiled test set is
  the same for every model, run, batch size and thread count. Clips are cropped, batched, then spoiled a
  batch at a time (`spoil_batch`, row for row `spoil_clip`).

Spoil the recording, not the padding: a clip is cropped to the window (a longer one) but not padded, the
corruption acts on it at its own length, and only then is it padded to the window (where the clean clip is
padded). Noise, reverberation or quantisation spread over zeros the pipeline appended would be noise no
microphone recorded, and models that ignore padding would standardise and pool over noise-only frames. A
corruption that changes the length (speed, time stretch) changes the recording's, and the result is cropped
or padded like any recording.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.corpora.combined import GROUP_COLUMN
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import clip_seed, clip_seeds, name_hash, split_seed
from keras_audio.corruptions.signal_ops import fit_length
from keras_audio.manifest import Manifest
from keras_audio.mixup import Mixup, mixup_dataset
from keras_audio.windowing import (  # re-exported: their one home
    center_crop,
    center_crop_or_pad,
    center_pad_rows,
    random_crop,
    random_crop_or_pad,
)

AUTOTUNE = tf.data.AUTOTUNE
TRAIN_STREAM = 0x7EA1  # separates the training stream's seeds from evaluation seeds
MIXUP_STREAM = 0x313C  # separates the mixup draws from the training stream's per-example seeds


class ClipSource:
    """The decoded clips of one manifest, held as one tensor for fast slicing inside `tf.data.map`.

    Args:
        store: decoded waveforms (every clip of `manifest` must be in it).
        manifest: the clips to serve, in order.
    """

    def __init__(self, store: WaveformStore, manifest: Manifest):
        index = store.indices(manifest.clip_ids)
        lengths = store.lengths[index]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.samples = self._hold(store, index)
        self.offsets = offsets
        self.lengths = lengths.astype(np.int64)
        self.labels = manifest.label_ids
        self.clip_hashes = np.array([name_hash(c) for c in manifest.clip_ids], dtype=np.int64)
        self.clip_ids = manifest.clip_ids
        # Which corpus each clip comes from, when several are trained on together (`corpora.combined`).
        groups = manifest.frame[GROUP_COLUMN] if GROUP_COLUMN in manifest.frame.columns else None
        self.group_names = sorted(set(groups)) if groups is not None else []
        self.groups = (
            np.array([self.group_names.index(g) for g in groups], np.int64)
            if groups is not None
            else np.zeros(len(self.clip_ids), np.int64)
        )

    def __len__(self) -> int:
        return len(self.clip_ids)

    def _hold(self, store: WaveformStore, index: np.ndarray):
        # One contiguous copy of just these clips; a map that slices it is a gather, with no Python.
        return tf.constant(
            np.concatenate([store.waveform(i) for i in index]) if len(index) else np.zeros(0, np.float32)
        )

    def slices(self) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((self.offsets, self.lengths, self.labels, self.clip_hashes))

    def shuffled(self, seed: int) -> tf.data.Dataset:
        """`slices()` in a new seeded order every pass, endless: the training stream's order.

        Pass `p` is the permutation `stateless_shuffle(seed, p)`, so element `k` of the stream is a function of
        `(seed, k)` alone, however many iterators were made of the dataset before (`Dataset.shuffle` with
        `reshuffle_each_iteration` would give each new iterator another order; a distributed `fit` makes one
        to build the model before the one it trains on).
        """
        key = tf.constant(seed, tf.int64)
        return self.rows(
            tf.data.Dataset.counter().flat_map(
                lambda number: tf.data.Dataset.from_tensor_slices(
                    tf.random.experimental.stateless_shuffle(
                        tf.range(len(self), dtype=tf.int64), tf.stack([key, number])
                    )
                )
            )
        )

    def rows(self, positions: tf.data.Dataset) -> tf.data.Dataset:
        """The `slices()` elements at `positions` (a dataset of int64 clip positions)."""
        columns = tuple(tf.constant(c) for c in (self.offsets, self.lengths, self.labels, self.clip_hashes))
        return positions.map(lambda i: tuple(column[i] for column in columns))

    def clip(self, offset, length) -> tf.Tensor:
        return self.samples[offset : offset + length]


def spoil_clip(
    waveform: tf.Tensor, clip_hash, corruption: Corruption | None, severity: int, seed: int, clip_samples: int
) -> tf.Tensor:
    """A test clip as the models are evaluated on it: the centre of a longer clip, spoiled at its own length
    with the clip's seeded corruption, then zero-padded at both ends to the window (`center_crop_or_pad`).

    Args:
        waveform: the whole decoded clip, `[samples]`.
        clip_hash: `corruptions.seeds.name_hash(clip_id)`.
        corruption: None for the clean version.
        severity: 1..5 (ignored when clean).
        seed: the run seed.
        clip_samples: the evaluation length.

    Returns:
        `[clip_samples]` float32.
    """
    recording = center_crop(waveform, clip_samples)
    if corruption is not None:
        recording = corruption(recording, clip_seed(seed, clip_hash, corruption.name, severity), severity)
    return center_crop_or_pad(recording, clip_samples)


def training_dataset(
    source: ClipSource,
    clip_samples: int,
    batch_size: int,
    seed: int,
    waveform_policy: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
    pairs: bool = False,
    balance_groups: bool = False,
    shard: tuple[int, int] | None = None,
    mixup: Mixup | None = None,
    crop: str = "random",
) -> tf.data.Dataset:
    """An endless, shuffled stream of training batches (feed `fit` with `steps_per_epoch`).

    Args:
        source: the training clips.
        clip_samples: the fixed length of every example.
        batch_size: examples per batch (the last partial batch of an epoch is not dropped, since the
            stream is endless every batch is full).
        seed: the stream's seed (shuffle order, crops, corruptions).
        waveform_policy: `(waveform, seed) -> waveform` (a training policy), applied to the cropped recording
            before it is padded (at the clean clip's place, so denoising pairs stay aligned).
        pairs: yield `((corrupted, clean), label)` instead of `(corrupted, label)`: the views a denoising
            autoencoder learns from.
        balance_groups: draw each example from the source's corpora (`ClipSource.groups`) with equal
            probability (seeded), so a small corpus is not drowned by a large one; a no-op for one corpus.
        shard: `(count, index)`: keep elements `index, index + count, ...` of the stream (each keeps the seed
            of its place in the whole stream), so `count` workers batching `batch_size` each see together
            the global batches of one process batching `count * batch_size`.
        mixup: mix each batch (`mixup.mixup_dataset`): the elements become `(mixed [b, n], soft targets
            [b, classes])`, batch `k` mixed from its own stateless seed (with `shard`, partners come from the
            worker's own batch); None or alpha 0: no mixing, labels stay class ids.
        crop: ``random`` (a seeded random window, or random placement of the padding) or ``centre`` (the
            window evaluation takes).
    """
    if crop not in ("random", "centre"):
        raise ValueError(f"training_dataset: crop must be 'random' or 'centre', got {crop!r}")
    if len(source) == 0:
        raise ValueError("training_dataset: the training split is empty")
    if mixup is not None and mixup.alpha > 0 and pairs:
        raise ValueError("training_dataset: mixup cannot mix denoising pairs (pairs=True); use one or the other")
    base = tf.constant([seed, TRAIN_STREAM], tf.int64)

    def load(index, element):
        offset, length, label, _ = element
        crop_seed, policy_seed = split_seed(tf.random.experimental.stateless_fold_in(base, index), 2)
        if crop == "random":
            recording = random_crop(source.clip(offset, length), clip_samples, crop_seed)
            clean = random_crop_or_pad(recording, clip_samples, crop_seed)
            corrupted = (
                clean
                if waveform_policy is None
                else random_crop_or_pad(waveform_policy(recording, policy_seed), clip_samples, crop_seed)
            )
        else:  # the window evaluation takes, spoiled at its own length, then padded (`spoil_clip`)
            recording = center_crop(source.clip(offset, length), clip_samples)
            clean = center_crop_or_pad(recording, clip_samples)
            corrupted = (
                clean
                if waveform_policy is None
                else center_crop_or_pad(waveform_policy(recording, policy_seed), clip_samples)
            )
        corrupted = tf.ensure_shape(corrupted, [clip_samples])
        if pairs:
            return (corrupted, tf.ensure_shape(clean, [clip_samples])), label
        return corrupted, label

    if balance_groups and len(source.group_names) > 1:
        # One shuffled, endless stream per corpus, drawn from with equal weights (seeded): the k-th example
        # still gets the k-th seed, so crops and corruptions stay reproducible.
        streams = [
            tf.data.Dataset.from_tensor_slices(
                tuple(
                    column[source.groups == g]
                    for column in (source.offsets, source.lengths, source.labels, source.clip_hashes)
                )
            )
            .shuffle(int(np.sum(source.groups == g)), seed=seed + g, reshuffle_each_iteration=True)
            .repeat()
            for g in range(len(source.group_names))
        ]
        dataset = tf.data.Dataset.sample_from_datasets(streams, seed=seed).enumerate()
    else:
        dataset = source.shuffled(seed).enumerate()
    if shard is not None:  # one worker's part of the stream: every n-th element, seeds kept (`distribute`)
        dataset = dataset.shard(*shard)
    dataset = dataset.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if mixup is not None and mixup.alpha > 0:
        mix_seed = tf.constant([seed, MIXUP_STREAM], tf.int64)
        if shard is not None:
            mix_seed = tf.random.experimental.stateless_fold_in(mix_seed, shard[1])
        dataset = mixup_dataset(dataset, mixup, mix_seed)
    return dataset.prefetch(AUTOTUNE)


def evaluation_dataset(
    source: ClipSource,
    clip_samples: int,
    batch_size: int,
    corruption: Corruption | None = None,
    severity: int = 0,
    seed: int = 0,
    *,
    batched: bool = True,
) -> tf.data.Dataset:
    """Every clip once, in manifest order, centre-cropped, optionally spoiled.

    Args:
        source: the evaluation clips.
        clip_samples: the fixed length of every example.
        batch_size: examples per batch; results do not depend on it.
        corruption: None for the clean set.
        severity: 1..5 when `corruption` is given.
        seed: the run seed the spoiled versions derive from.
        batched: spoil a batch at a time (`spoil_batch`); False spoils clip by clip
            (`spoil_clip` in the map), the reference the batched path is tested against.

    Returns:
        A finite dataset of `(waveform [b, clip_samples], label [b])`.
    """
    if corruption is not None and severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be in 1..5 for corruption {corruption.name!r}, got {severity!r}")
    if batch_size < 1:
        raise ValueError(f"evaluation_dataset: batch_size must be >= 1, got {batch_size!r}")
    if batched:
        return spoiled_batches(cropped_batches(source, clip_samples, batch_size), corruption, severity, seed)

    def load(offset, length, label, clip_hash):
        waveform = spoil_clip(source.clip(offset, length), clip_hash, corruption, severity, seed, clip_samples)
        return tf.ensure_shape(waveform, [clip_samples]), label

    dataset = source.slices().map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def cropped_batches(source: ClipSource, clip_samples: int, batch_size: int) -> tf.data.Dataset:
    """Every clip once, in manifest order, centre-cropped (not padded) and batched: `(recording [b, clip_samples],
    length [b], label [b], clip hash [b])`, row `i` the clip's recording in its first `length[i]` samples and
    zeros after; the clean batches `spoiled_batches` spoils (build once, spoil for every condition)."""

    def crop(offset, length, label, clip_hash):
        recording = center_crop(source.clip(offset, length), clip_samples)
        return (
            tf.ensure_shape(fit_length(recording, clip_samples), [clip_samples]),
            tf.shape(recording)[0],
            label,
            clip_hash,
        )

    return source.slices().map(crop, num_parallel_calls=AUTOTUNE, deterministic=True).batch(batch_size)


def spoil_batch(
    recordings: tf.Tensor, lengths: tf.Tensor, clip_hashes: tf.Tensor, corruption: Corruption | None, severity, seed
) -> tf.Tensor:
    """A batch of `cropped_batches` as the models get it: `[b, clip_samples]`, row `i` equal to `spoil_clip` of
    clip `i`.

    Each clip is spoiled at its own length (`Corruption.corrupt_batch` with the lengths; each clip's seed is
    `clip_seed(seed, clip hash, corruption, severity)`, `clip_seeds` computes a batch of them), then padded to
    the window (`center_pad_rows`). A corruption that changes the length runs clip by clip (`tf.map_fn`), its
    result cropped or padded to the window (`center_crop_or_pad`).

    Args:
        recordings: `[b, clip_samples]` float32, row `i` a recording of `lengths[i]` samples then zeros.
        lengths: `[b]` int32.
        clip_hashes: `[b]` int64, `name_hash(clip_id)` of each clip.
        corruption: None for the clean batch.
        severity: 1..5 (an int, or an int32 scalar tensor: one traced map can then serve every severity).
        seed: the run seed.
    """
    if corruption is None:
        return center_pad_rows(recordings, lengths)
    seeds = clip_seeds(seed, clip_hashes, corruption.name, severity)
    if corruption.changes_length:
        samples = tf.shape(recordings)[1]
        return tf.map_fn(
            lambda clip: center_crop_or_pad(corruption(clip[0][: clip[1]], clip[2], severity), samples),
            (recordings, lengths, seeds),
            fn_output_signature=tf.TensorSpec(recordings.shape[1:], tf.float32),
        )
    return center_pad_rows(corruption.corrupt_batch(recordings, seeds, severity, lengths), lengths)


def spoiled_batches(
    batches: tf.data.Dataset, corruption: Corruption | None, severity: int, seed: int
) -> tf.data.Dataset:
    """`cropped_batches` spoiled a batch at a time (`spoil_batch`): `(waveform [b, clip_samples], label [b])`,
    row for row what `spoil_clip` gives. The corruption's ops run once per batch instead of once per clip."""
    if corruption is not None and severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be in 1..5 for corruption {corruption.name!r}, got {severity!r}")

    def spoil(recordings, lengths, labels, clip_hashes):
        return spoil_batch(recordings, lengths, clip_hashes, corruption, severity, seed), labels

    return batches.map(spoil, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)
