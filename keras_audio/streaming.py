"""Clips streamed from the decode cache on disk, in bounded memory: the clip source for corpora too big to hold.

`pipeline.ClipSource` copies a split's clips into one tensor: right for TIMIT (0.9 GB), wrong for
LibriSpeech-scale corpora (230 GB of float32). `StreamedClipSource` has the same interface (`slices`, `clip`,
`offsets`, `lengths`, `labels`, `clip_hashes`, `clip_ids`, `groups`, `group_names`, `shuffled`), so
`pipeline.training_dataset`, `pipeline.evaluation_dataset` and `grid.evaluate_grid` take either, but
`clip(offset, length)` reads the clip's bytes from the cache's `samples.npy` with `os.pread` when the
dataset asks for it. Reads are explicit file reads, not touches of the memory map: pages read through the
page cache do not count in the process's resident memory, pages of a touched `np.memmap` do. The
`tf.data` map that calls `clip` runs `num_parallel_calls=AUTOTUNE` reads at once (`pread` releases the GIL).

The evaluation is unchanged: the same samples reach `pipeline.spoil_clip` with the same per-clip seeds, so
the spoiled test set is identical clip for clip whichever source serves it.

The training order (`shuffled`) is a bounded shuffle instead of a full-length one: the clips are cut into
blocks of consecutive clips (near-sequential reads on disk), the block order is shuffled, `cycle_blocks`
blocks are interleaved and each window of `shuffle_buffer` clip *positions* (never audio) is permuted.
Seeded, new every pass, and a function of the seed alone, so the stream is reproducible; it differs from the
in-memory source's order (both are seeded shuffles).
"""

from __future__ import annotations

import os
import weakref

import numpy as np
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource

SOURCES = ("memory", "stream", "auto")
DEFAULT_STREAM_THRESHOLD_GB = 2.0  # `auto`: stream a corpus whose samples take more than this (float32)
BLOCK_CLIPS = 64  # consecutive clips read as one block
CYCLE_BLOCKS = 16  # blocks interleaved at a time
SHUFFLE_BUFFER = 1024  # clip indices shuffled after the interleave


def samples_file(store: WaveformStore) -> tuple[str, int]:
    """The `.npy` file behind `store.samples` and the byte offset of its first sample.

    Raises:
        ValueError: the samples are not memory-mapped from a float32 little-endian file (an in-memory store).
    """
    samples = store.samples
    if not isinstance(samples, np.memmap) or samples.filename is None:
        raise ValueError(
            f"a streamed clip source needs the decode cache on disk (samples memory-mapped from "
            f"samples.npy); got an in-memory {type(samples).__name__}"
        )
    if samples.dtype.str != "<f4" or samples.ndim != 1:
        raise ValueError(
            f"{samples.filename}: expected a float32 little-endian vector, got {samples.dtype.str} "
            f"with {samples.ndim} dimension(s)"
        )
    return str(samples.filename), int(samples.offset)


