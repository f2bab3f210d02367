"""Tables of a run: tidy CSV, JSON, and Markdown a person can read in ten seconds.

`table.csv` is long: one row per model × policy × seed × fold × corruption × severity, with the accuracy's
95 % interval from a bootstrap over test speakers (`ci_low`, `ci_high`). `table.md` leads with one line per
model × policy (clean and mean spoiled accuracy with their intervals and balanced accuracies, worst
corruption, whether the model beats the majority-class baseline, mCE), then accuracy per corruption, then
every condition (corruptions as rows, models as columns, so twenty corruptions stay narrow). Balanced
accuracy stands beside accuracy everywhere: on an unbalanced test set a model that answers one class scores
the majority share, and only the balanced figure (chance) and the `≤ majority` mark give it away.

With several training seeds a cell reads `mean ± sd` over seeds (folds of a cross-validation are averaged
within each seed first, so the sd is the spread over seeds only). `write_plots` draws the run's figures.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_audio.suite.records import HeldOutFigures, HeldOutRow, HeldOutSummary, ResultRow
from keras_audio.suite.results import ModelKey

LONG_COLUMNS = (
    "model",
    "policy",
    "seed",
    "fold",
    "corruption",
    "severity",
    "accuracy",
    "balanced_accuracy",
    "n",
    "ci_low",
    "ci_high",
    "test_corpus",
)
_VARIANT_COLUMNS = ("pairs", "mixup")  # written only when a row has them (`ResultRow.policy_label`)
MODEL_KEY = ("model", "policy")


def write_long_table(rows: Sequence[ResultRow], path: Path) -> None:
    """`table.csv`: the `LONG_COLUMNS` of each row, then ``pairs`` and ``mixup`` when a row has them."""
    extra = [c for c in _VARIANT_COLUMNS if any(getattr(r, c) for r in rows)]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*LONG_COLUMNS, *extra], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: _csv_value("" if getattr(row, k) is None else getattr(row, k)) for k in [*LONG_COLUMNS, *extra]}
            )


def read_long_table(path: Path) -> list[ResultRow]:
    """Read `table.csv` back (a missing interval as NaN).

    Raises:
        ValueError: the file lacks a column of `LONG_COLUMNS` (intervals and test_corpus excepted: older runs
            have none), or a cell is not a number where one belongs (naming the line and column).
    """
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        optional = ("ci_low", "ci_high", "test_corpus")
        missing = [c for c in LONG_COLUMNS if c not in (reader.fieldnames or ()) and c not in optional]
        if missing:
            raise ValueError(f"{path}: not a long results table, missing column(s) {missing}")
        cells = list(reader)
    rows = []
    for line, cell in enumerate(cells, start=2):
        try:
            key = ModelKey.from_label(cell["model"], cell["policy"], int(cell["seed"]), cell["fold"])
            rows.append(
                ResultRow(
                    key.model,
                    key.policy,
                    key.seed,
                    key.fold,
                    cell["corruption"],
                    int(cell["severity"]),
                    _float(cell["accuracy"]),
                    _float(cell["balanced_accuracy"]),
                    int(cell["n"]),
                    _float(cell.get("ci_low")),
                    _float(cell.get("ci_high")),
                    cell.get("test_corpus"),
                    cell.get("pairs") or key.pairs,
                    _float(cell.get("mixup")) if cell.get("mixup") else key.mixup,
                )
            )
        except ValueError as error:
            raise ValueError(f"{path}: line {line}: not a number ({error})") from None
    return rows


def _float(text: str | None) -> float:
    return float(text) if text not in ("", None) else float("nan")


def write_json(value, path: Path) -> None:
    path.write_text(json.dumps(_json_safe(value), indent=2, sort_keys=True) + "\n")


def _csv_value(value):
    return f"{value:.6f}" if isinstance(value, float) else value


def _json_safe(value):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        # Six decimals for accuracies and the like; tiny figures (an export's largest difference, 1e-7) keep
        # six significant digits instead of becoming 0.
        return round(value, 6) if value == 0 or abs(value) >= 1e-4 else float(f"{value:.6g}")
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


def _item(item: Mapping, field: str):
    return item[field]


def _group(items: Sequence, fields: Sequence[str], field=_item) -> dict[tuple, list]:
    """`items` by their values of `fields` (`field(item, name)` reads one: `getattr` for records)."""
    groups: dict[tuple, list] = {}
    for item in items:
        groups.setdefault(tuple(field(item, f) for f in fields), []).append(item)
    return groups


def _per_seed(items: Sequence, value, field=_item) -> list[float]:
    """One number per seed: `value(item)` averaged over the seed's items (its folds)."""
    seeds: dict = {}
    for item in items:
        number = value(item)
        if number is not None and not (isinstance(number, float) and math.isnan(number)):
            seeds.setdefault(field(item, "seed"), []).append(number)
    return [float(np.mean(v)) for v in seeds.values()]


