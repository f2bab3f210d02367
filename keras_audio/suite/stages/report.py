"""The report stage: the files of the train and evaluate stages -> tables, plots and the run record.

Reads `config.json`, `evaluation.json`, `predictions.csv.gz`, `gallery.npz` and, when the models were
trained in this run folder, `training.json` and `history.json`. Writes `table.csv`, `metrics.json`,
`table.md`, `plots/` and `record.json`. It computes nothing from audio, so it reruns in seconds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import librosa
import numpy as np

from keras_audio.cache import BadFile
from keras_audio.corruptions import registry as corruption_registry
from keras_audio.corruptions.policy import HELD_OUT_PREFIX, held_out_family, trained_on_policy
from keras_audio.grid import MCE_MIN_REFERENCE_ERROR, majority_baseline, summarize
from keras_audio.statistics import DEFAULT_RESAMPLES
from keras_audio.suite.config import RunConfig
from keras_audio.suite.records import (
    METRICS_FILE,
    TRAINING_FILE,
    EvaluationRecord,
    HeldOutFigures,
    ResultRow,
    TrainingRecord,
)
from keras_audio.suite.results import (
    ModelKey,
    TestSetPredictions,
    confusions,
    headline_intervals,
    long_rows,
    read_predictions,
    reference_model,
    summaries,
    utterance_accuracy,
)
from keras_audio.suite.run_record import build_record
from keras_audio.suite.stages.evaluate import PREDICTIONS_FILE, focus_severity, read_gallery
from keras_audio.suite.tables import (
    heldout_results,
    majority_mark,
    markdown_table,
    mean_sd,
    render_heldout,
    render_markdown,
    write_json,
    write_long_table,
    write_plots,
)

REPO = Path(__file__).resolve().parents[2]


def report_stage(
    config: RunConfig, run_dir: Path, timer, log: Callable[[str], None], total_started: float | None = None
) -> str:
    """Write the run's tables, plots and record; returns the text of `table.md`."""
    # Models evaluated outside a run (`keras-audio evaluate`, `score`) have no training record.
    training = TrainingRecord.read(run_dir) if (run_dir / TRAINING_FILE).is_file() else None
    evaluation = EvaluationRecord.read(run_dir)
    classes = list(evaluation.classes)
    with timer("report"):
        # Matched by key and checked against what evaluation.json says was scored (older folders: no check).
        test_sets = read_predictions(
            run_dir / PREDICTIONS_FILE, classes, evaluation.test_sets or None, evaluation.models or None
        )
        # The first test set is the run's own (its corpus's test split, or the corpus `evaluate` scored);
        # the others are the corpora of --test-corpus, reported beside it.
        primary = test_sets[0].name
        in_domain = [t for t in test_sets if t.name == primary]
        others = [t for t in test_sets if t.name != primary]
        rows, replicate_sets = [], []
        for test_set in in_domain:
            test_rows, replicates = long_rows(test_set, config.seed)
            rows += test_rows
            replicate_sets.append(replicates)
        keys = list(dict.fromkeys(k for t in in_domain for (k, _, _) in t.predictions))
        reference = reference_model(keys, config.models, config.reference_model)
        run_summaries = summaries(rows, reference, {t.fold: majority_baseline(t.y_true) for t in in_domain})
        whole_clip = {key: metrics for t in in_domain for key, metrics in utterance_accuracy(t).items()}
        for summary in run_summaries:
            key = ModelKey(summary["model"], summary["policy"], summary["seed"], summary["fold"])
            if key in whole_clip:  # beside the centre crop: the whole clip, windows averaged
                summary["clean_utterance"] = whole_clip[key]["accuracy"]
        notes = (
            (
                ["split by utterance (the dataset's own protocol): the same speakers are in train and test"]
                if training is not None and training.split_unit == "utterance"
                else []
            )
            + (list(training.plan_warnings) if training is not None else [])
            + list(evaluation.notes)
        )
        table_md, plot_problems = _write_tables(
            config,
            run_dir,
            training,
            evaluation,
            in_domain,
            rows,
            run_summaries,
            replicate_sets,
            reference,
            notes,
            log,
            others,
        )
    record = build_record(
        repo=REPO,
        manifest_summary=training.manifest if training is not None else {},
        bad_files=[BadFile(**b) for b in training.bad_files] if training is not None else [],
        stage_seconds=timer.seconds,
        total_seconds=None if total_started is None else time.perf_counter() - total_started,
        models=[m.to_json() for m in training.models] if training is not None else [],
        extra={
            "stages_note": "train includes export; report includes the gallery and the plots",
            "plots": sorted(p.name for p in (run_dir / "plots").glob("*.png")),
            "plot_problems": plot_problems,
        },
    )
    write_json(record, run_dir / "record.json")
    return table_md


def _model_info(training: TrainingRecord | None) -> dict[tuple, dict]:
    info: dict[tuple, dict] = {}
    for m in training.models if training is not None else ():
        entry = info.setdefault((m.model, m.policy), {"params": m.params, "train_seconds": []})
        entry["train_seconds"].append(m.train_seconds)
    return info


