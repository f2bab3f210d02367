"""Typed results handed from the evaluate stage to the report stage, and the figures computed from them.

The evaluate stage writes every prediction it made to `predictions.csv.gz` (one row per clip × model ×
condition, each row carrying its whole key) and describes what it scored in `evaluation.json`
(`describe_test_set`); the report stage reads the file back into `TestSetPredictions`, matching rows by key
and checking them against that description (`read_predictions`), and derives everything else from it:
the long table's rows with their speaker-bootstrap intervals, the headline summaries and mCE, the
confusion matrices. So a user's error analysis and the tables start from the same file.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import confusion_matrix

from keras_audio.grid import CLEAN, UTTERANCE, classification_metrics, mce_reference_errors, summarize
from keras_audio.statistics import DEFAULT_RESAMPLES, SpeakerBootstrap, percentile_interval

if TYPE_CHECKING:
    from keras_audio.suite.records import EvaluatedModel, ResultRow, TestSetRecord

PROBABILITY_PREFIX = "p_"  # p_<class>: a class's probability
PREDICTION_COLUMNS = (
    "test_set",
    "model",
    "policy",
    "seed",
    "fold",
    "corruption",
    "severity",
    "clip_id",
    "speaker",
    "true_label",
    "predicted_label",
)


@dataclasses.dataclass(frozen=True, order=True)
class ModelKey:
    """One trained model: family, training policy, training seed, cross-validation fold ("" without folds).

    `pairs` and `mixup` describe how it trained (see `records.TrainedModelRecord`); they are not part of the
    key (one run trains a family under a policy one way), and the tables show them in `policy_label`.
    """

    model: str
    policy: str
    seed: int
    fold: str = ""
    pairs: str = dataclasses.field(default="", compare=False)
    mixup: float = dataclasses.field(default=0.0, compare=False)

    @property
    def tag(self) -> str:
        """The export folder's name, ``conv1d-none-seed0`` (``-fold3`` with folds; ``suite-minus:band`` reads
        ``suite-minus-band``: a colon is no file-name character on Windows)."""
        parts = (
            self.model,
            self.policy.replace("+", "_").replace(":", "-"),
            f"seed{self.seed}",
            f"fold{self.fold}" if self.fold else "",
        )
        return "-".join(p for p in parts if p)

    @property
    def policy_label(self) -> str:
        """The policy as the tables show it: ``none (pairs: noise)`` for a denoising model that trained on
        corrupted pairs, ``none (mixup 0.2)`` with mixup."""
        if self.pairs:
            return f"{self.policy} (pairs: {self.pairs})"
        return f"{self.policy} (mixup {self.mixup:g})" if self.mixup else self.policy

    @property
    def label(self) -> str:
        return f"{self.model} / {self.policy_label} / seed {self.seed}" + (f" / fold {self.fold}" if self.fold else "")

    @classmethod
    def from_label(cls, model: str, policy: str, seed: int, fold: str = "") -> ModelKey:
        """The key of a model whose policy is a `policy_label` (run folders and exports of older versions wrote
        the pairs and the mixup alpha into the policy); a plain policy is kept as it is."""
        name, _, rest = policy.partition(" (")
        if rest.endswith(")") and rest.startswith("pairs: "):
            return cls(model, name, seed, fold, pairs=rest[len("pairs: ") : -1])
        if rest.endswith(")") and rest.startswith("mixup "):
            try:
                return cls(model, name, seed, fold, mixup=float(rest[len("mixup ") : -1]))
            except ValueError:
                pass
        return cls(model, policy, seed, fold)


@dataclasses.dataclass
class TestSetPredictions:
    """Every model's predicted labels on one test set (one round's test split, or another corpus).

    Attributes:
        name: the test set (``in-domain``, or ``<corpus>`` for another corpus).
        fold: the cross-validation round ("" without folds).
        clip_ids, speakers: the test clips in evaluation order (read back: in the order the file first lists
            them; no figure depends on it).
        y_true: their label ids in the models' class order.
        class_names: the models' classes.
        predictions: `(model key, corruption, severity) -> predicted label ids`, in evaluation order
            (condition by condition, every model on each condition).
        probabilities: the same keys -> `[clips, classes]` probabilities (None when read without them).
    """

    name: str
    fold: str
    clip_ids: list[str]
    speakers: list[str]
    y_true: np.ndarray
    class_names: tuple[str, ...]
    predictions: dict[tuple[ModelKey, str, int], np.ndarray]
    probabilities: dict[tuple[ModelKey, str, int], np.ndarray] | None = None

    def bootstrap(self, seed: int) -> SpeakerBootstrap:
        return SpeakerBootstrap(np.asarray(self.speakers), DEFAULT_RESAMPLES, seed)


class PredictionsError(ValueError):
    """A predictions file that does not hold what its run says (the message names the file and the rows)."""


def clips_digest(clip_ids: Iterable[str]) -> str:
    """``sha256:<hex>`` of a test set's clip ids (sorted, so row order does not matter): `evaluation.json` pins
    the clips `predictions.csv.gz` must hold with it."""
    digest = hashlib.sha256()
    for clip_id in sorted(clip_ids):
        digest.update(clip_id.encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


def describe_test_set(
    test_set: TestSetPredictions, conditions: Sequence[tuple[str, int]], *, corpus: str, task: str
) -> TestSetRecord:
    """A test set's entry in `evaluation.json`: what `read_predictions` checks the predictions file against.

    Args:
        conditions: the grid's `(corruption, severity)` pairs, clean first.
    """
    from keras_audio.suite.records import TestSetRecord

    return TestSetRecord(
        test_set.name,
        test_set.fold,
        corpus,
        task,
        len(test_set.clip_ids),
        clips_digest(test_set.clip_ids),
        len(set(test_set.speakers)),
        tuple((name, int(severity)) for name, severity in conditions),
    )


def write_predictions(test_sets: Sequence[TestSetPredictions], path: Path) -> None:
    """`predictions.csv.gz`: one row per test set × model × condition × clip, each row carrying its whole key
    (test set, fold, model, policy, seed, corruption, severity, clip id) and, when the test sets have them,
    every class's probability (`p_<class>`)."""
    names = list(test_sets[0].class_names) if test_sets else []
    if any(list(t.class_names) != names for t in test_sets):
        raise ValueError(
            f"write_predictions: the test sets disagree on the classes: "
            f"{sorted({tuple(t.class_names) for t in test_sets})}"
        )
    with_probabilities = any(t.probabilities for t in test_sets)
    with gzip.open(path, "wt", newline="", compresslevel=6) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [*PREDICTION_COLUMNS, *([f"{PROBABILITY_PREFIX}{name}" for name in names] if with_probabilities else [])]
        )
        for test_set in test_sets:
            for (key, corruption, severity), y_pred in test_set.predictions.items():
                probabilities = (test_set.probabilities or {}).get((key, corruption, severity))
                for i, clip_id in enumerate(test_set.clip_ids):
                    row = [
                        test_set.name,
                        key.model,
                        key.policy,
                        key.seed,
                        key.fold,
                        corruption,
                        severity,
                        clip_id,
                        test_set.speakers[i],
                        names[test_set.y_true[i]],
                        names[y_pred[i]],
                    ]
                    if with_probabilities:  # a test set scored without them: empty cells
                        row += (
                            [f"{p:.6g}" for p in probabilities[i]] if probabilities is not None else [""] * len(names)
                        )
                    writer.writerow(row)


