"""Run configuration: one dataclass, one default set, recorded in every run directory.

Every value that changes a result lives here (sample rate, clip length, mel settings, the seed, the
corruption grid), so a run directory's `config.json` is enough to reproduce it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

DEFAULT_SAMPLE_RATE = 16000


@dataclasses.dataclass
class FeatureConfig:
    """Log-mel settings shared by the feature layer, the reference (librosa) and the report.

    Defaults are the usual speech front-end: 25 ms Hann windows, 10 ms hop, 64 mel bands.
    """

    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float | None = None
    top_db: float | None = 80.0

    def validate(self) -> None:
        for name in ("n_fft", "win_length", "hop_length", "n_mels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"FeatureConfig.{name} must be a positive int, got {value!r}")
        if self.win_length > self.n_fft:
            raise ValueError(
                f"FeatureConfig.win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})"
            )
        if self.top_db is not None and self.top_db <= 0:
            raise ValueError(f"FeatureConfig.top_db must be positive or None, got {self.top_db!r}")


@dataclasses.dataclass
class RunConfig:
    """Everything `benchmarks/run.py` needs to train, spoil, evaluate and report."""

    corpus: str = "synthetic"
    data_dir: str | None = None
    task: str | None = None
    models: list[str] = dataclasses.field(default_factory=lambda: ["conv1d", "conv2d"])
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
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # corpus/model extras

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.sample_rate < 1000:
            raise ValueError(f"sample_rate must be at least 1000 Hz, got {self.sample_rate}")
        if self.clip_seconds <= 0:
            raise ValueError(f"clip_seconds must be positive, got {self.clip_seconds}")
        if not self.models:
            raise ValueError("models must name at least one model")
        bad = [s for s in self.severities if s not in (1, 2, 3, 4, 5)]
        if bad:
            raise ValueError(f"severities must be in 1..5, got {bad}")
        self.features.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        values = dict(values)
        if isinstance(values.get("features"), dict):
            values["features"] = FeatureConfig(**values["features"])
        return cls(**values)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))
