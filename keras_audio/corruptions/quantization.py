"""Quantisation: linear PCM at a reduced bit depth, and μ-law companding (G.711-style) at a bit depth.

Both quantise relative to the clip's peak, so a quiet recording is not punished more than a loud one: the
clip is scaled to peak 1, quantised and scaled back. The quantiser is two's-complement PCM: `bits` bits give
`2 ** bits` levels `k / 2**(bits-1)` for `k` in `[-2**(bits-1), 2**(bits-1) - 1]` (so the positive peak
itself is one step below full scale, as in real PCM). μ-law (μ = 255) compands before quantising, spending
levels on quiet samples: 8-bit μ-law is telephone quality, 4-bit is rough but intelligible.
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.signal_ops import peak

MU = 255.0
SIMD_BLOCK = 64  # a multiple of every SIMD width (floats per register) TensorFlow's CPU kernels use


def pcm_quantize(unit: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Quantise values in [-1, 1] to the `2 ** bits` levels of two's-complement PCM."""
    scale = tf.pow(2.0, tf.cast(bits, tf.float32) - 1.0)
    return tf.clip_by_value(tf.round(unit * scale), -scale, scale - 1.0) / scale


def bit_depth(waveform: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Linear PCM quantisation with full scale at the clip's peak (`[samples]`, or `[batch, samples]` row by row)."""
    full_scale = peak(waveform, keepdims=True)
    return pcm_quantize(tf.math.divide_no_nan(waveform, full_scale), bits) * full_scale


def mu_law(waveform: tf.Tensor, bits: tf.Tensor, mu: float = MU) -> tf.Tensor:
    """μ-law encode, quantise to `bits`, decode; full scale at the clip's peak (`[samples]` or `[batch, samples]`).

    A clip gets the same bits alone as inside a zero-padded batch row (`Corruption.corrupt_batch`): `log1p` and
    `expm1` are called by name (TensorFlow's graph optimiser rewrites `log(1 + x)` into `log1p(x)` only where
    the shape is known, so the written-out forms rounded differently for a clip of unknown length), and the
    samples are padded to a multiple of `SIMD_BLOCK` for them (Eigen computes a tensor's last `size % 8`
    values without SIMD, which rounds differently in the last bit).
    """
    length = tf.shape(waveform)[-1]
    full_scale = peak(waveform, keepdims=True)
    waveform = tf.pad(waveform, [[0, 0]] * (waveform.shape.rank - 1) + [[0, (-length) % SIMD_BLOCK]])
    unit = tf.math.divide_no_nan(waveform, full_scale)
    log_mu = math.log1p(mu)
    compressed = tf.sign(unit) * (tf.math.log1p(mu * tf.abs(unit)) / log_mu)
    codes = pcm_quantize(compressed, bits)
    return (tf.sign(codes) * (tf.math.expm1(tf.abs(codes) * log_mu) * (full_scale / mu)))[..., :length]


class BitDepth(Corruption):
    """Linear PCM at `bits` bits (full scale = the clip's peak)."""

    name = "bit_depth"
    description = "linear PCM at a low bit depth (full scale at the clip's peak)"
    touches = "noise floor: quantisation noise, worst in quiet passages"
    severities = {"bits": (12.0, 10.0, 8.0, 6.0, 4.0)}

    def apply(self, waveform, params):
        return bit_depth(waveform, params["bits"])

    def apply_batch(self, waveforms, params, lengths):
        return self.apply(waveforms, params)  # per row: the peak is each row's; zeros stay zero


class MuLaw(Corruption):
    """μ-law (μ = 255) companding quantised to `bits` bits (full scale = the clip's peak)."""

    name = "mu_law"
    description = "μ-law companding (μ=255) at a bit depth, as in G.711 telephony (8 bits) and below"
    touches = "noise floor: quantisation noise that follows the signal's level"
    severities = {"bits": (8.0, 7.0, 6.0, 5.0, 4.0)}

    def apply(self, waveform, params):
        return mu_law(waveform, params["bits"])

    def apply_batch(self, waveforms, params, lengths):
        return self.apply(waveforms, params)  # per row: the peak is each row's; zeros stay zero
