"""Pretrained encoders with a classifier head: the families ``ge2e`` and ``aisfx``, frozen or fine-tuned.

- ``ge2e``: the GE2E speaker encoder of Resemblyzer (16 kHz speech; `keras_audio.pretrained.ge2e`);
- ``aisfx``: the sound-effects encoder of Ma & Lerch (any rate, resampled in the graph to 44.1 kHz;
  `keras_audio.pretrained.aisfx`).

Each is a waveform model: encoder (inference mode) -> one global scale (the training embeddings' RMS) ->
dense softmax with an L2 penalty (a regularised logistic regression on the embeddings; ``hidden > 0`` adds a
ReLU layer, ``dropout`` a dropout before it). ``ge2e`` and ``aisfx`` keep the encoder
frozen and train the head only; ``ge2e_finetune`` and ``aisfx_finetune`` then unfreeze the encoder's top
(`TOP_LAYERS`) and train on at a tenth of the learning rate for at most ``fine_tune_epochs`` more epochs
(default `FINE_TUNE_EPOCHS`: each epoch runs the encoder forward and backward on every waveform).

These families train on each clip's centre window, the one evaluation takes (`register_model(centre_crops=
True)`), so a clip has one embedding: a frozen encoder's output for it never changes, and when the run's
training stream allows it (no waveform policy, no mixup: `TrainingInputs.cached_features`) the head trains on
embeddings computed once per clip, in the same batches it would see from the waveforms; otherwise, and with
``cache_embeddings=False``, the encoder runs on every batch. On a stream the cache can serve the head trains for
up to `HEAD_EPOCHS` epochs (early stopping on the validation loss ends it), the run's ``--epochs`` otherwise.
The weights come from the packages' own files (`keras_audio.pretrained.sources`), and every export records
their authors and licence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import waveform_input
from keras_audio.models.registry import register_model
from keras_audio.training import (
    TrainingInputs,
    TrainingResult,
    TrainingSettings,
    combine_stages,
    compile_classifier,
    fit_classifier,
    run_fit,
)

ENCODER = "encoder"
FINE_TUNE_FACTOR = 0.1
FINE_TUNE_EPOCHS = 3
# A head on cached embeddings: an epoch costs milliseconds, so it trains to convergence (early stopping on the
# validation loss decides) instead of stopping at the run's --epochs, sized for models that see waveforms.
HEAD_EPOCHS = 200
# The head's L2 penalty per example on its weights (a logistic regression's C = 1 / (2 * L2 * clips) in
# scikit-learn's terms): strong, since a probe that fits one corpus's voices closely transfers worse (GE2E,
# generated corpus -> AudioMNIST_AZ: balanced accuracy 0.81 at 0.01, 0.84 at 0.1).
L2 = 0.1
EMBEDDING_SCALE = "embedding_scale"
# What fine-tuning unfreezes: GE2E's last LSTM layer and its projection; AISFX's last convolution block.
TOP_LAYERS = {"ge2e": 2, "aisfx": 1}


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """How a family gets its encoder: `build(sample_rate, trainable, name) -> keras.Model` (waveforms ->
    embeddings), `unfreeze_top(encoder, count)` for fine-tuning, and its weight source's credit."""

    build: Callable[[int, bool, str], keras.Model]
    unfreeze_top: Callable[[keras.Model, int], None]
    source: Callable[[], object]  # -> sources.WeightSource (imported lazily: the family registry stays light)


def _ge2e_spec() -> EncoderSpec:
    from keras_audio.pretrained import ge2e, sources

    def build(sample_rate: int, trainable: bool, name: str) -> keras.Model:
        if sample_rate != ge2e.SAMPLE_RATE:
            raise ValueError(
                f"ge2e: the speaker encoder takes {ge2e.SAMPLE_RATE} Hz audio, the run uses "
                f"{sample_rate} Hz; run with --sample-rate {ge2e.SAMPLE_RATE}"
            )
        return ge2e.build_ge2e_encoder(trainable=trainable, name=name)

    return EncoderSpec(build, ge2e.set_ge2e_trainable, lambda: sources.GE2E)


