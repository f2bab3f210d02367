"""SpecAugment: random time and frequency masks on a log-mel spectrogram, as Keras layers (training only).

Following Keras' random preprocessing layers: parameters (the masks) are drawn from a
`keras.random.SeedGenerator`, then applied; `training=False` (evaluation, export, inference) is the
identity; every example gets its own masks; `get_config` round-trips and the layers are registered, so a
saved model reloads.

Masked cells are set to the example's mean over the whole spectrogram: a neutral value that neither adds
energy (as filling with a high value would) nor a silence the features never contain (as filling with the
dB floor would). After the suite's per-example standardisation that mean is 0, the value the SpecAugment
paper uses on normalised features.

Shapes: inputs `[batch, frames, mels]`, or `[batch, frames, mels, channels]` (one mask for all channels).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _band_mask(batch, size, max_width: int, count: int, seed_generator):
    """`[batch, size]` bool: the union of `count` random bands per row, each 0..`max_width` wide."""
    width_limit = ops.minimum(max_width, size)
    widths = ops.cast(
        ops.floor(keras.random.uniform((batch, count), seed=seed_generator) * ops.cast(width_limit + 1, "float32")),
        "int32",
    )
    starts = ops.cast(
        ops.floor(keras.random.uniform((batch, count), seed=seed_generator) * ops.cast(size - widths + 1, "float32")),
        "int32",
    )
    positions = ops.arange(size, dtype="int32")[None, None, :]
    inside = ops.logical_and(positions >= starts[:, :, None], positions < (starts + widths)[:, :, None])
    return ops.any(inside, axis=1)


def _fill(inputs, mask):
    """`inputs` with the cells where `mask` holds set to each example's mean."""
    mean = ops.mean(inputs, axis=tuple(range(1, len(inputs.shape))), keepdims=True)
    return ops.where(mask, ops.cast(mean, inputs.dtype), inputs)


def _check(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)  # a plain int, so get_config stays JSON


class _Mask(keras.layers.Layer):
    axis = 1  # overridden: 1 masks frames, 2 masks mel bins

    def __init__(self, max_width: int, count: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_width = _check("max_width", max_width, 0)
        self.count = _check("count", count, 0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.count == 0 or self.max_width == 0:
            return inputs
        shape = ops.shape(inputs)
        band = _band_mask(shape[0], shape[self.axis], self.max_width, self.count, self.seed_generator)
        # Broadcast the [batch, size] band over the other axes.
        mask = band[:, :, None] if self.axis == 1 else band[:, None, :]
        if len(inputs.shape) == 4:
            mask = mask[..., None]
        return _fill(inputs, mask)

    def build(self, input_shape):
        self.built = True  # no weights: the seed generator's state is created with the layer

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_width": self.max_width, "count": self.count, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_audio")
class TimeMask(_Mask):
    """`count` masks of 0..`max_width` consecutive frames per example, in training only.

    Args:
        max_width: widest mask, in frames.
        count: masks per example (they may overlap).
        seed: seed of the layer's `SeedGenerator`.
    """

    axis = 1


@keras.saving.register_keras_serializable(package="keras_audio")
class FrequencyMask(_Mask):
    """`count` masks of 0..`max_width` consecutive mel bins per example, in training only.

    Args:
        max_width: widest mask, in mel bins.
        count: masks per example (they may overlap).
        seed: seed of the layer's `SeedGenerator`.
    """

    axis = 2


@keras.saving.register_keras_serializable(package="keras_audio")
class SpecAugment(keras.layers.Layer):
    """Frequency masks, then time masks (Park et al. 2019, without time warping), in training only.

    The defaults suit 64 mel bins at a 10-ms hop: two bands of up to 8 bins (1/8 of the mel axis) and two
    spans of up to 25 frames (0.25 s), a little milder than the paper's LibriSpeech policy because a
    3-s clip of a single speaker has less to spare than a sentence.

    Args:
        freq_max_width: widest frequency mask, in mel bins.
        freq_count: frequency masks per example.
        time_max_width: widest time mask, in frames.
        time_count: time masks per example.
        seed: seed of the masks (the time masks use `seed + 1`).
    """

    def __init__(
        self,
        freq_max_width: int = 8,
        freq_count: int = 2,
        time_max_width: int = 25,
        time_count: int = 2,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = seed
        self.frequency_mask = FrequencyMask(freq_max_width, freq_count, seed, name="frequency_mask")
        self.time_mask = TimeMask(time_max_width, time_count, None if seed is None else seed + 1, name="time_mask")
        self.supports_masking = True

    def build(self, input_shape):
        self.frequency_mask.build(input_shape)
        self.time_mask.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.time_mask(self.frequency_mask(inputs, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "freq_max_width": self.frequency_mask.max_width,
            "freq_count": self.frequency_mask.count,
            "time_max_width": self.time_mask.max_width,
            "time_count": self.time_mask.count,
            "seed": self.seed,
        }
