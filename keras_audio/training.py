"""One training recipe for every Keras model, so comparisons are fair.

Adam; early stopping on the speaker-disjoint validation split with the best weights restored;
ReduceLROnPlateau; class weights for imbalanced labels; one seed for everything; TensorBoard logs.
`fit` is fed from an endless dataset with `steps_per_epoch`: a fresh iterator per epoch stalls 1-5 s at
its first batch on this machine.

Two guards: training stops at the first NaN or infinite loss with `NonFiniteTrainingError` naming the model
and the epoch (`StopOnNonFinite`), instead of training on and exporting NaN weights; and with
`TrainingSettings.backup_dir`, a fit killed halfway continues from its last finished epoch with exactly the
weights and history of an uninterrupted one (`TrainingCheckpoint`, which says what that takes).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from keras_audio.checkpoints import TrainingCheckpoint, fit_fingerprint


def set_global_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """`n / (k · count)` per class (sklearn's "balanced"), 1.0 for classes absent from `labels`."""
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    table = {int(c): 1.0 for c in range(num_classes)}
    table.update({int(c): float(w) for c, w in zip(present, weights)})
    return table


@dataclasses.dataclass
class TrainingInputs:
    """What a trainer gets: datasets and their sizes.

    Attributes:
        make_train: `pairs -> endless training dataset`; with `pairs=True` the elements are
            `((corrupted, clean), label)` (for denoising models).
        validation: the clean validation set, finite.
        steps_per_epoch: batches per epoch (one pass over the training clips).
        class_weight: per class id, or None.
        num_classes: classes of the task.
        seed: the run's seed, for trainers with their own randomness (a random forest).
        make_pairs_train: `() -> endless ((corrupted, clean), label)` training dataset whose corruption is
            `pairs_policy`, which always corrupts: the run's waveform policy, or white noise when the run's
            policy has none (a denoiser shown clean inputs would learn the identity).
        make_pairs_validation: `() -> finite ((corrupted, clean), label)` validation dataset, same policy,
            the same clips and corruptions every time it is iterated.
        pairs_policy: the name of the policy the pairs are corrupted with (``noise``, ``suite``).
        cached_features: `encoder -> TrainingInputs` whose streams carry `encoder`'s output for each clip,
            computed once (`feature_cache.FeatureSource`), in the order and batches of the waveform streams;
            None where the stream cannot be cached (random crops, a waveform policy, mixup).
        training_embeddings: `encoder -> [clips, dim]` its output for every clean training clip (centre crop),
            for statistics such as a head's input standardisation; None where the trainer is given no clips.
    """

    make_train: Callable[[bool], tf.data.Dataset]
    validation: tf.data.Dataset
    steps_per_epoch: int
    class_weight: dict[int, float] | None
    num_classes: int
    seed: int = 0
    make_pairs_train: Callable[[], tf.data.Dataset] | None = None
    make_pairs_validation: Callable[[], tf.data.Dataset] | None = None
    pairs_policy: str | None = None
    cached_features: Callable[[keras.Model], TrainingInputs] | None = None
    training_embeddings: Callable[[keras.Model], np.ndarray] | None = None


@dataclasses.dataclass
class TrainingSettings:
    """How long and how fast to train, and where to keep what a resumed run needs.

    Attributes:
        epochs: at most this many epochs (early stopping may end sooner).
        learning_rate: Adam's initial learning rate (finite, positive).
        patience: epochs without a better validation loss before stopping (ReduceLROnPlateau: half).
        verbose: None: a progress bar on a terminal, one line per epoch otherwise.
        name: the model as messages name it (``conv1d-none-seed0``); None: the Keras model's name.
        backup_dir: where `run_fit` keeps a checkpoint after every epoch, so that training killed halfway
            continues from its last finished epoch with the results of an uninterrupted run (see
            `TrainingCheckpoint`); None: no checkpoints. One folder per trained model; the caller removes it
            once the model is safely exported.
        distribution: a `distribute.Distribution` to fit under (the model must have been built and compiled in
            its `scope()`, the training stream made by its `training_stream`); None: the default strategy.
            Multi-worker fits keep no checkpoints (`backup_dir` is ignored): they are not resumable.
    """

    epochs: int = 12
    learning_rate: float = 1e-3
    patience: int = 4
    verbose: int | None = None
    name: str | None = None
    backup_dir: Path | None = None
    distribution: Any = None  # distribute.Distribution; Any: training imports nothing of the suite

    def __post_init__(self):
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
            raise ValueError(f"TrainingSettings.epochs must be an int >= 1, got {self.epochs!r}")
        if (
            isinstance(self.learning_rate, bool)
            or not isinstance(self.learning_rate, numbers.Real)
            or not math.isfinite(self.learning_rate)
            or self.learning_rate <= 0
        ):
            raise ValueError(f"TrainingSettings.learning_rate must be a finite number > 0, got {self.learning_rate!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, numbers.Integral) or self.patience < 0:
            raise ValueError(f"TrainingSettings.patience must be an int >= 0, got {self.patience!r}")


@dataclasses.dataclass
class TrainingResult:
    """What a trainer returns.

    Attributes:
        history: per-epoch values by name (multi-stage trainers prefix each stage's, ``autoencoder/loss``).
        seconds: wall-clock training time, every stage included.
        epochs_run: epochs over all stages.
        best_epoch: the restored epoch of the last stage.
        metadata: what a reader of the results must know about how it was trained (written into the
            export's metadata.json), e.g. ``{"denoising_pairs": "noise"}``.
    """

    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    best_epoch: int
    metadata: dict = dataclasses.field(default_factory=dict)


def combine_stages(stages: dict[str, TrainingResult], metadata: dict | None = None) -> TrainingResult:
    """One result from the stages of a multi-stage trainer, in order (histories prefixed by stage name)."""
    if not stages:
        raise ValueError("combine_stages: no stages")
    history = {f"{stage}/{key}": values for stage, result in stages.items() for key, values in result.history.items()}
    results = list(stages.values())
    return TrainingResult(
        history=history,
        seconds=sum(r.seconds for r in results),
        epochs_run=sum(r.epochs_run for r in results),
        best_epoch=results[-1].best_epoch,
        metadata={"stages": {stage: r.epochs_run for stage, r in stages.items()}, **(metadata or {})},
    )


def standard_callbacks(settings: TrainingSettings, log_dir: Path | None) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=max(1, settings.patience // 2), min_lr=settings.learning_rate / 32
        ),
    ]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0))
    return callbacks


