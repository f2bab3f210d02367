"""`keras-audio report` on a run whose second model collapsed to the majority class: balanced accuracy beside
accuracy in every table, the collapsed model marked `≤ majority`, and no mCE for it (it errs no more under
noise than clean, so its mCE would call it the most robust model)."""

import json

import numpy as np
import pytest

from keras_audio.suite import cli, results
from keras_audio.suite.config import RunConfig
from keras_audio.suite.records import EVALUATION_FILE
from keras_audio.suite.results import ModelKey, write_predictions
from keras_audio.suite.stages.evaluate import PREDICTIONS_FILE

CLASSES = ("female", "male")
Y_TRUE = np.array([0] * 7 + [1] * 3)  # majority-class baseline 0.7


def _run_folder(path):
    """A run folder as the evaluate stage leaves it: conv1d / none (the mCE reference) hears the classes and
    loses clips under noise; conv2d / none answers ``female`` whatever it hears."""
    path.mkdir()
    RunConfig(models=["conv1d", "conv2d"], corruptions=["white_noise"], severities=[1, 5]).save(path / "config.json")
    (path / EVALUATION_FILE).write_text(json.dumps({"classes": list(CLASSES), "task": "gender", "notes": []}))
    good, collapsed = ModelKey("conv1d", "none", 0), ModelKey("conv2d", "none", 0)
    hearing = {("clean", 0): 0, ("white_noise", 1): 3, ("white_noise", 5): 5}  # clips it gets wrong
    predictions = {}
    for (corruption, severity), wrong in hearing.items():
        answer = Y_TRUE.copy()
        answer[:wrong] = 1 - answer[:wrong]
        predictions[(good, corruption, severity)] = answer
        predictions[(collapsed, corruption, severity)] = np.zeros_like(Y_TRUE)
    speakers = [f"s{i // 2}" for i in range(len(Y_TRUE))]
    write_predictions(
        [
            results.TestSetPredictions(
                "synthetic", "", [f"c{i}" for i in range(len(Y_TRUE))], speakers, Y_TRUE, CLASSES, predictions
            )
        ],
        path / PREDICTIONS_FILE,
    )
    return path


def _row(text, model):
    return next(line for line in text.splitlines() if line.startswith(f"| {model} | none |"))


@pytest.mark.slow
def test_report_shows_balanced_accuracy_marks_the_collapsed_model_and_withholds_its_mce(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    assert cli.main(["report", str(run)]) == 0
    printed = capsys.readouterr().out
    table = (run / "table.md").read_text()
    assert table.strip() in printed  # what `report` prints is the table
    headers = [
        h.strip()
        for h in table.splitlines()[
            table.splitlines().index(
                next(line for line in table.splitlines() if line.startswith("| model | policy | params"))
            )
        ].split("|")[1:-1]
    ]
    assert "clean balanced" in headers and "spoiled balanced" in headers and "≤ majority" in headers
    good = dict(zip(headers, [c.strip() for c in _row(table, "conv1d").split("|")[1:-1]]))
    collapsed = dict(zip(headers, [c.strip() for c in _row(table, "conv2d").split("|")[1:-1]]))
    assert collapsed["clean"] == "0.700" and collapsed["clean balanced"] == "0.500"
    assert collapsed["≤ majority"] == "yes" and good["≤ majority"] == "no"
    assert collapsed["mCE"] == "—" and good["mCE"] == "1.00"
    assert "≤ majority: the clean accuracy of conv2d / none" in table
    assert "mCE —: not reported for conv2d / none" in table
    # The per-corruption and per-condition tables carry the balanced accuracy in brackets.
    assert "| white_noise | 0.600 (0.714) | 0.700 (0.500) |" in table
    assert "| white_noise | 5 | 0.500 (0.643) | 0.700 (0.500) |" in table
    summaries = {s["model"]: s for s in json.loads((run / "metrics.json").read_text())["summaries"]}
    assert summaries["conv2d"]["at_or_below_majority"] is True and summaries["conv2d"]["mce"] is None
    assert summaries["conv1d"]["at_or_below_majority"] is False and summaries["conv1d"]["clean_balanced"] == 1.0