class StreamedClipSource(ClipSource):
    """The clips of `manifest`, read from the decode cache on disk as the dataset needs them.

    Args:
        store: decoded waveforms memory-mapped from the cache (`cache.load_waveforms`); every clip of
            `manifest` must be in it. Only its file name, offsets and lengths are used: the map is never touched.
        manifest: the clips to serve, in order.
        block_clips, cycle_blocks, shuffle_buffer: the training order's bounded shuffle (module docstring).
    """

    def __init__(
        self,
        store: WaveformStore,
        manifest: Manifest,
        *,
        block_clips: int = BLOCK_CLIPS,
        cycle_blocks: int = CYCLE_BLOCKS,
        shuffle_buffer: int = SHUFFLE_BUFFER,
    ):
        for name, value in (
            ("block_clips", block_clips),
            ("cycle_blocks", cycle_blocks),
            ("shuffle_buffer", shuffle_buffer),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"StreamedClipSource: {name} must be an int >= 1, got {value!r}")
        self.path, self._data_offset = samples_file(store)
        self.block_clips, self.cycle_blocks, self.shuffle_buffer = block_clips, cycle_blocks, shuffle_buffer
        super().__init__(store, manifest)
        # Positions in the file, not in a copy: clip i is samples[offsets[i] : offsets[i] + lengths[i]].
        self.offsets = np.asarray(store.offsets, np.int64)[store.indices(manifest.clip_ids)]
        self.samples = None

    def _hold(self, store: WaveformStore, index: np.ndarray):
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        return None

    def _read(self, offset, length) -> np.ndarray:
        count = int(length)
        data = os.pread(self._fd, 4 * count, self._data_offset + 4 * int(offset))
        if len(data) != 4 * count:
            raise OSError(
                f"{self.path}: clip at sample {int(offset)} needs {count} samples, the file holds "
                f"{len(data) // 4} from there (the decode cache was changed; decode again)"
            )
        return np.frombuffer(data, "<f4")

    def clip(self, offset, length) -> tf.Tensor:
        waveform = tf.numpy_function(self._read, [offset, length], tf.float32, stateful=False)
        return tf.ensure_shape(waveform, [None])

    def shuffled(self, seed: int) -> tf.data.Dataset:
        """The training order: blocks of consecutive clips in a seeded order, `cycle_blocks` interleaved, then
        each window of `shuffle_buffer` clip positions permuted (module docstring). Endless; pass `p` and window
        `w` draw from `(seed, p, w)` alone, so every iterator of the dataset gives the same stream."""
        count, block = len(self), self.block_clips
        blocks = -(-count // block)
        key = tf.constant(seed, tf.int64)

        def one_pass(number):
            pass_key = tf.stack([key, number])
            order = tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(tf.range(blocks, dtype=tf.int64), pass_key)
            )
            positions = order.interleave(
                lambda b: tf.data.Dataset.range(b * block, tf.minimum((b + 1) * block, count)),
                cycle_length=self.cycle_blocks,
                block_length=1,
            )
            return (
                positions.batch(self.shuffle_buffer)
                .enumerate()
                .flat_map(
                    lambda window, indices: tf.data.Dataset.from_tensor_slices(
                        tf.random.experimental.stateless_shuffle(
                            indices, tf.random.experimental.stateless_fold_in(pass_key, window)
                        )
                    )
                )
            )

        return self.rows(tf.data.Dataset.counter().flat_map(one_pass))


def samples_bytes(store: WaveformStore, manifest: Manifest) -> int:
    """What holding `manifest`'s clips in memory takes (float32)."""
    return 4 * int(np.sum(np.asarray(store.lengths)[store.indices(manifest.clip_ids)]))


def resolve_source(
    kind: str, store: WaveformStore, manifest: Manifest, threshold_gb: float = DEFAULT_STREAM_THRESHOLD_GB
) -> str:
    """``memory`` or ``stream`` for `kind`: ``auto`` streams when `manifest`'s samples exceed `threshold_gb`
    and the store is on disk.

    Raises:
        ValueError: an unknown `kind`, a negative threshold, or ``stream`` for a store not on disk.
    """
    if kind not in SOURCES:
        raise ValueError(f"clip source must be one of {list(SOURCES)}, got {kind!r}")
    if isinstance(threshold_gb, bool) or not isinstance(threshold_gb, (int, float)) or not threshold_gb >= 0:
        raise ValueError(f"stream threshold must be a number of GB >= 0, got {threshold_gb!r}")
    if kind == "stream":
        samples_file(store)  # refuses an in-memory store with its reason
        return "stream"
    if kind == "auto" and isinstance(store.samples, np.memmap) and samples_bytes(store, manifest) > threshold_gb * 1e9:
        return "stream"
    return "memory"


def make_source(kind: str, store: WaveformStore, manifest: Manifest) -> ClipSource:
    """A `ClipSource` (``memory``) or a `StreamedClipSource` (``stream``) of `manifest`'s clips."""
    if kind == "stream":
        return StreamedClipSource(store, manifest)
    if kind == "memory":
        return ClipSource(store, manifest)
    raise ValueError(f"make_source: kind must be 'memory' or 'stream' (resolve 'auto' first), got {kind!r}")
