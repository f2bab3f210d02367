"""Model families by name. Each family is a functional builder in its own file.

A builder has the signature::

    build(num_classes, sample_rate, features: FeatureConfig, spec_augment=False, **hparams) -> keras.Model

and returns an uncompiled functional model that takes float32 waveforms `[batch, samples]` and returns
class probabilities `[batch, num_classes]`. Families that train differently (a two-stage autoencoder, a
scikit-learn estimator) register a `trainer` too; the default is `training.fit_classifier`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

import keras

from keras_audio.config import FeatureConfig


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    name: str
    build: Callable[..., keras.Model]
    description: str
    trainer: Callable | None = None  # None: the standard classifier recipe


_FAMILIES: dict[str, ModelFamily] = {}

# Families register themselves on import; these modules are imported the first time a name is looked up.
_MODULES = ("keras_audio.models.conv1d", "keras_audio.models.conv2d")


def register_model(name: str, description: str, trainer: Callable | None = None):
    """Decorator registering a builder under `name`."""

    def decorate(build: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _FAMILIES and _FAMILIES[name].build is not build:
            raise ValueError(f"model name {name!r} is registered twice")
        _FAMILIES[name] = ModelFamily(name, build, description, trainer)
        return build

    return decorate


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def available() -> list[str]:
    _load_all()
    return list(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    _load_all()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(_FAMILIES)}") from None


def build_model(name: str, num_classes: int, sample_rate: int, features: FeatureConfig | None = None,
                spec_augment: bool = False, **hparams) -> keras.Model:
    """Build model `name` (see the module docstring for the contract)."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    model = get_family(name).build(num_classes=num_classes, sample_rate=sample_rate,
                                   features=features or FeatureConfig(), spec_augment=spec_augment, **hparams)
    return model
