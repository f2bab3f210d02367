"""GE2E speaker encoder in Keras: 16-kHz waveforms of any length -> 256-d L2-normalised speaker embeddings.

Source: `VoiceEncoder` of the Resemblyzer 0.1.4 package (Apache-2.0; a GE2E-trained 3-layer LSTM, Wan et al. 2018)
and the `pretrained.pt` shipped in its wheel, read without torch (`keras_audio.pretrained.sources.GE2E`,
pinned by hash) and cached as Keras weights.

Reproduced, per example: `VoiceEncoder.embed_utterance(normalize_volume(wav, -30, increase_only=True))`
with its defaults (rate 1.3, min_coverage 0.75), all in the graph:

- the volume raised (never lowered) to -30 dBFS, the RMS taken over the recording's own samples;
- the mel *power* spectrogram of `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160,
  n_mels=40)` (centred frames over zero padding, periodic Hann, librosa's Slaney filter bank);
- partial utterances of 160 frames every 77 frames, the last one kept when it covers at least 75 % of its
  span or is the only one, the waveform zero-padded up to the last partial's end;
- per partial: LSTM x3 (256) -> last layer's final hidden state -> Dense 256 ReLU -> L2 norm; the mean of
  the partials, L2-normalised.

Zero padding: the recording is the span from the first to the last non-zero sample. Leading zeros are moved
to the end (`masking.AlignToSignal`), so the frames fall where they fall on the unpadded recording; its
length sets the RMS and which partials count (a mask over the partials the padded length allows; the mean
is taken over the valid ones). Trailing zeros are then exactly the reference's own padding, so a clip's
embedding does not depend on the padding around it, and equals the reference's for the unpadded recording.

Departures from the reference:

- `preprocess_wav`'s webrtcvad trimming of long silences is not reproduced (it is a C library, not a graph
  op, and decides on int16 frames): trim before the encoder if wanted. Resampling is not either: the input
  must already be at 16 kHz.
- Leading and trailing exact zeros are padding, not part of the recording (the reference counts them).
- Digital silence (no non-zero sample) gets the embedding of an all-zero spectrogram; the reference returns NaN.
- The STFT is a matrix product with a windowed DFT basis rather than an FFT (TFLite's FFT takes powers of
  two only, and `n_fft` is 400); the values agree to float32 rounding.

The model saves to `.keras` and exports to SavedModel and ONNX at any batch and length, and to TFLite
builtins at a fixed clip length (`export_formats.export_tflite`: the partial count is then static).
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import keras
import numpy as np
import scipy.signal
import tensorflow as tf

from keras_audio.features import check_mel_band, check_stft_settings, mel_filterbank, num_frames
from keras_audio.models.masking import AlignToSignal, MaskedTimePooling, signal_bounds
from keras_audio.pretrained.sources import GE2E, load_pretrained

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
RATE = 1.3  # partials per second
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
UNITS = 256
EMBEDDING_SIZE = 256
LSTM_LAYERS = 3
CONVERTER_VERSION = "1"
# The trainable layers from the top down (`set_ge2e_trainable`).
TOP_DOWN = ("linear", *(f"lstm_{i}" for i in reversed(range(LSTM_LAYERS))))


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------- partials


def frame_step(sample_rate: int, rate: float, hop_length: int) -> int:
    """Frames between two partials' starts, as `VoiceEncoder.compute_partial_slices` rounds it."""
    return int(np.round((sample_rate / rate) / hop_length))


def coverage_threshold(min_coverage: float, partial_samples: int) -> int:
    """The fewest samples in the last partial for it to be kept: the least integer `x` with
    `x / partial_samples >= min_coverage`, the reference's float comparison turned into an integer one."""
    threshold = math.ceil(min_coverage * partial_samples)
    while threshold > 0 and (threshold - 1) / partial_samples >= min_coverage:
        threshold -= 1
    while threshold / partial_samples < min_coverage:
        threshold += 1
    return threshold