def _histories(run_dir: Path, training: TrainingRecord | None) -> dict[str, dict]:
    """`history.json`'s learning curves by model label (its keys: ``model/policy/seed[/fold]``)."""
    path = run_dir / "history.json"
    if not path.is_file():
        return {}
    trained = {m.key: m.key for m in training.models} if training is not None else {}
    labelled = {}
    for name, history in json.loads(path.read_text()).items():
        model, policy, seed, *fold = name.split("/")
        key = ModelKey.from_label(model, policy, int(seed), fold[0] if fold else "")
        labelled[trained.get(key, key).label] = history
    return labelled


def _write_tables(
    config: RunConfig,
    run_dir: Path,
    training: TrainingRecord | None,
    evaluation: EvaluationRecord,
    in_domain: Sequence[TestSetPredictions],
    rows: list[ResultRow],
    run_summaries: list[dict],
    replicate_sets: list,
    reference,
    notes: list[str],
    log,
    others: Sequence[TestSetPredictions] = (),
) -> tuple[str, list[str]]:
    primary = in_domain[0].name
    shift = {t.name: long_rows(t, config.seed)[0] for t in others}
    write_long_table(
        [dataclasses.replace(r, test_corpus=primary) for r in rows]
        + [dataclasses.replace(r, test_corpus=name) for name, shift_rows in shift.items() for r in shift_rows],
        run_dir / "table.csv",
    )
    baselines = {t.fold: majority_baseline(t.y_true) for t in in_domain}
    intervals = headline_intervals(replicate_sets)
    task = (training.task if training is not None else "") or evaluation.task
    classes = list(evaluation.classes)
    corpus = (training.corpus if training is not None else "") or config.corpus
    metrics = {
        "corpus": corpus,
        "task": task,
        "classes": classes,
        "seed": config.seed,
        "training_seeds": [config.seed + offset for offset in range(config.seeds)],
        "majority_baseline": baselines,
        "mce_reference": None if reference is None else {"model": reference[0], "policy": reference[1]},
        "bootstrap": {
            "unit": "test speaker",
            "resamples": DEFAULT_RESAMPLES,
            "confidence": 0.95,
            "seed": config.seed,
            "interval": "percentile",
        },
        "intervals": [{"model": model, "policy": policy, **bounds} for (model, policy), bounds in intervals.items()],
        "summaries": run_summaries,
        "rows": [r.to_json() for r in rows],
    }
    if shift:
        metrics["other_corpora"] = {
            name: {
                "majority_baseline": majority_baseline(t.y_true),
                "clips": len(t.clip_ids),
                "speakers": len(set(t.speakers)),
                "summaries": _shift_summaries(shift_rows, majority_baseline(t.y_true)),
                "rows": [r.to_json() for r in shift_rows],
            }
            for t in others
            for name, shift_rows in [(t.name, shift[t.name])]
        }
    heldout = _heldout(rows, reference)
    if heldout is not None:
        metrics["heldout"] = heldout.to_json()
    write_json(metrics, run_dir / METRICS_FILE)
    first = in_domain[0]
    clips, speakers = len(first.clip_ids), len(set(first.speakers))
    baseline_text = ", ".join(f"{b:.3f}" for b in baselines.values())
    seeds_text = (
        f"{config.seeds} training seeds ({config.seed}..{config.seed + config.seeds - 1}); cells read "
        f"mean ± sd over seeds"
        if config.seeds > 1
        else "1 training seed"
    )
    head = [
        f"corpus `{corpus}`, task `{task}` ({len(classes)} classes); "
        f"test set: {clips} clips from {speakers} speakers"
        + (f" per fold ({len(in_domain)} folds)" if len(in_domain) > 1 else ""),
        f"majority-class baseline of the test set: {baseline_text}",
        f"seed {config.seed}; {seeds_text}; clips of {config.clip_seconds:g} s at {config.sample_rate} Hz",
        f"spoiled conditions: severities {config.severities} of each corruption, identical for every model "
        f"(seed {config.seed})",
        f"95% CI: percentile bootstrap over test speakers ({DEFAULT_RESAMPLES} resamples of whole speakers)"
        + ("; the interval of the mean over seeds" if config.seeds > 1 else ""),
    ]
    if reference is None:
        head.append("no mCE: no reference model trained with policy none (see --reference-model)")
    else:
        head.append(
            f"mCE reference: {reference[0]} / {reference[1]}"
            + (
                ", its errors averaged over the run's seeds and folds"
                if len({(s["seed"], s["fold"]) for s in run_summaries}) > 1
                else ""
            )
            + " (1.00 = as robust as the reference; lower is better)"
        )
        excluded = sorted({name for summary in run_summaries for name in summary.get("mce_excluded", [])})
        if excluded:
            head.append(
                f"left out of mCE (the reference errs on under {MCE_MIN_REFERENCE_ERROR:.0%} of their clips, "
                f"so a ratio would be noise): {', '.join(excluded)}"
            )
    head += notes
    table_md = render_markdown(
        f"Results: {corpus} / {task}", list(dict.fromkeys(head)), run_summaries, rows, _model_info(training), intervals
    )
    if shift:
        labels = {(r.model, r.policy): r.policy_label for rows_ in [rows, *shift.values()] for r in rows_}
        table_md += "\n" + _shift_section(primary, baselines, run_summaries, metrics["other_corpora"], labels)
    if heldout is not None:
        table_md += "\n" + render_heldout(heldout, MCE_MIN_REFERENCE_ERROR)
    (run_dir / "table.md").write_text(table_md)

    severity = focus_severity(config.severities)
    corpus_label = f"{corpus} / {task}"
    features = config.features
    gallery = read_gallery(run_dir)
    gallery_title = ""
    if gallery:
        gallery_title = (
            f"What the models were tested on: test clip {gallery['clip_id']} (class {gallery['label']}), "
            f"clean and under each corruption"
            + (f" at severity {gallery['severity']}" if gallery["severity"] else "")
            + f"\n({corpus_label}; the models' own log-mel features)"
        )
    _, plot_problems = write_plots(
        run_dir / "plots",
        corpus=corpus_label,
        rows=rows,
        baseline=float(np.mean(list(baselines.values()))) if baselines else None,
        histories=_histories(run_dir, training),
        confusions=confusions(in_domain, len(classes), severity),
        class_names=classes,
        gallery=gallery.get("spectrograms") if gallery else None,
        gallery_title=gallery_title,
        hop_seconds=features.hop_length / config.sample_rate,
        mel_frequencies=librosa.mel_frequencies(
            n_mels=features.n_mels + 2, fmin=features.fmin, fmax=features.fmax or config.sample_rate / 2
        )[1:-1],
    )
    for problem in plot_problems:
        log(f"      plot not drawn: {problem}")
    return table_md, plot_problems