def _aisfx_spec() -> EncoderSpec:
    from keras_audio.pretrained import aisfx, sources

    def build(sample_rate: int, trainable: bool, name: str) -> keras.Model:
        return aisfx.build_aisfx_encoder(sample_rate, trainable=trainable, name=name)

    return EncoderSpec(build, aisfx.set_aisfx_trainable, lambda: sources.AISFX)


SPECS = {"ge2e": _ge2e_spec, "aisfx": _aisfx_spec}


def _head_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers after the encoder, in order (dropout, optional hidden dense, probabilities)."""
    names = [layer.name for layer in model.layers]
    return model.layers[names.index(ENCODER) + 1 :]


def _head_model(model: keras.Model, dim: int) -> keras.Model:
    """The head of `model` on its own, sharing its layers (training one trains the other)."""
    features = keras.Input(shape=(dim,), dtype="float32", name="embedding")
    x = features
    for layer in _head_layers(model):
        x = layer(x)
    return keras.Model(features, x, name=f"{model.name}_head")


def scale_like(layer: keras.layers.Normalization, embeddings: np.ndarray) -> None:
    """Set `layer` to divide every dimension by one number: the training embeddings' root mean square.

    One global scale keeps the embedding space's geometry, which is what transfers across corpora. Measured
    (GE2E, generated corpus -> all of AudioMNIST_AZ, a logistic regression): per-dimension standardisation
    0.52 balanced accuracy, one global scale 0.84-0.85: standardising magnifies the low-variance directions in
    which one corpus's voices happen to differ.
    """
    embeddings = np.asarray(embeddings, np.float64)
    mean_square = float(np.mean(embeddings**2)) if embeddings.size else 1.0
    layer.adapt(np.zeros((1, embeddings.shape[-1]), np.float32))  # builds the statistics' variables
    layer.adapt_mean.assign(np.zeros(embeddings.shape[-1], np.float32))
    layer.adapt_variance.assign(np.full(embeddings.shape[-1], mean_square if mean_square > 0 else 1.0, np.float32))
    layer.finalize_state()


def train_pretrained(
    model: keras.Model,
    inputs: TrainingInputs,
    settings: TrainingSettings,
    log_dir: Path | None = None,
    *,
    encoder_name: str,
    fine_tune: bool,
    cache_embeddings: bool,
    fine_tune_epochs: int = FINE_TUNE_EPOCHS,
    head_epochs: int = HEAD_EPOCHS,
) -> TrainingResult:
    """The head on the frozen encoder (on cached embeddings when the stream allows); then, for the fine-tuned
    families, the encoder's top unfrozen and everything trained on at a tenth of the learning rate."""
    spec = SPECS[encoder_name]()
    encoder = model.get_layer(ENCODER)
    encoder.trainable = False
    if inputs.training_embeddings is not None:
        scale_like(model.get_layer(EMBEDDING_SCALE), inputs.training_embeddings(encoder))
    head_dir = None if log_dir is None else Path(log_dir) / "head"
    # Whether the cache is used or not, a stream it could serve trains the head as long: the same model.
    head_settings = (
        dataclasses.replace(settings, epochs=max(settings.epochs, head_epochs))
        if inputs.cached_features is not None
        else settings
    )
    if cache_embeddings and inputs.cached_features is not None:
        cached = inputs.cached_features(encoder)
        head = fit_classifier(_head_model(model, int(encoder.output.shape[-1])), cached, head_settings, head_dir)
        head.metadata["embeddings"] = "cached (computed once per clip)"
    else:
        head = fit_classifier(model, inputs, head_settings, head_dir)
        head.metadata["embeddings"] = "computed on every batch"
    credit = {"encoder": "frozen", "pretrained": spec.source().credit()}
    if not fine_tune:
        head.metadata.update(credit)
        return head
    spec.unfreeze_top(encoder, TOP_LAYERS[encoder_name])
    tuned = dataclasses.replace(
        settings,
        learning_rate=settings.learning_rate * FINE_TUNE_FACTOR,
        epochs=fine_tune_epochs,
        backup_dir=None if settings.backup_dir is None else Path(settings.backup_dir) / "fine_tune",
    )
    compile_classifier(model, tuned.learning_rate)
    result = run_fit(
        model,
        inputs.make_train(False),
        inputs,
        tuned,
        None if log_dir is None else Path(log_dir) / "fine_tune",
        class_weight=inputs.class_weight,
    )
    return combine_stages(
        {"head": head, "fine_tune": result},
        {
            **credit,
            "encoder": f"fine-tuned (top {TOP_LAYERS[encoder_name]})",
            "embeddings": head.metadata["embeddings"],
        },
    )


