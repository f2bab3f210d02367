"""Padding masks: which spectrogram frames are signal, and time reductions that read only those frames.

A clip shorter than the run's window reaches the model zero-padded (`windowing.center_crop_or_pad` pads
both ends). Standardising or pooling over those frames answers differently for the same clip in a 2-s and
a 4-s window. Everything is derived from the waveform inside the model, so an exported model keeps taking
bare waveforms:

- `align_to_signal` first moves each example's leading zeros to its end (a shift by the number of leading
  zero samples), so centre padding becomes trailing padding. Without it, the leading padding of a 2-s and a
  4-s window differ by a number of samples that is generally not a multiple of the hop, nor of the conv
  nets' pooling strides, and the frames and pooling windows would fall differently on the same clip; after
  it, the clip's frames are those of the unpadded clip, whatever the padding.

- a frame is *signal* when its centre sample (`t * hop_length`, the frame `features.power_spectrogram`
  centres there) lies between the first and the last non-zero sample of the example; the frames before
  and after are padding. Interior silence (a dropout, a pause) stays signal: only leading and trailing
  exact zeros are padding. Using the centre, not "any non-zero sample in the window", makes the unpadded
  clip and the padded one have the same signal frames, so they get the same features.
- an example without a single signal frame (digital silence, or a burst shorter than the hop between two
  frame centres) is marked signal throughout: every reduction then stays defined and the model answers as
  it did before masks existed (no NaN).

Each model downsamples the mask exactly as its feature map is downsampled (`DownsampleMask` after each
"same"-padded pooling) and zeroes the padded steps before each convolution (`MaskFrames`), so a valid
step sees zeros beyond the clip's edge in a padded window as it would at the edge of the unpadded clip.

Pure functions do the work; the layers are thin, registered for `.keras` reloading, and take
`[features, mask]` lists (an explicit input rather than Keras' implicit mask propagation, which Conv and
pooling layers would drop with a warning).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_audio.handcrafted_features import deltas, mfcc

LOWEST = -1e9  # the fill before a max pooling: below any feature value, finite so gradients stay finite
STD_EPSILON = 1e-12  # handcrafted_features.mean_and_std's


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def _broadcastable(mask: tf.Tensor, rank: int) -> tf.Tensor:
    """`[batch, frames]` bool -> `[batch, frames, 1, ...]` of rank `rank`."""
    mask = tf.cast(mask, tf.bool)
    for _ in range(rank - 2):
        mask = mask[..., None]
    return mask


# Samples per block when looking for a waveform's first and last non-zero sample (`signal_bounds`).
BOUNDS_BLOCK = 128


def signal_bounds(waveforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`[batch, samples]` -> `(first, last, has_signal)`, each `[batch]`: the index of the first and the last
    non-zero sample, and whether there is one (for digital silence `first` is 0 and `last` is past the end).

    Found per block of `BOUNDS_BLOCK` samples, then inside the one block that holds the bound: an argmax over
    every sample was 3x slower (19 ms vs 6.5 ms for [256, 32000]), and a model's front-end asks twice.
    """
    nonzero = tf.not_equal(tf.cast(waveforms, tf.float32), 0.0)
    batch, samples = tf.shape(nonzero)[0], tf.shape(nonzero)[1]
    blocks = (samples + BOUNDS_BLOCK - 1) // BOUNDS_BLOCK
    nonzero = tf.reshape(tf.pad(nonzero, [[0, 0], [0, blocks * BOUNDS_BLOCK - samples]]), [batch, blocks, BOUNDS_BLOCK])
    block_has_signal = tf.cast(tf.reduce_any(nonzero, axis=2), tf.int32)
    first_block = tf.argmax(block_has_signal, axis=1, output_type=tf.int32)
    last_block = blocks - 1 - tf.argmax(tf.reverse(block_has_signal, [1]), axis=1, output_type=tf.int32)
    within_first = tf.cast(tf.gather(nonzero, first_block, axis=1, batch_dims=1), tf.int32)
    within_last = tf.cast(tf.gather(nonzero, last_block, axis=1, batch_dims=1), tf.int32)
    first = first_block * BOUNDS_BLOCK + tf.argmax(within_first, axis=1, output_type=tf.int32)
    last = (
        last_block * BOUNDS_BLOCK
        + BOUNDS_BLOCK
        - 1
        - tf.argmax(tf.reverse(within_last, [1]), axis=1, output_type=tf.int32)
    )
    return first, last, tf.reduce_any(block_has_signal > 0, axis=1)


