"""Typed results handed from the evaluate stage to the report stage, and the figures computed from them.

The evaluate stage writes every prediction it made to `predictions.csv.gz` (one row per clip × model ×
condition); the report stage reads it back into `TestSetPredictions` and derives everything else from it:
the long table's rows with their speaker-bootstrap intervals, the headline summaries and mCE, the
confusion matrices. So a user's error analysis and the tables start from the same file.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from keras_audio.evaluate import CLEAN, UTTERANCE, classification_metrics, mce_reference_errors, summarize
from keras_audio.statistics import DEFAULT_RESAMPLES, SpeakerBootstrap, percentile_interval

PREDICTION_COLUMNS = ("test_set", "model", "policy", "seed", "fold", "corruption", "severity", "clip_id", "speaker",
                      "true_label", "predicted_label")


@dataclasses.dataclass(frozen=True, order=True)
class ModelKey:
    """One trained model: family, training policy, training seed, cross-validation fold ("" without folds)."""

    model: str
    policy: str
    seed: int
    fold: str = ""

    @property
    def tag(self) -> str:
        """The export folder's name, ``conv1d-none-seed0`` (``-fold3`` with folds; ``suite-minus:band`` reads
        ``suite-minus-band``: a colon is no file-name character on Windows)."""
        parts = (self.model, self.policy.split(" ")[0].replace("+", "_").replace(":", "-"), f"seed{self.seed}",
                 f"fold{self.fold}" if self.fold else "")
        return "-".join(p for p in parts if p)

    @property
    def label(self) -> str:
        return f"{self.model} / {self.policy} / seed {self.seed}" + (f" / fold {self.fold}" if self.fold else "")


@dataclasses.dataclass
class TestSetPredictions:
    """Every model's predicted labels on one test set (one round's test split, or another corpus).

    Attributes:
        name: the test set (``in-domain``, or ``<corpus>`` for another corpus).
        fold: the cross-validation round ("" without folds).
        clip_ids, speakers: the test clips in evaluation order.
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


def write_predictions(test_sets: Sequence[TestSetPredictions], path: Path) -> None:
    """`predictions.csv.gz`: one row per test set × model × condition × clip, with every class probability."""
    with gzip.open(path, "wt", newline="", compresslevel=6) as handle:
        writer = None
        for test_set in test_sets:
            names = list(test_set.class_names)
            if writer is None:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow([*PREDICTION_COLUMNS, *[f"p_{name}" for name in names]])
            for (key, corruption, severity), y_pred in test_set.predictions.items():
                probabilities = (test_set.probabilities or {}).get((key, corruption, severity))
                for i, clip_id in enumerate(test_set.clip_ids):
                    row = [test_set.name, key.model, key.policy, key.seed, key.fold, corruption, severity, clip_id,
                           test_set.speakers[i], names[test_set.y_true[i]], names[y_pred[i]]]
                    if probabilities is not None:
                        row += [f"{p:.6g}" for p in probabilities[i]]
                    writer.writerow(row)


def read_predictions(path: Path, class_names: Sequence[str]) -> list[TestSetPredictions]:
    """Read `predictions.csv.gz` back, test sets and keys in the order they were written.

    Raises:
        ValueError: a label that is not one of `class_names`, naming the row.
    """
    index = {name: i for i, name in enumerate(class_names)}
    sets: dict[tuple[str, str], dict] = {}
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        for line, row in enumerate(reader, start=2):
            key = ModelKey(row["model"], row["policy"], int(row["seed"]), row["fold"])
            entry = sets.setdefault((row["test_set"], row["fold"]), {"clips": {}, "predictions": {}})
            condition = (key, row["corruption"], int(row["severity"]))
            try:
                true_id, predicted_id = index[row["true_label"]], index[row["predicted_label"]]
            except KeyError as error:
                raise ValueError(f"{path}: line {line}: label {error.args[0]!r} is not one of {list(class_names)}") \
                    from None
            if condition == next(iter(entry["predictions"]), condition):  # the first condition lists the clips
                entry["clips"].setdefault(row["clip_id"], (row["speaker"], true_id))
            entry["predictions"].setdefault(condition, []).append(predicted_id)
    result = []
    for (name, fold), entry in sets.items():
        clips = entry["clips"]
        result.append(TestSetPredictions(
            name=name, fold=fold, clip_ids=list(clips), speakers=[s for s, _ in clips.values()],
            y_true=np.array([t for _, t in clips.values()], np.int64), class_names=tuple(class_names),
            predictions={k: np.array(v, np.int64) for k, v in entry["predictions"].items()}))
    return result


