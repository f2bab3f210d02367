"""Every plot writes a readable PNG from plain data, and refuses data it cannot draw."""

import numpy as np
import pytest
from PIL import Image

from keras_audio import plots

MODELS = [("conv1d", "none"), ("conv2d", "none"), ("conv1d", "suite+specaugment")]
CORRUPTIONS = ["white_noise", "speed", "reverb", "telephone", "babble"]


def _rows(seeds=(0, 1), models=MODELS, corruptions=CORRUPTIONS, severities=(1, 2, 3, 4, 5)):
    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        for model, policy in models:
            rows.append(
                {
                    "model": model,
                    "policy": policy,
                    "seed": seed,
                    "fold": "",
                    "corruption": "clean",
                    "severity": 0,
                    "accuracy": 0.9 + 0.05 * rng.random(),
                }
            )
            for corruption in corruptions:
                for severity in severities:
                    rows.append(
                        {
                            "model": model,
                            "policy": policy,
                            "seed": seed,
                            "fold": "",
                            "corruption": corruption,
                            "severity": severity,
                            "accuracy": 0.9 - 0.08 * severity * rng.random(),
                        }
                    )
    return rows


def _check_png(path, min_size=(300, 200)):
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        width, height = image.size
        assert width >= min_size[0] and height >= min_size[1]
        assert width <= 2400 and height <= 2400  # readable on a screen without zooming out
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 8  # something was drawn, not a blank canvas


def test_accuracy_vs_severity(tmp_path):
    path = plots.accuracy_vs_severity(_rows(), tmp_path / "plots" / "accuracy.png", corpus="toy / gender", baseline=0.5)
    assert path == tmp_path / "plots" / "accuracy.png"
    _check_png(path)


def test_accuracy_vs_severity_with_one_seed_and_one_corruption(tmp_path):
    rows = _rows(seeds=(0,), corruptions=["speed"], severities=(1, 3))
    _check_png(plots.accuracy_vs_severity(rows, tmp_path / "a.png", corpus="toy"))


def test_accuracy_vs_severity_needs_a_spoiled_condition(tmp_path):
    rows = [r for r in _rows() if r["corruption"] == "clean"]
    with pytest.raises(ValueError, match="no spoiled condition"):
        plots.accuracy_vs_severity(rows, tmp_path / "a.png", corpus="toy")


def test_heatmap_with_a_missing_cell(tmp_path):
    rows = [r for r in _rows() if not (r["model"] == "conv2d" and r["corruption"] == "speed")]
    _check_png(plots.corruption_heatmap(rows, tmp_path / "heat.png", corpus="toy / gender", baseline=0.52))


@pytest.mark.slow
def test_confusion_matrices(tmp_path):
    matrices = {
        "clean": np.array([[8, 2], [1, 9]]),
        "severity 3, all 5 corruptions pooled": np.array([[30, 20], [5, 45]]),
    }
    _check_png(plots.confusion_matrices(matrices, ["female", "male"], tmp_path / "cm.png", title="conv1d / none"))


@pytest.mark.slow
def test_confusion_matrices_with_many_classes_and_an_empty_row(tmp_path):
    matrix = np.random.default_rng(0).integers(0, 5, (50, 50))
    matrix[3] = 0
    path = plots.confusion_matrices(
        {"clean": matrix}, [f"class {i}" for i in range(50)], tmp_path / "cm.png", title="esc50"
    )
    _check_png(path)


def test_confusion_matrices_refuse_a_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match="panel 'clean'"):
        plots.confusion_matrices({"clean": np.eye(3)}, ["a", "b"], tmp_path / "cm.png", title="x")


def test_spectrogram_gallery(tmp_path):
    rng = np.random.default_rng(0)
    spectrograms = {"clean": rng.normal(-40, 10, (101, 32))}
    spectrograms.update({f"{c}, severity 3": rng.normal(-40, 10, (101, 32)) for c in CORRUPTIONS})
    path = plots.spectrogram_gallery(
        spectrograms,
        tmp_path / "gallery.png",
        title="clip x",
        hop_seconds=0.01,
        mel_frequencies=np.linspace(50, 7000, 32),
    )
    _check_png(path)
    with pytest.raises(ValueError, match="no spectrograms"):
        plots.spectrogram_gallery({}, tmp_path / "none.png", title="x", hop_seconds=0.01)


def test_learning_curves(tmp_path):
    histories = {
        f"{m} / {p} / seed {s}": {
            "loss": [1.0, 0.6, 0.4],
            "val_loss": [1.1, 0.8, 0.7],
            "accuracy": [0.6, 0.8, 0.9],
            "val_accuracy": [0.55, 0.7, 0.75],
        }
        for m, p in MODELS
        for s in (0, 1)
    }
    histories["autoencoder / none / seed 0"] = {"loss": [0.3, 0.2]}  # a trainer without accuracy
    _check_png(plots.learning_curves(histories, tmp_path / "curves.png", corpus="toy"))
    with pytest.raises(ValueError, match="no history"):
        plots.learning_curves({"m / p": {"mae": [1.0]}}, tmp_path / "none.png", corpus="toy")


def test_learning_curves_draw_a_two_stage_model_from_its_classifier_stage(tmp_path):
    staged = {
        "autoencoder/loss": [0.9, 0.5],
        "autoencoder/val_loss": [1.0, 0.6],
        "classifier/loss": [0.7, 0.3, 0.2],
        "classifier/accuracy": [0.6, 0.9, 0.95],
    }
    assert plots._stage_history(staged, plots._last_stage(staged)) == {
        "loss": [0.7, 0.3, 0.2],
        "accuracy": [0.6, 0.9, 0.95],
    }
    # Only stage-prefixed keys: there is still something to draw.
    _check_png(plots.learning_curves({"ae_clf / none / seed 0": staged}, tmp_path / "staged.png", corpus="toy"))


def test_grid_shapes():
    assert plots._grid(1) == (1, 1)
    assert plots._grid(3) == (1, 3)
    assert plots._grid(5) == (2, 3)
    assert plots._grid(7) == (2, 4)
    assert plots._grid(20) == (5, 4)
    assert plots._grid(21, max_columns=7) == (3, 7)
