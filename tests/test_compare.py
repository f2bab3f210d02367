"""benchmarks/compare.py: differences between run folders, flagged when within the seed spread."""

import json
import sys
from pathlib import Path

import pytest

from keras_audio.suite.records import ResultRow
from keras_audio.suite.tables import write_long_table
from tests.benchmark_modules import load_benchmark


@pytest.fixture(scope="module")
def compare():
    yield load_benchmark("compare")
    sys.modules.pop("benchmarks_compare", None)


def _run(folder: Path, accuracies: dict, corpus="synthetic") -> Path:
    """A run folder whose table holds `accuracies[(model, seed)] = (clean, speed severity 1, speed severity 3)`."""
    rows = []
    for (model, seed), (clean, mild, strong) in accuracies.items():
        for corruption, severity, accuracy in (("clean", 0, clean), ("speed", 1, mild), ("speed", 3, strong)):
            rows.append(
                {
                    "model": model,
                    "policy": "none",
                    "seed": seed,
                    "fold": "",
                    "corruption": corruption,
                    "severity": severity,
                    "accuracy": accuracy,
                    "balanced_accuracy": accuracy,
                    "n": 10,
                    "ci_low": accuracy - 0.1,
                    "ci_high": min(1.0, accuracy + 0.1),
                }
            )
    folder.mkdir(parents=True)
    write_long_table([ResultRow(**row) for row in rows], folder / "table.csv")
    (folder / "metrics.json").write_text(json.dumps({"corpus": corpus, "task": "gender"}))
    return folder


def _line(text: str, model: str, condition: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == model and cells[2] == condition:
            return cells
    raise AssertionError(f"no row {model} {condition} in\n{text}")


def test_load_run_averages_severities_within_seeds(compare, tmp_path):
    run = compare.load_run(_run(tmp_path / "a", {("m", 0): (0.9, 0.8, 0.6), ("m", 1): (0.8, 0.7, 0.5)}))
    assert run.seeds == 2
    assert run.conditions == ["clean", "speed", "mean spoiled"]
    assert run.values[("m", "none", "speed")] == pytest.approx([0.7, 0.6])
    assert run.values[("m", "none", "mean spoiled")] == pytest.approx([0.7, 0.6])
    assert run.values[("m", "none", "clean")] == pytest.approx([0.9, 0.8])


def test_differences_within_the_seed_spread_are_flagged(compare, tmp_path):
    # model a: seeds spread by ~0.07, run 2 better by 0.01 (within) on clean, by 0.2 (beyond) on speed
    first = _run(tmp_path / "first", {("a", 0): (0.90, 0.60, 0.50), ("a", 1): (0.80, 0.60, 0.50)})
    second = _run(tmp_path / "second", {("a", 0): (0.91, 0.80, 0.70), ("a", 1): (0.81, 0.80, 0.70)})
    text = compare.compare([compare.load_run(first), compare.load_run(second)])
    clean = _line(text, "a", "clean")
    assert clean[3] == "0.850 ± 0.071" and clean[4] == "0.860 ± 0.071"
    assert clean[5] == "+0.010 ≈"
    assert _line(text, "a", "speed")[5] == "+0.200"
    assert "?" not in text.split("| model")[1]


def test_one_seed_each_flags_nothing_and_says_so(compare, tmp_path):
    first = _run(tmp_path / "first", {("a", 0): (0.9, 0.6, 0.5)})
    second = _run(tmp_path / "second", {("a", 0): (0.8, 0.6, 0.5), ("b", 0): (0.7, 0.6, 0.5)}, corpus="timit")
    text = compare.compare([compare.load_run(first), compare.load_run(second)])
    assert _line(text, "a", "clean")[5] == "-0.100 ?"
    assert _line(text, "b", "clean")[3] == "–" and _line(text, "b", "clean")[5] == "–"
    assert "no seed spread is known" in text
    assert "different corpora" in text


def test_main_prints_the_table_and_refuses_a_non_run(compare, tmp_path, capsys):
    first = _run(tmp_path / "first", {("a", 0): (0.9, 0.6, 0.5)})
    second = _run(tmp_path / "second", {("a", 0): (0.8, 0.6, 0.5)})
    assert compare.main([str(first), str(second), "--out", str(tmp_path / "diff.md")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Run comparison") and "Δ run 2 − run 1" in printed
    assert (tmp_path / "diff.md").read_text() == printed
    assert compare.main([str(first), str(tmp_path)]) == 2
    assert "no table.csv" in capsys.readouterr().err
