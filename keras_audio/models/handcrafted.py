"""An MLP on handcrafted frame features (RMS, zero-crossing rate, spectral centroid and roll-off).

The features a pre-deep-learning system would use, computed in TensorFlow inside the model (so the export
takes waveforms like every other), pooled by mean and standard deviation over the frames of signal (the
padding mask of `masking.PaddingMask` after `masking.AlignToSignal`: leading and trailing zero padding is
left out): eight numbers per clip.
It shows how far the classic descriptors go, and what learning from the log-mel adds.
"""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.handcrafted_features import FrameFeatures
from keras_audio.models.frontend import waveform_input
from keras_audio.models.layers import batch_norm
from keras_audio.models.masking import AlignToSignal, MaskedTimeStatistics, PaddingMask
from keras_audio.models.registry import register_model


@register_model(
    "mlp_features",
    "MLP on handcrafted features (RMS, ZCR, spectral centroid and roll-off; mean, std)",
    spec_augment=False,
)
def build_mlp_features(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    hidden: tuple[int, ...] = (64, 64),
    dropout: float = 0.2,
    roll_percent: float = 0.85,
) -> keras.Model:
    """Frame features -> mean and std over the signal frames -> batch norm -> dense layers -> probabilities.

    The frames are the log-mel front-end's (`features.n_fft`, `win_length`, `hop_length`). Batch
    normalisation of the eight pooled values stands in for feature scaling fitted on the training set.

    Args:
        spec_augment: not applicable (there is no spectrogram to mask); must be False.
        hidden: units per hidden dense layer.
        dropout: after each hidden layer.
        roll_percent: the roll-off's energy fraction.
    """
    if spec_augment:
        raise ValueError(
            "mlp_features: the specaugment policy masks log-mel spectrograms, which this model "
            "does not use; train it with a waveform policy (none, noise, suite)"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"mlp_features: dropout must be in [0, 1), got {dropout}")
    if any(units < 1 for units in hidden):
        raise ValueError(f"mlp_features: hidden units must be positive, got {hidden}")
    features.validate()
    waveform = waveform_input()
    aligned = AlignToSignal(name="align_to_signal")(waveform)  # leading padding -> trailing (masking module)
    x = FrameFeatures(
        sample_rate, features.n_fft, features.win_length, features.hop_length, roll_percent, name="frame_features"
    )(aligned)
    mask = PaddingMask(features.hop_length, name="padding_mask")(aligned)
    x = MaskedTimeStatistics(name="time_statistics")([x, mask])
    x = batch_norm(name="feature_scaling")(x)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="mlp_features")
