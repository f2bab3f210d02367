"""Compare run folders: a Markdown table of accuracy differences per model × policy × test condition.

    python benchmarks/compare.py results/RUN_A results/RUN_B [results/RUN_C ...]

Each run's accuracy per model × policy × condition (clean, each corruption averaged over its severities, and
the mean over all spoiled conditions) is the mean over its training seeds (severities and cross-validation
folds are averaged within each seed first). Later runs are compared with the first: Δ = run − first run.

Seed spread: the sample standard deviation of that accuracy over training seeds, within a run. A difference
no larger than the seed spread is flagged "≈" (no better than retraining with another seed). The spread used
is the larger of the two runs' spreads; a run with one seed has none, and when neither run has two or more
seeds nothing is flagged and the table says that no spread is known (run them with `--seeds 3`). The
speaker-bootstrap intervals of the runs are in each run's table.md; they measure the test set's sampling,
not the training noise, so they are not used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_audio.statistics import per_seed_values, seed_spread  # noqa: E402
from keras_audio.suite.tables import markdown_table, read_long_table  # noqa: E402

CLEAN = "clean"
MEAN_SPOILED = "mean spoiled"
NEAR = "≈"


@dataclass
class Run:
    """One run folder's accuracies: `(model, policy, condition) -> one value per seed`."""

    path: Path
    name: str
    corpus: str
    task: str
    seeds: int
    values: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)
    severities: list[int] = field(default_factory=list)


def load_run(path: str | Path, metric: str = "accuracy") -> Run:
    """Read a run folder's `table.csv` (and `metrics.json` for the corpus) and aggregate it.

    Raises:
        ValueError: the folder has no table.csv.
    """
    path = Path(path)
    table = path / "table.csv"
    if not table.is_file():
        raise ValueError(f"{path}: no table.csv; is it a run folder (results/<run>)?")
    # Mappings for `per_seed_values`; the policy as the tables show it.
    rows = [
        {**r.metrics(), "policy": r.policy_label, "test_corpus": r.test_corpus or ""} for r in read_long_table(table)
    ]
    # The run's own test set only: rows of other corpora (--test-corpus) are not the same conditions.
    rows = [r for r in rows if r.get("test_corpus", "") == rows[0].get("test_corpus", "")] if rows else rows
    metrics_file = path / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != CLEAN))
    values = per_seed_values(rows, ("model", "policy", "corruption"), metric)
    spoiled = per_seed_values([r for r in rows if r["corruption"] != CLEAN], ("model", "policy"), metric)
    values.update({(model, policy, MEAN_SPOILED): v for (model, policy), v in spoiled.items()})
    return Run(
        path=path,
        name=path.name,
        corpus=metrics.get("corpus", "?"),
        task=metrics.get("task", "?"),
        seeds=len({r["seed"] for r in rows}),
        values=values,
        conditions=[CLEAN, *corruptions, MEAN_SPOILED] if corruptions else [CLEAN],
        severities=sorted({r["severity"] for r in rows if r["corruption"] != CLEAN}),
    )


def _cell(values: list[float] | None) -> str:
    if not values:
        return "–"
    spread = seed_spread(values)
    return f"{np.mean(values):.3f}" + ("" if spread is None else f" ± {spread:.3f}")


def difference(first: list[float] | None, other: list[float] | None) -> tuple[float | None, bool | None]:
    """`(other − first, no larger than the seed spread?)`; the flag is None when no spread is known."""
    if not first or not other:
        return None, None
    delta = float(np.mean(other) - np.mean(first))
    spreads = [s for s in (seed_spread(first), seed_spread(other)) if s is not None]
    return delta, (abs(delta) <= max(spreads)) if spreads else None


def compare(runs: Sequence[Run], metric: str = "accuracy") -> str:
    """The Markdown report: the runs, then one table row per model × policy × condition of `metric`."""
    if len(runs) < 2:
        raise ValueError("compare: give at least two run folders")
    keys = list(dict.fromkeys((m, p) for run in runs for (m, p, _) in run.values))
    conditions = list(dict.fromkeys(c for run in runs for c in run.conditions))
    conditions = [CLEAN] + [c for c in conditions if c not in (CLEAN, MEAN_SPOILED)] + [MEAN_SPOILED]
    labels = [f"run {i + 1}" for i in range(len(runs))]
    headers = ["model", "policy", "condition", *labels, *[f"Δ {label} − run 1" for label in labels[1:]]]
    lines, flagged, unknown = [], 0, 0
    for model, policy in keys:
        for condition in conditions:
            cells = [run.values.get((model, policy, condition)) for run in runs]
            if not any(cells):
                continue
            deltas = []
            for other in cells[1:]:
                delta, near = difference(cells[0], other)
                if delta is None:
                    deltas.append("–")
                    continue
                flagged += bool(near)
                unknown += near is None
                deltas.append(f"{delta:+.3f}" + (f" {NEAR}" if near else "") + (" ?" if near is None else ""))
            lines.append([model, policy, condition, *map(_cell, cells), *deltas])
    notes = [
        f"- run {i + 1}: `{run.path}` — {run.corpus} / {run.task}, {run.seeds} training seed(s), "
        f"severities {run.severities}"
        for i, run in enumerate(runs)
    ]
    notes.append(
        f"- cells: {metric}, mean over training seeds (± sd over seeds when there are several); "
        'corruptions averaged over their severities; "mean spoiled" averages every spoiled condition'
    )
    notes.append(
        f"- {NEAR}: the difference is no larger than the seed spread (the larger sd over seeds of the two runs), "
        "i.e. within training noise"
    )
    if unknown:
        notes.append(
            "- ?: no seed spread is known (both runs have one seed), so the difference is not judged; "
            "rerun with `--seeds 3`"
        )
    if len({(run.corpus, run.task) for run in runs}) > 1:
        notes.append("- **the runs are on different corpora or tasks**: differences compare different test sets")
    if len({tuple(run.severities) for run in runs}) > 1:
        notes.append("- **the runs evaluated different severities**: corruption means are not like for like")
    title = "# Run comparison"
    table = markdown_table(headers, lines, align="lll" + "r" * (len(headers) - 3))
    return "\n".join([title, "", *notes, "", table]) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (results/<run>); the first is the base")
    parser.add_argument(
        "--metric",
        choices=("accuracy", "balanced_accuracy"),
        default="accuracy",
        help="which column of table.csv to compare (default accuracy)",
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(args.runs) < 2:
        print("compare.py: give at least two run folders", file=sys.stderr)
        return 2
    try:
        runs = [load_run(path, args.metric) for path in args.runs]
    except ValueError as error:
        print(f"compare.py: {error}", file=sys.stderr)
        return 2
    text = compare(runs, args.metric)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
