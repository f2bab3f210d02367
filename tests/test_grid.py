import numpy as np
import pytest

from keras_audio.grid import classification_metrics, majority_baseline, mce_reference_errors, summarize


def test_metrics_and_baseline():
    y_true = np.array([0, 0, 0, 1])
    metrics = classification_metrics(y_true, np.array([0, 0, 0, 0]))
    assert metrics == {"accuracy": 0.75, "balanced_accuracy": 0.5, "n": 4}
    assert majority_baseline(y_true) == 0.75


def _rows(model, clean, spoiled):
    rows = [{"model": model, "policy": "none", "corruption": "clean", "severity": 0, "accuracy": clean}]
    for corruption, accuracies in spoiled.items():
        rows += [
            {"model": model, "policy": "none", "corruption": corruption, "severity": s + 1, "accuracy": a}
            for s, a in enumerate(accuracies)
        ]
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
    mce = [
        {s["model"]: s for s in summarize(rows, ("model", "policy"), reference, denominators)}
        for rows in (seed0, seed1)
    ]
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


def _grid_source(n=11, seed=0):
    import pandas as pd

    from keras_audio.cache import WaveformStore
    from keras_audio.manifest import Manifest
    from keras_audio.pipeline import ClipSource

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1500, 7000, size=n)  # shorter and longer than the 4000-sample clips
    waveforms = [(rng.uniform(0.05, 0.5) * rng.standard_normal(length)).astype(np.float32) for length in lengths]
    clip_ids = [f"clip{i:02d}" for i in range(n)]
    store = WaveformStore(
        np.concatenate(waveforms), np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths, clip_ids, 16000
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["a" if i % 3 else "b" for i in range(n)],
            "speaker": [f"s{i}" for i in range(n)],
            "split": "test",
        }
    )
    return ClipSource(store, Manifest(frame, name="grid"))


class _Recorder:
    """A predictor that keeps every batch it is given; its 'probabilities' are a function of each row alone."""

    def __init__(self):
        self.seen = []

    def __call__(self, waveforms):
        waveforms = np.asarray(waveforms)
        self.seen.append(waveforms.copy())
        power = np.array([np.sum(row.astype(np.float64) ** 2) for row in waveforms]) / waveforms.shape[1]
        logits = np.stack([np.log(power + 1e-9), np.full(len(power), np.log(0.01))], axis=1)
        return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.slow
def test_the_batched_grid_sees_the_per_clip_spoiled_set_and_scores_it_alike():
    from keras_audio.corruptions import registry
    from keras_audio.grid import evaluate_grid, grid

    source = _grid_source()
    # One corruption with batched draws, one with a per-clip fallback; every corruption's batched spoiling is
    # held to the per-clip one in tests/corruptions/test_batched.py.
    conditions = grid(registry.build_suite(["gain", "speed"], 16000), (1, 4))
    runs = {}
    for label, options in (
        ("per clip", {"batched": False}),
        ("batched 3", {"inference_batch_size": 3}),
        ("batched 256", {}),
    ):
        recorder = _Recorder()
        result = evaluate_grid(
            {"m": recorder, "n": _Recorder()}, source, conditions, 4000, 4, seed=5, progress=False, **options
        )
        runs[label] = (np.concatenate(recorder.seen), result)
    reference_clips, reference = runs["per clip"]
    assert reference_clips.shape == (len(conditions) * len(source), 4000)
    for label, (clips, result) in runs.items():
        np.testing.assert_array_equal(clips, reference_clips, err_msg=label)  # every model sees the same clips
        assert list(result.probabilities) == list(reference.probabilities)
        for key, probabilities in reference.probabilities.items():
            np.testing.assert_array_equal(result.probabilities[key], probabilities, err_msg=f"{label} {key}")
        assert result.rows() == reference.rows()
    assert len({p.tobytes() for p in reference.probabilities.values()}) == len(conditions)  # they differ


@pytest.mark.slow
def test_clips_spoiled_in_parts_reach_the_models_in_whole_inference_batches(monkeypatch):
    from keras_audio import grid as evaluate
    from keras_audio.corruptions import registry

    source = _grid_source(11)
    conditions = evaluate.grid(registry.build_suite(["white_noise", "speed"], 16000), (2,))
    runs = {}
    for spoil_batch in (4, 64):  # 4 divides the inference batch of 8: parts of 4 clips, joined in pairs
        monkeypatch.setattr(evaluate, "SPOIL_BATCH_SIZE", spoil_batch)
        recorder = _Recorder()
        evaluate.evaluate_grid(
            {"m": recorder}, source, conditions, 4000, 4, seed=5, progress=False, inference_batch_size=8
        )
        runs[spoil_batch] = recorder.seen
    assert [len(batch) for batch in runs[4]] == [8, 3] * len(conditions)  # each condition: 8 clips, then 3
    assert [len(batch) for batch in runs[64]] == [8, 3] * len(conditions)
    np.testing.assert_array_equal(np.concatenate(runs[4]), np.concatenate(runs[64]))


def test_grid_refuses_an_empty_inference_batch():
    from keras_audio.grid import evaluate_grid

    with pytest.raises(ValueError, match="inference batch size must be >= 1, got 0"):
        evaluate_grid({}, _grid_source(3), [], 4000, 4, 0, progress=False, inference_batch_size=0)
