"""Crop, pad and window waveforms: the one home of how a clip becomes the model's fixed-length input.

Pure TensorFlow functions on a mono `[samples]` tensor, usable eagerly, in `tf.function` and in
`tf.data.map`:

- `center_crop_or_pad`: the centre `length` samples, or the clip zero-padded at both ends (evaluation's
  centre-crop input, what the tables measure);
- `random_crop_or_pad`: a stateless random `length`-sample window (training);
- `center_crop` / `random_crop`: the same crops without the padding: the part of a recording a window holds,
  which is what gets spoiled (a corruption acts on the recording, then the window is padded);
- `center_pad_rows`: `[batch, samples]` rows of clips of their own lengths, each padded as
  `center_crop_or_pad` pads it (the batched evaluation path);
- `window_starts` / `frame_windows`: windows of the model's clip length over the whole file (utterance-level
  and long-file prediction); `windows_at`: the windows at given starts (a batch of them at a time);
- `WindowStream` (NumPy): the same windows cut from a recording that arrives in blocks, for files too long to
  hold (`api.Classifier.predict_file`).

The windowing rule, for `n` samples, a window of `w` samples and a hop of `h` (`1 <= h <= w`):

- `n <= w`: one window, the clip centre-padded to `w` samples, identical to `center_crop_or_pad(x, w)`;
  its start is `-((w - n) // 2)` (negative: the zeros padded before the clip).
- `n > w`: `1 + ceil((n - w) / h)` windows starting at `0, h, 2h, ...`; the last one is moved back to start
  at `n - w`, so it ends exactly at the end of the file. Every window then lies inside the signal (no
  padding, as in training, where a long clip is cropped and never padded), every sample is covered, and
  the last window may overlap its neighbour by more than `w - h`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def center_crop(waveform: tf.Tensor, length: int) -> tf.Tensor:
    """The centre `length` samples of a longer clip; a shorter clip unchanged (not padded)."""
    size = tf.shape(waveform)[0]
    start = tf.maximum(size - length, 0) // 2
    return waveform[start : start + length]


def center_crop_or_pad(waveform: tf.Tensor, length: int) -> tf.Tensor:
    """The centre `length` samples, or the clip zero-padded at both ends to `length`."""
    waveform = center_crop(waveform, length)
    missing = length - tf.shape(waveform)[0]
    return tf.pad(waveform, [[missing // 2, missing - missing // 2]])


def center_pad_rows(rows: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """`[batch, samples]` rows, row `i` a clip in its first `lengths[i] <= samples` samples and zeros after, each
    moved to where `center_crop_or_pad` puts it: row `i` equals `center_crop_or_pad(rows[i, :lengths[i]], samples)`."""
    samples = tf.shape(rows)[1]
    positions = tf.range(samples)[None, :] - ((samples - tf.cast(lengths, tf.int32)) // 2)[:, None]
    return tf.where(positions >= 0, tf.gather(rows, tf.maximum(positions, 0), batch_dims=1), tf.zeros_like(rows))


def random_crop(waveform: tf.Tensor, length: int, seed: tf.Tensor) -> tf.Tensor:
    """A random `length`-sample window of a longer clip (stateless); a shorter clip unchanged (not padded).

    The window `random_crop_or_pad` takes with the same seed.
    """
    size = tf.shape(waveform)[0]
    start = tf.random.stateless_uniform([], seed, 0, tf.maximum(size - length, 0) + 1, dtype=tf.int32)
    return waveform[start : start + length]


def random_crop_or_pad(waveform: tf.Tensor, length: int, seed: tf.Tensor) -> tf.Tensor:
    """A random `length`-sample window (stateless), or the clip zero-padded at a random position.

    `random_crop_or_pad(random_crop(x, length, seed), length, seed)` is `random_crop_or_pad(x, length, seed)`:
    the padding is drawn from the seed and the missing length alone, so a recording spoiled at its own length
    can be padded where the clean one is.
    """
    waveform = random_crop(waveform, length, seed)
    missing = length - tf.shape(waveform)[0]
    before = tf.random.stateless_uniform([], seed[::-1], 0, missing + 1, dtype=tf.int32)
    return tf.pad(waveform, [[before, missing - before]])


def default_hop(window: int) -> int:
    """Half a window (rounded down, at least one sample)."""
    _check_positive("window", window)
    return max(1, int(window) // 2)


def window_starts(num_samples, window: int, hop: int | None = None) -> tf.Tensor:
    """Where each window starts, in samples from the start of the clip (see the module docstring).

    Args:
        num_samples: the clip's length (a Python int or an int scalar tensor).
        window: samples per window (the model's clip length).
        hop: samples between window starts, `1 <= hop <= window`; None: `default_hop(window)`.

    Returns:
        int32 `[n_windows]`; a single negative start for a clip shorter than one window.
    """
    window, hop = _check_window(window, hop)
    num_samples = tf.cast(num_samples, tf.int32)
    missing = tf.maximum(window - num_samples, 0)
    return _padded_starts(num_samples + missing, window, hop) - missing // 2


def frame_windows(waveform: tf.Tensor, window: int, hop: int | None = None) -> tf.Tensor:
    """The clip cut into windows of `window` samples, `hop` apart (see the module docstring for the rule).

    Args:
        waveform: one whole decoded clip, `[samples]` float32.
        window: samples per window (the model's clip length).
        hop: samples between window starts, `1 <= hop <= window`; None: half a window.

    Returns:
        `[n_windows, window]`, row `i` the samples from `window_starts(...)[i]` on.
    """
    window, hop = _check_window(window, hop)
    waveform = tf.convert_to_tensor(waveform)
    if waveform.shape.rank is not None and waveform.shape.rank != 1:
        raise ValueError(f"frame_windows: waveform must be one clip [samples], got shape {waveform.shape}")
    return windows_at(waveform, window_starts(tf.shape(waveform)[0], window, hop), window)


def windows_at(waveform: tf.Tensor, starts: tf.Tensor, window: int) -> tf.Tensor:
    """`[len(starts), window]`: the windows of `waveform` that begin at `starts` (from `window_starts`, or a
    slice of them). A clip shorter than `window` is centre-padded exactly as `center_crop_or_pad` pads it, and
    its single start is negative (the zeros before it)."""
    _check_positive("window", window)
    size = tf.shape(waveform)[0]
    missing = tf.maximum(window - size, 0)
    padded = tf.pad(waveform, [[missing // 2, missing - missing // 2]])
    starts = tf.cast(starts, tf.int32) + missing // 2
    return tf.gather(padded, starts[:, None] + tf.range(window, dtype=tf.int32)[None, :])


class WindowStream:
    """The windows of `frame_windows(waveform, window, hop)` and their `window_starts`, cut from a waveform
    that arrives in blocks: the same samples, holding no more than one window and one block at a time.

    `add` each block as it is read, `take` the windows ready so far, `finish` after the last block (only
    then are the end-aligned last window, or a short clip's single padded window, known), and `take` the rest.

    Args:
        window: samples per window.
        hop: samples between window starts, `1 <= hop <= window`; None: `default_hop(window)`.
    """

    def __init__(self, window: int, hop: int | None = None):
        self.window, self.hop = _check_window(window, hop)
        self._buffer = np.zeros(0, np.float32)
        self._offset = 0  # the sample index of _buffer[0]
        self._next = 0  # the next regular start (a multiple of hop)
        self._received = 0
        self._end: tuple[int, np.ndarray | None] | None = None  # after finish: the window left to give, if any

    @property
    def samples(self) -> int:
        """Samples added so far (after `finish`: the recording's length)."""
        return self._received

    @property
    def finished(self) -> bool:
        return self._end is not None

    def add(self, block) -> None:
        """Append the next `[samples]` of the recording."""
        if self.finished:
            raise ValueError("WindowStream: add after finish")
        block = np.asarray(block, np.float32)
        if block.ndim != 1:
            raise ValueError(f"WindowStream: a block must be [samples], got shape {block.shape}")
        self._buffer = block if self._buffer.size == 0 else np.concatenate([self._buffer, block])  # never written
        self._received += block.size

    def ready(self) -> int:
        """The number of windows `take` can give now."""
        return self._regular() + (self._end is not None and self._end[0] is not None)

    def _regular(self) -> int:
        return max(0, (self._received - self.window - self._next) // self.hop + 1)

    def finish(self) -> None:
        """Mark the end of the recording (it must hold at least one sample)."""
        if self.finished:
            return
        size, window = self._received, self.window
        if size == 0:
            raise ValueError("WindowStream: no samples")
        if size < window:  # one window: the clip centre-padded (no regular start was ever ready)
            missing = window - size
            padded = np.pad(self._buffer, (missing // 2, missing - missing // 2))
            self._end = (-(missing // 2), padded)
        elif (size - window) % self.hop:  # the last window is moved back to end at the end
            self._end = (size - window, None)
        else:
            self._end = (None, None)

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to `count` ready windows, in order: `(starts int64 [k], windows float32 [k, window])`."""
        _check_positive("count", count)
        regular = min(count, self._regular())
        first = self._next - self._offset
        view = (
            np.lib.stride_tricks.sliding_window_view(self._buffer[first:], self.window)[:: self.hop][:regular]
            if regular
            else np.zeros((0, self.window), np.float32)
        )
        starts = [self._next + self.hop * np.arange(regular, dtype=np.int64)]
        windows = [view]
        self._next += regular * self.hop
        if regular < count and self._end is not None and self._end[0] is not None:
            start, padded = self._end
            self._end = (None, None)
            if padded is None:
                padded = self._buffer[start - self._offset : start - self._offset + self.window]
            starts.append(np.array([start], np.int64))
            windows.append(padded[None])
        result = np.concatenate(starts), np.concatenate(windows).astype(np.float32, copy=False)
        self._trim()
        return result

    def _trim(self) -> None:
        """Drop what no window needs any more: keep from the next start, and always the last `window` samples
        (the end-aligned last window may reach back that far)."""
        keep = max(0, min(self._next, self._received - self.window)) - self._offset
        if keep > 0:
            self._buffer = self._buffer[keep:]
            self._offset += keep


def _padded_starts(size: tf.Tensor, window: int, hop: int) -> tf.Tensor:
    """Starts in a signal of `size >= window` samples: every `hop`, the last one aligned to the end."""
    count = 1 + (size - window + hop - 1) // hop
    return tf.minimum(tf.range(count, dtype=tf.int32) * hop, size - window)


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
        raise ValueError(f"{name} must be a positive int (samples), got {value!r}")


def _check_window(window: int, hop: int | None) -> tuple[int, int]:
    _check_positive("window", window)
    hop = default_hop(window) if hop is None else hop
    _check_positive("hop", hop)
    if hop > window:
        # Windows further apart than their length would leave audio unanalysed between them.
        raise ValueError(f"hop ({hop} samples) must not exceed the window ({window} samples)")
    return int(window), int(hop)
