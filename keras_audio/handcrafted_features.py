"""Handcrafted frame features in TensorFlow, matching librosa: RMS, zero-crossing rate, spectral centroid and
roll-off, MFCCs and their deltas; and two layers that pool them over time for the baseline models.

Each function follows its librosa namesake's frame math, so the parity tests can compare them directly:

- `frame_rms` ~ `librosa.feature.rms(y=..., frame_length, hop_length)` (centred, zero-padded frames);
- `zero_crossing_rate` ~ `librosa.feature.zero_crossing_rate(y=..., frame_length, hop_length)` (centred,
  edge-padded frames; samples within 1e-10 of zero count as positive);
- `spectral_centroid`, `spectral_rolloff` ~ their librosa namesakes on the magnitude STFT of
  `features.power_spectrogram` (centred, zero-padded, periodic Hann window of `win_length` inside `n_fft`);
- `mfcc` ~ `librosa.feature.mfcc(S=log_mel, n_mfcc)` (orthonormal DCT-II over the mel axis);
- `deltas` ~ `librosa.feature.delta(width)` away from the edges (the same regression slope; at the edges
  frames are repeated, where librosa fits a polynomial).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_audio.features import check_stft_settings, power_spectrogram

ZERO_THRESHOLD = 1e-10  # librosa.zero_crossings' default
FRAME_FEATURES = ("rms_db", "zero_crossing_rate", "spectral_centroid", "spectral_rolloff")


def _centred_frames(waveforms: tf.Tensor, frame_length: int, hop_length: int, mode: str) -> tf.Tensor:
    """`[batch, samples]` -> `[batch, 1 + samples // hop_length, frame_length]`, padded by `frame_length // 2`."""
    half = frame_length // 2
    if mode == "constant":
        padded = tf.pad(waveforms, [[0, 0], [half, half]])
    else:  # "edge": repeat the first and last samples
        padded = tf.concat(
            [tf.repeat(waveforms[:, :1], half, axis=1), waveforms, tf.repeat(waveforms[:, -1:], half, axis=1)], axis=1
        )
    return tf.signal.frame(padded, frame_length, hop_length)


def frame_rms(waveforms: tf.Tensor, frame_length: int, hop_length: int) -> tf.Tensor:
    """Root-mean-square per centred frame, `[batch, samples]` -> `[batch, frames]`."""
    frames = _centred_frames(waveforms, frame_length, hop_length, "constant")
    return tf.sqrt(tf.reduce_mean(tf.square(frames), axis=-1))


def zero_crossing_rate(
    waveforms: tf.Tensor, frame_length: int, hop_length: int, threshold: float = ZERO_THRESHOLD
) -> tf.Tensor:
    """Sign changes between consecutive samples per frame, divided by `frame_length`: `[batch, frames]`."""
    frames = _centred_frames(waveforms, frame_length, hop_length, "edge")
    negative = tf.logical_and(frames < 0, tf.abs(frames) > threshold)
    crossings = tf.not_equal(negative[..., 1:], negative[..., :-1])
    return tf.reduce_sum(tf.cast(crossings, tf.float32), axis=-1) / frame_length


def magnitude_spectrogram(waveforms: tf.Tensor, n_fft: int, win_length: int, hop_length: int) -> tf.Tensor:
    """`|STFT|`, `[batch, samples]` -> `[batch, frames, n_fft // 2 + 1]` (the log-mel layer's framing)."""
    return tf.sqrt(power_spectrogram(waveforms, n_fft, win_length, hop_length))


def fft_frequencies(sample_rate: int, n_fft: int) -> np.ndarray:
    """The centre frequency in Hz of each STFT bin, `[n_fft // 2 + 1]`."""
    return np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=np.float32)


def spectral_centroid(magnitude: tf.Tensor, frequencies: tf.Tensor) -> tf.Tensor:
    """The magnitude-weighted mean frequency per frame, `[..., bins]` -> `[...]`; 0 for a silent frame."""
    return tf.math.divide_no_nan(tf.reduce_sum(magnitude * frequencies, axis=-1), tf.reduce_sum(magnitude, axis=-1))


def spectral_rolloff(magnitude: tf.Tensor, frequencies: tf.Tensor, roll_percent: float = 0.85) -> tf.Tensor:
    """The lowest bin frequency below which `roll_percent` of a frame's magnitude lies: `[..., bins]` -> `[...]`."""
    if not 0.0 < roll_percent < 1.0:
        raise ValueError(f"spectral_rolloff: roll_percent must be in (0, 1), got {roll_percent}")
    cumulative = tf.cumsum(magnitude, axis=-1)
    reached = cumulative >= roll_percent * cumulative[..., -1:]
    return tf.gather(frequencies, tf.argmax(tf.cast(reached, tf.int32), axis=-1))


def mfcc(log_mel: tf.Tensor, n_mfcc: int = 20) -> tf.Tensor:
    """Orthonormal DCT-II over the mel axis, first `n_mfcc` coefficients: `[..., n_mels]` -> `[..., n_mfcc]`."""
    if n_mfcc > log_mel.shape[-1]:
        raise ValueError(f"mfcc: n_mfcc={n_mfcc} exceeds the {log_mel.shape[-1]} mel bands")
    return tf.signal.dct(log_mel, type=2, norm="ortho")[..., :n_mfcc]


