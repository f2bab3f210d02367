"""Conv1D: convolutions over time with the mel bands as channels (the homework's first model)."""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import check_frontend, spectral_frontend, waveform_input
from keras_audio.models.layers import batch_norm
from keras_audio.models.masking import DownsampleMask, MaskedTimePooling, MaskFrames
from keras_audio.models.registry import register_model


@register_model("conv1d", "time convolutions, mels as channels, batch norm, dropout, global pooling")
def build_conv1d(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (64, 96, 128),
    kernel_size: int = 5,
    dropout: float = 0.3,
    frontend: str = "log_mel",
) -> keras.Model:
    """Blocks of Conv1D -> BatchNorm -> ReLU -> MaxPool over time, then average and max pooling over the
    signal frames (the padding mask is pooled alongside; padded steps are zeroed before each convolution).

    Args:
        filters: channels per block.
        kernel_size: frames per convolution (5 frames = 40 ms of context at a 10 ms hop, growing with depth).
        dropout: before the classifier.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    check_frontend("conv1d", frontend)
    if not filters:
        raise ValueError("conv1d: filters must name at least one block")
    if not 0 <= dropout < 1:
        raise ValueError(f"conv1d: dropout must be in [0, 1), got {dropout}")
    waveform = waveform_input()
    x, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    for i, width in enumerate(filters):
        x = keras.layers.Conv1D(width, kernel_size, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = batch_norm(name=f"bn{i}")(x, mask=mask)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
        x = MaskFrames(name=f"padding{i}")([x, mask])
        x = keras.layers.MaxPooling1D(2, padding="same", name=f"pool{i}")(x)
        mask = DownsampleMask(2, name=f"mask_pool{i}")(mask)
    x = keras.layers.Concatenate(name="pooled")(
        [
            MaskedTimePooling("mean", name="average")([x, mask]),
            MaskedTimePooling("max", name="maximum")([x, mask]),
        ]
    )
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="conv1d")