def build_pretrained(
    encoder_name: str,
    num_classes: int,
    sample_rate: int,
    fine_tune: bool,
    hidden: int,
    dropout: float,
    spec_augment: bool,
    l2: float = 0.1,
) -> keras.Model:
    """Waveform -> pretrained encoder (inference mode) -> global scale -> dropout -> [dense ReLU] -> probabilities,
    the dense layers' kernels penalised by `l2`."""
    if spec_augment:
        raise ValueError(
            f"{encoder_name}: the specaugment policy cannot reach inside the pretrained encoder; "
            "use a waveform policy (noise, suite, ...)"
        )
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
        raise ValueError(f"{encoder_name}: hidden must be an int >= 0, got {hidden!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"{encoder_name}: dropout must be in [0, 1), got {dropout!r}")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not 0 <= l2 < 100:
        raise ValueError(f"{encoder_name}: l2 must be a number in [0, 100), got {l2!r}")
    encoder = SPECS[encoder_name]().build(sample_rate, False, ENCODER)
    waveform = waveform_input()
    x = encoder(waveform, training=False)
    # Divided by the training embeddings' RMS (set by the trainer, `scale_like`): the head then learns at the
    # usual rate whatever the encoder's scale (GE2E's unit vectors have entries near 0.06).
    x = keras.layers.Normalization(axis=-1, name=EMBEDDING_SCALE)(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    if hidden:
        x = keras.layers.Dense(
            hidden, activation="relu", name="head_dense", kernel_regularizer=keras.regularizers.L2(l2)
        )(x)
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities", kernel_regularizer=keras.regularizers.L2(l2)
    )(x)
    suffix = "_finetune" if fine_tune else ""
    return keras.Model(waveform, probabilities, name=f"{encoder_name}{suffix}")


def _register(encoder_name: str, fine_tune: bool, description: str) -> None:
    name = f"{encoder_name}_finetune" if fine_tune else encoder_name

    def trainer(model, inputs, settings, log_dir=None):
        return train_pretrained(
            model,
            inputs,
            settings,
            log_dir,
            encoder_name=encoder_name,
            fine_tune=fine_tune,
            cache_embeddings=model._cache_embeddings,
            fine_tune_epochs=model._fine_tune_epochs,
            head_epochs=model._head_epochs,
        )

    def build(
        num_classes: int,
        sample_rate: int,
        features: FeatureConfig,
        spec_augment: bool = False,
        hidden: int = 0,
        dropout: float = 0.0,
        l2: float = L2,
        cache_embeddings: bool = True,
        fine_tune_epochs: int = FINE_TUNE_EPOCHS,
        head_epochs: int = HEAD_EPOCHS,
    ) -> keras.Model:
        """See `build_pretrained`; `cache_embeddings=False` runs the frozen encoder on every training batch;
        `fine_tune_epochs` bounds the fine-tuning stage (families ``*_finetune`` only), `head_epochs` the head's
        training on a stream the embedding cache can serve (the run's ``--epochs`` when larger)."""
        del features  # the encoder brings its own front-end
        for key, value in (("fine_tune_epochs", fine_tune_epochs), ("head_epochs", head_epochs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {key} must be an int >= 1, got {value!r}")
        model = build_pretrained(encoder_name, num_classes, sample_rate, fine_tune, hidden, dropout, spec_augment, l2)
        model._cache_embeddings = bool(cache_embeddings)
        model._fine_tune_epochs = fine_tune_epochs
        model._head_epochs = head_epochs
        return model

    build.__name__ = f"build_{name}"
    register_model(name, description, trainer=trainer, spec_augment=False, centre_crops=True)(build)


_register("ge2e", False, "the pretrained GE2E speaker encoder (Resemblyzer), frozen, with a linear head")
_register("ge2e", True, "the GE2E speaker encoder with its top LSTM layer fine-tuned, after the head")
_register("aisfx", False, "the pretrained sound-effects encoder (Ma & Lerch 2022), frozen, with a linear head")
_register("aisfx", True, "the sound-effects encoder with its top conv block fine-tuned, after the head")
