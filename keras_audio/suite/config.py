"""Run configuration: one dataclass, one default set, recorded in every run directory.

Every value that changes a result lives here (sample rate, clip length, mel settings, the seed, the
corruption grid), so a run directory's `config.json` is enough to reproduce it.

Every field is checked for type and range when a config is loaded (`RunConfig.from_dict`, `RunConfig.load`)
and again by `RunConfig.validate` (flags set fields after loading): booleans must be booleans (JSON
``"false"`` is a string, and a non-empty string is true), integers integers (``"1"`` and ``1.5`` are
refused), floats finite. An unknown key anywhere, in the sections (``features``, ``plan``, ``data``,
``training``, ``evaluation``) too, is a `ConfigError` naming it and the closest known key. The ``options``
object of older config files is read onto the sections' fields (`LEGACY_OPTIONS`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keras_audio.config import (
    DEFAULT_SAMPLE_RATE,
    MAX_SEED,
    SEVERITIES,
    ConfigError,
    FeatureConfig,
    check_bool,
    check_float,
    check_int,
    check_keys,
    check_mapping,
    check_names,
    check_str,
    shown,
)


@dataclasses.dataclass
class PlanConfig:
    """What the plan check (`keras_audio.suite.plan.check_plan`) refuses or warns about before any decoding.

    Attributes:
        allow_missing_classes: accept a class absent from a split (a warning instead of a refusal). Its
            recall on that split is then undefined: balanced accuracy averages over the classes present,
            and a class never trained on can never be predicted.
        min_clips: fewer clips of a class in a split is a warning (one clip moves its recall by 1/n).
        min_speakers: fewer speakers of a class in a split is a warning (the class is one or two voices).
        min_test_speakers: fewer test speakers in all is a warning: the report's 95 % intervals resample
            whole test speakers, and with few of them the interval degenerates (one speaker: zero width).
        content_hash: also compare file contents (SHA-256, files of equal size only) across splits, to
            find one recording stored under two names.
    """

    allow_missing_classes: bool = False
    min_clips: int = 5
    min_speakers: int = 3
    min_test_speakers: int = 10
    content_hash: bool = False

    def validate(self) -> None:
        check_bool("plan.allow_missing_classes", self.allow_missing_classes)
        check_bool("plan.content_hash", self.content_hash)
        for name in ("min_clips", "min_speakers", "min_test_speakers"):
            check_int(f"plan.{name}", getattr(self, name), minimum=0)


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"must be one of {list(choices)}, got {value!r}")


def _check_string_map(key: str, value: Any) -> None:
    for name, target in check_mapping(key, value).items():
        if not isinstance(target, str):
            raise ConfigError(f"{key}.{name}", f"must be a string, got {target!r}")


def _fields(kind) -> list[str]:
    return [f.name for f in dataclasses.fields(kind)]


@dataclasses.dataclass
class CorpusSpec:
    """One corpus named beside the run's own: a training corpus of `DataConfig.corpora` or a test corpus of
    `EvaluationConfig.test_corpora`.

    Attributes:
        corpus: the recipe's name; `data_dir` its folder (None: the recipe's default).
        task: the recipe's task (None: the run's).
        options: keyword arguments of the recipe.
        name: the corpus's name in the combined training corpus (None: `corpus`).
    """

    corpus: str
    data_dir: str | None = None
    task: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    name: str | None = None

    @classmethod
    def from_dict(cls, values: Any, where: str) -> CorpusSpec:
        check_keys(values, _fields(cls), where)
        if not isinstance(values.get("corpus"), str):
            raise ConfigError(f"{where}.corpus", f"must name a corpus recipe, got {values.get('corpus')!r}")
        spec = cls(**{**values, "options": values.get("options") or {}})
        spec.validate(where)
        return spec

    def validate(self, where: str) -> None:
        check_str(f"{where}.corpus", self.corpus)
        for name in ("data_dir", "task", "name"):
            check_str(f"{where}.{name}", getattr(self, name), optional=True)
        check_mapping(f"{where}.options", self.options)


def _corpus_specs(key: str, value: Any) -> list[CorpusSpec]:
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list of {{corpus, data_dir}} objects, got {value!r}")
    return [
        spec if isinstance(spec, CorpusSpec) else CorpusSpec.from_dict(spec, f"{key}[{i}]")
        for i, spec in enumerate(value)
    ]


def _check_specs(key: str, specs: Any) -> None:
    if not isinstance(specs, list) or not all(isinstance(s, CorpusSpec) for s in specs):
        raise ConfigError(key, f"must be a list of CorpusSpec, got {shown(specs)}")
    for i, spec in enumerate(specs):
        spec.validate(f"{key}[{i}]")


@dataclasses.dataclass
class DataConfig:
    """Where the training clips come from and how they are served.

    Attributes:
        corpus_options: keyword arguments of the corpus recipe (``--corpus-option``, ``--esc10``).
        corpora: several training corpora joined by label name (``--corpus`` given more than once); empty: the
            run's `corpus` alone.
        cross_validation: one round per value of the corpus's fold column.
        source: where the clips are served from: ``memory``, ``stream`` (read from the decode cache on disk) or
            ``auto`` (stream above `stream_threshold_gb` of float32 samples).
    """

    corpus_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    corpora: list[CorpusSpec] = dataclasses.field(default_factory=list)
    cross_validation: bool = False
    source: str = "auto"
    stream_threshold_gb: float = 2.0

    def validate(self) -> None:
        check_mapping("data.corpus_options", self.corpus_options)
        _check_specs("data.corpora", self.corpora)
        check_bool("data.cross_validation", self.cross_validation)
        _check_choice("data.source", self.source, ("memory", "stream", "auto"))
        check_float("data.stream_threshold_gb", self.stream_threshold_gb, minimum=0.0)


@dataclasses.dataclass
class TrainingConfig:
    """How each model trains and what is exported beside it.

    Attributes:
        model_options: per model, keyword arguments of its builder, ``{model: {name: value}}``.
        policy_probability: the fraction of training clips a waveform policy corrupts, in [0, 1].
        mixup_alpha: mixup (`keras_audio.mixup`) of every training batch with Beta(alpha, alpha) weights; 0: off
            (0.1-0.4 is the usual range).
        strategy: ``default`` (one device), ``mirrored`` (every local device) or ``multi-worker`` (the cluster in
            TF_CONFIG); see `keras_audio.distribute`.
        export_formats: extra export formats of every model: any of ``tflite``, ``onnx``.
    """

    model_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    policy_probability: float = 0.5
    mixup_alpha: float = 0.0
    strategy: str = "default"
    export_formats: list[str] = dataclasses.field(default_factory=list)

    def validate(self) -> None:
        for model, hparams in check_mapping("training.model_options", self.model_options).items():
            check_mapping(f"training.model_options.{model}", hparams)
        check_float("training.policy_probability", self.policy_probability, minimum=0.0, maximum=1.0)
        check_float("training.mixup_alpha", self.mixup_alpha, minimum=0.0, maximum=10.0)
        _check_choice("training.strategy", self.strategy, ("default", "mirrored", "multi-worker"))
        if not isinstance(self.export_formats, list):
            raise ConfigError("training.export_formats", f"must be a list, got {shown(self.export_formats)}")
        for i, name in enumerate(self.export_formats):
            _check_choice(f"training.export_formats[{i}]", name, ("tflite", "onnx"))


@dataclasses.dataclass
class EvaluationConfig:
    """What else every model is scored on, and how the grid is shared between workers.

    Attributes:
        test_corpora: other corpora every model is also evaluated on (``--test-corpus``).
        test_split: which clips of each test corpus: ``test`` (its test split) or ``all``.
        class_map: a test corpus's class name -> the models' class name.
        shared_dir: a folder every worker of TF_CONFIG reads and writes: the evaluation grid is split by
            condition across the workers, whose parts are exchanged there (None: each scores all of it).
        shared_timeout_seconds: how long a worker waits for the other workers' parts.
    """

    test_corpora: list[CorpusSpec] = dataclasses.field(default_factory=list)
    test_split: str = "test"
    class_map: dict[str, str] = dataclasses.field(default_factory=dict)
    shared_dir: str | None = None
    shared_timeout_seconds: float = 3600.0

    def validate(self) -> None:
        _check_specs("evaluation.test_corpora", self.test_corpora)
        _check_choice("evaluation.test_split", self.test_split, ("test", "all"))
        _check_string_map("evaluation.class_map", self.class_map)
        check_str("evaluation.shared_dir", self.shared_dir, optional=True)
        check_float("evaluation.shared_timeout_seconds", self.shared_timeout_seconds, positive=True)


# The sub-configs of `RunConfig` read from a config file's nested objects.
SECTIONS = {
    "features": FeatureConfig,
    "plan": PlanConfig,
    "data": DataConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
}
_SPEC_LISTS = {("data", "corpora"), ("evaluation", "test_corpora")}

# Config files of older versions held the run's options in one untyped ``options`` object: each of its keys
# and the field it now fills.
LEGACY_OPTIONS = {
    "corpus": ("data", "corpus_options"),
    "corpora": ("data", "corpora"),
    "cross_validation": ("data", "cross_validation"),
    "source": ("data", "source"),
    "stream_threshold_gb": ("data", "stream_threshold_gb"),
    "models": ("training", "model_options"),
    "policy_probability": ("training", "policy_probability"),
    "mixup_alpha": ("training", "mixup_alpha"),
    "strategy": ("training", "strategy"),
    "export_formats": ("training", "export_formats"),
    "test_corpora": ("evaluation", "test_corpora"),
    "test_split": ("evaluation", "test_split"),
    "class_map": ("evaluation", "class_map"),
    "shared_dir": ("evaluation", "shared_dir"),
    "shared_timeout_seconds": ("evaluation", "shared_timeout_seconds"),
}


def _fold_legacy_options(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with an older config's ``options`` moved onto the sections' fields (``export_formats`` then
    accepted one name as well as a list, as it was)."""
    options = values.pop("options")
    check_keys(options, LEGACY_OPTIONS, "options")
    for key, value in options.items():
        section, field = LEGACY_OPTIONS[key]
        nested = values.setdefault(section, {})
        if isinstance(nested, Mapping):
            if key == "export_formats" and not isinstance(value, list):
                value = [value]
            values[section] = {**nested, field: value}
    return values