def interval_text(interval: Sequence[float] | None, digits: int = 3) -> str:
    """`0.871–0.944`, or `–` when unknown."""
    if interval is None or any(v is None or math.isnan(v) for v in interval):
        return "–"
    return f"{interval[0]:.{digits}f}–{interval[1]:.{digits}f}"


NOT_REPORTED = "—"  # a figure withheld on purpose (the reason in a note), unlike "–", a figure not measured


def accuracy_cell(accuracies: Sequence[float], balanced: Sequence[float]) -> str:
    """`0.912 (0.870)`: accuracy, then balanced accuracy in brackets (each `mean_sd`); accuracy alone when no
    balanced accuracy is known."""
    text = mean_sd(balanced)
    return mean_sd(accuracies) + ("" if text == "–" else f" ({text})")


def majority_mark(flags: Sequence[bool]) -> str:
    """The `≤ majority` cell of a model × policy: ``yes``, ``no``, or ``2 of 3`` runs (seeds × folds)."""
    if not flags:
        return "–"
    count = sum(bool(f) for f in flags)
    return "no" if count == 0 else "yes" if count == len(flags) else f"{count} of {len(flags)}"


def render_markdown(
    title: str,
    notes: Sequence[str],
    summaries: Sequence[Mapping],
    rows: Sequence[ResultRow],
    model_info: Mapping[tuple, Mapping],
    intervals: Mapping[tuple, Mapping[str, Sequence[float]]] | None = None,
) -> str:
    """The text of `table.md`.

    Args:
        title: the heading.
        notes: lines printed under it (corpus, baseline, seeds, mCE reference, ...).
        summaries: per model × policy × seed × fold, from `grid.summarize` (plus seed and fold); with
            `majority`, the table marks the models that do not beat it and shows no mCE for them.
        rows: the long table (its rows give each policy's label, `ResultRow.policy_label`).
        model_info: `(model, policy) -> {"params": int, "train_seconds": [float, ...]}`.
        intervals: `(model, policy) -> {"clean": (low, high), "mean_spoiled": (low, high)}`, the 95 % speaker
            bootstrap intervals of the headline accuracies; None leaves the interval columns out.
    """
    labels = {(r.model, r.policy): r.policy_label for r in rows}
    rows = [r.metrics() for r in rows]
    by_model = _group(summaries, MODEL_KEY)
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != "clean"))
    has_mce = any("mce" in s for s in summaries)
    has_majority = any("at_or_below_majority" in s for s in summaries)

    has_utterance = any("clean_utterance" in s for s in summaries)
    headline_headers = ["model", "policy", "params", "train s", "clean"]
    headline_headers += ["95% CI"] if intervals is not None else []
    headline_headers += ["clean balanced"]
    headline_headers += ["clean, whole clip"] if has_utterance else []
    headline_headers += ["mean spoiled"] + (["95% CI"] if intervals is not None else []) + ["spoiled balanced"]
    headline_headers += ["worst corruption"]
    headline_headers += ["≤ majority"] if has_majority else []
    headline_headers += ["mCE"] if has_mce else []
    headline, flagged, withheld = [], [], {}
    for (model, policy), group in by_model.items():
        info = model_info.get((model, policy), {})
        worst = _group(group, ("worst_corruption",))
        worst_name = max(worst, key=lambda k: len(worst[k]))[0] if worst else None
        worst_values = (
            _per_seed(group, lambda s, name=worst_name: s["per_corruption"].get(name, float("nan")))
            if worst_name
            else []
        )
        bounds = (intervals or {}).get((model, policy), {})
        line = [
            model,
            labels.get((model, policy), policy),
            _count(info.get("params")),
            mean_sd(info.get("train_seconds", []), 0),
            mean_sd(_per_seed(group, lambda s: s["clean"])),
        ]
        line += [interval_text(bounds.get("clean"))] if intervals is not None else []
        line += [mean_sd(_per_seed(group, lambda s: s.get("clean_balanced", float("nan"))))]
        if has_utterance:
            line.append(mean_sd(_per_seed(group, lambda s: s.get("clean_utterance", float("nan")))))
        line += [mean_sd(_per_seed(group, lambda s: s["mean_spoiled"]))]
        line += [interval_text(bounds.get("mean_spoiled"))] if intervals is not None else []
        line += [mean_sd(_per_seed(group, lambda s: s.get("mean_spoiled_balanced", float("nan"))))]
        line += [f"{worst_name} ({mean_sd(worst_values)})" if worst_name else "–"]
        if has_majority:
            marks = [s["at_or_below_majority"] for s in group if "at_or_below_majority" in s]
            line.append(majority_mark(marks))
            if any(marks):
                flagged.append((model, policy))
        if has_mce:
            reasons = [s["mce_withheld"] for s in group if s.get("mce_withheld")]
            if reasons:
                withheld[(model, policy)] = reasons[0]
            line.append(NOT_REPORTED if reasons else mean_sd(_per_seed(group, lambda s: s.get("mce", float("nan"))), 2))
        headline.append(line)

    sections = [
        f"# {title}",
        "",
        *[f"- {n}" for n in notes],
        "",
        markdown_table(headline_headers, headline, align="ll" + "r" * (len(headline_headers) - 2)),
    ]
    footnotes = []
    if flagged:
        majority = sorted({f"{s['majority']:.3f}" for s in summaries if "majority" in s})
        footnotes.append(
            f"≤ majority: the clean accuracy of "
            f"{', '.join(f'{m} / {labels.get((m, p), p)}' for m, p in flagged)} is at or below the "
            f"test set's majority-class baseline ({', '.join(majority)}): answering the most frequent class does as "
            f"well, so its accuracies, clean or spoiled, say nothing about what it hears (its balanced accuracy "
            f"is the honest figure; chance is 1 / classes)."
        )
    if withheld:
        footnotes.append(
            f"mCE {NOT_REPORTED}: not reported for "
            + "; ".join(f"{m} / {labels.get((m, p), p)} ({reason})" for (m, p), reason in withheld.items())
            + ". A model that does not beat the majority class errs about as often on spoiled audio as on clean, "
            "so its mCE would rank it among the most robust."
        )
    if footnotes:
        sections += ["", *[f"- {n}" for n in footnotes]]
    columns = list(by_model)
    if corruptions:
        per_corruption = [
            [c]
            + [
                accuracy_cell(
                    _per_seed(by_model[k], lambda s, c=c: s["per_corruption"].get(c, float("nan"))),
                    _per_seed(by_model[k], lambda s, c=c: s.get("per_corruption_balanced", {}).get(c, float("nan"))),
                )
                for k in columns
            ]
            for c in corruptions
        ]
        sections += [
            "",
            "## Accuracy per corruption (mean over severities)",
            "",
            "Each cell: accuracy (balanced accuracy).",
            "",
            markdown_table(["corruption", *[f"{m} / {labels.get((m, p), p)}" for m, p in columns]], per_corruption),
        ]
    condition_rows = []
    for (corruption, severity), group in _group(rows, ("corruption", "severity")).items():
        cells = _group(group, MODEL_KEY)
        condition_rows.append(
            [corruption, severity]
            + [
                accuracy_cell(
                    _per_seed(cells.get(k, []), lambda r: r["accuracy"]),
                    _per_seed(cells.get(k, []), lambda r: r.get("balanced_accuracy", float("nan"))),
                )
                for k in columns
            ]
        )
    sections += [
        "",
        "## Accuracy per condition",
        "",
        "Each cell: accuracy (balanced accuracy).",
        "",
        markdown_table(
            ["corruption", "severity", *[f"{m} / {labels.get((m, p), p)}" for m, p in columns]],
            condition_rows,
            align="lr" + "r" * len(columns),
        ),
    ]
    return "\n".join(sections) + "\n"


