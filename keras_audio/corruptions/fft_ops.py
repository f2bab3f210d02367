"""FFT lengths that are fast, and linear convolution through the FFT (shared by filters and reverb).

TensorFlow's CPU FFT is fast for lengths whose prime factors are small and slow otherwise: on a 3-s
16 kHz clip a round trip takes ~0.4 ms at 48,000 or 48,048 samples and ~2.6 ms at the prime 48,271. Every
FFT in this package therefore runs at a *fast length*: an even number whose prime factors are at most 11
(2, 3, 5, 7, 11), looked up in a precomputed table with `tf.searchsorted`, so the choice also works for
lengths only known when the graph runs.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

MAX_FAST_LENGTH = 1 << 26  # 70 minutes at 16 kHz; longer clips are an error, not a silent slow path


def _fast_lengths(limit: int) -> np.ndarray:
    values = {1}
    for prime in (2, 3, 5, 7, 11):
        grown = set()
        for value in values:
            while value <= limit:
                grown.add(value)
                value *= prime
        values = grown
    return np.array(sorted(v for v in values if v % 2 == 0), dtype=np.int64)


FAST_LENGTHS = _fast_lengths(MAX_FAST_LENGTH)


def fast_length_index(minimum: tf.Tensor) -> tf.Tensor:
    """Index into `FAST_LENGTHS` of the smallest fast length >= `minimum` (an int scalar tensor)."""
    table = tf.constant(FAST_LENGTHS)
    minimum = tf.cast(minimum, tf.int64)
    tf.debugging.assert_less_equal(
        minimum, tf.constant(MAX_FAST_LENGTH, tf.int64), message="waveform too long for the FFT length table"
    )
    return tf.searchsorted(table, tf.reshape(minimum, [1]), side="left", out_type=tf.int64)[0]


def fast_length(minimum) -> tf.Tensor:
    """The smallest fast FFT length >= `minimum`, as an int32 scalar tensor."""
    return tf.cast(tf.gather(tf.constant(FAST_LENGTHS), fast_length_index(minimum)), tf.int32)


def fft_convolve(signal: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Full linear convolution of two 1-D float32 tensors (length `len(signal) + len(kernel) - 1`)."""
    out_length = tf.shape(signal)[0] + tf.shape(kernel)[0] - 1
    length = fast_length(out_length)
    fft_length = tf.reshape(length, [1])
    spectrum = tf.signal.rfft(signal, fft_length) * tf.signal.rfft(kernel, fft_length)
    return tf.signal.irfft(spectrum, fft_length)[:out_length]


def bin_frequencies(fft_length: tf.Tensor, sample_rate: float) -> tf.Tensor:
    """The `fft_length // 2 + 1` frequencies (Hz) of an rfft of length `fft_length`."""
    bins = tf.range(tf.cast(fft_length, tf.int32) // 2 + 1)
    return tf.cast(bins, tf.float32) * (float(sample_rate) / tf.cast(fft_length, tf.float32))


def overlap_add_convolve(signal: tf.Tensor, kernel: tf.Tensor, kernel_length: int, delay: int) -> tf.Tensor:
    """Linear convolution with a short kernel by overlap-add, cropped to `signal`'s length after `delay`.

    Block FFTs of `2 ** ceil(log2(2 · kernel_length))` points are cache-friendly: filtering a 3-s clip this way
    costs about half of one FFT round trip over the whole clip (which is itself more than a log-mel's STFT).

    Args:
        signal: `[samples]` float32, or `[batch, samples]` (each row convolved).
        kernel: `[kernel_length]` float32 (`kernel_length` static).
        kernel_length: the kernel's length, a Python int.
        delay: output sample `i` is full-convolution sample `i + delay` (`kernel_length // 2` for a
            zero-phase kernel centred in its taps).
    """
    fft_length = 1 << int(math.ceil(math.log2(2 * kernel_length)))
    block = fft_length - kernel_length + 1
    length = tf.shape(signal)[-1]
    blocks = (length + block - 1) // block
    leading = tf.shape(signal)[:-1]  # empty for one clip, [batch] for a batch
    padded = tf.pad(signal, [[0, 0]] * (signal.shape.rank - 1) + [[0, blocks * block - length]])
    spectra = tf.signal.rfft(tf.reshape(padded, tf.concat([leading, [blocks, block]], axis=0)), [fft_length])
    filtered = tf.signal.irfft(spectra * tf.signal.rfft(kernel, [fft_length]), [fft_length])
    return tf.signal.overlap_and_add(filtered, block)[..., delay : delay + length]