def read_predictions(
    path: Path,
    class_names: Sequence[str],
    test_sets: Sequence[TestSetRecord] | None = None,
    models: Sequence[EvaluatedModel] | None = None,
) -> list[TestSetPredictions]:
    """Read `predictions.csv.gz` back, matching rows by key, never by position.

    A row's test set and fold with its clip id name the clip (its speaker and true label must agree on every
    row); its model key, corruption and severity name the condition. Every model of a test set must predict
    every clip once under every condition. Test sets come in file order, conditions in grid order (each
    condition, every model on it), clips in the order the file first lists them; probabilities are read back
    when the file has them.

    Args:
        class_names: the models' classes (`evaluation.json`'s ``classes``).
        test_sets: `evaluation.json`'s ``test_sets`` (`describe_test_set`): when given, the file must hold
            each of them with exactly its clips (`clips_sha256`) and conditions.
        models: `evaluation.json`'s ``models``: when given, each must be on every test set of its fold; the
            keys read back carry their ``pairs`` and ``mixup``.

    Raises:
        PredictionsError: an unreadable row, a label that is not a class, a clip with two labels or
            speakers, a prediction given twice, missing ones (naming the model, condition and clip ids), or
            test sets, clips, conditions or models other than `test_sets` and `models` say.
    """
    index = {name: i for i, name in enumerate(class_names)}
    expected = {m.key: m.key for m in models or ()}
    sets: dict[tuple[str, str], dict] = {}
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in PREDICTION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PredictionsError(f"{path}: missing column(s) {missing}")
        p_columns = [f"{PROBABILITY_PREFIX}{name}" for name in class_names]
        with_probabilities = all(c in reader.fieldnames for c in p_columns)
        for line, row in enumerate(reader, start=2):
            try:
                # Older versions wrote the pairs and mixup into the policy (`ModelKey.from_label`).
                key = ModelKey.from_label(row["model"], row["policy"], int(row["seed"]), row["fold"])
                key = expected.get(key, key)
                condition = (key, row["corruption"], int(row["severity"]))
                true_id, predicted_id = index[row["true_label"]], index[row["predicted_label"]]
                values = [row[c] for c in p_columns] if with_probabilities else []
                probabilities = np.array(values, np.float64) if values and all(values) else None
            except KeyError as error:
                raise PredictionsError(
                    f"{path}: line {line}: label {error.args[0]!r} is not one of {list(class_names)}"
                ) from None
            except (TypeError, ValueError) as error:
                raise PredictionsError(f"{path}: line {line}: unreadable row ({error})") from None
            entry = sets.setdefault((row["test_set"], row["fold"]), {"clips": {}, "conditions": {}})
            clip_id, clip = row["clip_id"], (row["speaker"], true_id)
            first = entry["clips"].setdefault(clip_id, (*clip, line))
            if first[:2] != clip:
                raise PredictionsError(
                    f"{path}: line {line}: clip {clip_id!r} has speaker {clip[0]!r} and label "
                    f"{row['true_label']!r}, but line {first[2]} gives {first[0]!r} and "
                    f"{class_names[first[1]]!r}"
                )
            predicted = entry["conditions"].setdefault(condition, {})
            if clip_id in predicted:
                raise PredictionsError(
                    f"{path}: line {line}: clip {clip_id!r} predicted twice by {key.label} "
                    f"under {row['corruption']} {row['severity']} (line {predicted[clip_id][2]})"
                )
            predicted[clip_id] = (predicted_id, probabilities, line)
    described = {(t.name, t.fold): t for t in test_sets} if test_sets is not None else None
    if described is not None and set(described) != set(sets):
        raise PredictionsError(f"{path}: holds test sets {_names(sets)}, evaluation.json lists {_names(described)}")
    result = []
    for (name, fold), entry in sets.items():
        clips = entry["clips"]
        where = f"{path}: test set {name!r}" + (f" (fold {fold})" if fold else "")
        want = described[(name, fold)] if described is not None else None
        if want is not None and clips_digest(clips) != want.clips_sha256:
            raise PredictionsError(
                f"{where}: holds {len(clips)} clip(s), not the {want.clips} evaluation.json "
                f"lists (their clip ids differ)"
            )
        keys = list(dict.fromkeys(key for key, _, _ in entry["conditions"]))
        if models is not None:
            absent = [k.label for k in expected if not (fold and k.fold and k.fold != fold) and k not in keys]
            if absent:
                raise PredictionsError(f"{where}: no predictions of model(s) {absent}")
        grid_order = (
            list(want.conditions)
            if want is not None and want.conditions
            else list(dict.fromkeys((c, s) for _, c, s in entry["conditions"]))
        )
        found = list(dict.fromkeys((c, s) for _, c, s in entry["conditions"]))
        unknown = [c for c in found if c not in grid_order and c[0] != UTTERANCE]
        if unknown:
            raise PredictionsError(f"{where}: condition(s) {unknown} are not in the grid {grid_order}")
        order = grid_order + [c for c in found if c not in grid_order]  # then the whole clips
        predictions, probabilities = {}, {}
        for corruption, severity in order:
            for key in keys:
                predicted = entry["conditions"].get((key, corruption, severity))
                if predicted is None:
                    if corruption == UTTERANCE:
                        continue  # whole clips are scored only by the worker that scores them
                    raise PredictionsError(
                        f"{where}: no predictions of model {key.label} under condition "
                        f"{corruption} (severity {severity})"
                    )
                absent = [clip_id for clip_id in clips if clip_id not in predicted]
                if absent:
                    raise PredictionsError(
                        f"{where}: model {key.label}, condition {corruption} (severity "
                        f"{severity}): no prediction for "
                        f"{len(absent)} clip(s): {', '.join(absent[:5])}"
                        + (f", ... ({len(absent) - 5} more)" if len(absent) > 5 else "")
                    )
                condition = (key, corruption, severity)
                predictions[condition] = np.array([predicted[c][0] for c in clips], np.int64)
                rows = [predicted[c][1] for c in clips]
                if all(r is not None for r in rows):
                    probabilities[condition] = np.stack(rows) if rows else np.zeros((0, len(class_names)))
        result.append(
            TestSetPredictions(
                name=name,
                fold=fold,
                clip_ids=list(clips),
                speakers=[c[0] for c in clips.values()],
                y_true=np.array([c[1] for c in clips.values()], np.int64),
                class_names=tuple(class_names),
                predictions=predictions,
                probabilities=probabilities or None,
            )
        )
    return result


