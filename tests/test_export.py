"""Export round trip: the reloaded SavedModel takes waveforms and predicts what the Keras model predicts."""

import json

import numpy as np
import pytest

from keras_audio.config import FeatureConfig
from keras_audio.export import ExportMismatchError, export_model, load_exported, verify_export
from keras_audio.models import build_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("conv1d", 3, 16000, FeatureConfig(n_mels=32), filters=(8, 8))
    directory = export_model(model, tmp_path_factory.mktemp("export"), class_names=["a", "b", "c"],
                             sample_rate=16000, clip_samples=8000)
    return model, directory


def test_reloaded_savedmodel_matches_keras_predictions(exported):
    model, directory = exported
    waveforms = (0.1 * np.random.default_rng(0).standard_normal((4, 8000))).astype(np.float32)
    assert verify_export(directory, model, waveforms) <= 1e-5
    predict, metadata = load_exported(directory)
    probabilities = predict(waveforms)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert metadata["class_names"] == ["a", "b", "c"] and metadata["sample_rate"] == 16000
    assert json.loads((directory / "metadata.json").read_text())["clip_samples"] == 8000


def test_savedmodel_takes_other_lengths_and_batch_sizes(exported):
    _, directory = exported
    predict, _ = load_exported(directory)
    assert predict(np.zeros((1, 12345), np.float32) + 0.01).shape == (1, 3)


def test_a_different_model_fails_the_check_loudly(exported, tmp_path):
    _, directory = exported
    other = build_model("conv1d", 3, 16000, FeatureConfig(n_mels=32), filters=(8, 8))
    waveforms = (0.1 * np.random.default_rng(1).standard_normal((4, 8000))).astype(np.float32)
    with pytest.raises(ExportMismatchError, match="differs"):
        verify_export(directory, other, waveforms)