def _count(value) -> str:
    if value is None:
        return "–"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.0f}k" if value >= 1e3 else str(value)


def write_plots(
    folder: Path,
    *,
    corpus: str,
    rows: Sequence[ResultRow],
    baseline: float | None = None,
    histories: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    confusions: Mapping[tuple[str, str], Mapping[str, np.ndarray]] | None = None,
    class_names: Sequence[str] = (),
    gallery: Mapping[str, np.ndarray] | None = None,
    gallery_title: str = "",
    hop_seconds: float = 0.01,
    mel_frequencies: Sequence[float] | None = None,
) -> tuple[list[Path], list[str]]:
    """Draw every figure of a run into `folder` (`plots/` of the run folder).

    Each figure is drawn on its own: one that fails is reported in the returned problems (the caller logs
    and records them) and the others are still written.

    Args:
        folder: where the PNGs go.
        corpus: names the data in the titles (``synthetic / gender``).
        rows: the long table.
        baseline: the majority-class accuracy of the test set.
        histories: label -> Keras history, for the learning curves.
        confusions: (model, policy) -> panel title -> confusion counts.
        class_names: in label-id order.
        gallery: panel title -> log-mel `[frames, mels]` of one test clip, clean and spoiled.
        gallery_title: the gallery's title.
        hop_seconds, mel_frequencies: the gallery's axes.

    Returns:
        `(written PNG paths, problems)`.
    """
    from keras_audio import plots

    labels = {(r.model, r.policy): r.policy_label for r in rows}
    rows = [{**r.metrics(), "policy": r.policy_label} for r in rows]  # the plots show the policies' labels
    folder = Path(folder)
    jobs = [
        (
            "accuracy_vs_severity.png",
            lambda path: plots.accuracy_vs_severity(rows, path, corpus=corpus, baseline=baseline),
        ),
        ("corruption_heatmap.png", lambda path: plots.corruption_heatmap(rows, path, corpus=corpus, baseline=baseline)),
    ]
    for (model, policy), matrices in (confusions or {}).items():
        policy = labels.get((model, policy), policy)
        own = [r for r in rows if (r["model"], r["policy"]) == (model, policy)]
        seeds, folds = len({r["seed"] for r in own}), len({r["fold"] for r in own})
        parts = [f"{seeds} training seeds"] * (seeds > 1) + [f"{folds} folds"] * (folds > 1)
        pooled = f"\n(counts summed over {' × '.join(parts)})" if parts else ""
        jobs.append(
            (
                f"confusion_{_file_part(model)}_{_file_part(policy)}.png",
                lambda path, x=matrices, t=f"Confusion matrices of {model} / {policy} — {corpus}{pooled}": (
                    plots.confusion_matrices(x, class_names, path, title=t)
                ),
            )
        )
    if gallery:
        jobs.append(
            (
                "spectrogram_gallery.png",
                lambda path: plots.spectrogram_gallery(
                    gallery, path, title=gallery_title, hop_seconds=hop_seconds, mel_frequencies=mel_frequencies
                ),
            )
        )
    if histories:
        jobs.append(("learning_curves.png", lambda path: plots.learning_curves(histories, path, corpus=corpus)))
    written, problems = [], []
    for name, draw in jobs:
        try:
            written.append(draw(folder / name))
        except Exception as error:  # one broken figure must not cost the run its other results
            problems.append(f"{name}: {type(error).__name__}: {error}")
    return written, problems


