import numpy as np
import pytest

from keras_audio.evaluate import classification_metrics, majority_baseline, mce_reference_errors, summarize


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


def test_every_seed_is_compared_with_the_reference_averaged_over_the_seeds():
    # The reference never errs on "gain" with seed 0 and errs on 4 % of the clips with seed 1: 2 % on average.
    seed0 = _rows("ref", 1.0, {"noise": [0.8], "gain": [1.0]}) + _rows("new", 1.0, {"noise": [0.9], "gain": [0.9]})
    seed1 = _rows("ref", 1.0, {"noise": [0.8], "gain": [0.96]}) + _rows("new", 1.0, {"noise": [0.9], "gain": [0.98]})
    for seed, rows in enumerate((seed0, seed1)):
        for row in rows:
            row["seed"] = seed
    denominators = mce_reference_errors([r for r in seed0 + seed1 if r["model"] == "ref"])
    assert denominators == pytest.approx({"noise": 0.2, "gain": 0.02})
    reference = {"model": "ref", "policy": "none"}
    mce = [{s["model"]: s for s in summarize(rows, ("model", "policy"), reference, denominators)}
           for rows in (seed0, seed1)]
    assert mce[0]["new"]["mce_excluded"] == mce[1]["new"]["mce_excluded"] == []
    assert mce[0]["new"]["mce"] == pytest.approx((0.1 / 0.2 + 0.1 / 0.02) / 2)
    assert mce[1]["new"]["mce"] == pytest.approx((0.1 / 0.2 + 0.02 / 0.02) / 2)
    # The reference scores 1.0 on average over the seeds, not on each.
    assert (mce[0]["ref"]["mce"], mce[1]["ref"]["mce"]) == pytest.approx((0.5, 1.5))
    # Seed 0 summarised alone leaves gain out (its reference never erred there).
    assert {s["model"]: s for s in summarize(seed0, ("model", "policy"), reference)}["new"]["mce_excluded"] == ["gain"]


def test_no_reference_means_no_mce():
    summaries = summarize(_rows("a", 1.0, {"noise": [0.5]}), ("model", "policy"))
    assert "mce" not in summaries[0]