def _names(sets) -> list[str]:
    return [name + (f" (fold {fold})" if fold else "") for name, fold in sets]


def long_rows(test_set: TestSetPredictions, bootstrap_seed: int) -> tuple[list[ResultRow], dict[tuple, np.ndarray]]:
    """The long table's rows of one test set, and the bootstrap replicates behind their intervals.

    Returns:
        rows: one per model key × condition, in evaluation order;
        replicates: `(model key, corruption, severity) -> accuracy on each speaker resample`.
    """
    from keras_audio.suite.records import ResultRow

    bootstrap = test_set.bootstrap(bootstrap_seed)
    rows, replicates = [], {}
    for (key, corruption, severity), y_pred in test_set.predictions.items():
        if corruption == UTTERANCE:
            continue  # not a condition of the grid: see `utterance_accuracy`
        replicates[(key, corruption, severity)] = samples = bootstrap.accuracy_replicates(test_set.y_true, y_pred)
        low, high = percentile_interval(samples)
        rows.append(
            ResultRow(
                key.model,
                key.policy,
                key.seed,
                key.fold,
                corruption,
                severity,
                **classification_metrics(test_set.y_true, y_pred),
                ci_low=low,
                ci_high=high,
                pairs=key.pairs,
                mixup=key.mixup,
            )
        )
    return rows, replicates


