"""`keras-audio export`: TFLite/ONNX copies of a run's export, checked, listed in its metadata and model card;
the copies then load through the one loader with the export's metadata."""

import json
import shutil

import keras
import numpy as np
import pytest

from keras_audio.api import load_model
from keras_audio.config import FeatureConfig
from keras_audio.export import METADATA_FILE, export_model
from keras_audio.export_formats import FORMAT_ATOL
from keras_audio.loader import load_predictor
from keras_audio.model_card import MODEL_CARD_FILE
from keras_audio.models import build_model
from keras_audio.suite import cli

pytestmark = pytest.mark.slow  # TFLite and ONNX conversions of trained models

FEATURES = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=16)
METADATA = {"model": "conv1d", "policy": "none", "seed": 0, "fold": ""}


@pytest.fixture(scope="module")
def run_export(tmp_path_factory):
    """An export inside a finished run folder: `<run>/models/<tag>/` and the run's `metrics.json`."""
    run = tmp_path_factory.mktemp("run")
    keras.utils.set_random_seed(0)
    model = build_model("conv1d", 2, 8000, FEATURES, filters=(4,))
    directory = export_model(
        model,
        run / "models" / "conv1d-none-seed0",
        class_names=["low", "high"],
        sample_rate=8000,
        clip_samples=4000,
        extra_metadata=METADATA,
    )
    summary = {
        **METADATA,
        "clean": 0.875,
        "mean_spoiled": 0.625,
        "worst_corruption": "lowpass",
        "worst_accuracy": 0.5,
        "majority": 0.5,
    }
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "corpus": "synthetic",
                "task": "pitch",
                "summaries": [summary, {**summary, "model": "other", "clean": 0.1}],
            }
        )
    )
    return directory


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_export_adds_checked_copies_that_the_loader_reads(run_export, tmp_path, capsys):
    folder = tmp_path / "models" / "conv1d-none-seed0"  # a run folder without metrics.json: no measured figures
    shutil.copytree(run_export, folder)
    assert cli.main(["export", str(folder), "--format", "onnx", "tflite"]) == 0
    metadata = json.loads((folder / METADATA_FILE).read_text())
    assert set(metadata["formats"]) == {"onnx", "tflite"}
    for _name, entry in metadata["formats"].items():
        assert (folder / entry["file"]).is_file() and entry["max_abs_difference"] <= FORMAT_ATOL
    assert "measured" not in metadata and "no measured figures" in capsys.readouterr().out
    # metadata.json now says more than the SavedModel's copy; the loader accepts it and reports the copies.
    classifier = load_model(folder)
    assert set(classifier.metadata["formats"]) == {"onnx", "tflite"}
    waveforms = (0.1 * np.random.default_rng(0).standard_normal((2, 4000))).astype(np.float32)
    expected = load_predictor(folder).predict(waveforms)
    for file in ("model.onnx", "model.tflite"):
        copy = load_predictor(folder / file)
        assert copy.class_names == ("low", "high") and copy.clip_samples == 4000
        np.testing.assert_allclose(copy.predict(waveforms), expected, atol=FORMAT_ATOL)
    assert "- `model.onnx`: the onnx copy" in (folder / MODEL_CARD_FILE).read_text()


def test_export_in_a_finished_run_records_its_measured_figures(run_export, tmp_path, capsys):
    out = tmp_path / "copy"
    assert cli.main(["export", str(run_export), "--out", str(out)]) == 0
    assert "clean accuracy" not in (run_export / MODEL_CARD_FILE).read_text()  # --out: the original is kept
    measured = json.loads((out / METADATA_FILE).read_text())["measured"]
    assert measured["clean"] == 0.875 and measured["mean_spoiled"] == 0.625 and measured["corpus"] == "synthetic"
    card = (out / MODEL_CARD_FILE).read_text()
    assert "- clean accuracy: 0.875" in card and "- worst corruption: lowpass (0.500)" in card
    assert "task: pitch; training corpus: synthetic" in card and "generated voices" in card
    assert load_model(out).metadata["measured"]["clean"] == 0.875
    capsys.readouterr()
    assert cli.main(["export", str(run_export), "--out", str(out)]) == 2  # not an empty folder
    assert "--out must be a new or empty folder" in _error(capsys)


def test_export_errors_are_one_line(run_export, tmp_path, capsys, monkeypatch):
    assert cli.main(["export", str(tmp_path), "--format", "onnx"]) == 2
    assert f"{tmp_path}: not an export folder" in _error(capsys)
    assert cli.main(["export", str(run_export / "model.keras"), "--format", "onnx"]) == 2
    assert "not an export folder" in _error(capsys)
    assert cli.main(["export", str(run_export), "--format", "coreml"]) == 2
    assert "unknown format 'coreml'; known: tflite, onnx" in _error(capsys)
    from keras_audio import export_formats

    monkeypatch.setitem(export_formats.CONVERTERS, "onnx", (("no_such_converter_module",), "pip install it"))
    assert cli.main(["export", str(run_export), "--format", "onnx"]) == 2
    assert "the onnx converter is missing (no module no_such_converter_module): pip install it" in _error(capsys)
    sklearn = tmp_path / "sklearn"
    sklearn.mkdir()
    (sklearn / METADATA_FILE).write_text(json.dumps({"format": "sklearn", "model": "sklearn_logreg"}))
    assert cli.main(["export", str(sklearn), "--format", "tflite"]) == 2
    assert "is not a Keras model; it has no tflite copy" in _error(capsys)
    assert not (run_export / "model.onnx").exists()
