"""The held-out-family table ("trained with / held out"): figures from hand-made rows, and a tiny run whose table
and metrics.json equal what predictions.csv.gz gives; refusals of held-out policies through `run_experiment`."""

import json
import math

import numpy as np
import pytest

from keras_audio.grid import MCE_MIN_REFERENCE_ERROR
from keras_audio.suite.experiment import run_experiment
from keras_audio.suite.records import HeldOutFigures, ResultRow
from keras_audio.suite.results import ModelKey, read_predictions
from keras_audio.suite.tables import heldout_results, render_heldout
from tests.tiny_run import tiny_config, write_tone_corpus

pytestmark = pytest.mark.slow  # a tiny run trains every held-out policy

FAMILIES = {"noise": ("white_noise", "pink_noise"), "pitch_tempo": ("speed",), "room": ("reverb",)}


def _rows(model, policy, seed, accuracies):
    rows = [ResultRow(model, policy, seed, "", "clean", 0, accuracies.pop("clean"), math.nan, 10)]
    for (corruption, severity), accuracy in accuracies.items():
        rows.append(ResultRow(model, policy, seed, "", corruption, severity, accuracy, math.nan, 10))
    return rows


def _grid(clean, white, pink, speed, reverb=0.999):
    return {
        "clean": clean,
        ("white_noise", 1): white[0],
        ("white_noise", 3): white[1],
        ("pink_noise", 1): pink[0],
        ("pink_noise", 3): pink[1],
        ("speed", 1): speed[0],
        ("speed", 3): speed[1],
        ("reverb", 1): reverb,
        ("reverb", 3): reverb,
    }


def test_figures_from_rows_follow_the_definition():
    rows = (
        _rows("m", "none", 0, _grid(0.9, (0.8, 0.6), (0.7, 0.5), (0.9, 0.7)))
        + _rows("m", "none", 1, _grid(0.9, (0.6, 0.4), (0.5, 0.3), (0.7, 0.5)))
        + _rows("m", "suite", 0, _grid(0.88, (0.9, 0.8), (0.9, 0.8), (0.9, 0.9)))
        + _rows("m", "suite-minus:noise", 0, _grid(0.87, (0.8, 0.7), (0.8, 0.7), (0.9, 0.9)))
        + _rows("m", "suite-minus:pitch_tempo", 0, _grid(0.86, (0.9, 0.8), (0.9, 0.8), (0.8, 0.6)))
        + _rows("m", "suite-minus:room", 0, _grid(0.85, (0.9, 0.8), (0.9, 0.8), (0.9, 0.9), reverb=0.998))
    )
    held_out = {
        "suite-minus:noise": ("noise", "suite"),
        "suite-minus:pitch_tempo": ("pitch_tempo", "suite"),
        "suite-minus:room": ("room", "suite"),
    }
    result = heldout_results(rows, held_out, FAMILIES, ("m", "none"), MCE_MIN_REFERENCE_ERROR)
    assert result.families == {"noise": ("white_noise", "pink_noise"), "pitch_tempo": ("speed",), "room": ("reverb",)}
    assert result.excluded == ("room",)  # the reference errs on 0.1 % of the reverb clips
    by_family = {r.family: r for r in result.rows}
    noise = by_family["noise"]
    assert noise.held_out == pytest.approx(0.75) and noise.trained_on == pytest.approx(0.85)
    assert noise.clean_held_out == 0.87 and noise.clean_trained_on == 0.88
    # reference errors on noise: seed 0 (0.2+0.4+0.3+0.5) = 1.4, seed 1 (0.4+0.6+0.5+0.7) = 2.2 -> mean 1.8
    assert noise.ce_held_out == pytest.approx(1.0 / 1.8) and noise.ce_trained_on == pytest.approx(0.6 / 1.8)
    # speed: reference (0.1+0.3, 0.3+0.5) -> 0.6; held out 0.2+0.4 = 0.6; trained on 0.2
    assert by_family["pitch_tempo"].ce_held_out == pytest.approx(1.0)
    assert by_family["pitch_tempo"].ce_trained_on == pytest.approx(0.2 / 0.6)
    assert by_family["room"].ce_held_out is None and by_family["room"].held_out == pytest.approx(0.998)
    (summary,) = result.summaries
    assert summary.families == ("noise", "pitch_tempo")
    assert summary.mce_held_out == pytest.approx((1.0 / 1.8 + 1.0) / 2)
    assert summary.mce_trained_on == pytest.approx((0.6 / 1.8 + 0.2 / 0.6) / 2)
    text = render_heldout(result, MCE_MIN_REFERENCE_ERROR)
    assert "| m | suite / suite-minus:F | 0.880 | 0.78 | 0.33 | 2 |" in text
    assert "| m | noise | suite-minus:noise | 0.870 | 0.750 | 0.850 | 0.880 | 0.56 | 0.33 |" in text
    assert "Left out of mCE (the reference errs on under 1% of their clips): room." in text

    unreferenced = heldout_results(rows, held_out, FAMILIES, None, MCE_MIN_REFERENCE_ERROR)
    assert all(r.ce_held_out is None for r in unreferenced.rows)
    assert unreferenced.summaries[0].mce_held_out is None
    assert "No CE or mCE: no reference model" in render_heldout(unreferenced, MCE_MIN_REFERENCE_ERROR)
    assert heldout_results(rows, {}, FAMILIES, ("m", "none"), MCE_MIN_REFERENCE_ERROR) is None