def deltas(features: tf.Tensor, width: int = 9) -> tf.Tensor:
    """Regression slope over `width` frames, `[batch, frames, channels]` -> same shape.

    `Σ_n n·(x[t+n] - x[t-n]) / (2 Σ_n n²)` for `n = 1..width // 2`, with the edge frames repeated.
    """
    if width < 3 or width % 2 == 0:
        raise ValueError(f"deltas: width must be an odd int >= 3, got {width}")
    half = width // 2
    padded = tf.concat(
        [tf.repeat(features[:, :1], half, axis=1), features, tf.repeat(features[:, -1:], half, axis=1)], axis=1
    )
    frames = tf.shape(features)[1]
    slope = tf.add_n(
        [
            n * (padded[:, half + n : half + n + frames] - padded[:, half - n : half - n + frames])
            for n in range(1, half + 1)
        ]
    )
    return slope / (2.0 * sum(n * n for n in range(1, half + 1)))


def mean_and_std(frames: tf.Tensor) -> tf.Tensor:
    """Mean and standard deviation over time, `[batch, frames, channels]` -> `[batch, 2 * channels]`."""
    mean, variance = tf.nn.moments(frames, axes=[1])
    return tf.concat([mean, tf.sqrt(variance + 1e-12)], axis=-1)


@keras.saving.register_keras_serializable(package="keras_audio")
class FrameFeatures(keras.layers.Layer):
    """Waveforms -> four handcrafted features per frame, scaled to comparable ranges.

    Channels, in order: RMS in dB (`20 log10(rms + 1e-5)`, divided by 20), zero-crossing rate, spectral
    centroid and spectral roll-off as fractions of the Nyquist frequency. RMS and zero crossings use
    `n_fft`-sample frames; the spectral features use the log-mel layer's STFT (Hann window `win_length`).

    Args:
        sample_rate: input rate in Hz.
        n_fft: frame length and FFT size.
        win_length: Hann window length (<= n_fft).
        hop_length: frame step in samples.
        roll_percent: the roll-off's energy fraction.

    Input shape:
        `[batch, samples]` float32.

    Output shape:
        `[batch, 1 + samples // hop_length, 4]` float32.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int | None = None,
        hop_length: int = 160,
        roll_percent: float = 0.85,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        win_length = n_fft if win_length is None else win_length
        check_stft_settings("FrameFeatures", sample_rate, n_fft, win_length, hop_length)
        if not 0.0 < roll_percent < 1.0:
            raise ValueError(f"FrameFeatures: roll_percent must be in (0, 1), got {roll_percent}")
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.hop_length = int(hop_length)
        self.roll_percent = float(roll_percent)
        self._frequencies = fft_frequencies(self.sample_rate, self.n_fft)

    def call(self, inputs):
        waveforms = tf.cast(inputs, tf.float32)
        nyquist = self.sample_rate / 2
        magnitude = magnitude_spectrogram(waveforms, self.n_fft, self.win_length, self.hop_length)
        frequencies = tf.constant(self._frequencies)
        rms_db = 20.0 * tf.math.log(frame_rms(waveforms, self.n_fft, self.hop_length) + 1e-5) / tf.math.log(10.0)
        return tf.stack(
            [
                rms_db / 20.0,
                zero_crossing_rate(waveforms, self.n_fft, self.hop_length),
                spectral_centroid(magnitude, frequencies) / nyquist,
                spectral_rolloff(magnitude, frequencies, self.roll_percent) / nyquist,
            ],
            axis=-1,
        )

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        return (input_shape[0], None if samples is None else 1 + samples // self.hop_length, len(FRAME_FEATURES))

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "roll_percent": self.roll_percent,
        }


@keras.saving.register_keras_serializable(package="keras_audio")
class TimeStatistics(keras.layers.Layer):
    """Mean and standard deviation over time (`mean_and_std`).

    Input shape:
        `[batch, frames, channels]`.

    Output shape:
        `[batch, 2 * channels]`: the means, then the standard deviations.
    """

    def call(self, inputs):
        return mean_and_std(tf.cast(inputs, tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="keras_audio")
class MfccStatistics(keras.layers.Layer):
    """Log-mel -> MFCCs and their deltas, each summarised by mean and standard deviation over time.

    Args:
        n_mfcc: coefficients kept.
        delta_width: frames in the delta regression (odd).

    Input shape:
        `[batch, frames, n_mels]`.

    Output shape:
        `[batch, 4 * n_mfcc]`: MFCC means, MFCC stds, delta means, delta stds.
    """

    def __init__(self, n_mfcc: int = 20, delta_width: int = 9, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n_mfcc, int) or n_mfcc <= 0:
            raise ValueError(f"MfccStatistics: n_mfcc must be a positive int, got {n_mfcc!r}")
        if not isinstance(delta_width, int) or delta_width < 3 or delta_width % 2 == 0:
            raise ValueError(f"MfccStatistics: delta_width must be an odd int >= 3, got {delta_width!r}")
        self.n_mfcc = n_mfcc
        self.delta_width = delta_width

    def call(self, inputs):
        coefficients = mfcc(tf.cast(inputs, tf.float32), self.n_mfcc)
        return tf.concat([mean_and_std(coefficients), mean_and_std(deltas(coefficients, self.delta_width))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 4 * self.n_mfcc)

    def get_config(self):
        return {**super().get_config(), "n_mfcc": self.n_mfcc, "delta_width": self.delta_width}
