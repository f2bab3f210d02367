"""Recurrent models over the log-mel frames: an LSTM, and a CRNN (convolutions, a GRU, attention pooling).

Both take clips of any length. A clip shorter than the pipeline's fixed length arrives zero-padded; the
front-end's padding mask (`masking.PaddingMask`, pooled alongside the features) marks the padded frames,
the standardisation ignores them, and the recurrent layer skips them (its state is carried over
unchanged), so padding neither changes the last valid step nor enters the pooling.
"""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import check_frontend, spectral_frontend, waveform_input
from keras_audio.models.layers import AttentionPooling, conv2d_blocks
from keras_audio.models.masking import LOWEST, DownsampleMask, MaskFrames
from keras_audio.models.registry import register_model

LSTM_OUTPUTS = ("pooled", "last")


@register_model("lstm", "LSTM over log-mel frames (padding masked), mean-pooled or last valid step")
def build_lstm(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    units: int = 64,
    time_pool: int = 2,
    output: str = "pooled",
    dropout: float = 0.3,
    frontend: str = "log_mel",
) -> keras.Model:
    """Log-mel -> max pooling over time -> LSTM -> masked mean over time (or the last valid step) -> dense.

    Args:
        units: LSTM width.
        time_pool: frames merged by max pooling before the LSTM (2: 20 ms steps at a 10 ms hop; fewer
            steps make the sequential loop faster on CPU).
        output: ``pooled`` (mean of the outputs over valid steps) or ``last`` (the output at the last
            valid step).
        dropout: before the classifier.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    check_frontend("lstm", frontend)
    if output not in LSTM_OUTPUTS:
        raise ValueError(f"lstm: output must be one of {LSTM_OUTPUTS}, got {output!r}")
    if units < 1 or time_pool < 1:
        raise ValueError(f"lstm: units and time_pool must be positive, got units={units}, time_pool={time_pool}")
    if not 0 <= dropout < 1:
        raise ValueError(f"lstm: dropout must be in [0, 1), got {dropout}")
    waveform = waveform_input()
    x, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    if time_pool > 1:
        # Padded frames below every value first, so a pooling window straddling the clip's end returns its
        # signal frames' maximum (standardised values can be negative), then back to 0.
        x = MaskFrames(LOWEST, name="time_pool_fill")([x, mask])
        x = keras.layers.MaxPooling1D(time_pool, padding="same", name="time_pool")(x)
        mask = DownsampleMask(time_pool, name="time_pool_mask")(mask)
        x = MaskFrames(name="time_pool_padding")([x, mask])
    if output == "pooled":
        x = keras.layers.LSTM(units, return_sequences=True, name="lstm")(x, mask=mask)
        x = keras.layers.GlobalAveragePooling1D(name="average")(x, mask=mask)
    else:
        x = keras.layers.LSTM(units, name="lstm")(x, mask=mask)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="lstm")


@register_model("crnn", "conv blocks, then a GRU over time, then additive attention pooling")
def build_crnn(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (16, 32, 64),
    units: int = 64,
    attention_units: int = 32,
    dropout: float = 0.3,
    frontend: str = "log_mel",
) -> keras.Model:
    """Conv2D 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2 blocks; the frequency axis folded into channels; a GRU
    over the pooled frames; additive attention pooling over time (padded steps masked); dense.

    Args:
        filters: channels per convolution block (each halves time and frequency).
        units: GRU width.
        attention_units: width of the attention scoring layer.
        dropout: before the classifier.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    check_frontend("crnn", frontend)
    if not filters:
        raise ValueError("crnn: filters must name at least one block")
    if units < 1 or attention_units < 1:
        raise ValueError(f"crnn: units and attention_units must be positive, got {units}, {attention_units}")
    if not 0 <= dropout < 1:
        raise ValueError(f"crnn: dropout must be in [0, 1), got {dropout}")
    waveform = waveform_input()
    x, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    x, mask = conv2d_blocks(x, mask, filters)
    x = keras.layers.Reshape((-1, x.shape[2] * x.shape[3]), name="fold_frequency")(x)
    x = keras.layers.GRU(units, return_sequences=True, name="gru")(x, mask=mask)
    x = AttentionPooling(attention_units, name="attention_pooling")(x, mask=mask)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="crnn")