def long_rows(test_set: TestSetPredictions, bootstrap_seed: int) -> tuple[list[dict], dict[tuple, np.ndarray]]:
    """The long table's rows of one test set, and the bootstrap replicates behind their intervals.

    Returns:
        rows: one per model key × condition (model, policy, seed, fold, corruption, severity, accuracy,
            balanced_accuracy, n, ci_low, ci_high), in evaluation order;
        replicates: `(model key, corruption, severity) -> accuracy on each speaker resample`.
    """
    bootstrap = test_set.bootstrap(bootstrap_seed)
    rows, replicates = [], {}
    for (key, corruption, severity), y_pred in test_set.predictions.items():
        if corruption == UTTERANCE:
            continue  # not a condition of the grid: see `utterance_accuracy`
        replicates[(key, corruption, severity)] = samples = bootstrap.accuracy_replicates(test_set.y_true, y_pred)
        low, high = percentile_interval(samples)
        rows.append({"model": key.model, "policy": key.policy, "seed": key.seed, "fold": key.fold,
                     "corruption": corruption, "severity": severity,
                     **classification_metrics(test_set.y_true, y_pred), "ci_low": low, "ci_high": high})
    return rows, replicates


def utterance_accuracy(test_set: TestSetPredictions) -> dict[ModelKey, dict[str, float]]:
    """Per model: clean accuracy and balanced accuracy on whole clips (windows averaged; `evaluate.UTTERANCE`)."""
    return {key: classification_metrics(test_set.y_true, y_pred)
            for (key, corruption, _), y_pred in test_set.predictions.items() if corruption == UTTERANCE}


def summaries(rows: Sequence[Mapping], reference: tuple[str, str] | None,
              majority: Mapping[str, float] | None = None) -> list[dict]:
    """Headline figures per (seed, fold); mCE against the reference's errors averaged over all of them.

    `majority`: fold -> the majority-class baseline of its test set (`evaluate.summarize`: a model that does
    not beat it is marked and gets no mCE); None checks nothing."""
    ref, denominators = None, None
    if reference is not None:
        ref = {"model": reference[0], "policy": reference[1]}
        denominators = mce_reference_errors([r for r in rows if (r["model"], r["policy"]) == reference])
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault((row["seed"], row["fold"]), []).append(row)
    return [{**summary, "seed": seed, "fold": fold}
            for (seed, fold), group in groups.items()
            for summary in summarize(group, ("model", "policy"), ref, denominators,
                                     None if majority is None else majority.get(fold))]


def reference_model(keys: Iterable[ModelKey], models: Sequence[str], chosen: str | None) -> tuple[str, str] | None:
    """The mCE reference (model, policy): `chosen`, or else the first of `models`, trained clean.

    A denoising model given noisy pairs under policy none (its policy reads ``none (pairs: noise)``) has seen
    corrupted audio, so it is no reference; the next model is taken. None when no candidate trained clean.
    """
    keys = list(keys)
    for name in [chosen] if chosen else models:
        for key in keys:
            if key.model == name and key.policy == "none":
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
        name: {"clean": percentile_interval(np.mean(clean[name], axis=0)),
               "mean_spoiled": percentile_interval(np.mean(spoiled[name], axis=0)) if name in spoiled else None}
        for name in clean
    }


def confusions(test_sets: Sequence[TestSetPredictions], num_classes: int, severity: int | None
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
            panels = matrices.setdefault((key.model, key.policy),
                                         {"clean": np.zeros((num_classes, num_classes), np.int64)})
            counts = confusion_matrix(test_set.y_true, y_pred, labels=np.arange(num_classes))
            panels[title] = panels.get(title, 0) + counts
    return matrices
