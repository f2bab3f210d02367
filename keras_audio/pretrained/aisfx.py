"""The sound-effects encoder of aisfx 0.1.2 (Ma & Lerch, ISMIR 2022), in Keras, taking waveforms.

Source: the ``aisfx`` package (PyPI, 0.1.2): its checkpoint ``models/checkpoint.pth`` (the paper's
X-Sequential-CE model; only ``embedding_net.*`` is used, the per-dataset classifier heads are dropped) and its
librosa front-end. The network is the DCASE 2018 cross-task baseline's 9-layer CNN (Kong et al.): four blocks
of two bias-free 3x3 convolutions with batch norm and ReLU, 2x2 max pooling after the first three, the mean
over frequency and the max over time, 512-d. Licence: CC BY 4.0. Credit: Alison B. Ma and Alexander Lerch,
"Representation Learning for the Automatic Indexing of Sound Effects Libraries", ISMIR 2022. Weights are read
without torch (`keras_audio.pretrained.sources`, hash-pinned) and transposed to channels-last.

Reproduced (the package's ``spectrogram_type='librosa'``, ``spec_norm='original'``, ``emb_hop_size=0.5``,
``drop_partial_block=True``): peak normalisation, `librosa.feature.melspectrogram` at 44.1 kHz (n_fft 2048, hop
1024, centred with zeros, periodic Hann, 96 HTK mel bands with unit-area filters, power 2),
``log10(1 + 10^4 mel) / 9.457798957824707``, blocks of 100 frames every 50 (partial blocks dropped, at least
one, zero-padded), the CNN per block in inference mode (batch norm on the running statistics, epsilon 1e-5).
Within 1e-4 of the package (`tests/pretrained/test_aisfx.py`).

Departures, and why:

- Layout: the package's librosa function returns `[mels, frames]`, while its blocking and the network take
  `[frames, mels]` (what its Essentia function returns, the paper's front-end the model was trained on); fed
  as shipped, every clip becomes a single block with time and frequency swapped. Here the spectrogram is
  `[frames, mels]`, as the network expects.
- One vector per clip: the package returns one embedding per block; the encoder returns their mean.
- Clips under ~1.16 s (51 frames) trip an assertion in the package (`compute_hopSize`); here they get what
  its `blocking` gives them, one zero-padded block.
- Padding: leading and trailing exact zeros are not part of the clip (`masking.align_to_signal`); the
  spectrogram is that of the recording from its first to its last non-zero sample (frames past its end are
  zero, as the package's padded blocks are) and only the blocks the package would produce for that
  recording are averaged, so the embedding does not depend on the padding around a clip.
- Other sample rates: the package resamples with `librosa.load` (soxr_hq); here `PolyphaseResample` does it
  in the graph (a fixed Kaiser-windowed sinc, framing and one matrix product, so it exports to TFLite and
  ONNX), its transition band fitted to soxr_hq's: 60 dB SNR against it on white noise from 16 kHz, 1e-6 on
  tones below half the Nyquist rate (`tests/pretrained/test_aisfx.py`).
"""

from __future__ import annotations

import math

import keras
import librosa
import numpy as np
import tensorflow as tf

from keras_audio.features import check_mel_band, check_stft_settings, power_spectrogram
from keras_audio.models.masking import AlignToSignal, MaskedBatchNormalization, signal_bounds
from keras_audio.pretrained.sources import AISFX, load_pretrained