def partial_count(samples, hop_length: int, partial_frames: int, step: int, threshold: int, xp: ModuleType = np):
    """How many partials the reference embeds for a recording of `samples` samples (ints or an int array).

    `xp` is `numpy` (Python ints, arrays) or `tensorflow` (int32 tensors): the same arithmetic either way.
    """
    frames = (samples + hop_length) // hop_length  # ceil((samples + 1) / hop_length)
    steps = xp.maximum(1, frames - partial_frames + step + 1)
    count = (steps + step - 1) // step
    short = samples - hop_length * step * (count - 1) < threshold  # the last partial's coverage
    return xp.where(short & (count > 1), count - 1, count)


def partials_end(count, hop_length: int, partial_frames: int, step: int):
    """The sample where the last of `count` partials ends (the reference zero-pads up to it)."""
    return hop_length * (step * (count - 1) + partial_frames)


class _PartialSettings(keras.layers.Layer):
    """A layer that follows the reference's partial rule (shared validation and config)."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        hop_length: int = HOP_LENGTH,
        partial_frames: int = PARTIAL_FRAMES,
        rate: float = RATE,
        min_coverage: float = MIN_COVERAGE,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.sample_rate = _positive_int(owner, "sample_rate", sample_rate)
        self.hop_length = _positive_int(owner, "hop_length", hop_length)
        self.partial_frames = _positive_int(owner, "partial_frames", partial_frames)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ValueError(f"{owner}: rate must be a positive number, got {rate!r}")
        if isinstance(min_coverage, bool) or not isinstance(min_coverage, (int, float)) or not 0 < min_coverage <= 1:
            raise ValueError(f"{owner}: min_coverage must be in (0, 1], got {min_coverage!r}")
        self.rate = float(rate)
        self.min_coverage = float(min_coverage)
        self.step = frame_step(self.sample_rate, self.rate, self.hop_length)
        if not 0 < self.step <= self.partial_frames:
            raise ValueError(
                f"{owner}: rate={rate} puts {self.step} frames between partials; it must be "
                f"between 1 and partial_frames={partial_frames}"
            )
        self.threshold = coverage_threshold(self.min_coverage, self.hop_length * self.partial_frames)

    def count(self, samples, xp: ModuleType = np):
        return partial_count(samples, self.hop_length, self.partial_frames, self.step, self.threshold, xp)

    def end(self, count):
        return partials_end(count, self.hop_length, self.partial_frames, self.step)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "partial_frames": self.partial_frames,
            "rate": self.rate,
            "min_coverage": self.min_coverage,
        }


@keras.saving.register_keras_serializable(package="keras_audio")
class PadToPartials(_PartialSettings):
    """Zero-pad waveforms at the end up to where the last partial of a recording as long as the input ends.

    Every recording in the batch is at most that long, and the reference's padding of each is reproduced by
    the zeros that follow it. A static input length gives a static output length.

    Input shape: `[batch, samples]`. Output shape: `[batch, max(samples, end of the last partial)]`.
    """

    def _target(self, samples):
        if isinstance(samples, int):
            return max(samples, int(self.end(self.count(samples))))
        return tf.maximum(samples, self.end(self.count(samples, tf)))

    def call(self, inputs):
        inputs = tf.cast(inputs, tf.float32)
        samples = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(inputs)[1]
        return tf.pad(inputs, [[0, 0], [0, self._target(samples) - samples]])

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        return (input_shape[0], None if samples is None else self._target(int(samples)))


@keras.saving.register_keras_serializable(package="keras_audio")
class PartialUtterances(_PartialSettings):
    """Mel frames -> every partial utterance the frames hold, and which of them the reference would embed.

    Partial `k` is frames `[k * step, k * step + partial_frames)`, `step` being the frames of 1 / `rate`
    seconds; it is valid when `k` is below the reference's partial count for the recording's length.

    Input: `[mel [batch, frames, channels], lengths [batch]]` (recording lengths in samples).
    Output: `[partials [batch, P, partial_frames, channels], valid [batch, P]]` (bool), where
    `P = 1 + (frames - partial_frames) // step`.
    """

    def _partials(self, frames):
        return None if frames is None else max(0, 1 + (frames - self.partial_frames) // self.step)

    def call(self, inputs):
        mel, lengths = inputs
        frames = mel.shape[1] if mel.shape[1] is not None else tf.shape(mel)[1]
        partials = (
            self._partials(frames)
            if isinstance(frames, int)
            else tf.maximum(0, 1 + (frames - self.partial_frames) // self.step)
        )
        index = tf.range(partials)[:, None] * self.step + tf.range(self.partial_frames)[None, :]
        windows = tf.gather(tf.cast(mel, tf.float32), index, axis=1)
        counts = self.count(tf.cast(lengths, tf.int32), tf)
        return windows, tf.range(partials)[None, :] < counts[:, None]

    def compute_output_shape(self, input_shape):
        (batch, frames, channels), _ = input_shape
        partials = self._partials(frames)
        return (batch, partials, self.partial_frames, channels), (batch, partials)

    def compute_output_spec(self, inputs):
        windows, valid = self.compute_output_shape([inputs[0].shape, inputs[1].shape])
        return keras.KerasTensor(windows, dtype="float32"), keras.KerasTensor(valid, dtype="bool")


# ---------------------------------------------------------------------------------------------- signal


@keras.saving.register_keras_serializable(package="keras_audio")
class SignalLength(keras.layers.Layer):
    """The recording's length in each padded waveform: samples from the first to the last non-zero one.

    Input shape: `[batch, samples]`. Output shape: `[batch]` int32 (0 for digital silence).
    """

    def call(self, inputs):
        first, last, has_signal = signal_bounds(tf.cast(inputs, tf.float32))
        return tf.where(has_signal, last - first + 1, 0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")


@keras.saving.register_keras_serializable(package="keras_audio")
class NormalizeVolume(keras.layers.Layer):
    """Scale each recording to `target_dbfs` RMS (Resemblyzer's `normalize_volume`), the RMS taken over the
    recording's own samples, so zero padding does not lower it. Digital silence is left as it is.

    Args:
        target_dbfs: the RMS aimed at, in dB relative to full scale (1.0).
        increase_only: never make a recording quieter.
        decrease_only: never make a recording louder.

    Input: `[waveforms [batch, samples], lengths [batch]]` (recording lengths in samples).
    Output: `[batch, samples]` float32.
    """

    def __init__(
        self, target_dbfs: float = TARGET_DBFS, increase_only: bool = True, decrease_only: bool = False, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(target_dbfs, bool) or not isinstance(target_dbfs, (int, float)) or not target_dbfs <= 0:
            raise ValueError(f"NormalizeVolume: target_dbfs must be a number <= 0, got {target_dbfs!r}")
        if not isinstance(increase_only, bool) or not isinstance(decrease_only, bool):
            raise ValueError(
                f"NormalizeVolume: increase_only and decrease_only must be bools, got "
                f"{increase_only!r}, {decrease_only!r}"
            )
        if increase_only and decrease_only:
            raise ValueError("NormalizeVolume: increase_only and decrease_only are both set")
        self.target_dbfs = float(target_dbfs)
        self.increase_only = increase_only
        self.decrease_only = decrease_only

    def call(self, inputs):
        waveforms, lengths = inputs
        waveforms = tf.cast(waveforms, tf.float32)
        count = tf.cast(tf.maximum(lengths, 1), tf.float32)
        rms = tf.sqrt(tf.reduce_sum(tf.square(waveforms), axis=1) / count)
        target = 10.0 ** (self.target_dbfs / 20.0)
        gain = tf.where(rms > 0, target / tf.maximum(rms, 1e-30), 1.0)
        if self.increase_only:
            gain = tf.maximum(gain, 1.0)
        if self.decrease_only:
            gain = tf.minimum(gain, 1.0)
        return waveforms * gain[:, None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "target_dbfs": self.target_dbfs,
            "increase_only": self.increase_only,
            "decrease_only": self.decrease_only,
        }


def dft_basis(n_fft: int, win_length: int) -> np.ndarray:
    """`[n_fft, 2 * (n_fft // 2 + 1)]`: the periodic Hann window (centred in `n_fft`) times the real and the
    imaginary parts of the DFT, so `frames @ basis` holds a frame's spectrum, real parts then imaginary."""
    window = scipy.signal.get_window("hann", win_length, fftbins=True)
    left = (n_fft - win_length) // 2
    window = np.pad(window, (left, n_fft - win_length - left))
    phase = 2 * np.pi * (np.outer(np.arange(n_fft), np.arange(n_fft // 2 + 1)) % n_fft) / n_fft
    return np.concatenate([window[:, None] * np.cos(phase), -window[:, None] * np.sin(phase)], 1).astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_audio")
class MelPowerSpectrogram(keras.layers.Layer):
    """Waveforms -> mel power spectrograms, as `librosa.feature.melspectrogram` computes them (librosa 0.11:
    centred frames over zero padding, periodic Hann window, power 2, Slaney mel filters with Slaney norm).

    The STFT is a product with a windowed DFT basis (`dft_basis`), which converts to TFLite builtins for any
    `n_fft`.

    Args:
        sample_rate: input rate in Hz.
        n_fft: FFT size (even).
        win_length: Hann window length (<= n_fft; None: n_fft).
        hop_length: frame step in samples.
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz (None: `sample_rate / 2`).

    Input shape: `[batch, samples]`. Output shape: `[batch, 1 + samples // hop_length, n_mels]` float32.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = N_FFT,
        win_length: int | None = None,
        hop_length: int = HOP_LENGTH,
        n_mels: int = N_MELS,
        fmin: float = 0.0,
        fmax: float | None = None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        win_length = n_fft if win_length is None else win_length
        check_stft_settings("MelPowerSpectrogram", sample_rate, n_fft, win_length, hop_length, n_mels=n_mels)
        check_mel_band("MelPowerSpectrogram", sample_rate, fmin, fmax)
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self._basis = dft_basis(self.n_fft, self.win_length)
        filterbank = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        self._filterbank = np.concatenate([filterbank, filterbank])  # re² and im² summed by one product

    def call(self, inputs):
        padded = tf.pad(tf.cast(inputs, tf.float32), [[0, 0], [self.n_fft // 2, self.n_fft // 2]])
        frames = tf.signal.frame(padded, self.n_fft, self.hop_length, pad_end=False)
        spectrum = tf.linalg.matmul(frames, tf.constant(self._basis))
        return tf.linalg.matmul(tf.square(spectrum), tf.constant(self._filterbank))

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
        }


# ---------------------------------------------------------------------------------------------- batching


@keras.saving.register_keras_serializable(package="keras_audio")
class FoldPartials(keras.layers.Layer):
    """`[batch, partials, frames, channels]` -> `[batch * partials, frames, channels]`: every partial of every
    example as one batch for the LSTM."""

    def call(self, inputs):
        return tf.reshape(inputs, [-1, inputs.shape[2], inputs.shape[3]])

    def compute_output_shape(self, input_shape):
        batch, partials, frames, channels = input_shape
        folded = None if batch is None or partials is None else batch * partials
        return (folded, frames, channels)


@keras.saving.register_keras_serializable(package="keras_audio")
class UnfoldPartials(keras.layers.Layer):
    """`[batch * partials, features]` -> `[batch, partials, features]`, the grouping read off the partials'
    mask.

    Input: `[x [batch * partials, features], valid [batch, partials]]`. Output: `[batch, partials, features]`.
    """

    def call(self, inputs):
        x, valid = inputs
        return tf.reshape(x, [tf.shape(valid)[0], tf.shape(valid)[1], x.shape[-1]])

    def compute_output_shape(self, input_shape):
        x_shape, valid_shape = input_shape
        return (valid_shape[0], valid_shape[1], x_shape[-1])


# ---------------------------------------------------------------------------------------------- model


def build_ge2e_encoder(*, pretrained: bool = True, trainable: bool = False, name: str = "ge2e_encoder") -> keras.Model:
    """The GE2E encoder: waveforms `[batch, samples]` float32 at 16 kHz, any length and zero padding ->
    embeddings `[batch, 256]` (L2 norm 1).

    Args:
        pretrained: load Resemblyzer's weights (through `keras_audio.pretrained.sources`, cached as
            `.weights.h5`); False leaves Keras' random initialisation.
        trainable: the weights' trainable flag (False: frozen; see `set_ge2e_trainable` to unfreeze the top).
        name: the model's name.
    """
    if not isinstance(pretrained, bool) or not isinstance(trainable, bool):
        raise ValueError(
            f"build_ge2e_encoder: pretrained and trainable must be bools, got {pretrained!r}, {trainable!r}"
        )
    waveform = keras.Input(shape=(None,), dtype="float32", name=f"{name}_waveform")
    lengths = SignalLength(name="signal_length")(waveform)
    x = AlignToSignal(name="align_to_signal")(waveform)
    x = NormalizeVolume(name="normalize_volume")([x, lengths])
    x = PadToPartials(name="pad_to_partials")(x)
    mel = MelPowerSpectrogram(name="mel_power")(x)
    partials, valid = PartialUtterances(name="partial_utterances")([mel, lengths])
    x = FoldPartials(name="fold_partials")(partials)
    for layer in range(LSTM_LAYERS):
        x = keras.layers.LSTM(UNITS, return_sequences=layer < LSTM_LAYERS - 1, name=f"lstm_{layer}")(x)
    x = keras.layers.Dense(EMBEDDING_SIZE, activation="relu", name="linear")(x)
    x = keras.layers.UnitNormalization(name="partial_embedding")(x)
    x = UnfoldPartials(name="unfold_partials")([x, valid])
    x = MaskedTimePooling("mean", name="partial_mean")([x, valid])
    embedding = keras.layers.UnitNormalization(name="embedding")(x)
    model = keras.Model(waveform, embedding, name=name)
    if pretrained:
        load_ge2e_weights(model)
    model.trainable = trainable
    return model


def load_ge2e_weights(model: keras.Model) -> Path:
    """Put Resemblyzer's pretrained weights into a `build_ge2e_encoder` model; returns the cached weights file."""
    return load_pretrained(model, GE2E, assign=_assign_state, converter_version=CONVERTER_VERSION)


def _tensor(weights: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in weights:
        raise ValueError(f"GE2E checkpoint: model_state has no {key!r} (keys: {sorted(weights)[:8]}...)")
    value = np.asarray(weights[key], np.float32)
    if value.shape != shape:
        raise ValueError(f"GE2E checkpoint: {key} has shape {value.shape}, expected {shape}")
    return value


def _assign_state(model: keras.Model, state: dict) -> None:
    """Copy the torch state (`{"model_state": {name: array}}`) into the model.

    Torch's LSTM gates (i, f, g, o) are Keras' (i, f, c, o); its `[4 * units, inputs]` kernels are transposed
    and its two biases added. `linear.weight` is transposed likewise.
    """
    if not isinstance(state, dict) or not isinstance(state.get("model_state"), dict):
        raise ValueError("GE2E checkpoint: expected a dict with a 'model_state' dict")
    weights = state["model_state"]
    inputs = N_MELS
    for layer in range(LSTM_LAYERS):
        kernel = _tensor(weights, f"lstm.weight_ih_l{layer}", (4 * UNITS, inputs))
        recurrent = _tensor(weights, f"lstm.weight_hh_l{layer}", (4 * UNITS, UNITS))
        bias = _tensor(weights, f"lstm.bias_ih_l{layer}", (4 * UNITS,)) + _tensor(
            weights, f"lstm.bias_hh_l{layer}", (4 * UNITS,)
        )
        model.get_layer(f"lstm_{layer}").set_weights([kernel.T, recurrent.T, bias])
        inputs = UNITS
    model.get_layer("linear").set_weights(
        [
            _tensor(weights, "linear.weight", (EMBEDDING_SIZE, UNITS)).T,
            _tensor(weights, "linear.bias", (EMBEDDING_SIZE,)),
        ]
    )


def set_ge2e_trainable(encoder: keras.Model, top_layers: int) -> None:
    """Freeze the encoder except its top `top_layers` weighted layers, counted from the top: 1 the dense,
    2 also the last LSTM (the usual fine-tuning choice), ..., 4 everything; 0 freezes it all."""
    if isinstance(top_layers, bool) or not isinstance(top_layers, int) or not 0 <= top_layers <= len(TOP_DOWN):
        raise ValueError(f"set_ge2e_trainable: top_layers must be an int in [0, {len(TOP_DOWN)}], got {top_layers!r}")
    encoder.trainable = top_layers > 0
    for index, layer_name in enumerate(TOP_DOWN):
        encoder.get_layer(layer_name).trainable = index < top_layers
