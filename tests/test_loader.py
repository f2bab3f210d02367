"""The one loader (`loader.load_predictor`) through the commands that use it: `keras-audio evaluate` and
`predict` read any export (its folder, `saved_model/`, `model.keras`, `.onnx`, `.tflite`) with the export's
own metadata, feed each model its own clip length, refuse flags and metadata.json that contradict the
SavedModel, class names that do not match the outputs, and input the SavedModel would refuse."""

import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from keras_audio.api import load_model
from keras_audio.config import FeatureConfig
from keras_audio.export import export_model
from keras_audio.loader import load_predictor
from keras_audio.models import build_model
from keras_audio.suite import cli
from tests.tiny_run import SAMPLE_RATE, write_tone_corpus

pytestmark = pytest.mark.slow  # exports models and evaluates them in every format

FEATURES = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=16, fmin=20.0)
CLIPS = {"long": 4000, "short": 2400}  # 0.5 s and 0.3 s at 8 kHz; the corpus's clips last 0.5 to 0.8 s


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The tone corpus, a home for the cache and results, and two untrained exports of different clip lengths."""
    root = tmp_path_factory.mktemp("loader")
    (root / "tones").mkdir()
    corpus = write_tone_corpus(root / "tones")
    exports = {}
    for policy, clip in CLIPS.items():
        keras.utils.set_random_seed(len(policy))
        model = build_model("conv1d", 2, SAMPLE_RATE, FEATURES, filters=(8,), kernel_size=3)
        exports[policy] = export_model(
            model,
            root / "models" / policy,
            class_names=["high", "low"],
            sample_rate=SAMPLE_RATE,
            clip_samples=clip,
            extra_metadata={"model": "conv1d", "policy": policy, "seed": 0, "features": {"n_fft": FEATURES.n_fft}},
        )
    return root, corpus, exports


def _evaluate(setup, monkeypatch, name, *models_and_flags) -> tuple[int, pd.DataFrame | None]:
    root, corpus, _ = setup
    monkeypatch.setenv("KERAS_AUDIO_HOME", str(root))
    code = cli.main(
        [
            "evaluate",
            *map(str, models_and_flags),
            "--corpus",
            "csv",
            "--data-dir",
            str(corpus),
            "--no-shared-data",
            "--no-progress",
            "--corruptions",
            "white_noise",
            "--severities",
            "1",
            "--batch-size",
            "8",
            "--seed",
            "3",
            "--out",
            str(root / "runs"),
            "--run-name",
            name,
        ]
    )
    path = root / "runs" / name / "predictions.csv.gz"
    return code, (
        pd.read_csv(path).set_index(["policy", "corruption", "severity", "clip_id"])[["p_high", "p_low"]]
        if code == 0
        else None
    )


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_evaluate_reads_the_savedmodel_of_an_export_with_its_metadata(setup, monkeypatch, capsys):
    _, _, exports = setup
    code, folder = _evaluate(setup, monkeypatch, "folder", exports["long"])
    assert code == 0
    # The SavedModel alone is the same export: its classes, rate and clip length, no flags asked for.
    code, saved_model = _evaluate(setup, monkeypatch, "saved-model", exports["long"] / "saved_model")
    assert code == 0
    pd.testing.assert_frame_equal(saved_model, folder)
    # Flags that agree with the export are accepted; flags that contradict it are refused, not ignored.
    code, agreeing = _evaluate(
        setup,
        monkeypatch,
        "agreeing",
        exports["long"] / "saved_model",
        "--class-names",
        "high",
        "low",
        "--sample-rate",
        SAMPLE_RATE,
        "--clip-seconds",
        0.5,
    )
    assert code == 0
    pd.testing.assert_frame_equal(agreeing, folder)
    capsys.readouterr()
    for flags, problem in (
        (["--class-names", "low", "high"], "--class-names low high contradicts the export's high low"),
        (["--sample-rate", "16000"], "--sample-rate 16000 contradicts the export's 8000 Hz"),
        (["--clip-seconds", "2"], "--clip-seconds 2 contradicts the export's 0.5 s"),
    ):
        code, _ = _evaluate(setup, monkeypatch, "contradicting", exports["long"] / "saved_model", *flags)
        assert code == 2
        assert problem in _error(capsys)


def test_each_model_is_fed_its_own_clip_length_in_any_order(setup, monkeypatch):
    _, _, exports = setup
    code, long_first = _evaluate(setup, monkeypatch, "long-first", exports["long"], exports["short"])
    assert code == 0
    code, short_first = _evaluate(setup, monkeypatch, "short-first", exports["short"], exports["long"])
    assert code == 0
    pd.testing.assert_frame_equal(short_first.sort_index(), long_first.sort_index())
    code, short_alone = _evaluate(setup, monkeypatch, "short-alone", exports["short"])
    assert code == 0
    pd.testing.assert_frame_equal(short_alone, long_first.loc[["short"]])
    root = setup[0]
    evaluation = json.loads((root / "runs" / "long-first" / "evaluation.json").read_text())
    assert [m["clip_samples"] for m in evaluation["models"]] == [4000, 2400]
    assert "each model fed clips of its own length" in (root / "runs" / "long-first" / "table.md").read_text()


def test_metadata_json_that_contradicts_the_savedmodel_is_refused(setup, monkeypatch, capsys, tmp_path):
    root, _, exports = setup
    edited = shutil.copytree(exports["long"], tmp_path / "edited")
    metadata = json.loads((edited / "metadata.json").read_text())
    metadata["class_names"] = ["low", "high"]
    (edited / "metadata.json").write_text(json.dumps(metadata))
    capsys.readouterr()
    code, _ = _evaluate(setup, monkeypatch, "edited", edited)
    assert code == 2
    message = _error(capsys)
    assert f"{edited / 'metadata.json'} disagrees with the metadata inside {edited / 'saved_model'}" in message
    assert "'class_names'" in message
    clip = sorted((root / "tones").glob("test*.wav"))[0]
    assert cli.main(["predict", str(edited), str(clip), "--no-progress"]) == 2
    assert "disagrees with the metadata inside" in _error(capsys)


def test_class_names_must_match_the_outputs(setup, monkeypatch, capsys, tmp_path):
    _, _, exports = setup
    outside = shutil.copy(exports["long"] / "model.keras", tmp_path / "outside.keras")
    capsys.readouterr()
    code, _ = _evaluate(
        setup, monkeypatch, "three-names", outside, "--class-names", "high", "low", "mid", "--sample-rate", SAMPLE_RATE
    )
    assert code == 2
    assert "the model has 2 outputs but 3 class names ['high', 'low', 'mid']" in _error(capsys)


def test_predict_takes_every_file_of_an_export(setup, capsys):
    root, _, exports = setup
    from keras_audio.export_formats import export_onnx, export_tflite

    model = keras.models.load_model(exports["long"] / "model.keras")
    probe = (0.1 * np.random.default_rng(0).standard_normal((2, CLIPS["long"]))).astype(np.float32)
    export_onnx(model, exports["long"] / "model.onnx", probe)
    export_tflite(model, exports["long"] / "model.tflite", probe)
    clip = sorted((root / "tones").glob("test*.wav"))[0]
    capsys.readouterr()
    assert cli.main(["predict", str(exports["long"]), str(clip), "--no-progress"]) == 0
    expected = capsys.readouterr().out
    for name in ("model.keras", "saved_model", "model.onnx", "model.tflite"):
        assert cli.main(["predict", str(exports["long"] / name), str(clip), "--no-progress"]) == 0
        assert capsys.readouterr().out == expected, name
        classifier = load_model(exports["long"] / name)
        assert (classifier.class_names, classifier.clip_samples, classifier.min_samples) == (
            ("high", "low"),
            CLIPS["long"],
            FEATURES.n_fft,
        )
    # Each loaded predictor refuses what the SavedModel refuses, instead of answering it with a label.
    for name in ("model.keras", "model.onnx", "model.tflite"):
        predict = load_predictor(exports["long"] / name).predict
        for waveforms, problem in (
            (np.full((1, CLIPS["long"]), np.nan), "4000 NaN or infinite"),
            (np.full(CLIPS["long"], 0.1), r"must be float32 \[batch, samples\]"),
            (np.zeros((0, CLIPS["long"])), "empty batch"),
            (np.full((1, 100), 0.1), "too short|fixed clip length"),
        ):
            with pytest.raises(ValueError, match=problem):
                predict(waveforms)
