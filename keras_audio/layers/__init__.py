"""Every Keras layer of keras_audio, importable from one place: `from keras_audio.layers import LogMelSpectrogram`.

The classes live beside the code that uses them (features, masking, the pretrained encoders' front-ends);
this package re-exports them. Importing it registers every layer with Keras, so `keras.models.load_model`
reads any `.keras` file the suite saved.

Groups:

- spectrogram front-ends: `LogMelSpectrogram`, `PCENSpectrogram`, `FrameFeatures` and the statistics over time;
- padding masks: which frames hold signal, and layers that respect them (`PaddingMask`, `MaskFrames`, ...);
- SpecAugment: `SpecAugment`, `TimeMask`, `FrequencyMask` (random, active in training only);
- model blocks: `AttentionPooling`, `CropToMatch`, `MaskedBatchNormalization`, `SavedModelEncoder`;
- the GE2E speaker encoder's layers (`MelPowerSpectrogram`, `PartialUtterances`, ...) and the AISFX sound
  encoder's (`PolyphaseResample`, `AisfxLogMel`, `SpectrogramBlocks`, ...).
"""

from keras_audio.corruptions.spec_augment import FrequencyMask, SpecAugment, TimeMask
from keras_audio.features import LogMelSpectrogram
from keras_audio.handcrafted_features import (
    FrameFeatures,
    MfccStatistics,
    TimeStatistics,
)
from keras_audio.models.layers import AttentionPooling, CropToMatch, FrameMask
from keras_audio.models.masking import (
    AlignToSignal,
    DownsampleMask,
    MaskedBatchNormalization,
    MaskedMfccStatistics,
    MaskedStandardization,
    MaskedTimePooling,
    MaskedTimeStatistics,
    MaskFrames,
    PaddingMask,
)
from keras_audio.models.transfer import SavedModelEncoder
from keras_audio.pcen import PCENSpectrogram
from keras_audio.pretrained.aisfx import (
    AisfxLogMel,
    FrequencyMeanTimeMax,
    InferenceBatchNormalization,
    MaskedBlockMean,
    PolyphaseResample,
    RecordingLength,
    SpectrogramBlocks,
    UnfoldBlocks,
    ValidBlocks,
)
from keras_audio.pretrained.ge2e import (
    FoldPartials,
    MelPowerSpectrogram,
    NormalizeVolume,
    PadToPartials,
    PartialUtterances,
    SignalLength,
    UnfoldPartials,
)

__all__ = [
    "AisfxLogMel",
    "AlignToSignal",
    "AttentionPooling",
    "CropToMatch",
    "DownsampleMask",
    "FoldPartials",
    "FrameFeatures",
    "FrameMask",
    "FrequencyMask",
    "FrequencyMeanTimeMax",
    "InferenceBatchNormalization",
    "LogMelSpectrogram",
    "MaskFrames",
    "MaskedBatchNormalization",
    "MaskedBlockMean",
    "MaskedMfccStatistics",
    "MaskedStandardization",
    "MaskedTimePooling",
    "MaskedTimeStatistics",
    "MelPowerSpectrogram",
    "MfccStatistics",
    "NormalizeVolume",
    "PCENSpectrogram",
    "PadToPartials",
    "PaddingMask",
    "PartialUtterances",
    "PolyphaseResample",
    "RecordingLength",
    "SavedModelEncoder",
    "SignalLength",
    "SpecAugment",
    "SpectrogramBlocks",
    "TimeMask",
    "TimeStatistics",
    "UnfoldBlocks",
    "UnfoldPartials",
    "ValidBlocks",
]