SAMPLE_RATE = 44100
N_FFT = 2048
HOP_LENGTH = 1024
N_MELS = 96
LOG_GAIN = 1e4  # log10(1 + LOG_GAIN * mel)
SPECTROGRAM_MAX = 9.457798957824707  # spec_norm='original': the paper's largest Essentia value
BLOCK_FRAMES = 100
BLOCK_HOP = 50
CHANNELS = (64, 128, 256, 512)
EMBEDDING_DIM = CHANNELS[-1]
BATCH_NORM_EPSILON = 1e-5  # torch's default
CNN_NAME = "aisfx_cnn"
BLOCK_EMBEDDINGS = "block_embeddings"
VALID_BLOCKS = "valid_blocks"
# PolyphaseResample's defaults: the transition band centred where soxr_hq's is (0.93..0.99 of the lower
# Nyquist rate), long enough for ~120 dB of stopband.
ZERO_CROSSINGS = 96
ROLLOFF = 0.957
KAISER_BETA = 13.0
MAX_RESAMPLING_WEIGHTS = 4_000_000  # the largest [window, outputs] matrix accepted (16 MB of float32)


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _rates(owner: str, source_rate, target_rate) -> tuple[int, int]:
    """(upsampling factor L, downsampling factor M) of `source_rate -> target_rate`, in lowest terms."""
    source_rate = _positive_int(owner, "source_rate", source_rate)
    target_rate = _positive_int(owner, "target_rate", target_rate)
    divisor = math.gcd(source_rate, target_rate)
    return target_rate // divisor, source_rate // divisor


