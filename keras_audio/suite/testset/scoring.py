"""Scoring answers against a test set: the answer file's columns (`ANSWER_COLUMNS`, optional `prob_<class>`),
`predict_testset` running any predict function over the files, and `score_predictions` reading and checking a
predictions CSV (every file predicted once per model, known labels, probabilities that sum to 1) into a
`ScoreResult` whose `grid.GridResult` the suite's own tables are computed from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from keras_audio.grid import GridResult
from keras_audio.suite.testset.format import (
    _SHOWN,
    PublishedTestSet,
    TestSetError,
    _check_positive,
    _some,
    load_testset,
    read_conditions,
)

ANSWER_COLUMNS = ("clip", "condition", "severity", "predicted")  # what every answer file (predictions CSV) has
PROBABILITY_PREFIX = "prob_"  # optional probability columns: prob_<class name>
PROBABILITY_TOLERANCE = 0.01  # how far a row's probabilities may sum from 1 (rounding to a few decimals)


@dataclasses.dataclass
class ScoreResult:
    """Scored predictions of one or more models on a test set.

    Attributes:
        testset: the test set scored against.
        grid: `y_true` in clip order and `(model, condition, severity) -> predicted label ids`.
        models: the model names, in the order the predictions file first names them.
        probabilities: `(model, condition, severity) -> [clips, classes]`, when the file has probability columns.
    """

    testset: PublishedTestSet
    grid: GridResult
    models: tuple[str, ...]
    probabilities: dict[tuple[str, str, int], np.ndarray]

    def rows(self) -> list[dict]:
        """One row per model × condition: model, corruption, severity, accuracy, balanced_accuracy, n."""
        return [{"model": row.pop("key"), **row} for row in self.grid.rows()]


def predict_testset(
    testset: PublishedTestSet | str | os.PathLike,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    model: str | None = None,
    batch_size: int = 64,
    probabilities: bool = True,
) -> pd.DataFrame:
    """Run `predict` on every file of a test set: a predictions frame for `score_predictions`.

    Args:
        testset: the set (or its folder).
        predict: waveforms `[batch, clip_samples]` float32 -> probabilities `[batch, classes]` in the order
            of the set's classes (`loader.load_predictor(path).predict` for any export, a Keras model's
            `predict`...).
        model: a `model` column's value; None leaves the column out.
        batch_size: clips per call, in test order.
        probabilities: add the `prob_<class>` columns.

    Returns:
        Columns `[model,] clip, condition, severity, predicted[, prob_<class>...]`; write it with
        `frame.to_csv(path, index=False)`.
    """
    testset = testset if isinstance(testset, PublishedTestSet) else load_testset(testset)
    _check_positive(batch_size=batch_size)
    classes = np.asarray(testset.classes, dtype=object)
    parts = []
    for clips in read_conditions(testset):
        outputs = np.concatenate(
            [
                np.asarray(predict(clips.waveforms[start : start + batch_size]))
                for start in range(0, len(clips.clips), batch_size)
            ]
        )
        if outputs.shape != (len(clips.clips), len(classes)):
            raise ValueError(
                f"predict returned shape {outputs.shape}, expected {(len(clips.clips), len(classes))} "
                f"(clips, classes {list(classes)})"
            )
        part = pd.DataFrame(
            {
                "clip": clips.clips,
                "condition": clips.condition,
                "severity": clips.severity,
                "predicted": classes[np.argmax(outputs, axis=-1)],
            }
        )
        if probabilities:
            for j, name in enumerate(classes):
                part[PROBABILITY_PREFIX + name] = outputs[:, j]
        if model is not None:
            part.insert(0, "model", model)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def score_predictions(
    testset_dir: PublishedTestSet | str | os.PathLike,
    predictions_csv: str | os.PathLike | pd.DataFrame,
    *,
    default_model: str | None = None,
) -> ScoreResult:
    """Score predictions made by any framework against a test set.

    The CSV has one row per file predicted: columns `clip, condition, severity, predicted` (a class name;
    ``clean`` has severity 0), optionally `model` (several models in one file) and `prob_<class>` for every
    class. Every (clip, condition, severity) of the set must be predicted exactly once per model.

    Args:
        testset_dir: the test set (or its folder).
        predictions_csv: the file (or a frame as `predict_testset` returns).
        default_model: the model name when there is no `model` column (default: the file's stem).

    Raises:
        TestSetError: missing columns, a severity that is not an integer, unknown labels or probability
            columns, or rows missing, extra or given twice (the message names a few).
    """
    testset = testset_dir if isinstance(testset_dir, PublishedTestSet) else load_testset(testset_dir)
    if isinstance(predictions_csv, pd.DataFrame):
        name, frame = "predictions", predictions_csv.astype(str)
    else:
        name, frame = str(predictions_csv), _read_predictions(Path(predictions_csv))
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [c for c in ANSWER_COLUMNS if c not in frame.columns]
    if missing:
        raise TestSetError(
            f"{name}: missing column(s) {missing}; expected {list(ANSWER_COLUMNS)} "
            f"[+ model, {PROBABILITY_PREFIX}<class>...]"
        )
    if len(frame) == 0:
        raise TestSetError(f"{name}: holds no predictions")
    classes = testset.classes
    probability_columns = [c for c in frame.columns if c.startswith(PROBABILITY_PREFIX)]
    unknown_columns = [c for c in probability_columns if c[len(PROBABILITY_PREFIX) :] not in classes]
    if unknown_columns:
        raise TestSetError(
            f"{name}: probability column(s) {unknown_columns[:_SHOWN]} name no class of the test set {list(classes)}"
        )
    if probability_columns and len(probability_columns) != len(classes):
        absent = [PROBABILITY_PREFIX + c for c in classes if PROBABILITY_PREFIX + c not in probability_columns]
        raise TestSetError(f"{name}: probability column(s) {absent} missing (give one per class or none)")

    if probability_columns:
        _check_probabilities(frame[[PROBABILITY_PREFIX + c for c in classes]], name)

    severity = pd.to_numeric(frame["severity"].str.strip(), errors="coerce")
    bad = frame.index[severity.isna() | (severity != severity.round())]
    if len(bad):
        raise TestSetError(
            f"{name}: severity is not an integer on row(s) "
            f"{_some(f'{i + 2} ({value!r})' for i, value in zip(bad, frame['severity'].iloc[bad]))}"
        )
    frame = frame.assign(severity=severity.astype(int))
    unknown = sorted(set(frame["predicted"]) - set(classes))
    if unknown:
        raise TestSetError(
            f"{name}: unknown label(s) {_some(map(repr, unknown))} in column 'predicted'; the test "
            f"set's classes: {list(classes)}"
        )
    named = "model" in frame.columns
    if named:
        if (frame["model"].str.strip() == "").any():
            raise TestSetError(
                f"{name}: column 'model' is empty on row(s) "
                f"{_some(i + 2 for i in frame.index[frame['model'].str.strip() == ''])}"
            )
        models = list(dict.fromkeys(frame["model"]))
    else:
        models = [default_model or (Path(name).stem if name != "predictions" else "model")]
        frame = frame.assign(model=models[0])

    clip_position = {clip: i for i, clip in enumerate(testset.clip_ids)}
    condition_position = {condition: j for j, condition in enumerate(testset.conditions)}
    n_clips, n_conditions = len(clip_position), len(condition_position)
    label_id = {label: i for i, label in enumerate(classes)}
    problems = []
    arrays, probabilities = {}, {}
    for model in models:
        rows = frame[frame["model"] == model]
        i = rows["clip"].map(clip_position)
        j = pd.Series(
            [condition_position.get(key, -1) for key in zip(rows["condition"], rows["severity"])], index=rows.index
        )
        known = i.notna() & (j >= 0)
        where = f"model {model!r}: " if named else ""
        if not known.all():
            extra = rows[~known]
            problems.append(
                f"{where}{len(extra)} row(s) name no file of the test set, e.g. "
                f"{_some(_key(r) for r in extra.itertuples())}"
            )
        rows, i, j = rows[known], i[known].astype(int), j[known]
        flat = (j * n_clips + i).to_numpy()
        counts = np.bincount(flat, minlength=n_clips * n_conditions)
        if (counts > 1).any():
            twice = rows[pd.Series(flat, index=rows.index).duplicated(keep="first")]
            problems.append(
                f"{where}{len(twice)} file(s) predicted more than once, e.g. "
                f"{_some(_key(r) for r in twice.itertuples())}"
            )
        if (counts == 0).any():
            absent = np.flatnonzero(counts == 0)
            problems.append(
                f"{where}{len(absent)} file(s) not predicted, e.g. "
                f"{_some(_flat_key(k, testset, n_clips) for k in absent)}"
            )
        if problems:
            continue
        predicted = np.empty(n_clips * n_conditions, np.int64)
        predicted[flat] = rows["predicted"].map(label_id).to_numpy()
        if probability_columns:
            values = rows[[PROBABILITY_PREFIX + c for c in classes]].apply(pd.to_numeric, errors="coerce").to_numpy()
            table = np.empty((n_clips * n_conditions, len(classes)), np.float64)
            table[flat] = values
        for (condition, severity), j_ in condition_position.items():
            arrays[(model, condition, severity)] = predicted[j_ * n_clips : (j_ + 1) * n_clips]
            if probability_columns:
                probabilities[(model, condition, severity)] = table[j_ * n_clips : (j_ + 1) * n_clips]
    if problems:
        raise TestSetError(f"{name}: " + "; ".join(problems))
    return ScoreResult(testset, GridResult(testset.y_true, arrays), tuple(models), probabilities)


def _check_probabilities(columns: pd.DataFrame, name: str) -> None:
    """Refuse probabilities that are not numbers in [0, 1] summing to 1 (within `PROBABILITY_TOLERANCE`: files
    rounded to a few decimals pass; logits, percentages and scores do not), naming the first bad line."""
    values = columns.apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce")).to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise TestSetError(
            f"{name}: line {row + 2}: {columns.columns[column]} is {columns.iat[row, column]!r}; "
            f"probabilities must be numbers in [0, 1] ({int(bad.any(axis=1).sum())} row(s) like it)"
        )
    off = np.abs(values.sum(axis=1) - 1) > PROBABILITY_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise TestSetError(
            f"{name}: line {row + 2}: the probabilities sum to {values[row].sum():.6g}, not 1 (within "
            f"{PROBABILITY_TOLERANCE:g}; {int(off.sum())} row(s) like it)"
        )


def _read_predictions(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise TestSetError(f"{path}: predictions file not found")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise TestSetError(f"{path}: not a readable CSV ({str(error).strip()})") from None


def _key(row) -> str:
    return f"({row.clip}, {row.condition}, {row.severity})"


def _flat_key(k: int, testset: PublishedTestSet, n_clips: int) -> str:
    condition, severity = testset.conditions[k // n_clips]
    return f"({testset.clip_ids[k % n_clips]}, {condition}, {severity})"
