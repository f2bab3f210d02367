"""`predictions.csv.gz`: written with every row's key, read back by key (row order does not matter), checked
against what `evaluation.json` says was scored."""

import csv
import gzip
import random

import numpy as np
import pytest

from keras_audio.suite.records import EvaluatedModel
from keras_audio.suite.results import ModelKey, PredictionsError, describe_test_set, read_predictions, write_predictions
from keras_audio.suite.results import TestSetPredictions as Predictions  # not a pytest class

CLASSES = ("high", "low")
CONDITIONS = [("clean", 0), ("white_noise", 3)]
KEYS = [ModelKey("conv1d", "none", 0), ModelKey("conv2d", "none", 0)]


def _test_set() -> Predictions:
    rng = np.random.default_rng(0)
    clips = [f"s{i // 2}/c{i}.wav" for i in range(6)]
    y_true = np.array([0, 1, 0, 1, 1, 0])
    predictions, probabilities = {}, {}
    for corruption, severity in CONDITIONS:
        for key in KEYS:
            p = rng.dirichlet([1, 1], size=len(clips))
            probabilities[(key, corruption, severity)] = p
            predictions[(key, corruption, severity)] = np.argmax(p, axis=1)
    return Predictions(
        "in-domain", "", clips, [c.split("/")[0] for c in clips], y_true, CLASSES, predictions, probabilities
    )


def _rows(path):
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.reader(handle))


def _write_rows(path, rows):
    with gzip.open(path, "wt", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.fixture
def written(tmp_path):
    test_set = _test_set()
    path = tmp_path / "predictions.csv.gz"
    write_predictions([test_set], path)
    described = [describe_test_set(test_set, CONDITIONS, corpus="toy", task="gender")]
    models = [EvaluatedModel.of(k, "models") for k in KEYS]
    return test_set, path, described, models


def test_rows_in_any_order_read_back_the_same_predictions_and_probabilities(written):
    test_set, path, described, models = written
    header, *body = _rows(path)
    random.Random(0).shuffle(body)
    _write_rows(path, [header, *body])
    (read,) = read_predictions(path, CLASSES, described, models)
    order = [read.clip_ids.index(c) for c in test_set.clip_ids]
    assert [read.speakers[i] for i in order] == test_set.speakers and list(read.y_true[order]) == list(test_set.y_true)
    assert list(read.predictions) == list(test_set.predictions)  # grid order: each condition, every model on it
    for key, y_pred in test_set.predictions.items():
        np.testing.assert_array_equal(read.predictions[key][order], y_pred)
        np.testing.assert_allclose(read.probabilities[key][order], test_set.probabilities[key], atol=1e-6)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda body: body.pop(7),
            r"model conv2d / none / seed 0, condition clean \(severity 0\): no prediction for "
            r"1 clip\(s\): s0/c1.wav",
        ),
        (
            lambda body: body.append(list(body[0])),
            r"line 26: clip 's0/c0.wav' predicted twice by conv1d / none / seed 0",
        ),
        (
            lambda body: body[6].__setitem__(9, "low"),
            r"line 8: clip 's0/c0.wav' has speaker 's0' and label 'low', but "
            r"line 2 gives 's0' and 'high'",
        ),
        (
            lambda body: [body.pop() for _ in range(6)],
            r"no predictions of model conv2d / none / seed 0 under condition "
            r"white_noise \(severity 3\)",
        ),
    ],
)
def test_a_missing_doubled_or_contradicting_row_is_refused_naming_it(written, change, message):
    _, path, described, models = written
    header, *body = _rows(path)
    change(body)
    _write_rows(path, [header, *body])
    with pytest.raises(PredictionsError, match=f"{path}: .*{message}"):
        read_predictions(path, CLASSES, described, models)


def test_the_file_must_hold_the_clips_and_models_evaluation_json_lists(written):
    test_set, path, described, models = written
    header, *body = _rows(path)
    _write_rows(path, [header, *[row for row in body if row[7] != "s2/c5.wav"]])  # a clip gone from every row
    with pytest.raises(PredictionsError, match=r"holds 5 clip\(s\), not the 6 evaluation.json lists"):
        read_predictions(path, CLASSES, described, models)
    write_predictions([test_set], path)
    with pytest.raises(PredictionsError, match=r"no predictions of model\(s\) \['vgg / none / seed 0'\]"):
        read_predictions(path, CLASSES, described, models + [EvaluatedModel.of(ModelKey("vgg", "none", 0), "models")])
