"""benchmarks/check_readme.py: the README's headline table against a run's metrics.json (synthetic runs, no
training)."""

import json
import sys
from pathlib import Path

import pytest

from tests.benchmark_modules import load_benchmark

HEADER = (
    "| model | policy | clean | clean, whole clip | mean spoiled (2 conditions) | worst corruption | mCE |\n"
    "| --- | --- | ---: | ---: | ---: | --- | ---: |\n"
)


@pytest.fixture(scope="module")
def check_readme():
    yield load_benchmark("check_readme")
    sys.modules.pop("benchmarks_check_readme", None)


def _summary(model: str, clean: float, speed: float, noise: float, mce: float) -> dict:
    return {
        "model": model,
        "policy": "none",
        "seed": 0,
        "fold": "",
        "clean": clean,
        "clean_balanced": clean,
        "clean_utterance": clean,
        "mean_spoiled": (speed + noise) / 2,
        "mean_spoiled_balanced": (speed + noise) / 2,
        "per_corruption": {"speed": speed, "white_noise": noise},
        "worst_corruption": "speed" if speed < noise else "white_noise",
        "worst_accuracy": min(speed, noise),
        "mce": mce,
    }


def _rows(model: str) -> list[dict]:
    return [
        {"model": model, "policy": "none", "seed": 0, "fold": "", "corruption": corruption, "severity": severity}
        for corruption, severity in (("clean", 0), ("speed", 3), ("white_noise", 3))
    ]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run folder whose metrics.json holds two models, one condition each of two corruptions."""
    folder = tmp_path / "run"
    folder.mkdir()
    metrics = {
        "summaries": [_summary("conv1d", 0.99951, 0.8124, 0.9, 1.0), _summary("ge2e", 0.979, 0.736, 0.95, 0.714)],
        "rows": _rows("conv1d") + _rows("ge2e"),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def _readme(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"# x\n\n<!-- headline-table:start -->\n{HEADER}{body}<!-- headline-table:end -->\n")
    return path


MATCHING = (
    "| conv1d | none | 1.000 | 1.000 | 0.856 | speed (0.812) | 1.00 |\n"
    "| ge2e | none | 0.979 | 0.979 | 0.843 | speed (0.736) | 0.71 |\n"
)


def test_a_table_rounded_from_the_run_passes(check_readme, tmp_path, run, capsys):
    assert check_readme.main([str(run), "--readme", str(_readme(tmp_path, MATCHING))]) == 0
    assert "matches" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, named",
    [
        (("0.843", "0.844"), "ge2e / none, mean spoiled (2 conditions): README 0.844, run 0.843"),
        (("speed (0.736)", "white_noise (0.950)"), "ge2e / none, worst corruption"),
        (("0.71 |", "0.72 |"), "ge2e / none, mCE: README 0.72, run 0.71"),
        (("(2 conditions)", "(3 conditions)"), "README 3 spoiled conditions, run 2"),
    ],
)
def test_a_figure_that_differs_fails_naming_it(check_readme, tmp_path, run, capsys, edit, named):
    readme = _readme(tmp_path, MATCHING)
    readme.write_text(readme.read_text().replace(*edit))
    assert check_readme.main([str(run), "--readme", str(readme)]) == 1
    assert named in capsys.readouterr().out


def test_a_row_missing_from_the_readme_or_the_run_fails(check_readme, tmp_path, run, capsys):
    only_conv1d = MATCHING.splitlines(keepends=True)[0]
    assert check_readme.main([str(run), "--readme", str(_readme(tmp_path, only_conv1d))]) == 1
    assert "the run has ge2e / none, the README's table does not" in capsys.readouterr().out
    extra = MATCHING + "| conv2d | none | 1.000 | 1.000 | 0.900 | speed (0.800) | 0.90 |\n"
    assert check_readme.main([str(run), "--readme", str(_readme(tmp_path, extra))]) == 1
    assert "the README's table has conv2d / none, the run does not" in capsys.readouterr().out


def test_an_unknown_column_or_missing_markers_are_user_errors(check_readme, tmp_path, run, capsys):
    readme = _readme(tmp_path, MATCHING)
    readme.write_text(readme.read_text().replace("| mCE |", "| params |"))
    assert check_readme.main([str(run), "--readme", str(readme)]) == 2
    assert "'params'" in capsys.readouterr().err
    readme.write_text("# x\n\n" + HEADER + MATCHING)
    assert check_readme.main([str(run), "--readme", str(readme)]) == 2
    assert "headline-table:start" in capsys.readouterr().err
    assert check_readme.main([str(tmp_path / "nowhere"), "--readme", str(readme)]) == 2
    assert "no metrics.json in" in capsys.readouterr().err


def test_the_repository_readme_has_a_checkable_headline_table(check_readme):
    header, rows = check_readme.headline_table(check_readme.REPO.joinpath("README.md").read_text(encoding="utf-8"))
    assert header[:2] == ["model", "policy"] and rows
    assert all(name in check_readme.COLUMNS or check_readme.CONDITIONS_HEADER.match(name) for name in header[2:])
