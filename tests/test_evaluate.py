import numpy as np
import pytest

from keras_audio.evaluate import classification_metrics, majority_baseline, summarize


def test_metrics_and_baseline():
    y_true = np.array([0, 0, 0, 1])
    metrics = classification_metrics(y_true, np.array([0, 0, 0, 0]))
    assert metrics == {"accuracy": 0.75, "balanced_accuracy": 0.5, "n": 4}
    assert majority_baseline(y_true) == 0.75


def _rows(model, clean, spoiled):
    rows = [{"model": model, "policy": "none", "corruption": "clean", "severity": 0, "accuracy": clean}]
    for corruption, accuracies in spoiled.items():
        rows += [{"model": model, "policy": "none", "corruption": corruption, "severity": s + 1, "accuracy": a}
                 for s, a in enumerate(accuracies)]
    return rows


def test_summary_means_worst_and_mce_against_the_reference():
    rows = _rows("ref", 0.9, {"noise": [0.8, 0.6], "speed": [0.9, 0.7]})
    rows += _rows("new", 0.95, {"noise": [0.9, 0.8], "speed": [0.8, 0.6]})
    summaries = {s["model"]: s for s in summarize(rows, ("model", "policy"), {"model": "ref", "policy": "none"})}
    new = summaries["new"]
    assert new["clean"] == 0.95
    assert new["mean_spoiled"] == pytest.approx(0.775)
    assert new["worst_corruption"] == "speed" and new["worst_accuracy"] == pytest.approx(0.7)
    # noise: errors 0.1+0.2 vs 0.2+0.4 -> 0.5; speed: 0.2+0.4 vs 0.1+0.3 -> 1.5; mean 1.0
    assert new["mce"] == pytest.approx(1.0)
    assert summaries["ref"]["mce"] == pytest.approx(1.0)


def test_corruptions_the_reference_almost_never_gets_wrong_are_left_out_of_mce():
    rows = _rows("ref", 1.0, {"noise": [0.8, 0.6], "gain": [1.0, 0.995]})
    rows += _rows("new", 1.0, {"noise": [0.9, 0.8], "gain": [0.9, 0.8]})
    summaries = {s["model"]: s for s in summarize(rows, ("model", "policy"), {"model": "ref", "policy": "none"})}
    # gain: the reference's mean error is 0.25 % < 1 %, a ratio of 0.3 / 0.005 = 60 would swamp the mean
    assert summaries["new"]["mce"] == pytest.approx(0.5)
    assert summaries["new"]["mce_excluded"] == ["gain"]


def test_no_reference_means_no_mce():
    summaries = summarize(_rows("a", 1.0, {"noise": [0.5]}), ("model", "policy"))
    assert "mce" not in summaries[0]