def _file_part(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in str(text))


# ------------------------------------------------------------------------------------- held-out families
HELDOUT_DEFINITION = (
    "For a model trained with `suite-minus:F` (the suite without family F's corruptions), `held out` is its "
    "accuracy on family F's conditions (the mean over F's evaluated corruptions × severities) and `trained on` "
    "the same model family's accuracy under policy `suite` (which trained on F) on the same conditions. "
    "CE held out (F) = the `suite-minus:F` model's errors summed over F's conditions / the reference model's "
    "errors summed over the same conditions (the reference's averaged over its seeds and folds); CE trained on "
    "(F) likewise for the `suite` model. mCE on held-out families = the mean of CE held out over the families "
    "(1.00 = as robust as the reference trained clean; lower is better): robustness to corruptions never "
    "trained on. A family on whose conditions the reference errs on under {threshold:.0%} of clips is left "
    "out of both mCEs (a ratio against one or two wrong clips is noise)."
)


def heldout_results(
    rows: Sequence[ResultRow],
    held_out: Mapping[str, tuple[str, str]],
    families: Mapping[str, Sequence[str]],
    reference: tuple[str, str] | None,
    min_reference_error: float,
) -> HeldOutFigures | None:
    """The "trained with / held out" figures of a run, from its long rows; None when no policy holds out.

    Args:
        rows: the in-domain long table.
        held_out: each held-out policy of the run -> `(family, trained-on policy)`, e.g.
            ``{"suite-minus:band": ("band", "suite")}`` (`corruptions.policy.held_out_family`, `trained_on_policy`).
        families: family -> its corruption names (`corruptions.registry.families()`).
        reference: the (model, policy) the CEs divide by (the run's mCE reference); None: no CE, no mCE.
        min_reference_error: a family whose reference error per condition is below this is left out of mCE.

    Returns:
        the families with their evaluated corruptions, one `HeldOutRow` per model × held-out policy × seed ×
        fold, one `HeldOutSummary` per model × trained-on policy × seed × fold.
    """
    if not held_out:
        return None
    cells: dict[tuple, dict[str, list[float]]] = {}  # (model, policy, seed, fold) -> corruption -> accuracies
    balanced_cells: dict[tuple, dict[str, list[float]]] = {}  # the same, balanced accuracies
    for row in rows:
        key = (row.model, row.policy, row.seed, row.fold)
        cells.setdefault(key, {}).setdefault(row.corruption, []).append(row.accuracy)
        balanced_cells.setdefault(key, {}).setdefault(row.corruption, []).append(row.balanced_accuracy)
    evaluated = {c for corruptions in cells.values() for c in corruptions}
    used = {family for family, _ in held_out.values()}
    family_conditions = {f: [c for c in families.get(f, ()) if c in evaluated] for f in families if f in used}
    family_conditions = {f: c for f, c in family_conditions.items() if c}

    def accuracies(key: tuple, family: str, table: Mapping = cells) -> list[float]:
        return [a for c in family_conditions[family] for a in table.get(key, {}).get(c, [])]

    def clean(key: tuple, table: Mapping = cells) -> float:
        values = table.get(key, {}).get("clean", [])
        return float(np.mean(values)) if values else float("nan")

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    reference_errors: dict[str, float] = {}
    excluded: list[str] = []
    if reference is not None:
        runs = [key for key in cells if key[:2] == tuple(reference)]
        for family in family_conditions:
            per_run = [accuracies(key, family) for key in runs]
            per_run = [values for values in per_run if values]
            if not per_run:
                continue
            error = float(np.mean([sum(1.0 - a for a in values) for values in per_run]))
            if error < min_reference_error * float(np.mean([len(values) for values in per_run])):
                excluded.append(family)
            else:
                reference_errors[family] = error

    def ce(values: list[float], family: str) -> float | None:
        if family not in reference_errors or not values:
            return None
        return sum(1.0 - a for a in values) / reference_errors[family]

    out_rows = []
    for model, policy, seed, fold in cells:
        if policy not in held_out:
            continue
        family, trained_policy = held_out[policy]
        if family not in family_conditions:
            continue
        held_key, trained_key = (model, policy, seed, fold), (model, trained_policy, seed, fold)
        mine, theirs = accuracies(held_key, family), accuracies(trained_key, family)
        out_rows.append(
            HeldOutRow(
                model=model,
                policy=policy,
                trained_on_policy=trained_policy,
                family=family,
                corruptions=tuple(family_conditions[family]),
                seed=seed,
                fold=fold,
                clean_held_out=clean(held_key),
                held_out=mean(mine),
                clean_trained_on=clean(trained_key),
                trained_on=mean(theirs),
                clean_held_out_balanced=clean(held_key, balanced_cells),
                held_out_balanced=mean(accuracies(held_key, family, balanced_cells)),
                clean_trained_on_balanced=clean(trained_key, balanced_cells),
                trained_on_balanced=mean(accuracies(trained_key, family, balanced_cells)),
                ce_held_out=ce(mine, family),
                ce_trained_on=ce(theirs, family),
            )
        )
    summaries = []
    for (model, trained_policy, seed, fold), group in _group(
        out_rows, ("model", "trained_on_policy", "seed", "fold"), getattr
    ).items():
        scored = [r for r in group if r.ce_held_out is not None]
        both = [r for r in scored if r.ce_trained_on is not None]
        summaries.append(
            HeldOutSummary(
                model=model,
                trained_on_policy=trained_policy,
                seed=seed,
                fold=fold,
                families=tuple(r.family for r in scored),
                mce_held_out=float(np.mean([r.ce_held_out for r in scored])) if scored else None,
                mce_trained_on=(
                    float(np.mean([r.ce_trained_on for r in both])) if both and len(both) == len(scored) else None
                ),
                clean_trained_on=group[0].clean_trained_on,
                clean_trained_on_balanced=group[0].clean_trained_on_balanced,
            )
        )
    return HeldOutFigures(
        families={f: tuple(c) for f, c in family_conditions.items()},
        excluded=tuple(excluded),
        rows=tuple(out_rows),
        summaries=tuple(summaries),
        reference=None if reference is None else (reference[0], reference[1]),
    )


