"""Signal helpers the corruptions share: fit a clip to a length, levels (RMS, peak, energy summed in a fixed
order so a clip and its zero-padded row give the same bits), and mixing at an exact SNR."""

from __future__ import annotations

import tensorflow as tf


def fit_length(waveform: tf.Tensor, length) -> tf.Tensor:
    """Crop (keep the start) or zero-pad (at the end) a `[samples]` waveform to `length` samples."""
    waveform = waveform[:length]
    return tf.pad(waveform, [[0, length - tf.shape(waveform)[0]]])


def valid_samples(lengths: tf.Tensor, samples) -> tf.Tensor:
    """`[batch, samples]` bool: True where a sample lies inside its row's clip (`index < lengths[row]`)."""
    return tf.range(samples)[None, :] < tf.cast(lengths, tf.int32)[:, None]


def rms(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=keepdims))


def peak(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.reduce_max(tf.abs(x), axis=axis, keepdims=keepdims)


def rescale_to_rms(x: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """A `[samples]` `x` scaled to the RMS of the `[samples]` `reference` (silence stays silence)."""
    x_power = tf.nn.l2_loss(x) / tf.cast(tf.size(x), tf.float32)
    reference_power = tf.nn.l2_loss(reference) / tf.cast(tf.size(reference), tf.float32)
    return x * tf.sqrt(tf.math.divide_no_nan(reference_power, x_power))


def energy(x: tf.Tensor) -> tf.Tensor:
    """Half the sum of squares of a `[samples]` clip (`tf.nn.l2_loss`), added sample after sample.

    A sequential sum (`unsorted_segment_sum` adds in input order), not a tree or SIMD reduction, whose
    rounding depends on the length: `batch_energy` then gives the same bits for the clip inside a longer,
    zero-padded row, since adding zeros at the end changes nothing.
    """
    return tf.math.unsorted_segment_sum(tf.square(x) * 0.5, tf.zeros(tf.shape(x), tf.int32), 1)[0]


def batch_energy(x: tf.Tensor) -> tf.Tensor:
    """`energy` of each row of `[batch, samples]`: `[batch]`, row `i` equal to `energy(x[i, :n])` for any `n`
    past which the row is zero."""
    rows = tf.shape(x)[0]
    segments = tf.broadcast_to(tf.range(rows)[:, None], tf.shape(x))
    return tf.math.unsorted_segment_sum(tf.square(x) * 0.5, segments, rows)


def mix_at_snr(signal: tf.Tensor, noise: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`signal + g * noise` with `g` chosen so that RMS(signal) / RMS(g * noise) is `snr_db` exactly.

    Both are `[samples]` of the same length. A silent signal gets no noise (the SNR is undefined; adding
    none keeps silence silent and finite).
    """
    gain = tf.sqrt(tf.math.divide_no_nan(energy(signal), energy(noise)))
    return signal + (gain * tf.pow(10.0, -snr_db / 20.0)) * noise


def mix_at_snr_batch(signals: tf.Tensor, noises: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`mix_at_snr` row by row for `[batch, samples]` signals and noises; `snr_db` a scalar (a severity).

    A row of a clip shorter than `samples` holds zeros past its length in both, and stays zero there.
    """
    gain = tf.sqrt(tf.math.divide_no_nan(batch_energy(signals), batch_energy(noises)))
    return signals + (gain * tf.pow(10.0, -snr_db / 20.0))[:, None] * noises
