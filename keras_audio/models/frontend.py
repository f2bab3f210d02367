"""The feature front-end every model shares: waveform input -> per-example log-mel -> normalisation.

Sharing it makes the comparison fair (only the architecture differs) and keeps the features inside the
model, so an exported model takes raw waveforms.
"""

from __future__ import annotations

import keras

from keras_audio.config import FeatureConfig
from keras_audio.features import LogMelSpectrogram


def waveform_input(name: str = "waveform") -> keras.KerasTensor:
    """`[batch, samples]` float32 of any length."""
    return keras.Input(shape=(None,), dtype="float32", name=name)


def log_mel_frontend(waveform: keras.KerasTensor, sample_rate: int, features: FeatureConfig,
                     spec_augment: bool = False) -> keras.KerasTensor:
    """Waveforms -> normalised log-mel `[batch, frames, n_mels]`.

    Each example is standardised over time and frequency (zero mean, unit variance of its dB values):
    a gain change shifts every dB value equally, so this makes the models level-invariant, as a person is.
    SpecAugment masks (training only) come after the normalisation, filling masked cells with zeros, the
    example's mean.
    """
    features.validate()
    x = LogMelSpectrogram(sample_rate=sample_rate, n_fft=features.n_fft, win_length=features.win_length,
                          hop_length=features.hop_length, n_mels=features.n_mels, fmin=features.fmin,
                          fmax=features.fmax, top_db=features.top_db, name="log_mel")(waveform)
    x = keras.layers.LayerNormalization(axis=[1, 2], center=False, scale=False, epsilon=1e-3,
                                        name="per_example_standardization")(x)
    if spec_augment:
        from keras_audio.corruptions.spec_augment import SpecAugment

        x = SpecAugment(name="spec_augment")(x)
    return x


def pool_over_time(feature_map: keras.KerasTensor, name: str = "pool_over_time") -> keras.KerasTensor:
    """`[batch, frames, freq, channels]` -> `[batch, freq * channels]`: the mean over time only.

    Global pooling over frequency too would throw away *where* in the spectrum the energy is, i.e. the
    formants; measured on the generated corpus, a small CNN fell from 0.979 to 0.944 test accuracy with it.
    Averaging over time keeps variable-length input working.
    """
    _, _, freq, channels = feature_map.shape
    x = keras.layers.Reshape((-1, freq * channels), name=f"{name}_frames")(feature_map)
    return keras.layers.GlobalAveragePooling1D(name=name)(x)