def utterance_accuracy(test_set: TestSetPredictions) -> dict[ModelKey, dict[str, float]]:
    """Per model: clean accuracy and balanced accuracy on whole clips (windows averaged; `evaluate.UTTERANCE`)."""
    return {
        key: classification_metrics(test_set.y_true, y_pred)
        for (key, corruption, _), y_pred in test_set.predictions.items()
        if corruption == UTTERANCE
    }


def summaries(
    rows: Sequence[ResultRow], reference: tuple[str, str] | None, majority: Mapping[str, float] | None = None
) -> list[dict]:
    """Headline figures per (seed, fold); mCE against the reference's errors averaged over all of them.

    `majority`: fold -> the majority-class baseline of its test set (`grid.summarize`: a model that does
    not beat it is marked and gets no mCE); None checks nothing."""
    ref, denominators = None, None
    if reference is not None:
        ref = {"model": reference[0], "policy": reference[1]}
        denominators = mce_reference_errors([r.metrics() for r in rows if (r.model, r.policy) == reference])
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault((row.seed, row.fold), []).append(row.metrics())
    return [
        {**summary, "seed": seed, "fold": fold}
        for (seed, fold), group in groups.items()
        for summary in summarize(
            group, ("model", "policy"), ref, denominators, None if majority is None else majority.get(fold)
        )
    ]


