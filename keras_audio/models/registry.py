"""Model families by name. Each family is a functional builder in its own file.

A builder has the signature::

    build(num_classes, sample_rate, features: FeatureConfig, spec_augment=False, **hparams) -> keras.Model

and returns an uncompiled functional model that takes float32 waveforms `[batch, samples]` and returns
class probabilities `[batch, num_classes]`. Families on the shared spectrogram front-end
(`frontend.spectral_frontend`) take `frontend="log_mel" | "pcen" | "pcen_fixed"` among their hparams, and
ignore zero padding: their prediction for a clip does not depend on how much padding surrounds it
(tests/models/test_padding_invariance.py).

Families that train, run or ship differently register hooks with the builder (every hook defaults to the
standard path, so a plain Keras classifier registers none):

- `trainer(model, inputs, settings, log_dir) -> TrainingResult`: how to train it (default
  `training.fit_classifier`); a multi-stage trainer reuses `training.run_fit` for every stage;
- `inference_model(model) -> keras.Model`: the waveform -> probabilities model to evaluate and export
  when the built model has training-only outputs (the autoencoder's reconstruction);
- `exporter(model, directory, probe, *, class_names, sample_rate, clip_samples, extra_metadata)
  -> (directory, max abs difference)`: write the model and check that the reloaded copy predicts the
  same on `probe` (default `export.export_model` + `export.verify_export`);
- `count_params(model) -> int | None`: the size shown in the tables (default `model.count_params()`);
- `loader(export_dir) -> (predict, metadata)`: reload an export of `exporter` (default: the export's
  SavedModel); `loader.load_predictor`, the one loader, calls it for an export of the family.

Every model is evaluated and served from its export, through the loader, never in memory.
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
    inference_model: Callable | None = None  # None: the built model itself
    exporter: Callable | None = None  # None: SavedModel + .keras, checked after reloading
    count_params: Callable | None = None  # None: keras.Model.count_params
    loader: Callable | None = None  # None: the export's SavedModel (`loader.load_predictor`)
    spec_augment: bool = True  # whether the model has a log-mel that SpecAugment masks can act on
    centre_crops: bool = False  # train on each clip's centre window (as evaluated) instead of random windows


_FAMILIES: dict[str, ModelFamily] = {}

# Families register themselves on import; these modules are imported the first time a name is looked up.
_MODULES = (
    "keras_audio.models.conv1d",
    "keras_audio.models.conv2d",
    "keras_audio.models.vgg",
    "keras_audio.models.recurrent",
    "keras_audio.models.autoencoder",
    "keras_audio.models.handcrafted",
    "keras_audio.models.sklearn_baseline",
    "keras_audio.models.transfer",
    "keras_audio.models.pretrained",
)


def register_model(
    name: str,
    description: str,
    trainer: Callable | None = None,
    spec_augment: bool = True,
    centre_crops: bool = False,
    **hooks: Callable,
):
    """Decorator registering a builder under `name`, with optional hooks (see the module docstring).

    Args:
        spec_augment: False for families without a log-mel to mask (the run refuses a ``specaugment``
            policy for them before training anything).
        centre_crops: train on each clip's centre window instead of a random one (a frozen encoder's head:
            each clip then has one embedding, which the train stage can compute once).
    """
    unknown = sorted(set(hooks) - {"inference_model", "exporter", "count_params", "loader"})
    if unknown:
        raise ValueError(f"register_model({name!r}): unknown hook(s) {unknown}")

    def decorate(build: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _FAMILIES and _FAMILIES[name].build is not build:
            raise ValueError(f"model name {name!r} is registered twice")
        _FAMILIES[name] = ModelFamily(
            name, build, description, trainer, spec_augment=spec_augment, centre_crops=centre_crops, **hooks
        )
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


def build_model(
    name: str,
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig | None = None,
    spec_augment: bool = False,
    **hparams,
) -> keras.Model:
    """Build model `name` (see the module docstring for the contract)."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    model = get_family(name).build(
        num_classes=num_classes,
        sample_rate=sample_rate,
        features=features or FeatureConfig(),
        spec_augment=spec_augment,
        **hparams,
    )
    return model
