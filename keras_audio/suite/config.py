"""Run configuration: one dataclass, one default set, recorded in every run directory.

Every value that changes a result lives here (sample rate, clip length, mel settings, the seed, the
corruption grid), so a run directory's `config.json` is enough to reproduce it.

Every field is checked for type and range when a config is loaded (`RunConfig.from_dict`, `RunConfig.load`)
and again by `RunConfig.validate` (flags set fields after loading): booleans must be booleans (JSON
``"false"`` is a string, and a non-empty string is true), integers integers (``"1"`` and ``1.5`` are
refused), floats finite. An unknown key anywhere, in ``features``, ``plan`` or ``options`` too, is a
`ConfigError` naming it and the closest known key.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from keras_audio.config import (DEFAULT_SAMPLE_RATE, SEVERITIES, MAX_SEED, ConfigError, FeatureConfig, check_bool, check_float, check_int, check_keys, check_mapping, check_names, check_str, shown)


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


def _check_options_models(key: str, value: Any) -> None:
    for model, hparams in check_mapping(key, value).items():
        check_mapping(f"{key}.{model}", hparams)


# The keys of `RunConfig.options`: what each holds (the names are checked here; the corpus recipe checks
# its keyword arguments, `plan.check_model_options` the builders').
OPTIONS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "corpus": ("keyword arguments of the corpus recipe, {name: value}", check_mapping),
    "models": ("per model, keyword arguments of its builder, {model: {name: value}}", _check_options_models),
    "cross_validation": ("true: one round per value of the corpus's fold column", check_bool),
    "policy_probability": ("the fraction of training clips a waveform policy corrupts, in [0, 1]",
                           lambda key, value: check_float(key, value, minimum=0.0, maximum=1.0)),
    "mixup_alpha": ("mixup (keras_audio.mixup) of every training batch with Beta(alpha, alpha) weights; "
                    "0 (the default): off. 0.1-0.4 is the usual range",
                    lambda key, value: check_float(key, value, minimum=0.0, maximum=10.0)),
    "corpora": ("several training corpora joined by label name, [{corpus, data_dir, task?, options?, name?}]",
                lambda key, value: _check_test_corpora(key, value)),
    "export_formats": ("extra export formats of every model: any of 'tflite', 'onnx'",
                       lambda key, value: [_check_choice(f"{key}[{i}]", v, ("tflite", "onnx"))
                                           for i, v in enumerate(value if isinstance(value, list) else [value])]),
    "test_corpora": ("other corpora every model is also evaluated on, [{corpus, data_dir, task?, options?}]",
                     lambda key, value: _check_test_corpora(key, value)),
    "test_split": ("which clips of each test corpus: 'test' (its test split) or 'all'",
                   lambda key, value: _check_choice(key, value, ("test", "all"))),
    "class_map": ("a test corpus's class name -> the models' class name, {corpus_class: model_class}",
                  lambda key, value: _check_string_map(key, value)),
    "strategy": ("training on 'default' (one device), 'mirrored' (every local device) or 'multi-worker' "
                 "(the cluster in TF_CONFIG); see keras_audio.distribute",
                 lambda key, value: _check_choice(key, value, ("default", "mirrored", "multi-worker"))),
    "source": ("where the clips are served from: 'memory', 'stream' (read from the decode cache on disk) or "
               "'auto' (stream above stream_threshold_gb)",
               lambda key, value: _check_choice(key, value, ("memory", "stream", "auto"))),
    "stream_threshold_gb": ("with source 'auto', stream a corpus whose float32 samples exceed this (default 2)",
                            lambda key, value: check_float(key, value, minimum=0.0)),
    "shared_dir": ("a folder every worker of TF_CONFIG reads and writes: the evaluation grid is split by "
                   "condition across the workers, whose parts are exchanged there",
                   lambda key, value: check_str(key, value)),
    "shared_timeout_seconds": ("how long a worker waits for the other workers' evaluation parts (default 3600)",
                               lambda key, value: check_float(key, value, positive=True)),
}


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"must be one of {list(choices)}, got {value!r}")


def _check_string_map(key: str, value: Any) -> None:
    for name, target in check_mapping(key, value).items():
        if not isinstance(target, str):
            raise ConfigError(f"{key}.{name}", f"must be a string, got {target!r}")


def _check_test_corpora(key: str, value: Any) -> None:
    if not isinstance(value, list):
        raise ConfigError(key, f"must be a list of {{corpus, data_dir}} objects, got {value!r}")
    for i, spec in enumerate(value):
        check_keys(spec, ("corpus", "data_dir", "task", "options", "name"), f"{key}[{i}]")
        if not isinstance(spec.get("corpus"), str):
            raise ConfigError(f"{key}[{i}].corpus", f"must name a corpus recipe, got {spec.get('corpus')!r}")


def check_options(options: Any) -> None:
    """Refuse unknown keys in `RunConfig.options` and values of the wrong type."""
    check_keys(options, OPTIONS, "options")
    for key, value in options.items():
        OPTIONS[key][1](f"options.{key}", value)


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
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # see OPTIONS

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
            raise ConfigError("clip_seconds", f"{self.clip_seconds!r} s is less than one sample at "
                                              f"{self.sample_rate} Hz")
        check_bool("skip_bad", self.skip_bad)
        for key, kind in (("features", FeatureConfig), ("plan", PlanConfig)):
            if not isinstance(getattr(self, key), kind):
                raise ConfigError(key, f"must be a {kind.__name__}, got {shown(getattr(self, key))}")
        self.features.validate(self.sample_rate)
        self.plan.validate()
        check_options(self.options)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunConfig":
        """A validated config from plain values (a parsed JSON object).

        Raises:
            ConfigError: an unknown key (with the closest known one) or a bad value, naming the key.
        """
        check_keys(values, [f.name for f in dataclasses.fields(cls)], "")
        values = dict(values)
        for key, kind in (("features", FeatureConfig), ("plan", PlanConfig)):
            if key in values and not isinstance(values[key], kind):
                nested = values[key]
                check_keys(nested, [f.name for f in dataclasses.fields(kind)], key)
                values[key] = kind(**nested)
        config = cls(**values)
        config.validate()
        return config

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
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
