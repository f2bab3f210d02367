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
  and long-file prediction).

The windowing rule, for `n` samples, a window of `w` samples and a hop of `h` (`1 <= h <= w`):

- `n <= w`: one window, the clip centre-padded to `w` samples, identical to `center_crop_or_pad(x, w)`;
  its start is `-((w - n) // 2)` (negative: the zeros padded before the clip).
- `n > w`: `1 + ceil((n - w) / h)` windows starting at `0, h, 2h, ...`; the last one is moved back to start
  at `n - w`, so it ends exactly at the end of the file. Every window then lies inside the signal (no
  padding, as in training, where a long clip is cropped and never padded), every sample is covered, and
  the last window may overlap its neighbour by more than `w - h`.
"""

from __future__ import annotations

import tensorflow as tf


def center_crop(waveform: tf.Tensor, length: int) -> tf.Tensor:
    """The centre `length` samples of a longer clip; a shorter clip unchanged (not padded)."""
    size = tf.shape(waveform)[0]
    start = tf.maximum(size - length, 0) // 2
    return waveform[start:start + length]


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
    return waveform[start:start + length]


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
    size = tf.shape(waveform)[0]
    missing = tf.maximum(window - size, 0)
    # A short clip is padded exactly as center_crop_or_pad pads it, then is its own single window.
    padded = tf.pad(waveform, [[missing // 2, missing - missing // 2]])
    starts = _padded_starts(size + missing, window, hop)
    return tf.gather(padded, starts[:, None] + tf.range(window, dtype=tf.int32)[None, :])


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