def compile_classifier(model: keras.Model, learning_rate: float, soft_targets: bool = False) -> None:
    """Adam and sparse cross-entropy on the probabilities, accuracy as the metric.

    With `soft_targets` (a mixup stream, `[batch, classes]` targets) the loss and the accuracy take either
    soft targets or class ids (`soft_or_sparse_crossentropy`): training batches are mixed, validation not.
    """
    loss = soft_or_sparse_crossentropy if soft_targets else "sparse_categorical_crossentropy"
    metrics = (
        [keras.metrics.MeanMetricWrapper(soft_or_sparse_accuracy, name="accuracy")] if soft_targets else ["accuracy"]
    )
    # No XLA (`jit_compile`), on purpose, not by Keras' "auto": measured on 2 CPU cores, an
    # XLA-compiled training step of conv2d / crnn ran 10-20 % fewer examples per CPU-second than the oneDNN
    # kernels, and under `enable_op_determinism` XLA refuses MaxPool's gradient ("no deterministic XLA
    # implementation"), so it would cost the seeded reproducibility too.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics, jit_compile=False)


def fit_classifier(
    model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """Compile `model` with Adam and sparse cross-entropy and fit it (the standard recipe).

    A stream of soft targets (mixup) switches the loss to cross-entropy on them and turns the class
    weights into per-example weights (`weigh_soft_targets`).
    """
    train = inputs.make_train(False)
    soft = has_soft_targets(train)
    compile_classifier(model, settings.learning_rate, soft_targets=soft)
    class_weight = inputs.class_weight
    if soft and class_weight:
        train, class_weight = weigh_soft_targets(train, class_weight, inputs.num_classes), None
    return run_fit(model, train, inputs, settings, log_dir, class_weight=class_weight)


# ------------------------------------------------------------------------------------------ soft targets
@keras.saving.register_keras_serializable(package="keras_audio")
def soft_or_sparse_crossentropy(y_true, y_pred):
    """Cross-entropy of probabilities `y_pred [b, classes]` against soft targets `[b, classes]` (mixup) or
    class ids `[b]` (the clean validation set), told apart by rank (static when Keras traces the step)."""
    if len(y_true.shape) == len(y_pred.shape):
        return keras.losses.categorical_crossentropy(y_true, y_pred)
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="keras_audio")
def soft_or_sparse_accuracy(y_true, y_pred):
    """Accuracy against class ids, or against the largest share of a soft target (a mix's main class)."""
    if len(y_true.shape) == len(y_pred.shape):
        y_true = keras.ops.argmax(y_true, axis=-1)
    return keras.metrics.sparse_categorical_accuracy(y_true, y_pred)