def resampled_length(samples: tf.Tensor, source_rate: int, target_rate: int) -> tf.Tensor:
    """`ceil(samples * target_rate / source_rate)`, librosa's resampled length, without int32 overflow."""
    up, down = _rates("resampled_length", source_rate, target_rate)
    samples = tf.cast(samples, tf.int32)
    return (samples // down) * up + (samples % down * up + down - 1) // down


# ----------------------------------------------------------------------------------------- resampling
def resampling_plan(
    source_rate: int,
    target_rate: int,
    zero_crossings: int = ZERO_CROSSINGS,
    rolloff: float = ROLLOFF,
    kaiser_beta: float = KAISER_BETA,
) -> tuple[np.ndarray, int, int, int]:
    """The polyphase resampler as one matrix: `(matrix [chunks * step, outputs], step, outputs, lead)`.

    The input, preceded by `lead` zeros, is cut into chunks of `step` samples; each output frame reads
    `chunks` consecutive chunks (`window = chunks * step` samples, advancing by `step`) and gives `outputs`
    samples: `frame @ matrix`. The filter is a Kaiser-windowed sinc (cutoff `rolloff` times the lower Nyquist
    rate, `zero_crossings` zero crossings each side), its continuous response sampled at each output's
    fractional position, so every phase is exact.

    Raises:
        ValueError: a bad setting, or a rate pair whose matrix would exceed `MAX_RESAMPLING_WEIGHTS`.
    """
    owner = "PolyphaseResample"
    up, down = _rates(owner, source_rate, target_rate)
    zero_crossings = _positive_int(owner, "zero_crossings", zero_crossings)
    if not isinstance(rolloff, (int, float)) or isinstance(rolloff, bool) or not 0 < rolloff <= 1:
        raise ValueError(f"{owner}: rolloff must be in (0, 1], got {rolloff!r}")
    if not isinstance(kaiser_beta, (int, float)) or isinstance(kaiser_beta, bool) or not 0 <= kaiser_beta < 100:
        raise ValueError(f"{owner}: kaiser_beta must be in [0, 100), got {kaiser_beta!r}")
    cutoff = rolloff * min(1.0, up / down)  # in cycles per input sample, times 2
    half_width = zero_crossings / cutoff  # input samples each side
    group = -(-128 // down)  # whole phase cycles per frame, so a frame advances by >= 128 samples
    step, outputs = down * group, up * group
    chunks = -(-(step + 2 * math.ceil(half_width)) // step)
    lead = (chunks - 1) * step // 2
    if chunks * step * outputs > MAX_RESAMPLING_WEIGHTS:
        raise ValueError(
            f"{owner}: resampling {source_rate} Hz to {target_rate} Hz needs a "
            f"[{chunks * step}, {outputs}] matrix; resample the audio to a rate with a simpler "
            f"ratio to {target_rate} Hz first"
        )
    offset = np.arange(outputs)[None, :] * down / up + lead - np.arange(chunks * step)[:, None]
    x = offset / half_width
    window = np.where(np.abs(x) <= 1, np.i0(kaiser_beta * np.sqrt(np.clip(1 - x * x, 0, None))), 0.0)
    matrix = cutoff * np.sinc(cutoff * offset) * window / np.i0(kaiser_beta)
    return matrix.astype(np.float32), step, outputs, lead


@keras.saving.register_keras_serializable(package="keras_audio")
class PolyphaseResample(keras.layers.Layer):
    """Band-limited resampling by a fixed rational factor, as framing plus one matrix product.

    Sample `j` of the output is the input at time `j / target_rate` (the first samples line up, as in
    `librosa.resample`), interpolated with a Kaiser-windowed sinc; the input is taken as zero outside its
    length. Only slicing, concatenation and a matrix product: it converts to TFLite builtins and ONNX.

    Args:
        source_rate: input rate in Hz.
        target_rate: output rate in Hz.
        zero_crossings: the filter's zero crossings each side (its length).
        rolloff: the cutoff as a fraction of the lower Nyquist rate.
        kaiser_beta: the Kaiser window's shape (stopband attenuation).

    Input shape: `[batch, samples]` float32. Output shape: `[batch, ceil(samples * target_rate / source_rate)]`.
    """

    def __init__(
        self,
        source_rate: int = 16000,
        target_rate: int = SAMPLE_RATE,
        zero_crossings: int = ZERO_CROSSINGS,
        rolloff: float = ROLLOFF,
        kaiser_beta: float = KAISER_BETA,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self._matrix, self._step, self._outputs, self._lead = resampling_plan(
            source_rate, target_rate, zero_crossings, rolloff, kaiser_beta
        )
        self.source_rate, self.target_rate = int(source_rate), int(target_rate)
        self.zero_crossings, self.rolloff, self.kaiser_beta = int(zero_crossings), float(rolloff), float(kaiser_beta)

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        batch, samples = tf.shape(x)[0], tf.shape(x)[1]
        step, chunks = self._step, self._matrix.shape[0] // self._step
        frames = (samples + step - 1) // step
        x = tf.pad(x, [[0, 0], [self._lead, (frames + chunks - 1) * step - self._lead - samples]])
        x = tf.reshape(x, [batch, frames + chunks - 1, step])
        x = tf.concat([x[:, index : index + frames] for index in range(chunks)], axis=2)
        y = tf.reshape(tf.linalg.matmul(x, tf.constant(self._matrix)), [batch, frames * self._outputs])
        return y[:, : resampled_length(samples, self.source_rate, self.target_rate)]

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        if samples is None:
            return (input_shape[0], None)
        return (input_shape[0], -(-samples * self.target_rate // self.source_rate))

    def get_config(self):
        return {
            **super().get_config(),
            "source_rate": self.source_rate,
            "target_rate": self.target_rate,
            "zero_crossings": self.zero_crossings,
            "rolloff": self.rolloff,
            "kaiser_beta": self.kaiser_beta,
        }


@keras.saving.register_keras_serializable(package="keras_audio")
class RecordingLength(keras.layers.Layer):
    """Each waveform's recording length: from its first to its last non-zero sample (the whole input for
    digital silence), counted at `target_rate` (`ceil(n * target_rate / source_rate)`, librosa's length).

    Input shape: `[batch, samples]` float32. Output shape: `[batch]` int32.
    """

    def __init__(self, source_rate: int = SAMPLE_RATE, target_rate: int = SAMPLE_RATE, **kwargs):
        super().__init__(**kwargs)
        _rates("RecordingLength", source_rate, target_rate)
        self.source_rate, self.target_rate = int(source_rate), int(target_rate)

    def call(self, inputs):
        first, last, has_signal = signal_bounds(inputs)
        length = tf.where(has_signal, last - first + 1, tf.shape(inputs)[1])
        if self.source_rate == self.target_rate:
            return length
        return resampled_length(length, self.source_rate, self.target_rate)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "source_rate": self.source_rate, "target_rate": self.target_rate}


# ----------------------------------------------------------------------------------------- front-end
@keras.saving.register_keras_serializable(package="keras_audio")
class AisfxLogMel(keras.layers.Layer):
    """The package's librosa front-end, `[frames, mels]`, on the recording each waveform holds.

    Samples at or past the recording's length are zeroed, the rest divided by their peak (1 if silent),
    then `log10(1 + 10^4 * mel_power) / spectrogram_max` with librosa's centred STFT and HTK mel filters of
    unit area (`norm=1`); frames past the recording's last (`1 + length // hop_length`) are 0, as in the
    package's zero-padded blocks.

    Args:
        rate: the waveform's rate in Hz (after resampling). Not called `sample_rate`: export metadata reads a
            front-end's `sample_rate` as the model's input rate, which may differ.
        n_fft, win_length, hop_length, n_mels, fmin, fmax: librosa's settings (the package's by default).
        spectrogram_max: the divisor of the log spectrogram (`spec_norm='original'`).

    Input: `[waveform [batch, samples] float32, length [batch] int32]`. Output: `[batch, 1 + samples //
    hop_length, n_mels]` float32.
    """

    def __init__(
        self,
        rate: int = SAMPLE_RATE,
        n_fft: int = N_FFT,
        win_length: int = N_FFT,
        hop_length: int = HOP_LENGTH,
        n_mels: int = N_MELS,
        fmin: float = 0.0,
        fmax: float = SAMPLE_RATE / 2,
        spectrogram_max: float = SPECTROGRAM_MAX,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        check_stft_settings("AisfxLogMel", rate, n_fft, win_length, hop_length, n_mels=n_mels)
        check_mel_band("AisfxLogMel", rate, fmin, fmax)
        if (
            not isinstance(spectrogram_max, (int, float))
            or isinstance(spectrogram_max, bool)
            or not 0 < spectrogram_max < float("inf")
        ):
            raise ValueError(f"AisfxLogMel: spectrogram_max must be a positive number, got {spectrogram_max!r}")
        self.rate, self.n_fft, self.win_length = int(rate), int(n_fft), int(win_length)
        self.hop_length, self.n_mels = int(hop_length), int(n_mels)
        self.fmin, self.fmax, self.spectrogram_max = float(fmin), float(fmax), float(spectrogram_max)
        self._filterbank = librosa.filters.mel(
            sr=self.rate, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, htk=True, norm=1.0
        ).T.astype(np.float32)

    def call(self, inputs):
        waveform, length = inputs
        waveform = tf.cast(waveform, tf.float32)
        length = tf.cast(length, tf.int32)
        samples = tf.shape(waveform)[1]
        waveform = waveform * tf.cast(tf.range(samples)[None, :] < length[:, None], tf.float32)
        peak = tf.reduce_max(tf.abs(waveform), axis=1, keepdims=True)
        waveform = waveform / tf.where(peak > 0, peak, tf.ones_like(peak))
        power = power_spectrogram(waveform, self.n_fft, self.win_length, self.hop_length)
        mel = tf.linalg.matmul(power, tf.constant(self._filterbank))
        spectrogram = tf.math.log(1.0 + LOG_GAIN * mel) / math.log(10.0) / self.spectrogram_max
        frames = 1 + samples // self.hop_length
        signal = tf.range(frames)[None, :] < 1 + length[:, None] // self.hop_length
        return spectrogram * tf.cast(signal, tf.float32)[:, :, None]

    def compute_output_shape(self, input_shape):
        samples = input_shape[0][-1]
        return (input_shape[0][0], None if samples is None else 1 + samples // self.hop_length, self.n_mels)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "n_fft": self.n_fft,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "spectrogram_max": self.spectrogram_max,
        }


# ----------------------------------------------------------------------------------------- blocks
def _block_settings(owner: str, block_frames, hop_frames) -> tuple[int, int]:
    block_frames = _positive_int(owner, "block_frames", block_frames)
    hop_frames = _positive_int(owner, "hop_frames", hop_frames)
    if block_frames % hop_frames:
        raise ValueError(f"{owner}: block_frames={block_frames} must be a multiple of hop_frames={hop_frames}")
    return block_frames, hop_frames


def block_count(frames, block_frames: int = BLOCK_FRAMES, hop_frames: int = BLOCK_HOP):
    """The blocks the package's `blocking` keeps for `frames` frames with `drop_partial_block=True`: the
    complete ones, at least one (int or tensor)."""
    count = (frames - block_frames) // hop_frames + 1
    return max(count, 1) if isinstance(count, int) else tf.maximum(count, 1)


@keras.saving.register_keras_serializable(package="keras_audio")
class SpectrogramBlocks(keras.layers.Layer):
    """Cut each spectrogram into blocks of `block_frames` frames every `hop_frames`, folded into the batch for
    the CNN: `[batch, frames, mels] -> [batch * blocks, block_frames, mels, 1]`, example-major.

    The blocks are the package's for `frames` frames (`block_count`: complete blocks, or one zero-padded);
    a padded example's own blocks are among them (`ValidBlocks` says which).

    Slicing and concatenation only (no gather), so it converts to TFLite builtins and ONNX.
    """

    def __init__(self, block_frames: int = BLOCK_FRAMES, hop_frames: int = BLOCK_HOP, **kwargs):
        super().__init__(**kwargs)
        self.block_frames, self.hop_frames = _block_settings("SpectrogramBlocks", block_frames, hop_frames)

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        batch, frames, mels = tf.shape(x)[0], tf.shape(x)[1], x.shape[2]
        per_block = self.block_frames // self.hop_frames
        blocks = block_count(frames, self.block_frames, self.hop_frames)
        chunks = blocks + per_block - 1
        x = tf.pad(x, [[0, 0], [0, tf.maximum(chunks * self.hop_frames - frames, 0)], [0, 0]])
        x = tf.reshape(x[:, : chunks * self.hop_frames], [batch, chunks, self.hop_frames, mels])
        x = tf.concat([x[:, index : index + blocks] for index in range(per_block)], axis=2)
        return tf.reshape(x, [batch * blocks, self.block_frames, mels, 1])

    def compute_output_shape(self, input_shape):
        return (None, self.block_frames, input_shape[-1], 1)

    def get_config(self):
        return {**super().get_config(), "block_frames": self.block_frames, "hop_frames": self.hop_frames}


@keras.saving.register_keras_serializable(package="keras_audio")
class ValidBlocks(keras.layers.Layer):
    """Which of `SpectrogramBlocks`' blocks the package would produce for the recording alone: the first
    `block_count(1 + length // hop_length)`.

    Input: `[spectrogram [batch, frames, mels], length [batch] int32 (samples)]`. Output: `[batch, blocks]` bool.
    """

    def __init__(
        self, block_frames: int = BLOCK_FRAMES, hop_frames: int = BLOCK_HOP, hop_length: int = HOP_LENGTH, **kwargs
    ):
        super().__init__(**kwargs)
        self.block_frames, self.hop_frames = _block_settings("ValidBlocks", block_frames, hop_frames)
        self.hop_length = _positive_int("ValidBlocks", "hop_length", hop_length)

    def call(self, inputs):
        spectrogram, length = inputs
        blocks = block_count(tf.shape(spectrogram)[1], self.block_frames, self.hop_frames)
        frames = 1 + tf.cast(length, tf.int32) // self.hop_length
        valid = block_count(frames, self.block_frames, self.hop_frames)
        return tf.range(blocks)[None, :] < valid[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], None)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), dtype="bool")

    def get_config(self):
        return {
            **super().get_config(),
            "block_frames": self.block_frames,
            "hop_frames": self.hop_frames,
            "hop_length": self.hop_length,
        }


@keras.saving.register_keras_serializable(package="keras_audio")
class UnfoldBlocks(keras.layers.Layer):
    """Per-block outputs back to one row per example: `[[batch * blocks, dim], valid [batch, blocks]] ->
    [batch, blocks, dim]`."""

    def call(self, inputs):
        x, valid = inputs
        return tf.reshape(x, [tf.shape(valid)[0], tf.shape(valid)[1], x.shape[-1]])

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][1], input_shape[0][-1])


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedBlockMean(keras.layers.Layer):
    """The mean over each example's valid blocks: `[[batch, blocks, dim], valid [batch, blocks]] -> [batch, dim]`."""

    def call(self, inputs):
        x, valid = inputs
        weight = tf.cast(valid, x.dtype)[:, :, None]
        return tf.reduce_sum(x * weight, axis=1) / tf.maximum(tf.reduce_sum(weight, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][-1])


# ----------------------------------------------------------------------------------------- CNN
@keras.saving.register_keras_serializable(package="keras_audio")
class InferenceBatchNormalization(MaskedBatchNormalization):
    """Batch norm that always normalises with its running statistics, in training too: fine-tuning a
    pretrained block on small batches then never replaces the statistics it was trained with (its scale
    and offset still train when the layer is trainable)."""

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False)