@dataclasses.dataclass
class RunConfig:
    """Everything `benchmarks/run.py` needs to train, spoil, evaluate and report."""

    corpus: str = "synthetic"
    data_dir: str | None = None
    task: str | None = None
    models: list[str] = dataclasses.field(default_factory=lambda: ["conv1d", "ge2e"])
    policies: list[str] = dataclasses.field(default_factory=lambda: ["none"])
    corruptions: list[str] | None = None  # None: every registered waveform corruption
    severities: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3, 4, 5])
    reference_model: str | None = None  # mCE reference; None: the first model with policy "none"
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 4
    seed: int = 0
    seeds: int = 1
    sample_rate: int = DEFAULT_SAMPLE_RATE
    clip_seconds: float = 2.0
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    skip_bad: bool = False
    noise_dir: str | None = None
    ir_dir: str | None = None
    cache_dir: str = "datasets/.cache"
    out: str = "results"
    run_name: str | None = None
    plan: PlanConfig = dataclasses.field(default_factory=PlanConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    def validate(self) -> None:
        """Check every field's type and range.

        Raises:
            ConfigError (a ValueError): naming the key and the problem.
        """
        for key in ("corpus", "cache_dir", "out"):
            check_str(key, getattr(self, key))
        for key in ("data_dir", "task", "reference_model", "noise_dir", "ir_dir", "run_name"):
            check_str(key, getattr(self, key), optional=True)
        check_names("models", self.models)
        check_names("policies", self.policies)
        check_names("corruptions", self.corruptions, optional=True)
        if isinstance(self.severities, str) or not isinstance(self.severities, (list, tuple)):
            raise ConfigError("severities", f"must be a list of integers in 1..5, got {shown(self.severities)}")
        for severity in self.severities:
            check_int("severities", severity, minimum=1, maximum=max(SEVERITIES))
        repeated = sorted({s for s in self.severities if list(self.severities).count(s) > 1})
        if repeated:  # a severity twice would count twice in every mean over severities
            raise ConfigError("severities", f"{repeated} given more than once")
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("learning_rate", self.learning_rate, positive=True)
        check_int("patience", self.patience, minimum=0)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_int("seeds", self.seeds, minimum=1, maximum=MAX_SEED - self.seed + 1)
        check_int("sample_rate", self.sample_rate, minimum=1000)
        check_float("clip_seconds", self.clip_seconds, positive=True)
        if self.clip_samples < 1:
            raise ConfigError(
                "clip_seconds", f"{self.clip_seconds!r} s is less than one sample at {self.sample_rate} Hz"
            )
        check_bool("skip_bad", self.skip_bad)
        for key, kind in SECTIONS.items():
            if not isinstance(getattr(self, key), kind):
                raise ConfigError(key, f"must be a {kind.__name__}, got {shown(getattr(self, key))}")
        self.features.validate(self.sample_rate)
        for key in ("plan", "data", "training", "evaluation"):
            getattr(self, key).validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """A validated config from plain values (a parsed JSON object).

        An older config's ``options`` object is read onto the fields that replaced it (`LEGACY_OPTIONS`).

        Raises:
            ConfigError: an unknown key (with the closest known one) or a bad value, naming the key.
        """
        check_keys(values, [*_fields(cls), "options"], "")
        values = dict(values)
        if "options" in values:
            values = _fold_legacy_options(values)
        for key, kind in SECTIONS.items():
            if key in values and not isinstance(values[key], kind):
                nested = dict(check_mapping(key, values[key]))
                check_keys(nested, _fields(kind), key)
                for section, field in _SPEC_LISTS:
                    if section == key and field in nested:
                        nested[field] = _corpus_specs(f"{key}.{field}", nested[field])
                values[key] = kind(**nested)
        config = cls(**values)
        config.validate()
        return config

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read and validate a JSON config.

        Raises:
            ConfigError: the file is missing or not JSON, or a key or value is wrong (the message starts
                with the file's path).
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigError("--config", f"{path}: cannot read ({error.strerror or error})") from None
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError("--config", f"{path}: not valid JSON ({error})") from None
        try:
            return cls.from_dict(values)
        except ConfigError as error:
            raise ConfigError(error.key, f"{error.problem} (in {path})") from None