def _heldout(rows: Sequence[ResultRow], reference: tuple[str, str] | None) -> HeldOutFigures | None:
    """The "trained with / held out" figures (`report.heldout_results`) when a policy of the run holds a family
    out (``suite-minus:F``), each compared with the policy that trained on it (``suite``)."""
    held_out = {}
    for policy in dict.fromkeys(r.policy for r in rows):
        if policy.lower().startswith(HELD_OUT_PREFIX):
            try:
                held_out[policy] = (held_out_family(policy), trained_on_policy(policy))
            except ValueError:  # not a policy this version parses (a run folder of another version)
                continue
    return heldout_results(rows, held_out, corruption_registry.families(), reference, MCE_MIN_REFERENCE_ERROR)


def _shift_summaries(rows: Sequence[ResultRow], majority: float) -> list[dict]:
    """Per model × policy × seed on another corpus: `grid.summarize`'s figures (no mCE), balanced accuracies
    and the mark of a model that does not beat the corpus's majority-class baseline included."""
    return summarize([r.metrics() for r in rows], ("model", "policy", "seed", "fold"), majority=majority)


def _shift_section(
    primary: str,
    baselines: Mapping,
    run_summaries: Sequence[Mapping],
    other_corpora: Mapping[str, Mapping],
    labels: Mapping[tuple[str, str], str],
) -> str:
    """`table.md`'s "in-domain vs other corpora": per model × policy, accuracy on each test corpus, with its
    balanced accuracy and whether the model beats the corpus's majority-class baseline."""

    def cell(values) -> str:
        return mean_sd([v for v in values if v == v])

    keys = list(dict.fromkeys((s["model"], s["policy"]) for s in run_summaries))
    corpora = {primary: run_summaries, **{name: other["summaries"] for name, other in other_corpora.items()}}
    headers = ["model", "policy"]
    for name in corpora:
        headers += [f"{name} clean", "balanced", "mean spoiled", "spoiled balanced", "≤ majority"]
    lines = []
    for model, policy in keys:
        line = [model, labels.get((model, policy), policy)]
        for summaries_ in corpora.values():
            mine = [s for s in summaries_ if (s["model"], s["policy"]) == (model, policy)]
            line += [
                cell(s["clean"] for s in mine),
                cell(s.get("clean_balanced", float("nan")) for s in mine),
                cell(s["mean_spoiled"] for s in mine),
                cell(s.get("mean_spoiled_balanced", float("nan")) for s in mine),
                majority_mark([s["at_or_below_majority"] for s in mine if "at_or_below_majority" in s]),
            ]
        lines.append(line)
    notes = [f"- {primary}: majority-class baseline {', '.join(f'{b:.3f}' for b in baselines.values())}"]
    notes += [
        f"- {name}: {o['clips']} clips from {o['speakers']} speakers, majority-class baseline "
        f"{o['majority_baseline']:.3f}"
        for name, o in other_corpora.items()
    ]
    return (
        "\n".join(
            [
                "## In-domain vs other corpora",
                "",
                "Accuracy on the run's own test set and on each other "
                "corpus (clean and mean over the corruption grid, each with its balanced accuracy; `≤ majority`: "
                "the clean accuracy does not beat the corpus's majority-class baseline, so the model does no "
                "better there than answering one class).",
                "",
                *notes,
                "",
                markdown_table(headers, lines, align="ll" + "r" * (len(headers) - 2)),
            ]
        )
        + "\n"
    )
