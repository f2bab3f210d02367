"""Names every corruption and builds them, with the resources some of them need.

Waveform corruptions are registered here by name; spectrogram-level masks (SpecAugment) are layers inside
the model and are switched on by a training policy instead (see `policy.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.noise import BrownNoise, PinkNoise, WhiteNoise
from keras_audio.corruptions.speed import SpeedChange


class MissingResource(ValueError):
    """A corruption needs a resource (noise recordings, impulse responses, training clips) not given."""


@dataclasses.dataclass
class Resources:
    """What data-driven corruptions draw from.

    Attributes:
        noise_dir: a folder of background-noise recordings (any format `audio.read_audio` reads).
        ir_dir: a folder of room impulse responses.
        babble_waveforms: training-split utterances (never test speakers) for babble noise.
    """

    noise_dir: str | None = None
    ir_dir: str | None = None
    babble_waveforms: list[np.ndarray] | None = None


_REGISTRY: dict[str, type[Corruption]] = {}


def register(cls: type[Corruption]) -> type[Corruption]:
    """Class decorator (or call) adding a corruption under its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"corruption name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (WhiteNoise, PinkNoise, BrownNoise, SpeedChange):
    register(_cls)


def names() -> list[str]:
    """Every registered corruption, in registration order."""
    return list(_REGISTRY)


def needs_resources(name: str) -> tuple[str, ...]:
    """Which `Resources` fields the corruption `name` needs (empty if none)."""
    return tuple(getattr(corruption_class(name), "requires", ()))


def corruption_class(name: str) -> type[Corruption]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(_REGISTRY)}") from None


def build(name: str, sample_rate: int, resources: Resources | None = None) -> Corruption:
    """Construct the corruption `name` for `sample_rate`.

    Raises:
        ValueError: unknown name.
        MissingResource: it needs a resource that `resources` does not hold.
    """
    cls = corruption_class(name)
    requires = getattr(cls, "requires", ())
    resources = resources or Resources()
    missing = [r for r in requires if getattr(resources, r) is None]
    if missing:
        raise MissingResource(f"corruption {name!r} needs {', '.join(missing)}")
    if requires:
        return cls(sample_rate, **{r: getattr(resources, r) for r in requires})
    return cls(sample_rate)


def build_suite(names_: Iterable[str] | None, sample_rate: int, resources: Resources | None = None,
                skip_missing: bool = False) -> dict[str, Corruption]:
    """Build several corruptions by name (None: all registered).

    Args:
        skip_missing: leave out corruptions whose resources are missing instead of raising; the caller
            should report which were left out (`build_suite` cannot print for it).
    """
    suite = {}
    for name in names() if names_ is None else names_:
        try:
            suite[name] = build(name, sample_rate, resources)
        except MissingResource:
            if not skip_missing:
                raise
    return suite


def severity_table() -> list[dict[str, str]]:
    """One row per corruption with its five settings (the README table is generated from this)."""
    return [cls.table_row() for cls in _REGISTRY.values()]
