"""TFLite and ONNX copies of Conv1D, Conv2D and CRNN reload and answer like the Keras model."""

import numpy as np
import pytest

from keras_audio.config import FeatureConfig
from keras_audio.export_formats import (
    FORMAT_ATOL,
    export_onnx,
    export_tflite,
    onnx_predictor,
    tflite_predictor,
)
from keras_audio.models import build_model

pytestmark = pytest.mark.slow  # TFLite and ONNX conversions

RATE = 8000
CLIP = 4000
FEATURES = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=32)
TINY = {
    "conv1d": dict(filters=(8,)),
    "conv2d": dict(filters=(4,)),
    "crnn": dict(filters=(4,), units=8, attention_units=8),
}


def _clips(n, samples, seed):
    """Harmonic tones in noise: something like audio, not silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    tones = [sum(np.sin(2 * np.pi * rng.uniform(100, 600) * k * t) / k for k in (1, 2, 3)) for _ in range(n)]
    return (0.1 * np.stack(tones) + 0.01 * rng.standard_normal((n, samples))).astype(np.float32)


@pytest.fixture(scope="module", params=sorted(TINY))
def model(request):
    return build_model(request.param, 2, RATE, FEATURES, **TINY[request.param])


def test_tflite_matches_keras(model, tmp_path):
    path = tmp_path / "model.tflite"
    probe = _clips(3, CLIP, 0)
    assert export_tflite(model, path, probe) <= FORMAT_ATOL
    other = _clips(2, CLIP, 1)  # clips the conversion was not checked on
    np.testing.assert_allclose(tflite_predictor(path)(other), model(other, training=False), atol=FORMAT_ATOL)
    with pytest.raises(ValueError, match=r"takes float32 \[batch, 4000\]"):
        tflite_predictor(path)(_clips(1, CLIP + 1, 2))
    # What the SavedModel refuses, the copy refuses too, rather than answering NaN with a label.
    with pytest.raises(ValueError, match="model.tflite: waveform holds 1 NaN or infinite"):
        tflite_predictor(path)(np.where(np.arange(CLIP) == 7, np.nan, other[0])[None])
    with pytest.raises(ValueError, match=r"must be float32 \[batch, samples\]"):
        tflite_predictor(path)(other[0])


def test_onnx_matches_keras_at_any_length(model, tmp_path):
    path = tmp_path / "model.onnx"
    assert export_onnx(model, path, _clips(3, CLIP, 0)) <= FORMAT_ATOL
    other = _clips(2, CLIP + 1234, 1)
    np.testing.assert_allclose(onnx_predictor(path)(other), model(other, training=False), atol=FORMAT_ATOL)
    with pytest.raises(ValueError, match="model.onnx: waveform holds 1 NaN or infinite"):
        onnx_predictor(path)(np.where(np.arange(CLIP) == 7, np.inf, other[0, :CLIP])[None])
    with pytest.raises(ValueError, match="too short: 255 samples, fewer than 256"):
        onnx_predictor(path, min_samples=FEATURES.n_fft)(other[:, :255])
    with pytest.raises(ValueError, match="empty batch"):
        onnx_predictor(path)(other[:0])


def test_refuses_bad_paths_and_probes(tmp_path):
    model = build_model("conv1d", 2, RATE, FEATURES, **TINY["conv1d"])
    with pytest.raises(ValueError, match="must end with .tflite"):
        export_tflite(model, tmp_path / "model.lite", _clips(1, CLIP, 0))
    with pytest.raises(ValueError, match="must end with .onnx"):
        export_onnx(model, tmp_path / "model.pb", _clips(1, CLIP, 0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        export_onnx(model, tmp_path / "model.onnx", np.full((1, CLIP), np.nan, np.float32))
    with pytest.raises(ValueError, match="compare at the length exported"):
        export_tflite(model, tmp_path / "model.tflite", _clips(1, CLIP, 0), clip_samples=CLIP * 2)
