"""Per-channel energy normalisation (PCEN, Wang et al. 2017) of mel power, as a Keras layer inside the model.

PCEN replaces the log and the per-example standardisation of the log-mel front-end. Each mel channel's
energy `E` is divided by a smoothed copy of itself (an automatic gain control), then root-compressed:

    M[t]    = (1 - s) M[t - 1] + s E[t]                      (a one-pole low-pass over time, causal)
    PCEN[t] = (E[t] / (eps + M[t])^gain + bias)^power - bias^power

This is `librosa.pcen`'s formula (computed as `bias^power * (exp(power * log(1 + E (eps + M)^-gain / bias)) - 1)`,
librosa's form without `log1p`/`expm1`, which ONNX lacks), with its defaults: gain 0.98, bias 2,
power 0.5, time constant 0.4 s, eps 1e-6, and the smoothing coefficient `s` derived from the time constant
as librosa derives it. With `learnable=True` gain, bias and power are per-channel weights (initialised at
those values, kept positive through a log parametrisation, gain and power at most 1), as in Wang et al.;
the smoother's coefficient stays fixed.

Padding: the smoother is causal, so trailing padding cannot change a frame of signal; with a frame mask it
also *holds its state* over frames that are not signal (leading padding) and the output there is 0, so a
frame of signal depends on the signal frames before it alone. The recursion is computed as one batched
matrix product (`M = W E` with `W[t, k] = s (1 - s)^(n_t - n_k)` over the signal frames `k <= t`, `n_t` the
signal frames up to `t`): exact, differentiable and parallel, at a cost of `frames²` per example and channel
set (4 s at a 10-ms hop: 401² weights, shared by the 64 channels).

`initial_state` is the smoother's state before the first frame: ``"first"`` (default) starts it at the
first signal frame's energy (a clip then starts in steady state, and the result does not depend on the
clip's absolute level through the state); a number `m` starts it at `m` (librosa's default is 1, i.e.
`zi = lfilter_zi(...)`, meant for input scaled to int32 range).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from keras_audio.features import check_mel_band, check_stft_settings, mel_filterbank, mel_power_spectrogram, num_frames


def smoothing_coefficient(time_constant: float, sample_rate: int, hop_length: int) -> float:
    """librosa's smoothing coefficient for a time constant in seconds: `(sqrt(1 + 4 T²) - 1) / (2 T²)` with
    `T = time_constant * sample_rate / hop_length` frames (it approximates the low-pass's half-power width)."""
    if not time_constant > 0:
        raise ValueError(f"smoothing_coefficient: time_constant must be positive, got {time_constant!r}")
    frames = time_constant * sample_rate / float(hop_length)
    return float((math.sqrt(1 + 4 * frames**2) - 1) / (2 * frames**2))


def pcen_smoother(energy: tf.Tensor, smooth: float, initial_state="first", frame_mask: tf.Tensor | None = None):
    """The smoothed energy `M` `[batch, frames, channels]` (see the module docstring).

    Args:
        energy: `[batch, frames, channels]` non-negative.
        smooth: the coefficient `s` in (0, 1].
        initial_state: ``"first"`` or a non-negative number.
        frame_mask: `[batch, frames]` bool; None: every frame is signal.
    """
    frames = tf.shape(energy)[1]
    if frame_mask is None:
        valid = tf.ones(tf.shape(energy)[:2], tf.bool)
    else:
        valid = tf.cast(frame_mask, tf.bool)
    seen = tf.cumsum(tf.cast(valid, energy.dtype), axis=1)  # signal frames up to and including t
    steps = tf.maximum(seen[:, :, None] - seen[:, None, :], 0.0)  # [batch, t, k]
    causal = tf.linalg.band_part(tf.ones([frames, frames], tf.bool), -1, 0)[None]
    log_keep = math.log1p(-smooth) if smooth < 1 else -np.inf
    weights = tf.where(tf.logical_and(causal, valid[:, None, :]), smooth * tf.exp(steps * log_keep), 0.0)
    smoothed = tf.linalg.matmul(weights, energy)
    if initial_state == "first":
        first = tf.argmax(tf.cast(valid, tf.int32), axis=1, output_type=tf.int32)
        start = tf.gather(energy, first, axis=1, batch_dims=1)[:, None, :]
    else:
        start = tf.cast(initial_state, energy.dtype)
    return smoothed + tf.exp(seen * log_keep)[..., None] * start


def pcen(energy: tf.Tensor, smoothed: tf.Tensor, gain, bias, power, eps: float) -> tf.Tensor:
    """librosa's adaptive gain control and root compression of `energy` given its smoothed copy.

    `(eps + M)^-gain` and `bias^power * (exp(power * log(1 + E (eps + M)^-gain / bias)) - 1)`: librosa's
    expression with `log1p`/`expm1` written out, because ONNX has neither (the absolute difference this
    makes is below float32 resolution of the output, ~2e-7).
    """
    agc = tf.exp(-gain * tf.math.log(eps + smoothed))
    return tf.pow(bias, power) * (tf.exp(power * tf.math.log(1.0 + energy * agc / bias)) - 1.0)


def _check_pcen(gain, bias, power, time_constant, eps, initial_state) -> None:
    checks = (
        ("gain", gain, 0 < gain <= 1),
        ("bias", bias, bias > 0),
        ("power", power, 0 < power <= 1),
        ("time_constant", time_constant, time_constant > 0),
        ("eps", eps, eps > 0),
    )
    for name, value, ok in checks:
        if not ok:
            raise ValueError(
                f"PCENSpectrogram: {name}={value!r} is out of range (gain and power in (0, 1], "
                "bias, time_constant and eps positive)"
            )
    if initial_state != "first" and (isinstance(initial_state, (bool, str)) or not initial_state >= 0):
        raise ValueError(
            f"PCENSpectrogram: initial_state must be 'first' or a non-negative number, got {initial_state!r}"
        )


@keras.saving.register_keras_serializable(package="keras_audio")
class PCENSpectrogram(keras.layers.Layer):
    """Waveforms -> PCEN of the mel power `[batch, frames, n_mels]` (see the module docstring).

    Args:
        sample_rate, n_fft, win_length, hop_length, n_mels, fmin, fmax: the mel spectrogram, framed exactly
            as `features.LogMelSpectrogram` frames it (librosa's centred STFT, Slaney mel filters).
        gain: the AGC exponent (librosa's `gain`), in (0, 1].
        bias: added before the root (`bias`), positive.
        power: the root's exponent (`power`), in (0, 1].
        time_constant: the smoother's time constant in seconds.
        eps: the AGC's floor.
        initial_state: ``"first"`` or a non-negative number (the smoother's state before the first frame).
        learnable: learn gain, bias and power per mel channel.

    Input shape:
        `[batch, samples]` float32, and optionally `frame_mask` `[batch, frames]` bool (True: signal).

    Output shape:
        `[batch, 1 + samples // hop_length, n_mels]` float32; 0 at frames the mask marks as padding.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int | None = None,
        hop_length: int = 160,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float | None = None,
        gain: float = 0.98,
        bias: float = 2.0,
        power: float = 0.5,
        time_constant: float = 0.4,
        eps: float = 1e-6,
        initial_state="first",
        learnable: bool = False,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        win_length = n_fft if win_length is None else win_length
        check_stft_settings("PCENSpectrogram", sample_rate, n_fft, win_length, hop_length, n_mels=n_mels)
        check_mel_band("PCENSpectrogram", sample_rate, fmin, fmax)
        _check_pcen(gain, bias, power, time_constant, eps, initial_state)
        self.sample_rate, self.n_fft, self.win_length = int(sample_rate), int(n_fft), int(win_length)
        self.hop_length, self.n_mels = int(hop_length), int(n_mels)
        self.fmin, self.fmax = float(fmin), None if fmax is None else float(fmax)
        self.gain, self.bias, self.power = float(gain), float(bias), float(power)
        self.time_constant, self.eps = float(time_constant), float(eps)
        self.initial_state = initial_state if initial_state == "first" else float(initial_state)
        self.learnable = bool(learnable)
        self.smooth = smoothing_coefficient(self.time_constant, self.sample_rate, self.hop_length)
        self._filterbank = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)

    def build(self, input_shape):
        if self.learnable:

            def weight(name, value):
                return self.add_weight(
                    name=name, shape=(self.n_mels,), initializer=keras.initializers.Constant(math.log(value))
                )

            self.log_gain, self.log_bias, self.log_power = (
                weight("log_gain", self.gain),
                weight("log_bias", self.bias),
                weight("log_power", self.power),
            )
        self.built = True

    def parameters(self):
        """`(gain, bias, power)`: floats, or per-channel tensors `[n_mels]` when learnable."""
        if not self.learnable:
            return self.gain, self.bias, self.power
        return (tf.minimum(tf.exp(self.log_gain), 1.0), tf.exp(self.log_bias), tf.minimum(tf.exp(self.log_power), 1.0))

    def call(self, inputs, frame_mask=None):
        energy = mel_power_spectrogram(
            tf.cast(inputs, tf.float32), tf.constant(self._filterbank), self.n_fft, self.win_length, self.hop_length
        )
        smoothed = pcen_smoother(energy, self.smooth, self.initial_state, frame_mask)
        outputs = pcen(energy, smoothed, *self.parameters(), self.eps)
        if frame_mask is not None:
            outputs = tf.where(tf.cast(frame_mask, tf.bool)[..., None], outputs, 0.0)
        return outputs

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        return (input_shape[0], None if samples is None else num_frames(samples, self.hop_length), self.n_mels)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "gain": self.gain,
            "bias": self.bias,
            "power": self.power,
            "time_constant": self.time_constant,
            "eps": self.eps,
            "initial_state": self.initial_state,
            "learnable": self.learnable,
        }
