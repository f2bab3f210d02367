"""Tables of a run: tidy CSV, JSON, and Markdown a person can read in ten seconds.

`table.csv` is long: one row per model × policy × seed × fold × corruption × severity. `table.md` leads
with one line per model × policy (clean, mean spoiled, worst corruption, mCE), then accuracy per
corruption, then every condition (corruptions as rows, models as columns, so it stays narrow).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

LONG_COLUMNS = ("model", "policy", "seed", "fold", "corruption", "severity", "accuracy", "balanced_accuracy", "n")
MODEL_KEY = ("model", "policy")


def write_long_table(rows: Sequence[Mapping], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LONG_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k, "")) for k in LONG_COLUMNS})


def read_long_table(path: Path) -> list[dict]:
    """Read `table.csv` back with numeric columns as numbers."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["severity"] = int(row["severity"])
        row["n"] = int(row["n"])
        row["accuracy"] = float(row["accuracy"])
        row["balanced_accuracy"] = float(row["balanced_accuracy"])
    return rows


def write_json(value, path: Path) -> None:
    path.write_text(json.dumps(_json_safe(value), indent=2, sort_keys=True) + "\n")


def _csv_value(value):
    return f"{value:.6f}" if isinstance(value, float) else value


def _json_safe(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A GitHub Markdown table; `align` is one letter per column (l or r), default: first left, rest right."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(map(str, headers)) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """`0.912` for one value, `0.912 ± 0.008` (sample sd) for several; `–` when there are none."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def _group(items: Sequence[Mapping], fields: Sequence[str]) -> dict[tuple, list[Mapping]]:
    groups: dict[tuple, list[Mapping]] = {}
    for item in items:
        groups.setdefault(tuple(item[f] for f in fields), []).append(item)
    return groups


def render_markdown(title: str, notes: Sequence[str], summaries: Sequence[Mapping], rows: Sequence[Mapping],
                    model_info: Mapping[tuple, Mapping]) -> str:
    """The text of `table.md`.

    Args:
        title: the heading.
        notes: lines printed under it (corpus, baseline, seeds, mCE reference, ...).
        summaries: per model × policy × seed × fold, from `evaluate.summarize` (plus seed and fold).
        rows: the long table.
        model_info: `(model, policy) -> {"params": int, "train_seconds": [float, ...]}`.
    """
    by_model = _group(summaries, MODEL_KEY)
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != "clean"))
    has_mce = any("mce" in s for s in summaries)

    headline_headers = ["model", "policy", "params", "train s", "clean", "mean spoiled", "worst corruption"]
    headline_headers += ["mCE"] if has_mce else []
    headline = []
    for (model, policy), group in by_model.items():
        info = model_info.get((model, policy), {})
        worst = _group(group, ("worst_corruption",))
        worst_name = max(worst, key=lambda k: len(worst[k]))[0] if worst else None
        worst_values = [s["per_corruption"].get(worst_name, float("nan")) for s in group] if worst_name else []
        line = [model, policy, _count(info.get("params")), mean_sd(info.get("train_seconds", []), 0),
                mean_sd([s["clean"] for s in group]), mean_sd([s["mean_spoiled"] for s in group]),
                f"{worst_name} ({mean_sd(worst_values)})" if worst_name else "–"]
        if has_mce:
            line.append(mean_sd([s.get("mce", float("nan")) for s in group], 2))
        headline.append(line)

    sections = [f"# {title}", "", *[f"- {n}" for n in notes], "",
                markdown_table(headline_headers, headline, align="ll" + "r" * (len(headline_headers) - 2))]
    if corruptions:
        per_corruption = [
            [model, policy] + [mean_sd([s["per_corruption"].get(c, float("nan")) for s in group]) for c in corruptions]
            for (model, policy), group in by_model.items()
        ]
        sections += ["", "## Accuracy per corruption (mean over severities)", "",
                     markdown_table(["model", "policy", *corruptions], per_corruption, align="ll" + "r" * len(corruptions))]
    columns = list(by_model)
    condition_rows = []
    for (corruption, severity), group in _group(rows, ("corruption", "severity")).items():
        cells = _group(group, MODEL_KEY)
        condition_rows.append([corruption, severity] + [mean_sd([r["accuracy"] for r in cells.get(k, [])]) for k in columns])
    sections += ["", "## Accuracy per condition", "",
                 markdown_table(["corruption", "severity", *[f"{m} / {p}" for m, p in columns]], condition_rows,
                                align="lr" + "r" * len(columns))]
    return "\n".join(sections) + "\n"


def _count(value) -> str:
    if value is None:
        return "–"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.0f}k" if value >= 1e3 else str(value)