@keras.saving.register_keras_serializable(package="keras_audio")
class FrequencyMeanTimeMax(keras.layers.Layer):
    """The DCASE baseline's pooling: the mean over frequency, then the max over time,
    `[batch, time, freq, channels] -> [batch, channels]`."""

    def call(self, inputs):
        return tf.reduce_max(tf.reduce_mean(inputs, axis=2), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def build_aisfx_cnn(name: str = CNN_NAME) -> keras.Model:
    """The embedding CNN on one block: `[batch, 100 frames, 96 mels, 1] -> [batch, 512]` (untrained)."""
    blocks = keras.Input(shape=(BLOCK_FRAMES, N_MELS, 1), dtype="float32", name="spectrogram_block")
    x = blocks
    for block, channels in enumerate(CHANNELS, start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            x = InferenceBatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block < len(CHANNELS):
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return keras.Model(blocks, FrequencyMeanTimeMax(name="frequency_mean_time_max")(x), name=name)


def _assign_state(model: keras.Model, state) -> None:
    """Copy the checkpoint's `embedding_net.*` tensors into `build_aisfx_cnn`'s layers.

    `state` is the checkpoint as `torch_checkpoint.load` returns it: `(state_dict, ds_dict)`, the state dict
    mapping names to NumPy arrays. Convolution kernels go from `(out, in, kh, kw)` to `(kh, kw, in, out)`.
    """
    tensors = state[0]
    for block in range(1, len(CHANNELS) + 1):
        prefix = f"embedding_net.conv_block{block}"
        for index in (1, 2):
            conv = model.get_layer(f"block{block}_conv{index}")
            conv.kernel.assign(_tensor(tensors, f"{prefix}.conv{index}.weight", conv.kernel.shape, (2, 3, 1, 0)))
            norm = model.get_layer(f"block{block}_bn{index}")
            for variable, key in (
                (norm.gamma, "weight"),
                (norm.beta, "bias"),
                (norm.moving_mean, "running_mean"),
                (norm.moving_variance, "running_var"),
            ):
                variable.assign(_tensor(tensors, f"{prefix}.bn{index}.{key}", variable.shape))


def _tensor(tensors, key: str, shape, transpose: tuple[int, ...] | None = None) -> np.ndarray:
    if key not in tensors:
        raise ValueError(f"aisfx checkpoint: no tensor {key!r}")
    value = np.asarray(tensors[key], np.float32)
    if transpose is not None:
        value = value.transpose(transpose)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"aisfx checkpoint: {key} has shape {value.shape}, the layer wants {tuple(shape)}")
    return value


# ----------------------------------------------------------------------------------------- encoder
def build_aisfx_encoder(
    sample_rate: int = SAMPLE_RATE, *, pretrained: bool = True, trainable: bool = False, name: str = "aisfx_encoder"
) -> keras.Model:
    """Waveforms `[batch, samples]` float32 at `sample_rate` (any length) -> clip embeddings `[batch, 512]`.

    The mean of the package's block embeddings for the recording each waveform holds (leading and trailing
    zeros are padding, see the module docstring); other rates are resampled to 44.1 kHz in the graph. The input
    is named `f"{name}_waveform"`.

    A clip shorter than one block (100 frames, ~2.3 s) gets one zero-padded block, as in the package, and a
    channel whose maximum over time falls in that padding takes the CNN's response to silence: the same value
    for every such clip, up to float32 rounding (which differs by ~1e-6 between eager execution, a traced graph,
    a SavedModel, TFLite and ONNX, whose kernels sum in other orders). Standardising embeddings over short clips
    therefore meets channels of zero variance; dividing by their standard deviation turns that rounding into
    arbitrarily large values.

    Args:
        sample_rate: the input rate in Hz.
        pretrained: load the package's weights (cached as `.weights.h5` after the first conversion).
        trainable: whether the CNN's weights train (batch norm statistics never do; see
            `set_aisfx_trainable` to train only the top).
        name: the model's name.
    """
    sample_rate = _positive_int("build_aisfx_encoder", "sample_rate", sample_rate)
    # Not "waveform": the families nest the encoder under an outer input of that name, and Keras wants the names
    # unique across the graph it maps (cutting a model at `encoder.output` raised "The name 'waveform' is used
    # 2 times" instead of saying that that output is not connected to the outer input).
    waveform = keras.Input(shape=(None,), dtype="float32", name=f"{name}_waveform")
    length = RecordingLength(sample_rate, SAMPLE_RATE, name="recording_length")(waveform)
    x = AlignToSignal(name="align_to_signal")(waveform)
    if sample_rate != SAMPLE_RATE:
        x = PolyphaseResample(sample_rate, SAMPLE_RATE, name="resample")(x)
    spectrogram = AisfxLogMel(name="log_mel")([x, length])
    valid = ValidBlocks(name=VALID_BLOCKS)([spectrogram, length])
    cnn = build_aisfx_cnn()
    blocks = UnfoldBlocks(name=BLOCK_EMBEDDINGS)([cnn(SpectrogramBlocks(name="blocks")(spectrogram)), valid])
    encoder = keras.Model(waveform, MaskedBlockMean(name="block_mean")([blocks, valid]), name=name)
    if pretrained:
        load_pretrained(cnn, AISFX, assign=_assign_state, converter_version="1")
    encoder.trainable = bool(trainable)
    return encoder


def aisfx_block_model(encoder: keras.Model) -> keras.Model:
    """`encoder`'s per-block view (shared layers): waveforms -> `[block embeddings [batch, blocks, 512],
    valid [batch, blocks] bool]`, the blocks the package returns being the valid ones."""
    return keras.Model(
        encoder.input,
        [encoder.get_layer(BLOCK_EMBEDDINGS).output, encoder.get_layer(VALID_BLOCKS).output],
        name=f"{encoder.name}_blocks",
    )


def set_aisfx_trainable(encoder: keras.Model, top_blocks: int) -> None:
    """Freeze the encoder except its last `top_blocks` conv blocks (0..4): their kernels and batch-norm scale
    and offset train, the batch-norm statistics stay as trained (`InferenceBatchNormalization`)."""
    if isinstance(top_blocks, bool) or not isinstance(top_blocks, int) or not 0 <= top_blocks <= len(CHANNELS):
        raise ValueError(f"set_aisfx_trainable: top_blocks must be an int in [0, {len(CHANNELS)}], got {top_blocks!r}")
    cnn = encoder.get_layer(CNN_NAME)
    encoder.trainable = top_blocks > 0
    first = len(CHANNELS) - top_blocks + 1
    for layer in cnn.layers:
        if layer.name.startswith("block"):
            layer.trainable = int(layer.name[len("block")]) >= first
