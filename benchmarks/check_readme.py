"""Check the README's headline table against a run folder's metrics.json.

    python benchmarks/check_readme.py results/readme-default            # the README of this checkout
    python benchmarks/check_readme.py results/readme-default --readme other/README.md

The table between the README's `<!-- headline-table:start -->` and `<!-- headline-table:end -->` comments must
show, row for row, what the run measured: the same model × policy rows, each figure equal to the run's once
rounded as the README rounds it (accuracies to 3 digits, mCE to 2), the same worst corruption and the same
number of spoiled conditions. Exit code 0 when they agree, 1 with one line per difference, 2 for a missing file
or a table this script cannot read. Reads only JSON and Markdown: no TensorFlow, no keras_audio import.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = "<!-- headline-table:start -->"
END = "<!-- headline-table:end -->"
CLEAN = "clean"


class ReadmeError(ValueError):
    """A README or run folder that cannot be checked (a user error: one line, exit code 2)."""


def _mean(values: Sequence[float]) -> float:
    """The mean over seeds and folds, as the run's own table shows it (NaN when nothing is there)."""
    values = [float(v) for v in values if v is not None]
    return math.fsum(values) / len(values) if values else float("nan")


def _rounded(digits: int) -> Callable[[float], str]:
    return lambda value: "nan" if math.isnan(value) else f"{value:.{digits}f}"


def _summary_field(field: str, digits: int = 3) -> Callable[[Sequence[Mapping], Sequence[Mapping]], str]:
    return lambda summaries, rows: _rounded(digits)(_mean([s.get(field, float("nan")) for s in summaries]))


def _worst(summaries: Sequence[Mapping], rows: Sequence[Mapping]) -> str:
    # The run's table names the corruption most seeds call worst, with its accuracy averaged over seeds.
    names = [s["worst_corruption"] for s in summaries if s.get("worst_corruption")]
    if not names:
        return "–"
    name = max(dict.fromkeys(names), key=names.count)
    value = _mean([s["per_corruption"].get(name, float("nan")) for s in summaries])
    return f"{name} ({_rounded(3)(value)})"


def _conditions(rows: Sequence[Mapping]) -> int:
    return len({(r["corruption"], r["severity"]) for r in rows if r["corruption"] != CLEAN})


# README column header -> how to compute that cell from one model × policy's summaries and metric rows.
# A header not listed here is refused, so a new column cannot pass unchecked.
COLUMNS: dict[str, Callable[[Sequence[Mapping], Sequence[Mapping]], str]] = {
    "clean": _summary_field("clean"),
    "clean balanced": _summary_field("clean_balanced"),
    "clean, whole clip": _summary_field("clean_utterance"),
    "mean spoiled": _summary_field("mean_spoiled"),
    "spoiled balanced": _summary_field("mean_spoiled_balanced"),
    "worst corruption": _worst,
    "mCE": _summary_field("mce", 2),
}
CONDITIONS_HEADER = re.compile(r"^mean spoiled \((\d+) conditions\)$")


def headline_table(readme_text: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the Markdown table between the README's headline markers.

    Raises:
        ReadmeError: no markers, or no table between them.
    """
    if START not in readme_text or END not in readme_text:
        raise ReadmeError(f"the README has no {START} … {END} block")
    block = readme_text.split(START, 1)[1].split(END, 1)[0]
    lines = [line.strip() for line in block.splitlines() if line.strip().startswith("|")]
    if len(lines) < 3:
        raise ReadmeError("the README's headline block holds no Markdown table with at least one row")
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]


def compare(readme_text: str, metrics: Mapping) -> list[str]:
    """Every difference between the README's headline table and a run's metrics, one line each ([] = equal).

    Raises:
        ReadmeError: a column this checker does not know, or a table without model and policy columns.
    """
    header, rows = headline_table(readme_text)
    if header[:2] != ["model", "policy"]:
        raise ReadmeError(f"the headline table must start with the columns model, policy, not {header[:2]}")
    for name in header[2:]:
        if name not in COLUMNS and not CONDITIONS_HEADER.match(name):
            raise ReadmeError(f"the headline table has a column this check does not know: {name!r}")
    summaries = metrics.get("summaries", [])
    metric_rows = metrics.get("rows", [])
    keys = list(dict.fromkeys((s["model"], s["policy"]) for s in summaries))
    problems = []
    shown = [(row[0], row[1]) for row in rows]
    for key in keys:
        if key not in shown:
            problems.append(f"the run has {key[0]} / {key[1]}, the README's table does not")
    for row in rows:
        key = (row[0], row[1])
        if len(row) != len(header):
            problems.append(f"{key[0]} / {key[1]}: {len(row)} cells for {len(header)} columns")
            continue
        if key not in keys:
            problems.append(f"the README's table has {key[0]} / {key[1]}, the run does not")
            continue
        mine = [s for s in summaries if (s["model"], s["policy"]) == key]
        mine_rows = [r for r in metric_rows if (r["model"], r["policy"]) == key]
        for name, cell in zip(header[2:], row[2:]):
            conditions = CONDITIONS_HEADER.match(name)
            compute = COLUMNS["mean spoiled"] if conditions else COLUMNS[name]
            expected = compute(mine, mine_rows)
            if cell != expected:
                problems.append(f"{key[0]} / {key[1]}, {name}: README {cell}, run {expected}")
            if conditions and int(conditions.group(1)) != _conditions(mine_rows):
                problems.append(
                    f"{key[0]} / {key[1]}: README {conditions.group(1)} spoiled conditions, "
                    f"run {_conditions(mine_rows)}"
                )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder (results/<run>) holding metrics.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md", help="the README (default: this checkout's)")
    args = parser.parse_args(argv)
    try:
        metrics_path = args.run / "metrics.json"
        if not metrics_path.is_file():
            raise ReadmeError(f"no metrics.json in {args.run}")
        if not args.readme.is_file():
            raise ReadmeError(f"no README at {args.readme}")
        metrics = json.loads(metrics_path.read_text())
        problems = compare(args.readme.read_text(encoding="utf-8"), metrics)
    except (ReadmeError, json.JSONDecodeError) as error:
        print(f"check_readme: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} difference(s) between {args.readme.name}'s headline table and {metrics_path}")
        return 1
    print(f"{args.readme.name}'s headline table matches {metrics_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