def has_soft_targets(dataset: tf.data.Dataset) -> bool:
    """Whether a `(inputs, targets)` stream's targets are `[batch, classes]` (mixup) rather than class ids."""
    targets = dataset.element_spec[1]
    return isinstance(targets, tf.TensorSpec) and targets.shape.rank == 2


def weigh_soft_targets(dataset: tf.data.Dataset, class_weight: dict[int, float], num_classes: int) -> tf.data.Dataset:
    """`(x, soft targets)` -> `(x, targets, weight)` with `weight = Σ_c target_c · class_weight[c]`.

    Keras' `class_weight` picks one class per example (the argmax) for 2-D targets; a mix of two classes
    should weigh as much as its parts, so the weights become per-example sample weights instead.
    """
    table = tf.constant([float(class_weight.get(c, 1.0)) for c in range(num_classes)], tf.float32)
    return dataset.map(
        lambda x, y: (x, y, tf.linalg.matvec(y, table)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


# ------------------------------------------------------------------------------------- non-finite losses
class NonFiniteTrainingError(RuntimeError):
    """Training produced a NaN or infinite loss; it was stopped there.

    Attributes:
        model: the model's name (`TrainingSettings.name`).
        epoch: the epoch (1-based) in which it happened.
        batch: the batch (1-based) within the epoch, or None when found at the end of the epoch.
        metric: which value was not finite (``loss``, ``val_loss``, ...).
    """

    def __init__(self, model: str, epoch: int, batch: int | None, metric: str, value: float):
        self.model, self.epoch, self.batch, self.metric, self.value = model, epoch, batch, metric, value
        where = f"epoch {epoch}, batch {batch}" if batch is not None else f"the end of epoch {epoch}"
        cause = (
            "a validation clip (check it for huge or broken samples)"
            if metric.startswith("val_")
            else "a training clip with huge or broken samples, or a learning rate too high"
        )
        super().__init__(
            f"training {model}: {metric} became {value} at {where}; stopped there (the weights are "
            f"no longer usable). Likely cause: {cause}"
        )


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop `fit` at the first NaN or infinite loss, naming the model and the epoch.

    Like `keras.callbacks.TerminateOnNaN`, which only sets `stop_training` (the run would then go on to
    evaluate NaN weights), this raises `NonFiniteTrainingError`. Batch losses are checked after every batch,
    the validation losses at the end of every epoch.
    """

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, None)

    def _check(self, logs, batch):
        for key, value in (logs or {}).items():
            if key.endswith("loss"):
                value = float(np.asarray(value))
                if not math.isfinite(value):
                    raise NonFiniteTrainingError(
                        self.name, self.epoch + 1, None if batch is None else batch + 1, key, value
                    )


# ------------------------------------------------------------------------------------------------- fit
def run_fit(
    model: keras.Model,
    train: tf.data.Dataset,
    inputs: TrainingInputs,
    settings: TrainingSettings,
    log_dir: Path | None,
    class_weight: dict[int, float] | None = None,
    validation: tf.data.Dataset | None = None,
) -> TrainingResult:
    """`model.fit` with the standard callbacks; returns the history and timing.

    Stops at the first non-finite loss (`NonFiniteTrainingError`). With `settings.backup_dir`, a checkpoint
    is kept after every epoch and a killed fit continues from it (`TrainingCheckpoint`); `train` must then be
    a deterministic endless stream (the suite's `pipeline.training_dataset` is: seeded shuffle, stateless
    per-element seeds, deterministic map).
    """
    if has_soft_targets(train):  # mixup: Keras would silently misread class ids or weigh by argmax
        if getattr(model, "loss", None) == "sparse_categorical_crossentropy":
            raise ValueError(
                f"{settings.name or model.name}: the training stream has soft targets (mixup) but "
                f"the model is compiled with sparse cross-entropy; this trainer does not support mixup"
            )
        if class_weight:
            raise ValueError(
                f"{settings.name or model.name}: class_weight with soft targets (mixup) would weigh "
                f"each mix by its main class; pass training.weigh_soft_targets(...) weights instead"
            )
    verbose = settings.verbose if settings.verbose is not None else (1 if sys.stdout.isatty() else 2)
    callbacks = standard_callbacks(settings, log_dir)
    callbacks.append(StopOnNonFinite(settings.name or model.name))
    checkpoint = None
    initial_epoch = 0
    distribution = settings.distribution
    # Workers would each hold a checkpoint and could resume from different epochs: not supported.
    resumable = distribution is None or distribution.worker.count == 1
    if settings.backup_dir is not None and resumable:
        folder = Path(settings.backup_dir) / fit_fingerprint(model, settings, inputs.steps_per_epoch, log_dir)
        checkpoint = TrainingCheckpoint(folder, callbacks)
        final = checkpoint.final()
        if final is not None:  # finished before the interruption: its weights and record, no training
            checkpoint.restore_final(model)
            return TrainingResult(
                history=final["history"],
                seconds=final["seconds"],
                epochs_run=final["epochs_run"],
                best_epoch=final["best_epoch"],
            )
        callbacks.append(checkpoint)  # last: it records the other callbacks' state after theirs is updated
        initial_epoch = min(checkpoint.initial_epoch, settings.epochs)
        if 0 < initial_epoch < settings.epochs:
            # The stream is endless and Keras takes `steps_per_epoch` batches of it per epoch from one
            # iterator: skipping the finished epochs' batches gives the batch the uninterrupted run saw next.
            train = (
                train.skip(initial_epoch * inputs.steps_per_epoch)
                if distribution is None
                else distribution.skip_steps(train, initial_epoch * inputs.steps_per_epoch)
            )
    validation = validation if validation is not None else inputs.validation
    if distribution is not None:
        train, validation, class_weight = distribution.fit_data(train, validation, class_weight)
    started = time.perf_counter()
    history = model.fit(
        train,
        epochs=settings.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=inputs.steps_per_epoch,
        validation_data=validation,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )  # the stream is shuffled, seeded, in `pipeline.training_dataset`
    seconds = time.perf_counter() - started
    if checkpoint is not None:
        record = checkpoint.history
        seconds += checkpoint.seconds_before
    else:
        record = {key: [float(v) for v in values] for key, values in history.history.items()}
    losses = record.get("val_loss") or record.get("loss") or [0.0]
    result = TrainingResult(
        history=record, seconds=seconds, epochs_run=len(losses), best_epoch=int(np.argmin(losses)) + 1
    )
    if checkpoint is not None:
        checkpoint.save_final(model, result)
    return result