def render_heldout(heldout: HeldOutFigures, threshold: float) -> str:
    """`table.md`'s "Held-out corruption families" section from `heldout_results` (cells: mean ± sd over seeds,
    folds averaged within each seed first)."""
    reference = heldout.reference
    notes = [HELDOUT_DEFINITION.format(threshold=threshold)]
    if reference is None:
        notes.append(
            "No CE or mCE: no reference model trained with policy `none` in this run (add `none` to "
            "--policies, or name one with --reference-model)."
        )
    else:
        notes.append(f"Reference: {reference[0]} / {reference[1]}.")
    if heldout.excluded:
        notes.append(
            f"Left out of mCE (the reference errs on under {threshold:.0%} of their clips): "
            f"{', '.join(heldout.excluded)}."
        )
    notes.append("Families: " + "; ".join(f"{f}: {', '.join(c)}" for f, c in heldout.families.items()) + ".")
    notes.append("Accuracies read: accuracy (balanced accuracy).")

    def cell(items, field, digits=3):
        return mean_sd(
            _per_seed(items, lambda r: float("nan") if getattr(r, field) is None else getattr(r, field), getattr),
            digits,
        )

    def accuracy(items, field):  # accuracy (balanced accuracy)
        return accuracy_cell(
            _per_seed(items, lambda r: getattr(r, field), getattr),
            _per_seed(items, lambda r: getattr(r, f"{field}_balanced"), getattr),
        )

    headline = []
    for (model, trained_policy), group in _group(heldout.summaries, ("model", "trained_on_policy"), getattr).items():
        families = list(dict.fromkeys(f for s in group for f in s.families))
        headline.append(
            [
                model,
                f"{trained_policy} / suite-minus:F",
                accuracy(group, "clean_trained_on"),
                cell(group, "mce_held_out", 2),
                cell(group, "mce_trained_on", 2),
                str(len(families)),
            ]
        )
    per_family = []
    for (model, policy), group in _group(heldout.rows, ("model", "policy"), getattr).items():
        per_family.append(
            [
                model,
                group[0].family,
                policy,
                accuracy(group, "clean_held_out"),
                accuracy(group, "held_out"),
                accuracy(group, "trained_on"),
                accuracy(group, "clean_trained_on"),
                cell(group, "ce_held_out", 2),
                cell(group, "ce_trained_on", 2),
            ]
        )
    return (
        "\n".join(
            [
                "## Held-out corruption families (trained with / held out)",
                "",
                *notes,
                "",
                markdown_table(
                    ["model", "policies", "clean (suite)", "mCE held out", "mCE trained on", "families"],
                    headline,
                    align="ll" + "r" * 4,
                ),
                "",
                markdown_table(
                    [
                        "model",
                        "family",
                        "held-out policy",
                        "clean (held out)",
                        "held out",
                        "trained on",
                        "clean (trained on)",
                        "CE held out",
                        "CE trained on",
                    ],
                    per_family,
                    align="lll" + "r" * 6,
                ),
            ]
        )
        + "\n"
    )
