"""Small layers the model families share: batch norm with a faster momentum, masked 2-D conv blocks,
attention pooling over time, a crop, and `FrameMask` (kept so that exports made before
`masking.PaddingMask` replaced it still load).

Each custom layer is registered serializable, so a model using them saves and reloads as a `.keras` file.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_audio.models.masking import DownsampleMask, MaskedBatchNormalization, MaskFrames

# Keras' default momentum (0.99) lets the moving statistics that inference uses forget their initial
# values over ~500 steps, but a run here trains ~40 steps per epoch: for the first ~10 epochs inference
# then sees statistics far from the training batches', validation accuracy stays at chance (measured: conv2d
# on the generated corpus, 0.50 for 5 epochs with 0.99; 0.77 after one epoch and 0.99 after five with 0.9),
# and early stopping restores a useless epoch. 0.9 tracks them within ~20 steps.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(name: str) -> MaskedBatchNormalization:
    """Batch norm with `BATCH_NORM_MOMENTUM`; call it with `mask=frame_mask` to keep padding out of its
    training statistics (`masking.MaskedBatchNormalization`)."""
    return MaskedBatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name)


def conv2d_stack(image, mask, filters):
    """`[batch, frames, freq, 1]` and its frame mask through one block per width in `filters`.

    Each block: 3×3 Conv2D (no bias) → batch norm (statistics over signal frames) → ReLU → padded frames
    zeroed → 2×2 max-pool, the mask pooled alike. Zeroing after the ReLU means the next convolution sees
    zeros beyond the clip, as at the edge of an unpadded clip, and a max-pool window straddling the edge
    returns its signal frame (ReLU outputs are >= 0). Returns
    `(x [batch, ceil(frames / 2^n), ceil(freq / 2^n), filters[-1]], mask [batch, ceil(frames / 2^n)])`.
    """
    x = image
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = batch_norm(name=f"bn{i}")(x, mask=mask)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
        x = MaskFrames(name=f"padding{i}")([x, mask])
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
        mask = DownsampleMask(2, name=f"mask_pool{i}")(mask)
    return x, mask


def conv2d_blocks(log_mel, mask, filters):
    """The log-mel `[batch, frames, mels]` as a one-channel image through `conv2d_stack`; returns `(x, mask)`."""
    x = keras.layers.Reshape((-1, log_mel.shape[-1], 1), name="as_image")(log_mel)
    return conv2d_stack(x, mask, filters)


@keras.saving.register_keras_serializable(package="keras_audio")
class AttentionPooling(keras.layers.Layer):
    """Additive (Bahdanau-style) attention pooling over time.

    `score_t = v · tanh(W h_t + b)`, `a = softmax_t(score)` over the valid steps, output `Σ_t a_t h_t`:
    a learned weighted mean, so a clip's few informative frames can outweigh its silence.

    Args:
        units: width of the hidden scoring layer.

    Input shape:
        `[batch, time, channels]`, and optionally `mask` `[batch, time]` (True = valid step). Every example
        needs at least one valid step.

    Output shape:
        `[batch, channels]`.
    """

    def __init__(self, units: int = 64, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"AttentionPooling: units must be a positive int, got {units!r}")
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"AttentionPooling: the channel axis must be known, got input shape {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(channels, self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.score_vector = self.add_weight(name="score_vector", shape=(self.units,), initializer="glorot_uniform")

    def attention_weights(self, inputs, mask=None):
        """The softmax weights `[batch, time]` (for inspection)."""
        scores = ops.tensordot(ops.tanh(ops.matmul(inputs, self.kernel) + self.bias), self.score_vector, axes=1)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        return ops.softmax(scores, axis=-1)

    def call(self, inputs, mask=None):
        weights = self.attention_weights(inputs, mask)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None  # time is pooled away

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_audio")
class FrameMask(keras.layers.Layer):
    """Which spectrogram frames hold signal rather than the zero padding of a short clip (superseded).

    The models now use `masking.PaddingMask` (only leading and trailing zeros are padding; frame centres,
    so a clip and its padded copy share their signal frames); this layer stays so older exports reload.

    A frame is valid when its centred `n_fft`-sample window (framed exactly as `features.power_spectrogram`
    frames the STFT) holds any non-zero sample. With `stride > 1` the mask is pooled to the frame rate after
    `log2(stride)` poolings of 2 with "same" padding: a pooled step is valid when any of its frames is.
    An example with no valid frame (digital silence) is marked valid throughout, so poolings stay defined.

    Args:
        n_fft: the STFT frame length in samples.
        hop_length: the STFT hop in samples.
        stride: frames per output step.

    Input shape:
        `[batch, samples]` float32.

    Output shape:
        `[batch, ceil((1 + samples // hop_length) / stride)]` bool.
    """

    def __init__(self, n_fft: int = 512, hop_length: int = 160, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("n_fft", n_fft), ("hop_length", hop_length), ("stride", stride)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"FrameMask: {name} must be a positive int, got {value!r}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.stride = stride

    def call(self, inputs):
        magnitude = tf.abs(tf.cast(inputs, tf.float32))
        padded = tf.pad(magnitude, [[0, 0], [self.n_fft // 2, self.n_fft // 2]])
        valid = tf.reduce_max(tf.signal.frame(padded, self.n_fft, self.hop_length), axis=-1) > 0
        if self.stride > 1:
            frames = tf.shape(valid)[1]
            steps = (frames + self.stride - 1) // self.stride
            valid = tf.pad(valid, [[0, 0], [0, steps * self.stride - frames]])
            valid = tf.reduce_any(tf.reshape(valid, [tf.shape(valid)[0], steps, self.stride]), axis=-1)
        silent = tf.logical_not(tf.reduce_any(valid, axis=1, keepdims=True))
        return tf.logical_or(valid, silent)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        if samples is None:
            return (input_shape[0], None)
        frames = 1 + samples // self.hop_length
        return (input_shape[0], -(-frames // self.stride))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "hop_length": self.hop_length, "stride": self.stride}


@keras.saving.register_keras_serializable(package="keras_audio")
class CropToMatch(keras.layers.Layer):
    """Crop axes 1 and 2 of `inputs[0]` to the sizes of `inputs[1]`.

    A decoder that upsamples by 2 per block returns a multiple of its stride; this trims it back to the
    spectrogram it reconstructs, whatever the clip's length.

    Input shape:
        `[x, reference]`: `x` `[batch, a, b, ...]` at least as large as `reference` `[batch, a', b', ...]`
        on axes 1 and 2.

    Output shape:
        `[batch, a', b', ...]` with `x`'s trailing axes.
    """

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2]]

    def compute_output_shape(self, input_shape):
        x_shape, reference_shape = input_shape
        return (x_shape[0], reference_shape[1], reference_shape[2], *x_shape[3:])
