"""What one stage of the suite hands the next: typed records, each with one writer and one reader.

- `TrainingRecord` (`training.json`): the train stage's corpus summary and every trained model;
- `EvaluationRecord` (`evaluation.json`): what the evaluate stage scored, which the report checks
  `predictions.csv.gz` against;
- `ResultRow`: one row of the long table (`table.csv`, `metrics.json`'s ``rows``);
- `HeldOutFigures`: the "trained with / held out" figures (`metrics.json`'s ``heldout``).

Writers go through `tables.write_json`; readers check every key and type (`record_fields.from_json`) and
raise one `RecordError` naming the file and the bad or missing key.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from keras_audio.suite.record_fields import RecordError, from_json, read_json_object, to_json
from keras_audio.suite.results import ModelKey

TRAINING_FILE = "training.json"
EVALUATION_FILE = "evaluation.json"
METRICS_FILE = "metrics.json"

__all__ = [
    "EVALUATION_FILE",
    "METRICS_FILE",
    "TRAINING_FILE",
    "EvaluatedModel",
    "EvaluationRecord",
    "HeldOutFigures",
    "HeldOutRow",
    "HeldOutSummary",
    "RecordError",
    "ResultRow",
    "TestSetRecord",
    "TrainedModelRecord",
    "TrainingRecord",
]


def _write(record, path: Path) -> None:
    from keras_audio.suite.tables import write_json

    write_json(record.to_json(), Path(path))


class _RunFolderFile:
    """A record stored as one JSON file of a run folder (`FILE`): its one writer and its one reader."""

    FILE: str

    def to_json(self) -> dict:
        return to_json(self)

    def write(self, run_dir: Path) -> None:
        _write(self, Path(run_dir) / self.FILE)

    @classmethod
    def read(cls, run_dir: Path):
        """The run folder's file, checked.

        Raises:
            RecordError: the file is missing or unreadable, or a key is missing or of the wrong type.
        """
        path = Path(run_dir) / cls.FILE
        return from_json(cls, read_json_object(path), path)


# ------------------------------------------------------------------------------------------------ training
@dataclasses.dataclass(frozen=True)
class TrainedModelRecord:
    """One trained and exported model (`training.json`'s ``models``, each export's `trained.json`).

    Attributes:
        pairs: the policy of the (corrupted, clean) pairs a denoising model trained on when its own policy
            has no waveform part (``noise``), else ``""``: such a model has seen corrupted audio.
        mixup: the mixup alpha of its training batches (0: none).
        export: the export folder, relative to the run folder.
        formats: ``tflite``/``onnx`` -> ``{file, max_abs_difference, tolerance}`` or ``{skipped}``.
    """

    model: str
    policy: str
    seed: int
    fold: str
    params: int | None
    train_seconds: float
    epochs_run: int
    best_epoch: int
    export: str
    export_max_abs_difference: float
    formats: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    pairs: str = ""
    mixup: float = 0.0

    @property
    def key(self) -> ModelKey:
        return ModelKey(self.model, self.policy, self.seed, self.fold, pairs=self.pairs, mixup=self.mixup)

    def to_json(self) -> dict:
        return to_json(self)

    @classmethod
    def from_json(cls, values: Any, path: Path | str, where: str = "") -> TrainedModelRecord:
        return _policy_fields(from_json(cls, values, path, where))


def _policy_fields(record):
    """`record` with its pairs and mixup as fields: folders of older versions wrote them into the policy
    (``none (pairs: noise)``, `ModelKey.from_label`)."""
    if record.pairs or record.mixup:
        return record
    key = ModelKey.from_label(record.model, record.policy, record.seed, record.fold)
    return dataclasses.replace(record, policy=key.policy, pairs=key.pairs, mixup=key.mixup)


@dataclasses.dataclass(frozen=True)
class TrainingRecord(_RunFolderFile):
    """`training.json`: what the train stage hands the evaluate and report stages."""

    FILE = TRAINING_FILE

    corpus: str
    task: str
    classes: tuple[str, ...]
    manifest: dict[str, Any]
    split_unit: str
    bad_files: tuple[dict[str, str], ...]
    plan_warnings: tuple[str, ...]
    plan_notes: tuple[str, ...]
    models: tuple[TrainedModelRecord, ...]


# ---------------------------------------------------------------------------------------------- evaluation
@dataclasses.dataclass(frozen=True)
class TestSetRecord:
    """One test set of `evaluation.json`: what `results.read_predictions` checks the predictions file against.

    Attributes:
        clips_sha256: `results.clips_digest` of its clip ids.
        conditions: the grid's `(corruption, severity)` pairs, clean first.
    """

    __test__ = False  # not a pytest class

    name: str
    fold: str
    corpus: str
    task: str
    clips: int
    clips_sha256: str
    speakers: int
    conditions: tuple[tuple[str, int], ...]

    def to_json(self) -> dict:
        return {**to_json(self), "conditions": [[name, int(severity)] for name, severity in self.conditions]}


@dataclasses.dataclass(frozen=True)
class EvaluatedModel:
    """One model of `evaluation.json`: its key and where it was loaded from (rate and clip length when known)."""

    model: str
    policy: str
    seed: int
    fold: str
    source: str
    sample_rate: int | None = None
    clip_samples: int | None = None
    pairs: str = ""
    mixup: float = 0.0

    @classmethod
    def of(
        cls, key: ModelKey, source: str, sample_rate: int | None = None, clip_samples: int | None = None
    ) -> EvaluatedModel:
        return cls(
            key.model, key.policy, key.seed, key.fold, str(source), sample_rate, clip_samples, key.pairs, key.mixup
        )

    @property
    def key(self) -> ModelKey:
        return ModelKey(self.model, self.policy, self.seed, self.fold, pairs=self.pairs, mixup=self.mixup)

    @classmethod
    def from_json(cls, values: Any, path: Path | str, where: str = "") -> EvaluatedModel:
        return _policy_fields(from_json(cls, values, path, where))

    def to_json(self) -> dict:
        values = to_json(self)
        for name in ("sample_rate", "clip_samples"):  # unknown for predictions scored from a file
            if values[name] is None:
                del values[name]
        return values


@dataclasses.dataclass(frozen=True)
class EvaluationRecord(_RunFolderFile):
    """`evaluation.json`: the test sets and models the evaluate stage scored, the classes, its notes.

    `test_sets` and `models` are empty in run folders of older versions (the report then checks nothing).
    """

    FILE = EVALUATION_FILE

    classes: tuple[str, ...]
    task: str
    notes: tuple[str, ...] = ()
    test_sets: tuple[TestSetRecord, ...] = ()
    models: tuple[EvaluatedModel, ...] = ()
    seed: int | None = None


# ------------------------------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One row of the long table: a model key × condition and its figures on one test set.

    Attributes:
        accuracy, balanced_accuracy: on the condition's clips; `n` clips.
        ci_low, ci_high: the accuracy's 95 % speaker-bootstrap interval (NaN in tables of older versions).
        test_corpus: the test set the row is of, in `table.csv` only (None in `metrics.json`, whose sections
            say it).
        pairs, mixup: see `TrainedModelRecord` (written only when set).
    """

    model: str
    policy: str
    seed: int
    fold: str
    corruption: str
    severity: int
    accuracy: float
    balanced_accuracy: float
    n: int
    ci_low: float = math.nan
    ci_high: float = math.nan
    test_corpus: str | None = None
    pairs: str = ""
    mixup: float = 0.0

    @property
    def key(self) -> ModelKey:
        return ModelKey(self.model, self.policy, self.seed, self.fold, pairs=self.pairs, mixup=self.mixup)

    @property
    def policy_label(self) -> str:
        """The policy as the tables show it (`ModelKey.policy_label`)."""
        return self.key.policy_label

    def metrics(self) -> dict:
        """The row as `grid.summarize` and the plots read it (a mapping of the key and the figures)."""
        return {
            "model": self.model,
            "policy": self.policy,
            "seed": self.seed,
            "fold": self.fold,
            "corruption": self.corruption,
            "severity": self.severity,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }

    def to_json(self) -> dict:
        values = to_json(self)
        for name, unset in (("test_corpus", None), ("pairs", ""), ("mixup", 0.0)):
            if values[name] == unset:
                del values[name]
        return values

    @classmethod
    def from_json(cls, values: Any, path: Path | str, where: str = "") -> ResultRow:
        return _policy_fields(from_json(cls, values, path, where))


