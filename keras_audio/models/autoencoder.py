"""Autoencoder + classifier: a convolutional denoising autoencoder on log-mels, and a classifier on its encoder.

The autoencoder learns to map the log-mel of a spoiled clip to the log-mel of the same clip clean; the
classifier reads the encoder's output. Two registered variants differ only in how they train:

- ``ae_clf`` (two-stage): (1) the autoencoder alone, reconstruction loss; (2) the classifier head on the
  frozen encoder; (3) everything fine-tuned at a tenth of the learning rate.
- ``ae_clf_joint``: one model with both outputs, trained on the sum of the classification loss and
  `reconstruction_weight` × the reconstruction loss.

The encoder mirrors `conv2d`'s blocks (same filters by default) and its head is nearly the same (global
average pooling, a parameter-free batch norm, dropout, dense), so a row of ``ae_clf`` against ``conv2d``
measures what the denoising objective adds, not a different architecture. The classifier that is evaluated
and exported takes a waveform and returns probabilities like every other model; the decoder is used in
training only (its parameters are not in the table's count, they are in the export's metadata).

Fairness: the reconstruction targets need spoiled inputs, so these models see corrupted audio in training
*by construction*. The pairs are corrupted by the run's waveform policy, or, when the policy has none
(``none``, ``specaugment``), by the ``noise`` policy (white noise at a random severity on the policy
fraction of clips, half by default; the other pairs are clean -> clean). The run table then names the policy
``none (pairs: noise)``, and the export's metadata records ``denoising_pairs``. Such a row is not a
clean-trained model: compare it with ``conv2d`` / ``noise`` as well as with ``conv2d`` / ``none``. In the
two-stage variant the classifier stages (2 and 3) see what the run's policy gives (clean clips under
``none``); the joint variant trains on the pairs' inputs throughout. The test set is the same for every model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_audio.config import FeatureConfig
from keras_audio.models.frontend import (
    FRONTEND_OUTPUT_LAYERS,
    check_frontend,
    pool_over_time,
    spectral_frontend,
    waveform_input,
)
from keras_audio.models.layers import BATCH_NORM_MOMENTUM, CropToMatch, batch_norm, conv2d_stack
from keras_audio.models.masking import MaskFrames
from keras_audio.models.registry import register_model
from keras_audio.training import (
    TrainingInputs,
    TrainingResult,
    TrainingSettings,
    combine_stages,
    compile_classifier,
    run_fit,
)

AUTOTUNE = tf.data.AUTOTUNE
RECONSTRUCTION = "reconstruction"
PROBABILITIES = "probabilities"
STANDARDIZED_LOG_MEL = FRONTEND_OUTPUT_LAYERS["log_mel"]  # the front-end layer whose output is reconstructed


@dataclasses.dataclass(frozen=True)
class AutoencoderRecipe:
    """Training settings the builder hands to the trainer (kept on the model as `model.autoencoder_recipe`).

    Attributes:
        reconstruction_weight: the joint variant's weight of the reconstruction loss.
        fine_tune_factor: the two-stage variant's fine-tuning learning rate, as a fraction of the run's.
    """

    reconstruction_weight: float = 1.0
    fine_tune_factor: float = 0.1


def _build(
    name: str,
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool,
    filters: tuple[int, ...],
    decoder_filters: tuple[int, ...] | None,
    dropout: float,
    recipe: AutoencoderRecipe,
    frontend: str = "log_mel",
) -> keras.Model:
    check_frontend(name, frontend)
    if not filters:
        raise ValueError(f"{name}: filters must name at least one block")
    if decoder_filters is None:
        decoder_filters = tuple(max(1, width // 4) for width in reversed(filters))
    if len(decoder_filters) != len(filters) or min(decoder_filters) < 1:
        raise ValueError(
            f"{name}: decoder_filters must give one positive width per encoder block "
            f"({len(filters)}), got {decoder_filters}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
    if recipe.reconstruction_weight < 0:
        raise ValueError(f"{name}: reconstruction_weight must be >= 0, got {recipe.reconstruction_weight}")
    if not 0 < recipe.fine_tune_factor <= 1:
        raise ValueError(f"{name}: fine_tune_factor must be in (0, 1], got {recipe.fine_tune_factor}")
    waveform = waveform_input()
    log_mel, mask = spectral_frontend(waveform, sample_rate, features, spec_augment, frontend)
    image = keras.layers.Reshape((-1, features.n_mels, 1), name="as_image")(log_mel)

    # The encoder takes the frame mask too and returns it pooled to the latent's frame rate, so the
    # classifier's mean over time (and the encoder's batch-norm statistics) skip the padding.
    encoder_input = keras.Input((None, features.n_mels, 1), name="log_mel_image")
    mask_input = keras.Input((None,), dtype="bool", name="frame_mask")
    x, latent_mask = conv2d_stack(encoder_input, mask_input, filters)
    encoder = keras.Model([encoder_input, mask_input], [x, latent_mask], name="encoder")

    decoder_input = keras.Input(x.shape[1:], name="latent")
    y = decoder_input
    for i, width in enumerate(decoder_filters):
        y = keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same", use_bias=False, name=f"upconv{i}")(y)
        y = batch_norm(name=f"up_bn{i}")(y)
        y = keras.layers.Activation("relu", name=f"up_relu{i}")(y)
    y = keras.layers.Conv2D(1, 3, padding="same", name="to_log_mel")(y)
    decoder = keras.Model(decoder_input, y, name="decoder")

    latent, latent_mask = encoder([image, mask])
    reconstruction = CropToMatch(name="crop")([decoder(latent), image])
    # Padded frames reconstruct to 0, the target's value there, so they add nothing to the loss.
    reconstruction = MaskFrames(name="reconstruction_padding")([reconstruction, mask])
    reconstruction = keras.layers.Reshape((-1, features.n_mels), name=RECONSTRUCTION)(reconstruction)
    h = pool_over_time(latent, latent_mask)
    # Standardise the pooled encoder features before the dense layer, as MAE's linear probe does (He et al.,
    # 2022): a head on a frozen encoder otherwise starts from features of arbitrary scale and, measured
    # here, stays at chance for the whole frozen stage.
    h = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, center=False, scale=False, name="probe_norm")(h)
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name=PROBABILITIES)(h)
    model = keras.Model(waveform, {PROBABILITIES: probabilities, RECONSTRUCTION: reconstruction}, name=name)
    model.autoencoder_recipe = recipe
    return model


def classifier_of(model: keras.Model) -> keras.Model:
    """The waveform -> probabilities part (shares the trained layers; no decoder)."""
    return keras.Model(model.inputs[0], model.get_layer(PROBABILITIES).output, name=model.name)


def autoencoder_of(model: keras.Model) -> keras.Model:
    """The waveform -> reconstructed normalised log-mel part."""
    return keras.Model(model.inputs[0], model.get_layer(RECONSTRUCTION).output, name=f"{model.name}_autoencoder")


def target_frontend(model: keras.Model) -> keras.Model:
    """Waveform -> normalised spectrogram through the model's own front-end layers (no SpecAugment masks)."""
    names = {layer.name for layer in model.layers}
    name = next(name for name in FRONTEND_OUTPUT_LAYERS.values() if name in names)
    return keras.Model(model.inputs[0], model.get_layer(name).output, name="target_frontend")


