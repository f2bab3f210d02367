"""Every layer of `keras_audio.layers.__all__` through the shared harness (`tests/layers/harness.py`), and the
package itself: complete, and free of the suite."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_audio
import keras_audio.layers
from tests.layers.harness import check_layer
from tests.suite_imports import loaded_suite_modules

PACKAGE = Path(keras_audio.__file__).parent
BATCH = 3
SAMPLES = 400
RATE = 8000
SPECTROGRAM = dict(sample_rate=RATE, n_fft=128, hop_length=64, n_mels=8)
FRAMES = 1 + SAMPLES // 64
PARTIALS = dict(sample_rate=1000, hop_length=10, partial_frames=8, rate=25.0)  # 4 frames between partials


def _waveforms(padded: bool = False) -> np.ndarray:
    """`[BATCH, SAMPLES]` noise; padded: each row zero-padded differently (leading, trailing, none)."""
    x = 0.3 * np.random.default_rng(2).standard_normal((BATCH, SAMPLES)).astype(np.float32)
    if padded:
        x[0, :100] = 0.0
        x[1, 250:] = 0.0
    return x


def _features(*shape) -> np.ndarray:
    return np.random.default_rng(3).standard_normal(shape).astype(np.float32)


def _mask(frames: int) -> np.ndarray:
    """`[BATCH, frames]` bool: row 0 valid in its first half, row 1 throughout, row 2 after two frames."""
    mask = np.ones((BATCH, frames), bool)
    mask[0, frames // 2 :] = False
    mask[2, :2] = False
    return mask


def _lengths(*values) -> np.ndarray:
    return np.array(values, np.int32)


# Keyword arguments of `check_layer` per layer (a function of the case's SavedModel folder where it needs one).
CASES = {
    "LogMelSpectrogram": dict(
        init_kwargs=SPECTROGRAM, input_data=_waveforms(), expected_output_shape=(BATCH, FRAMES, 8)
    ),
    "PCENSpectrogram": dict(
        init_kwargs={**SPECTROGRAM, "learnable": True},
        input_data=_waveforms(),
        expected_output_shape=(BATCH, FRAMES, 8),
    ),
    "FrameFeatures": dict(
        init_kwargs=dict(sample_rate=RATE, n_fft=128, hop_length=64),
        input_data=_waveforms(),
        expected_output_shape=(BATCH, FRAMES, 4),
    ),
    "TimeStatistics": dict(input_shape=(BATCH, FRAMES, 4), expected_output_shape=(BATCH, 8)),
    "MfccStatistics": dict(
        init_kwargs=dict(n_mfcc=4, delta_width=3), input_shape=(BATCH, FRAMES, 8), expected_output_shape=(BATCH, 16)
    ),
    "AlignToSignal": dict(input_data=_waveforms(padded=True), expected_output_shape=(BATCH, SAMPLES)),
    "PaddingMask": dict(
        init_kwargs=dict(hop_length=64), input_data=_waveforms(padded=True), expected_output_shape=(BATCH, FRAMES)
    ),
    "FrameMask": dict(
        init_kwargs=dict(n_fft=128, hop_length=64, stride=2),
        input_data=_waveforms(padded=True),
        expected_output_shape=(BATCH, 4),
    ),
    "DownsampleMask": dict(init_kwargs=dict(pool_size=2), input_data=_mask(FRAMES), expected_output_shape=(BATCH, 4)),
    "MaskFrames": dict(
        init_kwargs=dict(fill=-1.0),
        input_data=[_features(BATCH, FRAMES, 4), _mask(FRAMES)],
        expected_output_shape=(BATCH, FRAMES, 4),
    ),
    "MaskedStandardization": dict(
        input_data=[_features(BATCH, FRAMES, 4), _mask(FRAMES)], expected_output_shape=(BATCH, FRAMES, 4)
    ),
    "MaskedTimePooling": dict(
        init_kwargs=dict(mode="max"),
        input_data=[_features(BATCH, FRAMES, 4), _mask(FRAMES)],
        expected_output_shape=(BATCH, 4),
    ),
    "MaskedTimeStatistics": dict(
        input_data=[_features(BATCH, FRAMES, 4), _mask(FRAMES)], expected_output_shape=(BATCH, 8)
    ),
    "MaskedMfccStatistics": dict(
        init_kwargs=dict(n_mfcc=4, delta_width=3),
        input_data=[_features(BATCH, FRAMES, 8), _mask(FRAMES)],
        expected_output_shape=(BATCH, 16),
    ),
    "MaskedBatchNormalization": dict(input_shape=(BATCH, FRAMES, 4), expected_output_shape=(BATCH, FRAMES, 4)),
    "SpecAugment": dict(
        init_kwargs=dict(freq_max_width=3, freq_count=1, time_max_width=3, time_count=1, seed=1),
        input_shape=(BATCH, FRAMES, 8),
        expected_output_shape=(BATCH, FRAMES, 8),
        random=True,
    ),
    "TimeMask": dict(
        init_kwargs=dict(max_width=3, count=2, seed=1),
        input_shape=(BATCH, FRAMES, 8),
        expected_output_shape=(BATCH, FRAMES, 8),
        random=True,
    ),
    "FrequencyMask": dict(
        init_kwargs=dict(max_width=3, count=2, seed=1),
        input_shape=(BATCH, FRAMES, 8),
        expected_output_shape=(BATCH, FRAMES, 8),
        random=True,
    ),
    "AttentionPooling": dict(
        init_kwargs=dict(units=4), input_shape=(BATCH, FRAMES, 4), expected_output_shape=(BATCH, 4)
    ),
    "CropToMatch": dict(
        input_data=[_features(BATCH, 8, 10, 2), _features(BATCH, FRAMES, 8, 1)],
        expected_output_shape=(BATCH, FRAMES, 8, 2),
    ),
    "SavedModelEncoder": lambda saved_model: dict(
        init_kwargs=dict(filepath=str(saved_model)),
        input_shape=(BATCH, 5),
        expected_output_shape=(BATCH, 2),
        randomize_weights=False,
        safe_mode=False,
    ),
    # the GE2E speaker encoder's layers, at toy settings
    "SignalLength": dict(input_data=_waveforms(padded=True), expected_output_shape=(BATCH,)),
    "NormalizeVolume": dict(
        input_data=[_waveforms(padded=True), _lengths(300, 250, SAMPLES)], expected_output_shape=(BATCH, SAMPLES)
    ),
    "PadToPartials": dict(init_kwargs=PARTIALS, input_shape=(BATCH, 100), expected_output_shape=(BATCH, 120)),
    "MelPowerSpectrogram": dict(
        init_kwargs=SPECTROGRAM, input_data=_waveforms(), expected_output_shape=(BATCH, FRAMES, 8), rtol=1e-4
    ),
    "PartialUtterances": dict(
        init_kwargs=PARTIALS,
        input_data=[_features(BATCH, 20, 3), _lengths(100, 150, 60)],
        expected_output_shape=[(BATCH, 4, 8, 3), (BATCH, 4)],
    ),
    # [batch * partials, ...]: the examples are folded into the batch, a row is not an example
    "FoldPartials": dict(input_shape=(BATCH, 4, 8, 3), expected_output_shape=(BATCH * 4, 8, 3), per_example=False),
    "UnfoldPartials": dict(
        input_data=[_features(BATCH * 4, 5), np.ones((BATCH, 4), bool)],
        expected_output_shape=(BATCH, 4, 5),
        per_example=False,
    ),
    # the AISFX sound encoder's layers, at toy settings
    "PolyphaseResample": dict(
        init_kwargs=dict(source_rate=RATE, target_rate=12000, zero_crossings=8),
        input_data=_waveforms(),
        expected_output_shape=(BATCH, 600),
    ),
    "RecordingLength": dict(
        init_kwargs=dict(source_rate=RATE, target_rate=12000),
        input_data=_waveforms(padded=True),
        expected_output_shape=(BATCH,),
    ),
    "AisfxLogMel": dict(
        init_kwargs=dict(rate=RATE, n_fft=256, win_length=256, hop_length=128, n_mels=16, fmax=RATE / 2),
        input_data=[_waveforms(), _lengths(300, 100, SAMPLES)],
        expected_output_shape=(BATCH, 1 + SAMPLES // 128, 16),
    ),
    "SpectrogramBlocks": dict(
        init_kwargs=dict(block_frames=4, hop_frames=2),
        input_shape=(BATCH, 8, 5),
        expected_output_shape=(BATCH * 3, 4, 5, 1),
        per_example=False,
    ),
    "ValidBlocks": dict(
        init_kwargs=dict(block_frames=4, hop_frames=2, hop_length=10),
        input_data=[_features(BATCH, 8, 5), _lengths(70, 30, 10)],
        expected_output_shape=(BATCH, 3),
    ),
    "UnfoldBlocks": dict(
        input_data=[_features(BATCH * 3, 6), np.ones((BATCH, 3), bool)],
        expected_output_shape=(BATCH, 3, 6),
        per_example=False,
    ),
    "MaskedBlockMean": dict(
        input_data=[_features(BATCH, 3, 6), np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], bool)],
        expected_output_shape=(BATCH, 6),
    ),
    "InferenceBatchNormalization": dict(input_shape=(BATCH, FRAMES, 4), expected_output_shape=(BATCH, FRAMES, 4)),
    "FrequencyMeanTimeMax": dict(input_shape=(BATCH, 5, 4, 2), expected_output_shape=(BATCH, 2)),
}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """A tiny SavedModel `[batch, 5] -> [batch, 2]` for `SavedModelEncoder`."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    folder = tmp_path_factory.mktemp("encoder") / "saved_model"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).export(str(folder), verbose=False)
    return folder


@pytest.mark.parametrize("name", keras_audio.layers.__all__)
def test_public_layer_passes_the_harness(name, tmp_path, request):
    case = CASES.get(name)
    assert case is not None, f"keras_audio.layers.{name} has no case in CASES"
    if callable(case):
        case = case(request.getfixturevalue("saved_model"))
    check_layer(getattr(keras_audio.layers, name), tmp_path=tmp_path, **case)


def test_every_case_is_a_public_layer():
    assert sorted(CASES) == sorted(keras_audio.layers.__all__)


def test_every_registered_layer_class_is_public():
    """A layer decorated `register_keras_serializable` anywhere in the package is exported (a saved model may
    name it, so users may meet it), and every export is a Keras layer."""
    registered = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "register_keras_serializable" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                registered.add(node.name)
    assert registered - set(keras_audio.layers.__all__) == set()
    for name in keras_audio.layers.__all__:
        assert issubclass(getattr(keras_audio.layers, name), keras.layers.Layer), name


@pytest.mark.slow  # a fresh interpreter importing TensorFlow
def test_importing_the_layers_loads_no_suite_module():
    assert loaded_suite_modules("from keras_audio.layers import *") == []
