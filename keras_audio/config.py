"""Settings the library shares: the log-mel front-end (`FeatureConfig`), common defaults, and the checks that
raise `ConfigError` naming the bad key and the closest known one.

The run configuration built on them (`RunConfig`) is the suite's: `keras_audio.suite.config`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_SAMPLE_RATE = 16000
SEVERITIES = (1, 2, 3, 4, 5)
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding (and so Keras' set_random_seed) takes 32-bit seeds


class ConfigError(ValueError):
    """A config value of the wrong type or out of range, or an unknown key.

    Attributes:
        key: the dotted key (``features.n_mels``, ``training.policy_probability``).
    """

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"config key {key!r}: {problem}")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of `known` (difflib), else the list of known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known: {', '.join(known)}" if known else ""


def check_mapping(key: str, value: Any) -> Mapping:
    """A dict with string keys (a JSON object)."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must be a JSON object (a dict), got {shown(value)}")
    for name in value:
        if not isinstance(name, str):
            raise ConfigError(key, f"keys must be strings, got {shown(name)}")
    return value


def check_keys(values: Mapping, known: Iterable[str], where: str) -> None:
    """Refuse keys of `values` that are not `known`, naming the first and the closest known one.

    Args:
        where: the dotted key of `values` (``""`` for the top level).
    """
    check_mapping(where or "(the whole config)", values)
    known = list(known)
    unknown = [key for key in values if key not in known]
    if unknown:
        key = unknown[0]
        more = f" (and {len(unknown) - 1} more: {unknown[1:]})" if len(unknown) > 1 else ""
        raise ConfigError(f"{where}.{key}" if where else key, f"unknown key{more}{did_you_mean(key, known)}")


# ------------------------------------------------------------------------------------------------ checks
def shown(value: Any) -> str:
    """A value and its type, for messages: "'true' (str)" says why a JSON string was refused."""
    return f"{value!r} ({type(value).__name__})"


def check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {shown(value)}")
    return value


def check_int(key: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    # bool is an int subclass: `"epochs": true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(key, f"must be an integer, got {shown(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(key, f"must be <= {maximum}, got {value}")
    return int(value)


def check_float(
    key: str, value: Any, *, positive: bool = False, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A finite real number (an int is accepted: JSON writes 2.0 as 2 when a person types it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(key, f"must be a number, got {shown(value)}")
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(key, f"must be positive, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(key, f"must be <= {maximum}, got {value!r}")
    return float(value)


def check_str(key: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be a non-empty string{' or null' if optional else ''}, got {shown(value)}")
    return value


def check_names(key: str, value: Any, optional: bool = False) -> list[str] | None:
    """A non-empty list of distinct non-empty strings (None too when `optional`)."""
    if value is None and optional:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(key, f"must be a list of names{' or null' if optional else ''}, got {shown(value)}")
    if not value:
        raise ConfigError(key, "must name at least one" + (" (or be null for the default)" if optional else ""))
    for item in value:
        check_str(key, item)
    repeated = sorted({item for item in value if list(value).count(item) > 1})
    if repeated:
        raise ConfigError(key, f"{key} {repeated} named more than once")
    return list(value)


# ------------------------------------------------------------------------------------------- dataclasses
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

    def validate(self, sample_rate: int | None = None) -> None:
        """Check types and ranges (and, given the sample rate, that `fmin` < `fmax` <= Nyquist).

        Raises:
            ConfigError: naming ``features.<field>`` and the problem.
        """
        for name in ("n_fft", "win_length", "hop_length", "n_mels"):
            check_int(f"features.{name}", getattr(self, name), minimum=1)
        if self.n_fft % 2:  # the centred STFT would give one frame fewer than the layer declares
            raise ConfigError("features.n_fft", f"must be even, got {self.n_fft}")
        if self.win_length > self.n_fft:
            raise ConfigError("features.win_length", f"({self.win_length}) must not exceed n_fft ({self.n_fft})")
        check_float("features.fmin", self.fmin, minimum=0.0)
        if self.fmax is not None:
            check_float("features.fmax", self.fmax, positive=True)
        if self.top_db is not None:
            check_float("features.top_db", self.top_db, positive=True)
        if sample_rate is not None:
            nyquist = sample_rate / 2
            if self.fmax is not None and self.fmax > nyquist:
                raise ConfigError(
                    "features.fmax", f"{self.fmax} Hz is above Nyquist ({nyquist:g} Hz at {sample_rate} Hz)"
                )
            top = self.fmax if self.fmax is not None else nyquist
            if self.fmin >= top:
                raise ConfigError("features.fmin", f"{self.fmin} Hz must be below fmax ({top:g} Hz)")