def reference_model(keys: Iterable[ModelKey], models: Sequence[str], chosen: str | None) -> tuple[str, str] | None:
    """The mCE reference (model, policy): `chosen`, or else the first of `models`, trained clean.

    A denoising model given noisy pairs under policy none (`ModelKey.pairs`) has seen corrupted audio, so it is
    no reference, nor is a model trained with mixup; the next model is taken. None when no candidate trained
    clean.
    """
    keys = list(keys)
    for name in [chosen] if chosen else models:
        for key in keys:
            if key.model == name and key.policy == "none" and not key.pairs and not key.mixup:
                return (key.model, key.policy)
    return None


def headline_intervals(replicate_sets: Sequence[Mapping[tuple, np.ndarray]]) -> dict[tuple[str, str], dict]:
    """95 % speaker-bootstrap intervals of each model × policy's clean and mean spoiled accuracy.

    Replicates are averaged over spoiled conditions, seeds and folds before taking percentiles; seeds share
    the round's speaker draws, so the interval is that of the seed mean.

    Args:
        replicate_sets: per round, `(model key, corruption, severity) -> replicates` from `long_rows`.
    """
    clean: dict[tuple, list[np.ndarray]] = {}
    spoiled: dict[tuple, list[np.ndarray]] = {}
    for replicates in replicate_sets:
        per_model: dict[ModelKey, list[np.ndarray]] = {}
        for (key, corruption, _), samples in replicates.items():
            if corruption == CLEAN:
                clean.setdefault((key.model, key.policy), []).append(samples)
            else:
                per_model.setdefault(key, []).append(samples)
        for key, samples in per_model.items():
            spoiled.setdefault((key.model, key.policy), []).append(np.mean(samples, axis=0))
    return {
        name: {
            "clean": percentile_interval(np.mean(clean[name], axis=0)),
            "mean_spoiled": percentile_interval(np.mean(spoiled[name], axis=0)) if name in spoiled else None,
        }
        for name in clean
    }


def confusions(
    test_sets: Sequence[TestSetPredictions], num_classes: int, severity: int | None
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Per model × policy: confusion counts on the clean test set and at `severity` pooled over corruptions
    (summed over seeds and folds)."""
    corruptions = {c for t in test_sets for (_, c, _) in t.predictions if c not in (CLEAN, UTTERANCE)}
    spoiled_title = f"severity {severity}, all {len(corruptions)} corruptions pooled"
    matrices: dict[tuple, dict[str, np.ndarray]] = {}
    for test_set in test_sets:
        for (key, corruption, level), y_pred in test_set.predictions.items():
            if corruption == CLEAN:
                title = "clean"
            elif corruption == UTTERANCE:
                continue
            elif level == severity:
                title = spoiled_title
            else:
                continue
            panels = matrices.setdefault(
                (key.model, key.policy), {"clean": np.zeros((num_classes, num_classes), np.int64)}
            )
            counts = confusion_matrix(test_set.y_true, y_pred, labels=np.arange(num_classes))
            panels[title] = panels.get(title, 0) + counts
    return matrices
