"""Conv2D: the log-mel spectrogram as a one-channel image (the homework's second model)."""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import check_frontend, pool_over_time, spectral_frontend, waveform_input
from keras_audio.models.layers import conv2d_blocks
from keras_audio.models.registry import register_model


@register_model("conv2d", "the spectrogram as an image: 3x3 conv blocks, batch norm, mean over time")
def build_conv2d(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (16, 32, 64, 64),
    dropout: float = 0.3,
    frontend: str = "log_mel",
) -> keras.Model:
    """Blocks of Conv2D 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2, then the mean over the signal frames
    (frequency kept; the padding mask is pooled alongside, see `layers.conv2d_stack`).

    Args:
        filters: channels per block (each block halves time and frequency).
        dropout: before the classifier.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    check_frontend("conv2d", frontend)
    if not filters:
        raise ValueError("conv2d: filters must name at least one block")
    if not 0 <= dropout < 1:
        raise ValueError(f"conv2d: dropout must be in [0, 1), got {dropout}")
    waveform = waveform_input()
    x, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    x, mask = conv2d_blocks(x, mask, filters)
    x = pool_over_time(x, mask)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="conv2d")