def padding_mask(waveforms: tf.Tensor, hop_length: int) -> tf.Tensor:
    """`[batch, samples]` -> `[batch, 1 + samples // hop_length]` bool: True for frames of signal.

    See the module docstring for the rule (frame centre between the first and last non-zero sample; an
    example without a signal frame is all True).
    """
    first, last, has_signal = signal_bounds(waveforms)
    samples = tf.shape(waveforms)[1]
    centres = tf.range(1 + samples // hop_length, dtype=tf.int32) * hop_length
    valid = tf.logical_and(centres[None, :] >= first[:, None], centres[None, :] <= last[:, None])
    valid = tf.logical_and(valid, has_signal[:, None])
    return tf.logical_or(valid, tf.logical_not(tf.reduce_any(valid, axis=1, keepdims=True)))


def align_to_signal(waveforms: tf.Tensor) -> tf.Tensor:
    """`[batch, samples]` with each example shifted left to start at its first non-zero sample (zeros fill in
    at the end; digital silence is unchanged)."""
    waveforms = tf.convert_to_tensor(waveforms)
    first, _, _ = signal_bounds(waveforms)

    # One slice and pad per example: a gather over a per-sample index of the whole batch cost 3x as much
    # (100 ms vs 33 ms for [256, 32000] with leading zeros); a batch without leading zeros is
    # returned as it is. The static length, when known, keeps the loop convertible to TFLite builtins.
    length = waveforms.shape[1]

    def shift(example):
        waveform, leading = example
        shifted = tf.pad(waveform[leading:], [[0, leading]])
        return shifted if length is None else tf.reshape(shifted, [length])  # (TFLite has no EnsureShape)

    # Eagerly (a model called outside tf.function) map_fn runs one example at a time whatever it is told, and
    # warns when told otherwise.
    parallel = 1 if tf.executing_eagerly() else 16
    aligned = tf.cond(
        tf.reduce_all(first == 0),
        lambda: waveforms,
        lambda: tf.map_fn(
            shift,
            (waveforms, first),
            parallel_iterations=parallel,
            fn_output_signature=tf.TensorSpec([length], waveforms.dtype),
        ),
    )
    aligned.set_shape(waveforms.shape)
    return aligned


def downsample_mask(mask: tf.Tensor, pool_size: int) -> tf.Tensor:
    """The mask after a "same"-padded pooling of `pool_size` steps with stride `pool_size`.

    `[batch, steps]` -> `[batch, ceil(steps / pool_size)]`: a pooled step is valid when any of its steps is.
    """
    mask = tf.cast(mask, tf.bool)
    if pool_size == 1:
        return mask
    steps = tf.shape(mask)[1]
    pooled = (steps + pool_size - 1) // pool_size
    mask = tf.pad(mask, [[0, 0], [0, pooled * pool_size - steps]])
    return tf.reduce_any(tf.reshape(mask, [tf.shape(mask)[0], pooled, pool_size]), axis=-1)


def mask_frames(x: tf.Tensor, mask: tf.Tensor, fill: float = 0.0) -> tf.Tensor:
    """`x` `[batch, frames, ...]` with the frames where `mask` is False set to `fill`."""
    if fill == 0:
        # A product with the 0/1 mask, not `tf.where`: `where` broadcasts the mask to `x`'s full shape first,
        # which made it 2.2x the cost of the product on Conv2D's [256, 201, 64, 16] first feature map.
        # The values are the same (a padded negative value becomes -0.0, which equals 0).
        return x * tf.cast(_broadcastable(mask, len(x.shape)), x.dtype)
    return tf.where(_broadcastable(mask, len(x.shape)), x, tf.cast(fill, x.dtype))


def _masked_moments(x: tf.Tensor, mask: tf.Tensor, axes: list[int]):
    """Mean and variance of `x` over `axes` (axis 1 among them), counting the valid frames only."""
    weight = tf.cast(_broadcastable(mask, len(x.shape)), x.dtype)
    count = tf.reduce_sum(tf.broadcast_to(weight, tf.shape(x)), axis=axes, keepdims=True)
    count = tf.maximum(count, 1.0)
    mean = tf.reduce_sum(x * weight, axis=axes, keepdims=True) / count
    variance = tf.reduce_sum(tf.square((x - mean) * weight), axis=axes, keepdims=True) / count
    return mean, variance


def masked_standardize(x: tf.Tensor, mask: tf.Tensor, epsilon: float = 1e-3) -> tf.Tensor:
    """Standardise each example over its valid frames and all other axes; padded frames become 0 (the mean).

    With every frame valid this is `LayerNormalization(axis=[1, 2], center=False, scale=False)`.
    """
    axes = list(range(1, len(x.shape)))
    mean, variance = _masked_moments(x, mask, axes)
    return mask_frames((x - mean) * tf.math.rsqrt(variance + epsilon), mask)


def masked_time_pooling(x: tf.Tensor, mask: tf.Tensor, mode: str = "mean") -> tf.Tensor:
    """The mean or max over the valid frames: `[batch, frames, ...]` -> `[batch, ...]`."""
    if mode == "max":
        return tf.reduce_max(mask_frames(x, mask, LOWEST), axis=1)
    weight = tf.cast(_broadcastable(mask, len(x.shape)), x.dtype)
    count = tf.maximum(tf.reduce_sum(weight, axis=1), 1.0)
    return tf.reduce_sum(x * weight, axis=1) / count


def masked_mean_and_std(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean and standard deviation over the valid frames, `[batch, frames, channels]` -> `[batch, 2 * channels]`
    (`handcrafted_features.mean_and_std` when every frame is valid)."""
    mean, variance = _masked_moments(x, mask, [1])
    return tf.concat([mean[:, 0], tf.sqrt(variance[:, 0] + STD_EPSILON)], axis=-1)


def clamp_to_valid(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """`x` with each frame before the first valid frame replaced by it, and each after the last by the last.

    Edge-repeating statistics (deltas) then see at the clip's ends what they see at the ends of the unpadded
    clip. `mask` must be contiguous (a padding mask and its downsamplings are).
    """
    mask = tf.cast(mask, tf.int32)
    frames = tf.shape(mask)[1]
    first = tf.argmax(mask, axis=1, output_type=tf.int32)
    last = frames - 1 - tf.argmax(tf.reverse(mask, [1]), axis=1, output_type=tf.int32)
    index = tf.minimum(tf.maximum(tf.range(frames)[None, :], first[:, None]), last[:, None])
    return tf.gather(x, index, axis=1, batch_dims=1)


# ---------------------------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="keras_audio")
class AlignToSignal(keras.layers.Layer):
    """Shift each waveform to start at its first non-zero sample (`align_to_signal`): leading zero padding
    moves to the end, so a clip is framed alike however it was padded.

    Input shape: `[batch, samples]`. Output shape: the same.
    """

    def call(self, inputs):
        return align_to_signal(tf.cast(inputs, tf.float32))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_audio")
class PaddingMask(keras.layers.Layer):
    """Waveforms -> which spectrogram frames are signal rather than leading or trailing zero padding.

    Args:
        hop_length: the STFT hop in samples (the spectrogram layer's).

    Input shape:
        `[batch, samples]` float32.

    Output shape:
        `[batch, 1 + samples // hop_length]` bool (the frames of `features.LogMelSpectrogram`).
    """

    def __init__(self, hop_length: int = 160, **kwargs):
        super().__init__(**kwargs)
        self.hop_length = _positive_int("PaddingMask", "hop_length", hop_length)

    def call(self, inputs):
        return padding_mask(inputs, self.hop_length)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        return (input_shape[0], None if samples is None else 1 + samples // self.hop_length)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "hop_length": self.hop_length}


@keras.saving.register_keras_serializable(package="keras_audio")
class DownsampleMask(keras.layers.Layer):
    """A frame mask through a "same"-padded pooling of `pool_size` (stride `pool_size`) over time.

    Input shape: `[batch, steps]` bool. Output shape: `[batch, ceil(steps / pool_size)]` bool.
    """

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _positive_int("DownsampleMask", "pool_size", pool_size)

    def call(self, inputs):
        return downsample_mask(inputs, self.pool_size)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else -(-steps // self.pool_size))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


class _Masked(keras.layers.Layer):
    """A layer on `[features [batch, frames, ...], mask [batch, frames]]`."""

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or len(input_shape[0] or ()) < 3:
            raise ValueError(
                f"{type(self).__name__}: expects [features [batch, frames, ...], mask [batch, frames]], "
                f"got input shape {input_shape}"
            )
        self.built = True


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskFrames(_Masked):
    """Set the padded frames to `fill` (0: what a "same" convolution sees beyond the clip's edge).

    Input: `[x [batch, frames, ...], mask [batch, frames]]`. Output: `x`'s shape.
    """

    def __init__(self, fill: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(fill, (int, float)) or isinstance(fill, bool) or fill != fill:
            raise ValueError(f"MaskFrames: fill must be a finite number, got {fill!r}")
        self.fill = float(fill)

    def call(self, inputs):
        x, mask = inputs
        return mask_frames(x, mask, self.fill)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "fill": self.fill}


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedStandardization(_Masked):
    """Per-example standardisation over the valid frames (and every other axis); padded frames set to 0.

    Args:
        epsilon: added to the variance (`LayerNormalization`'s role; 1e-3 keeps a near-constant clip finite).

    Input: `[x [batch, frames, ...], mask [batch, frames]]`. Output: `x`'s shape.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or not epsilon > 0:
            raise ValueError(f"MaskedStandardization: epsilon must be positive, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x, mask = inputs
        return masked_standardize(tf.cast(x, tf.float32), mask, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


POOLING_MODES = ("mean", "max")


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedTimePooling(_Masked):
    """The mean (or max) over the valid frames.

    Args:
        mode: ``mean`` or ``max``.

    Input: `[x [batch, frames, ...], mask [batch, frames]]`. Output: `[batch, ...]`.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLING_MODES:
            raise ValueError(f"MaskedTimePooling: mode must be one of {POOLING_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x, mask = inputs
        return masked_time_pooling(x, mask, self.mode)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], *input_shape[0][2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedTimeStatistics(_Masked):
    """Mean and standard deviation over the valid frames (`handcrafted_features.TimeStatistics`, masked).

    Input: `[x [batch, frames, channels], mask [batch, frames]]`. Output: `[batch, 2 * channels]`.
    """

    def call(self, inputs):
        x, mask = inputs
        return masked_mean_and_std(tf.cast(x, tf.float32), mask)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 2 * input_shape[0][-1])


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedMfccStatistics(_Masked):
    """`handcrafted_features.MfccStatistics` over the valid frames: MFCCs and deltas, mean and std.

    The deltas are computed with the padded frames replaced by the nearest valid one (`clamp_to_valid`), so
    the clip's last frames get the edge-repeated slope they get without padding.

    Args:
        n_mfcc: coefficients kept.
        delta_width: frames in the delta regression (odd, >= 3).

    Input: `[log_mel [batch, frames, n_mels], mask [batch, frames]]`. Output: `[batch, 4 * n_mfcc]`.
    """

    def __init__(self, n_mfcc: int = 20, delta_width: int = 9, **kwargs):
        super().__init__(**kwargs)
        self.n_mfcc = _positive_int("MaskedMfccStatistics", "n_mfcc", n_mfcc)
        if not isinstance(delta_width, int) or delta_width < 3 or delta_width % 2 == 0:
            raise ValueError(f"MaskedMfccStatistics: delta_width must be an odd int >= 3, got {delta_width!r}")
        self.delta_width = delta_width

    def call(self, inputs):
        log_mel, mask = inputs
        coefficients = clamp_to_valid(mfcc(tf.cast(log_mel, tf.float32), self.n_mfcc), mask)
        return tf.concat(
            [
                masked_mean_and_std(coefficients, mask),
                masked_mean_and_std(deltas(coefficients, self.delta_width), mask),
            ],
            axis=-1,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 4 * self.n_mfcc)

    def get_config(self):
        return {**super().get_config(), "n_mfcc": self.n_mfcc, "delta_width": self.delta_width}


@keras.saving.register_keras_serializable(package="keras_audio")
class MaskedBatchNormalization(keras.layers.BatchNormalization):
    """`BatchNormalization` whose training statistics skip padded frames, except on 4-D feature maps.

    Call it as `layer(x, mask=frame_mask)` with `x` `[batch, frames, ...]` and `frame_mask` `[batch, frames]`
    (or without a mask: plain batch norm). Inference uses the moving statistics either way, so a prediction
    never depends on padding. The mask is not passed on to later layers (convolutions and poolings do not take
    one).

    Training on a 4-D `[batch, frames, freq, channels]` map (the 2-D conv blocks) uses TensorFlow's fused
    kernel instead, whose statistics count every frame: Keras computes batch norm unfused (moments plus
    elementwise ops), and on Conv2D's full-resolution first block that was half of a training step's time;
    fused, Conv2D trained 1.9x and CRNN 1.7x faster per CPU-second measured alone on the models before the
    padding masks, Conv2D 1.14x in the default run with them. Padded
    frames are zeroed before every convolution, so what they add to the statistics is the bias-only response
    near silence, not the padding's length in samples.

    Inference on 3-D and 4-D maps (channels last) uses the fused kernel too (`_fused_inference_call`): the same
    arithmetic on the moving statistics up to float rounding, in one pass, and foldable into the convolution
    before it.
    """

    def call(self, inputs, training=None, mask=None):
        channels_last = self.axis in (-1, len(inputs.shape) - 1)
        if not (training and self.trainable) and channels_last and len(inputs.shape) in (3, 4):
            return self._fused_inference_call(inputs)
        if training and self.trainable and len(inputs.shape) == 4 and channels_last:
            return self._fused_training_call(inputs)
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
            for _ in range(len(inputs.shape) - 3):  # Keras wants a mask of rank ndim - 1
                mask = mask[..., None]
        return super().call(inputs, training=training, mask=mask)

    def _fused_inference_call(self, inputs):
        # One kernel instead of Keras' four elementwise passes, and on a 4-D map TensorFlow's graph optimiser
        # folds Conv2D -> fused batch norm -> ReLU into one oneDNN convolution (measured on Conv2D's first
        # block at batch 256: 185 ms unfused, 42 ms fused, 43 ms for the convolution alone). A 3-D map
        # `[batch, steps, channels]` goes through as `[batch, steps, 1, channels]`.
        x = inputs[:, :, None, :] if len(inputs.shape) == 3 else inputs
        scale, offset = self._scale_and_offset(inputs.shape[-1], inputs.dtype)
        outputs, *_ = tf.compat.v1.nn.fused_batch_norm(
            x,
            scale,
            offset,
            mean=self.moving_mean,
            variance=self.moving_variance,
            epsilon=self.epsilon,
            is_training=False,
        )
        return outputs[:, :, 0, :] if len(inputs.shape) == 3 else outputs

    def _scale_and_offset(self, channels, dtype):
        scale = self.gamma if self.scale else tf.ones([channels], dtype)
        offset = self.beta if self.center else tf.zeros([channels], dtype)
        return scale, offset

    def _fused_training_call(self, inputs):
        # `exponential_avg_factor` is Keras' `1 - momentum`: moving = momentum * moving + (1 - momentum) * batch.
        # The fused kernel's moving variance is the unbiased one (a factor n / (n - 1), n > 10^5 here).
        scale, offset = self._scale_and_offset(inputs.shape[-1], inputs.dtype)
        outputs, mean, variance, *_ = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            scale,
            offset,
            mean=self.moving_mean,
            variance=self.moving_variance,
            epsilon=self.epsilon,
            is_training=True,
            exponential_avg_factor=1.0 - self.momentum,
        )
        self.moving_mean.assign(mean)
        self.moving_variance.assign(variance)
        return outputs

    def compute_mask(self, inputs, mask=None):
        return None
