"""Tables of a run: the long CSV round-trips, the Markdown aggregates seeds (not folds), plots are all written."""

import json
import math

import numpy as np
import pytest

from keras_audio.suite.records import ResultRow
from keras_audio.suite.tables import (
    LONG_COLUMNS,
    interval_text,
    markdown_table,
    mean_sd,
    read_long_table,
    render_markdown,
    write_json,
    write_long_table,
    write_plots,
)


def _rows(seeds=(0,), folds=("",)):
    rows = []
    for seed in seeds:
        for fold in folds:
            for corruption, severity, accuracy in (("clean", 0, 0.9), ("speed", 1, 0.8), ("speed", 3, 0.6)):
                rows.append(
                    ResultRow(
                        "conv1d",
                        "none",
                        seed,
                        fold,
                        corruption,
                        severity,
                        accuracy + 0.01 * seed,
                        accuracy,
                        40,
                        ci_low=accuracy - 0.1,
                        ci_high=accuracy + 0.05,
                    )
                )
    return rows


def _summaries(rows):
    summaries = []
    for key in dict.fromkeys((r.seed, r.fold) for r in rows):
        group = [r for r in rows if (r.seed, r.fold) == key]
        clean = [r.accuracy for r in group if r.corruption == "clean"][0]
        spoiled = [r.accuracy for r in group if r.corruption != "clean"]
        summaries.append(
            {
                "model": "conv1d",
                "policy": "none",
                "seed": key[0],
                "fold": key[1],
                "clean": clean,
                "mean_spoiled": float(np.mean(spoiled)),
                "worst_corruption": "speed",
                "worst_accuracy": float(np.mean(spoiled)),
                "per_corruption": {"speed": float(np.mean(spoiled))},
            }
        )
    return summaries


def test_long_table_round_trip(tmp_path):
    rows = _rows(seeds=(0, 1))
    write_long_table(rows, tmp_path / "table.csv")
    header = (tmp_path / "table.csv").read_text().splitlines()[0]
    assert header.split(",") == list(LONG_COLUMNS)
    back = read_long_table(tmp_path / "table.csv")
    assert len(back) == len(rows)
    for original, read in zip(rows, back):
        assert read.seed == original.seed and read.severity == original.severity
        assert read.accuracy == pytest.approx(original.accuracy)
        assert read.ci_low == pytest.approx(original.ci_low)
        assert read.n == 40 and read.fold == ""


def test_long_table_without_intervals_reads_nan(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(
        "model,policy,seed,fold,corruption,severity,accuracy,balanced_accuracy,n\nm,none,0,,clean,0,0.5,0.5,10\n"
    )
    (row,) = read_long_table(path)
    assert math.isnan(row.ci_low) and math.isnan(row.ci_high)


def test_long_table_refuses_another_csv(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("path,label\na.wav,x\n")
    with pytest.raises(ValueError, match="missing column"):
        read_long_table(path)


def test_json_is_plain_and_sorted(tmp_path):
    write_json({"b": np.float32(0.5), "a": [float("nan"), np.int64(3)]}, tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text() == '{\n  "a": [\n    null,\n    3\n  ],\n  "b": 0.5\n}\n'


def test_mean_sd_and_interval_text():
    assert mean_sd([]) == "–"
    assert mean_sd([0.5]) == "0.500"
    assert mean_sd([0.5, 0.7]) == f"0.600 ± {np.std([0.5, 0.7], ddof=1):.3f}"
    assert mean_sd([0.5, float("nan")]) == "0.500"
    assert interval_text((0.81234, 0.9)) == "0.812–0.900"
    assert interval_text(None) == "–"


def test_markdown_table_shape():
    text = markdown_table(["a", "b"], [[1, 2]])
    assert text.splitlines() == ["| a | b |", "| --- | ---: |", "| 1 | 2 |"]


def test_render_markdown_shows_intervals_and_seed_spread():
    rows = _rows(seeds=(0, 1))
    text = render_markdown(
        "Results",
        ["a note"],
        _summaries(rows),
        rows,
        {("conv1d", "none"): {"params": 1234, "train_seconds": [10.0, 12.0]}},
        {("conv1d", "none"): {"clean": (0.85, 0.95), "mean_spoiled": (0.6, 0.8)}},
    )
    headline = next(line for line in text.splitlines() if line.startswith("| conv1d"))
    assert "0.905 ± 0.007" in headline  # clean over two seeds
    assert "0.850–0.950" in headline and "0.600–0.800" in headline
    assert "| 1k |" in headline
    assert text.count("95% CI") == 2
    assert "## Accuracy per condition" in text


def test_render_markdown_averages_folds_before_the_seed_spread():
    rows = _rows(seeds=(0,), folds=("1", "2"))
    text = render_markdown("Results", [], _summaries(rows), rows, {})
    assert "±" not in text  # two folds of one seed: no spread over seeds
    assert "95% CI" not in text  # no intervals given


def test_write_plots_writes_every_figure(tmp_path):
    rows = _rows(seeds=(0, 1))
    histories = {
        "conv1d / none / seed 0": {
            "loss": [1.0, 0.5],
            "val_loss": [1.1, 0.9],
            "accuracy": [0.5, 0.8],
            "val_accuracy": [0.5, 0.7],
        }
    }
    confusions = {("conv1d", "none"): {"clean": np.array([[5, 1], [2, 4]]), "severity 3": np.array([[4, 2], [3, 3]])}}
    gallery = {"clean": np.zeros((50, 16)), "speed, severity 3": np.ones((50, 16))}
    written, problems = write_plots(
        tmp_path / "plots",
        corpus="toy / gender",
        rows=rows,
        baseline=0.5,
        histories=histories,
        confusions=confusions,
        class_names=["f", "m"],
        gallery=gallery,
        gallery_title="clip",
        hop_seconds=0.01,
    )
    assert problems == []
    assert sorted(p.name for p in written) == [
        "accuracy_vs_severity.png",
        "confusion_conv1d_none.png",
        "corruption_heatmap.png",
        "learning_curves.png",
        "spectrogram_gallery.png",
    ]
    assert all(p.is_file() and p.stat().st_size > 1000 for p in written)


def test_write_plots_reports_a_broken_figure_and_draws_the_rest(tmp_path):
    confusions = {("conv1d", "none"): {"clean": np.eye(3)}}  # three classes, two names
    written, problems = write_plots(tmp_path, corpus="toy", rows=_rows(), confusions=confusions, class_names=["f", "m"])
    assert [p.name for p in written] == ["accuracy_vs_severity.png", "corruption_heatmap.png"]
    assert len(problems) == 1 and problems[0].startswith("confusion_conv1d_none.png: ValueError")


def test_json_keeps_tiny_figures_and_rounds_the_others(tmp_path):
    write_json({"accuracy": 0.98263888, "difference": 1.4837e-08, "zero": 0.0}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {
        "accuracy": 0.982639,
        "difference": 1.4837e-08,
        "zero": 0.0,
    }