def with_targets(
    dataset: tf.data.Dataset,
    frontend: keras.Model,
    class_weight: dict[int, float] | None = None,
    classify: bool = False,
) -> tf.data.Dataset:
    """`((corrupted, clean), label)` batches -> `(corrupted, target)` for the autoencoder.

    The target is `frontend(clean)`, the very layers the model's input passes through, so the autoencoder
    learns spoiled -> clean in the model's own feature space. With `classify=True` the elements are
    `(corrupted, {"probabilities": label, "reconstruction": target}, sample_weights)`, the class weights
    carried as sample weights of the probabilities (Keras takes `class_weight` for one output only).
    """
    weights = None
    if class_weight is not None:
        weights = tf.constant([class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)], tf.float32)

    def attach(views, label):
        corrupted, clean = views
        target = frontend(clean, training=False)
        if not classify:
            return corrupted, target
        batch = tf.shape(label)[0]
        label_weight = tf.ones([batch]) if weights is None else tf.gather(weights, label)
        return (
            corrupted,
            {PROBABILITIES: label, RECONSTRUCTION: target},
            {PROBABILITIES: label_weight, RECONSTRUCTION: tf.ones([batch, 1])},
        )  # broadcast over frames

    return dataset.map(attach, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _as_clean_pairs(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Clean `(waveform, label)` batches as `((waveform, waveform), label)`."""
    return dataset.map(lambda waveform, label: ((waveform, waveform), label), num_parallel_calls=AUTOTUNE)


def _require_pairs(inputs: TrainingInputs, name: str) -> None:
    if inputs.make_pairs_train is None or inputs.make_pairs_validation is None or inputs.pairs_policy is None:
        raise ValueError(
            f"{name} trains on (corrupted, clean) pairs: TrainingInputs.make_pairs_train, "
            "make_pairs_validation and pairs_policy must be given"
        )


def _recipe(model: keras.Model) -> AutoencoderRecipe:
    return getattr(model, "autoencoder_recipe", AutoencoderRecipe())


def _stage_dir(log_dir: Path | None, stage: str) -> Path | None:
    return None if log_dir is None else Path(log_dir) / stage


def _metadata(model: keras.Model, inputs: TrainingInputs) -> dict:
    return {"denoising_pairs": inputs.pairs_policy, "decoder_params": int(model.get_layer("decoder").count_params())}


def train_autoencoder(
    model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """Stage 1: the autoencoder alone, MSE between its output and the clean clip's normalised log-mel."""
    _require_pairs(inputs, model.name)
    frontend = target_frontend(model)
    autoencoder = autoencoder_of(model)
    autoencoder.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="mse")
    return run_fit(
        autoencoder,
        with_targets(inputs.make_pairs_train(), frontend),
        inputs,
        settings,
        log_dir,
        validation=with_targets(inputs.make_pairs_validation(), frontend),
    )


def train_two_stage(
    model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """Autoencoder, then the classifier head on the frozen encoder, then everything fine-tuned.

    Each stage is the standard recipe (`run_fit`: early stopping with the best weights restored,
    ReduceLROnPlateau, TensorBoard); stages 2 and 3 use the class weights and run at most half the epochs.
    """
    recipe = _recipe(model)
    stages = {"autoencoder": train_autoencoder(model, inputs, settings, _stage_dir(log_dir, "autoencoder"))}
    classifier = classifier_of(model)
    encoder = model.get_layer("encoder")
    short = dataclasses.replace(settings, epochs=max(1, settings.epochs // 2))

    encoder.trainable = False
    compile_classifier(classifier, settings.learning_rate)
    stages["classifier"] = run_fit(
        classifier,
        inputs.make_train(False),
        inputs,
        short,
        _stage_dir(log_dir, "classifier"),
        class_weight=inputs.class_weight,
    )

    encoder.trainable = True
    fine_tune = dataclasses.replace(short, learning_rate=settings.learning_rate * recipe.fine_tune_factor)
    compile_classifier(classifier, fine_tune.learning_rate)
    stages["fine_tune"] = run_fit(
        classifier,
        inputs.make_train(False),
        inputs,
        fine_tune,
        _stage_dir(log_dir, "fine_tune"),
        class_weight=inputs.class_weight,
    )
    return combine_stages(stages, _metadata(model, inputs))


def train_joint(
    model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """Both outputs at once: cross-entropy + `reconstruction_weight` × MSE, on the (corrupted, clean) pairs.

    Early stopping watches the summed loss on the clean validation split (the reconstruction target of a
    clean clip is its own log-mel).
    """
    _require_pairs(inputs, model.name)
    recipe = _recipe(model)
    frontend = target_frontend(model)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss={PROBABILITIES: "sparse_categorical_crossentropy", RECONSTRUCTION: "mse"},
        loss_weights={PROBABILITIES: 1.0, RECONSTRUCTION: recipe.reconstruction_weight},
        metrics={PROBABILITIES: ["accuracy"]},
    )
    train = with_targets(inputs.make_pairs_train(), frontend, inputs.class_weight, classify=True)
    validation = with_targets(_as_clean_pairs(inputs.validation), frontend, classify=True)
    result = run_fit(model, train, inputs, settings, log_dir, validation=validation)
    result.metadata.update(_metadata(model, inputs))
    return result


@register_model(
    "ae_clf",
    "denoising conv autoencoder, then a classifier on its encoder (frozen, then fine-tuned)",
    trainer=train_two_stage,
    inference_model=classifier_of,
)
def build_ae_clf(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (16, 32, 64, 64),
    decoder_filters: tuple[int, ...] | None = None,
    dropout: float = 0.3,
    fine_tune_factor: float = 0.1,
    frontend: str = "log_mel",
) -> keras.Model:
    """The two-stage autoencoder + classifier (see the module docstring).

    Args:
        filters: channels per encoder block (each halves time and frequency).
        decoder_filters: channels of the decoder's stride-2 transposed convolutions, one per encoder
            block, coarsest first (default: a quarter of the mirrored encoder widths, (16, 16, 8, 4): a
            light decoder, since it is thrown away after training and its full-resolution layers cost most).
        dropout: before the classifier.
        fine_tune_factor: the fine-tuning stage's learning rate as a fraction of the run's.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).

    Returns:
        A model `waveform -> {"probabilities": [batch, num_classes], "reconstruction": [batch, frames, n_mels]}`;
        `classifier_of(model)` is the waveform -> probabilities classifier.
    """
    return _build(
        "ae_clf",
        num_classes,
        sample_rate,
        features,
        spec_augment,
        tuple(filters),
        None if decoder_filters is None else tuple(decoder_filters),
        dropout,
        AutoencoderRecipe(fine_tune_factor=fine_tune_factor),
        frontend,
    )


@register_model(
    "ae_clf_joint",
    "denoising conv autoencoder and classifier trained together (summed losses)",
    trainer=train_joint,
    inference_model=classifier_of,
)
def build_ae_clf_joint(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    filters: tuple[int, ...] = (16, 32, 64, 64),
    decoder_filters: tuple[int, ...] | None = None,
    dropout: float = 0.3,
    reconstruction_weight: float = 1.0,
    frontend: str = "log_mel",
) -> keras.Model:
    """The jointly trained autoencoder + classifier (see the module docstring and `build_ae_clf`).

    Args:
        reconstruction_weight: the reconstruction loss's weight against the classification loss.
        frontend: ``log_mel`` (default), ``pcen`` (learnt per-channel PCEN) or ``pcen_fixed`` (librosa's).
    """
    return _build(
        "ae_clf_joint",
        num_classes,
        sample_rate,
        features,
        spec_augment,
        tuple(filters),
        None if decoder_filters is None else tuple(decoder_filters),
        dropout,
        AutoencoderRecipe(reconstruction_weight=reconstruction_weight),
        frontend,
    )


def reconstruction_error(model: keras.Model, corrupted: np.ndarray, clean: np.ndarray) -> float:
    """Mean squared error between the reconstruction of `corrupted` and the normalised log-mel of `clean`."""
    reconstruction = autoencoder_of(model)(tf.convert_to_tensor(corrupted, tf.float32), training=False)
    target = target_frontend(model)(tf.convert_to_tensor(clean, tf.float32), training=False)
    return float(tf.reduce_mean(tf.square(reconstruction - target)))