# ------------------------------------------------------------------------------------------------ held out
@dataclasses.dataclass(frozen=True)
class HeldOutRow:
    """One model × held-out policy × seed × fold: its accuracy on the held-out family's conditions beside the
    trained-on policy's (`tables.heldout_results`); CEs None without a reference or for an excluded family."""

    model: str
    policy: str
    trained_on_policy: str
    family: str
    corruptions: tuple[str, ...]
    seed: int
    fold: str
    clean_held_out: float
    held_out: float
    clean_trained_on: float
    trained_on: float
    clean_held_out_balanced: float
    held_out_balanced: float
    clean_trained_on_balanced: float
    trained_on_balanced: float
    ce_held_out: float | None
    ce_trained_on: float | None


@dataclasses.dataclass(frozen=True)
class HeldOutSummary:
    """One model × trained-on policy × seed × fold: the mCEs over the held-out families (`families`)."""

    model: str
    trained_on_policy: str
    seed: int
    fold: str
    families: tuple[str, ...]
    mce_held_out: float | None
    mce_trained_on: float | None
    clean_trained_on: float
    clean_trained_on_balanced: float


@dataclasses.dataclass(frozen=True)
class HeldOutFigures:
    """`metrics.json`'s ``heldout``: the families and their evaluated corruptions, those left out of mCE, the
    reference (model, policy) the CEs divide by (None: no CE), the rows and the summaries."""

    families: dict[str, tuple[str, ...]]
    excluded: tuple[str, ...]
    rows: tuple[HeldOutRow, ...]
    summaries: tuple[HeldOutSummary, ...]
    reference: tuple[str, str] | None

    def to_json(self) -> dict:
        values = to_json(self)
        values["reference"] = (
            None if self.reference is None else {"model": self.reference[0], "policy": self.reference[1]}
        )
        return values

    @classmethod
    def read(cls, metrics_path: Path) -> HeldOutFigures | None:
        """`metrics.json`'s held-out figures; None when the run held no family out.

        Raises:
            RecordError: the file is missing or unreadable, or a key is missing or of the wrong type.
        """
        values = read_json_object(metrics_path)
        if "heldout" not in values:
            return None
        heldout = values["heldout"]
        if not isinstance(heldout, dict):
            raise RecordError(f"{metrics_path}: heldout must be a JSON object, got {type(heldout).__name__}")
        if "reference" not in heldout:
            raise RecordError(f"{metrics_path}: missing key 'heldout.reference'")
        reference = heldout["reference"]
        if reference is not None:
            reference = from_json(_Reference, reference, metrics_path, "heldout.reference")
            reference = (reference.model, reference.policy)
        return dataclasses.replace(
            from_json(cls, {**heldout, "reference": None}, metrics_path, "heldout"), reference=reference
        )


@dataclasses.dataclass(frozen=True)
class _Reference:
    model: str
    policy: str