def test_a_policy_tag_has_no_colon():
    assert (
        ModelKey("conv2d", "suite-minus:pitch_tempo+specaugment", 2).tag
        == "conv2d-suite-minus-pitch_tempo_specaugment-seed2"
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tones"))


@pytest.fixture(scope="module")
def heldout_run(corpus, tmp_path_factory):
    config = tiny_config(corpus, tmp_path_factory.mktemp("runs"), "heldout")
    # Three models keep it quick; `heldout` itself is expanded (and refused) through the run below.
    config.policies, config.severities = ["none", "suite", "suite-minus:noise"], [1, 5]
    return run_experiment(config, progress=False, log=lambda *args: None)


def test_the_tiny_run_trains_every_held_out_policy(heldout_run):
    training = json.loads((heldout_run / "training.json").read_text())
    assert [m["policy"] for m in training["models"]] == ["none", "suite", "suite-minus:noise"]
    assert (heldout_run / "models" / "conv1d-suite-minus-noise-seed3" / "saved_model").is_dir()


def test_the_table_equals_what_the_predictions_give(heldout_run):
    metrics = json.loads((heldout_run / "metrics.json").read_text())
    heldout = metrics["heldout"]
    figures = HeldOutFigures.read(heldout_run / "metrics.json")  # the reader gives back what was written
    assert figures.to_json() == heldout and figures.reference == ("conv1d", "none")
    assert heldout["families"] == {"noise": ["white_noise"]}  # speed's family was not held out
    assert heldout["reference"] == {"model": "conv1d", "policy": "none"}
    (test_set,) = read_predictions(heldout_run / "predictions.csv.gz", metrics["classes"])

    def accuracy(policy, corruptions):
        key = ModelKey("conv1d", policy, 3)
        return [
            float(np.mean(test_set.predictions[(key, c, s)] == test_set.y_true)) for c in corruptions for s in (1, 5)
        ]

    expected_mce = []
    for row in heldout["rows"]:
        corruptions = heldout["families"][row["family"]]
        held, trained, ref = (accuracy(p, corruptions) for p in (row["policy"], "suite", "none"))
        assert row["held_out"] == pytest.approx(np.mean(held), abs=1e-6)
        assert row["trained_on"] == pytest.approx(np.mean(trained), abs=1e-6)
        for policy, field in ((row["policy"], "clean_held_out"), ("suite", "clean_trained_on")):
            clean = test_set.predictions[(ModelKey("conv1d", policy, 3), "clean", 0)]
            assert row[field] == pytest.approx(np.mean(clean == test_set.y_true), abs=1e-6)
        ref_errors = sum(1 - a for a in ref)
        if ref_errors < MCE_MIN_REFERENCE_ERROR * len(ref):
            assert row["ce_held_out"] is None and row["family"] in heldout["excluded"]
            continue
        assert row["ce_held_out"] == pytest.approx(sum(1 - a for a in held) / ref_errors, abs=1e-5)
        assert row["ce_trained_on"] == pytest.approx(sum(1 - a for a in trained) / ref_errors, abs=1e-5)
        expected_mce.append(row["ce_held_out"])
    (summary,) = heldout["summaries"]
    if expected_mce:
        assert summary["mce_held_out"] == pytest.approx(np.mean(expected_mce), abs=1e-5)
    table_md = (heldout_run / "table.md").read_text()
    section = table_md[table_md.index("## Held-out corruption families") :]
    noise = next(r for r in heldout["rows"] if r["family"] == "noise")
    cells = [
        f"{noise[f]:.3f} ({noise[f + '_balanced']:.3f})"  # accuracy (balanced accuracy)
        for f in ("clean_held_out", "held_out", "trained_on", "clean_trained_on")
    ]
    assert f"| conv1d | noise | suite-minus:noise | {' | '.join(cells)} |" in section
    assert "Reference: conv1d / none." in section


@pytest.mark.parametrize(
    "policies, message",
    [
        (["none", "suite-minus:fog"], r"unknown corruption family 'fog'.*families: noise, band, pitch_tempo"),
        (["none", "suite-minus:room"], r"holds out family 'room' \(reverb, ir_reverb\), but the suite has none"),
        (["none", "heldout"], r"policy 'heldout' needs corruptions of at least two families"),  # white_noise only
    ],
)
def test_held_out_policies_the_run_cannot_train_are_refused_before_training(corpus, tmp_path, policies, message):
    config = tiny_config(corpus, tmp_path, "refused")
    config.policies, config.corruptions = policies, ["white_noise"]
    with pytest.raises(ValueError, match=message):
        run_experiment(config, progress=False, log=lambda *args: None)
    assert not list(tmp_path.glob("results/**/trained.json"))  # not even the `none` model was trained
