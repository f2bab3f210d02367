"""Band-limited resampling in TensorFlow, shared by speed change and pitch shift.

`resample` works frame by frame: the clip is cut into frames of eight parts that overlap by one part,
each weighted by a Tukey window (a sin² rise over the first part, flat, a cos² fall over the last), each
resampled by truncating or zero-padding its spectrum, and overlap-added at the resampled hop. One frame's
fall and the next one's rise sum to exactly one, before and after resampling (resampling only moves where
the same smooth curve is sampled), so the result is the band-limited resampling of the whole clip up to the
window's spectral spread at the new Nyquist frequency. Small FFTs are cache-friendly and the frames overlap
by only 1/8: ~0.3 ms per 3-s clip, against ~0.5 ms for one FFT round trip over the whole clip
(`fft_resample`) at a fast length, up to 2.6 ms at a length with a large prime factor, and ~16 ms for
tensorflow-io's op. (Hann frames at 50 % overlap cost a third more.)

Both frame lengths must be whole numbers, multiples of 8 and fast FFT lengths (`fft_ops`: an arbitrary
length such as 1,828 = 4 · 457 doubles the cost), so the realised ratio is `frame_out / frame_in` for the
pair of such lengths, `frame_in` within ±25 % of 2048 at 16 kHz, whose ratio is closest to the one asked
for: within 0.3 % (0.05 % typically; 0.05 semitone at worst), far below what an F0 tracker or a listener
resolves.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_audio.corruptions.fft_ops import FAST_LENGTHS

FRAME_SECONDS = 0.128
PARTS = 8  # a frame is 8 parts; frames overlap by one (the window's rise and fall)


def frame_length_for(sample_rate: int) -> int:
    """The power of two closest to `FRAME_SECONDS` at `sample_rate` (2048 at 16 kHz)."""
    return int(2 ** round(math.log2(FRAME_SECONDS * sample_rate)))


def fft_resample(waveform: tf.Tensor, num_samples: tf.Tensor) -> tf.Tensor:
    """Resample a `[samples]` waveform to exactly `[num_samples]` by truncating or zero-padding its spectrum.

    One FFT over the whole clip: the signal is treated as periodic, so the ends may ring slightly; the
    passband is exact. Slow when either length has a large prime factor; prefer `resample`.
    """
    num_in = tf.shape(waveform)[0]
    num_samples = tf.cast(num_samples, tf.int32)
    spectrum = tf.signal.rfft(waveform)
    bins = num_samples // 2 + 1
    spectrum = spectrum[: tf.minimum(bins, tf.shape(spectrum)[0])]
    spectrum = tf.pad(spectrum, [[0, bins - tf.shape(spectrum)[0]]])
    out = tf.signal.irfft(spectrum, fft_length=tf.reshape(num_samples, [1]))
    return out * tf.cast(num_samples, tf.float32) / tf.cast(tf.maximum(num_in, 1), tf.float32)


def resample(waveform: tf.Tensor, ratio: tf.Tensor, num_samples: tf.Tensor, frame_length: int = 2048) -> tf.Tensor:
    """Stretch a `[samples]` waveform in time by `ratio` (output/input length) and return `[num_samples]`.

    Every frequency is multiplied by `1 / ratio'`, where `ratio' = frame_out / frame_in` is the ratio of
    two fast FFT lengths near `frame_length` closest to `ratio` (within 0.3 %; see the module docstring).
    The output is cropped or zero-padded to `num_samples`.

    Args:
        waveform: `[samples]` float32, at least one sample.
        ratio: float scalar > 0, e.g. `1 / speed_factor`.
        num_samples: int scalar, the output length (usually `round(samples * ratio)`).
        frame_length: nominal analysis frame, see `frame_length_for`.
    """
    frame_in, frame_out = _frame_pair(ratio, frame_length)
    part_in, part_out = frame_in // PARTS, frame_out // PARTS
    # One part of zeros first, so the clip starts where frame 0's window is flat.
    # The window also carries the irfft's length scaling (frame_out / frame_in): one pass fewer.
    scale = tf.cast(frame_out, tf.float32) / tf.cast(frame_in, tf.float32)
    frames = _frames(tf.pad(waveform, [[part_in, 0]]), part_in) * (_window(part_in) * scale)
    spectra = tf.signal.rfft(frames, tf.reshape(frame_in, [1]))
    bins = frame_out // 2 + 1
    spectra = spectra[:, : tf.minimum(bins, frame_in // 2 + 1)]
    spectra = tf.pad(spectra, [[0, 0], [0, bins - tf.shape(spectra)[1]]])
    resampled = tf.signal.irfft(spectra, tf.reshape(frame_out, [1]))
    out = _overlap_add(resampled, part_out)[part_out:]
    num_samples = tf.cast(num_samples, tf.int32)
    out = out[:num_samples]
    return tf.pad(out, [[0, num_samples - tf.shape(out)[0]]])


def _window(part: tf.Tensor) -> tf.Tensor:
    """`[PARTS · part]`: a sin² rise over the first part, flat, a cos² fall over the last (a Tukey window).

    The fall of one frame and the rise of the next, a hop of `PARTS - 1` parts later, sum to exactly one,
    and keep doing so after resampling, which only changes where the same smooth curve is sampled.
    """
    rise = tf.square(tf.sin((math.pi / 2.0) * (tf.cast(tf.range(part), tf.float32) + 0.5) / tf.cast(part, tf.float32)))
    return tf.concat([rise, tf.ones([(PARTS - 2) * part]), 1.0 - rise], axis=0)


def _frames(signal: tf.Tensor, part: tf.Tensor) -> tf.Tensor:
    """Frames of `PARTS` parts at a hop of `PARTS - 1`, `[frames, PARTS · part]`, covering `signal` and
    zero-padded so that its last sample lies before the last frame's falling part. Built by reshaping:
    with a frame length known only when the graph runs, `tf.signal.frame` gathers every sample (~100 µs
    per 3-s clip here)."""
    hop = PARTS - 1
    count = -(-tf.shape(signal)[0] // part) // hop + 1
    padded = tf.pad(signal, [[0, (hop * count + 1) * part - tf.shape(signal)[0]]])
    parts = tf.reshape(padded, [hop * count + 1, part])
    heads = tf.reshape(parts[: hop * count], [count, hop * part])
    return tf.concat([heads, parts[hop::hop]], axis=1)


def _overlap_add(frames: tf.Tensor, part: tf.Tensor) -> tf.Tensor:
    """Overlap-add `[frames, PARTS · part]` at a hop of `PARTS - 1` parts (the inverse of `_frames`)."""
    hop = PARTS - 1
    count = tf.shape(frames)[0]
    heads = tf.concat([frames[:, : hop * part], tf.zeros([1, hop * part])], axis=0)
    tails = tf.concat([tf.zeros([1, part]), frames[:, hop * part :]], axis=0)
    first = heads[:, :part] + tails
    return tf.reshape(tf.concat([first, heads[:, part:]], axis=1), [(count + 1) * hop * part])


def _frame_pair(ratio: tf.Tensor, frame_length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Fast FFT lengths `(n_in, n_out)`, multiples of `PARTS`, `n_in` within `frame_length · [0.75, 1.25]`
    and `n_out / n_in` nearest `ratio`."""
    lengths = FAST_LENGTHS[FAST_LENGTHS % PARTS == 0]
    candidates = lengths[(lengths >= 0.75 * frame_length) & (lengths <= 1.25 * frame_length)]
    table = tf.constant(lengths.astype(np.float64))
    inputs = tf.constant(candidates.astype(np.float64))
    targets = inputs * tf.cast(ratio, tf.float64)
    above = tf.minimum(tf.searchsorted(table, targets, out_type=tf.int32), len(lengths) - 1)
    outputs = tf.gather(table, tf.stack([tf.maximum(above - 1, 0), above], axis=1))  # [candidates, 2]
    error = tf.reshape(tf.abs(outputs / targets[:, None] - 1.0), [-1])
    best = tf.argmin(error, output_type=tf.int32)
    frame_in = tf.gather(inputs, best // 2)
    frame_out = tf.gather(tf.reshape(outputs, [-1]), best)
    return tf.cast(frame_in, tf.int32), tf.cast(frame_out, tf.int32)
