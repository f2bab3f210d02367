"""VGG-like: blocks of two 3x3 convolutions with batch norm, then pooling and dropout (Simonyan & Zisserman)."""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import check_frontend, pool_over_time, spectral_frontend, waveform_input
from keras_audio.models.layers import batch_norm
from keras_audio.models.masking import DownsampleMask, MaskFrames
from keras_audio.models.registry import register_model


@register_model("vgg", "VGG-like: two 3x3 conv + batch norm per block, max pooling, dropout, mean over time")
def build_vgg(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (8, 16, 32, 64),
    convs_per_block: int = 2,
    block_dropout: float = 0.1,
    dense_units: int = 64,
    dropout: float = 0.3,
    frontend: str = "log_mel",
) -> keras.Model:
    """Blocks of (Conv2D 3x3 -> BatchNorm -> ReLU) x `convs_per_block` -> MaxPool 2x2 -> Dropout.

    Average pooling over the signal frames makes it take clips of any length and ignore their padding
    (padded steps are zeroed before each convolution; the mask is pooled with the feature map).

    Args:
        filters: channels per block (each block halves time and frequency).
        convs_per_block: 3x3 convolutions per block (two 3x3 see as far as one 5x5, with fewer weights).
        block_dropout: after each block.
        dense_units: the hidden dense layer before the classifier (0: none).
        dropout: before the classifier.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    check_frontend("vgg", frontend)
    if not filters:
        raise ValueError("vgg: filters must name at least one block")
    if convs_per_block < 1:
        raise ValueError(f"vgg: convs_per_block must be at least 1, got {convs_per_block}")
    for name, value in (("block_dropout", block_dropout), ("dropout", dropout)):
        if not 0 <= value < 1:
            raise ValueError(f"vgg: {name} must be in [0, 1), got {value}")
    if dense_units < 0:
        raise ValueError(f"vgg: dense_units must be >= 0, got {dense_units}")
    waveform = waveform_input()
    x, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    x = keras.layers.Reshape((-1, features.n_mels, 1), name="as_image")(x)
    for i, width in enumerate(filters):
        for j in range(convs_per_block):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{i}_conv{j}")(x)
            x = batch_norm(name=f"block{i}_bn{j}")(x, mask=mask)
            x = keras.layers.Activation("relu", name=f"block{i}_relu{j}")(x)
            x = MaskFrames(name=f"block{i}_padding{j}")([x, mask])
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
        mask = DownsampleMask(2, name=f"block{i}_mask_pool")(mask)
        if block_dropout:
            x = keras.layers.Dropout(block_dropout, name=f"block{i}_dropout")(x)
    x = pool_over_time(x, mask)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="vgg")
