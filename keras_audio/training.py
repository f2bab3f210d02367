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
import json
import math
import numbers
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from keras_audio.hashing import description_digest


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


# ---------------------------------------------------------------------------------------------- resume
class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the model being trained."""


class TrainingCheckpoint(keras.callbacks.Callback):
    """Everything a killed `fit` needs to continue with the results of an uninterrupted one.

    `keras.callbacks.BackupAndRestore` restores the weights, the optimizer and the epoch, which is not
    enough for identical results here: it does not keep the layers' random-number states (a `Dropout` or
    SpecAugment layer's `SeedGenerator` is no weight, so the masks after a resume would differ), nor
    EarlyStopping's and ReduceLROnPlateau's counters and best values (nor EarlyStopping's best weights),
    nor the history, and its two files are not written atomically. This callback keeps, after every epoch,
    in one folder written under a temporary name and renamed (``epoch-NNNN``):

    - every model variable (weights, batch-norm statistics, seed-generator states) and every optimizer
      variable (iteration, learning rate as ReduceLROnPlateau left it, moments), in `variables.npz`;
    - EarlyStopping's `wait`, `best`, `best_epoch`, `stopped_epoch` and best weights, ReduceLROnPlateau's
      `wait`, `best` and `cooldown_counter`, the history so far, and whether training was told to stop.

    `run_fit` reads it before `fit`: it starts `fit` at the saved epoch and skips the batches of the finished
    epochs in the (deterministic, endless) training stream, so the next batch is the one the uninterrupted
    run would have seen; the callback restores the variables and the callbacks' state in `on_train_begin`.
    A finished `fit` leaves a ``final`` folder (the weights it returned with, the history), so a multi-stage
    trainer run again skips its finished stages.

    Args:
        directory: this fit's folder (one per model and stage: `run_fit` names it by a fingerprint).
        callbacks: the fit's other callbacks, whose state is kept (EarlyStopping, ReduceLROnPlateau).
    """

    def __init__(self, directory: Path, callbacks: list[keras.callbacks.Callback]):
        super().__init__()
        self.directory = Path(directory)
        self.stopping = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
        self.plateau = next((c for c in callbacks if isinstance(c, keras.callbacks.ReduceLROnPlateau)), None)
        for leftover in self.directory.glob(".*.partial-*"):  # a folder half-written when the process was killed
            shutil.rmtree(leftover, ignore_errors=True)
        self.state = self._latest()
        self.history: dict[str, list[float]] = dict(self.state["history"]) if self.state else {}
        self.seconds_before = float(self.state["seconds"]) if self.state else 0.0
        self.started = time.perf_counter()

    # ------------------------------------------------------------------------------------- reading
    @property
    def initial_epoch(self) -> int:
        """Epochs already done; with training told to stop (early stopping), nothing is left to run."""
        if self.state is None:
            return 0
        return 10**9 if self.state["stopped"] else int(self.state["epoch"])

    def final(self) -> dict | None:
        """The record of a finished fit in this folder (its weights are restored by `restore_final`)."""
        path = self.directory / "final" / "state.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def restore_final(self, model: keras.Model) -> None:
        self._assign(model.variables, self.directory / "final" / "variables.npz", "model")

    def _latest(self) -> dict | None:
        folders = sorted(self.directory.glob("epoch-[0-9][0-9][0-9][0-9]")) if self.directory.is_dir() else []
        for folder in reversed(folders):
            try:
                state = json.loads((folder / "state.json").read_text())
            except (OSError, ValueError):
                continue
            state["folder"] = str(folder)
            return state
        return None

    # ----------------------------------------------------------------------------------- restoring
    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        if self.state is None:
            return
        folder = Path(self.state["folder"])
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self._assign(self.model.variables, folder / "variables.npz", "model")
        if optimizer is not None:
            self._assign(optimizer.variables, folder / "optimizer.npz", "optimizer")
        if self.stopping is not None and self.state.get("early_stopping"):
            saved = self.state["early_stopping"]
            for key in ("wait", "stopped_epoch", "best", "best_epoch"):
                setattr(self.stopping, key, saved[key])
            best = folder / "best_weights.npz"
            if best.is_file():
                with np.load(best) as arrays:
                    self.stopping.best_weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        if self.plateau is not None and self.state.get("reduce_lr"):
            for key, value in self.state["reduce_lr"].items():
                setattr(self.plateau, key, value)

    def _assign(self, variables, path: Path, what: str) -> None:
        with np.load(path) as arrays:
            values = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        shapes = [tuple(v.shape) for v in variables]
        if shapes != [tuple(a.shape) for a in values]:
            raise CheckpointMismatchError(
                f"checkpoint {path.parent}: its {what} variables do not match the "
                f"model being trained; remove {self.directory} to start over"
            )
        for variable, value in zip(variables, values):
            variable.assign(value)

    # -------------------------------------------------------------------------------------- saving
    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(np.asarray(value)))
        state = {
            "epoch": epoch + 1,
            "history": self.history,
            "stopped": bool(self.model.stop_training),
            "seconds": self.seconds_before + time.perf_counter() - self.started,
        }
        arrays = {"variables.npz": [np.asarray(v) for v in self.model.variables]}
        if self.model.optimizer is not None:
            arrays["optimizer.npz"] = [np.asarray(v) for v in self.model.optimizer.variables]
        if self.stopping is not None:
            state["early_stopping"] = {
                key: _plain(getattr(self.stopping, key, None))
                for key in ("wait", "stopped_epoch", "best", "best_epoch")
            }
            if self.stopping.best_weights is not None:
                arrays["best_weights.npz"] = self.stopping.best_weights
        if self.plateau is not None:
            state["reduce_lr"] = {
                key: _plain(getattr(self.plateau, key)) for key in ("wait", "best", "cooldown_counter")
            }
        self._write(f"epoch-{epoch + 1:04d}", state, arrays)
        for older in self.directory.glob("epoch-[0-9][0-9][0-9][0-9]"):
            if older.name != f"epoch-{epoch + 1:04d}":
                shutil.rmtree(older, ignore_errors=True)

    def save_final(self, model: keras.Model, result: TrainingResult) -> None:
        """Record a finished fit (its weights and result) and drop the per-epoch folders."""
        state = {
            "history": result.history,
            "seconds": result.seconds,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
        }
        self._write("final", state, {"variables.npz": [np.asarray(v) for v in model.variables]})
        for older in self.directory.glob("epoch-[0-9][0-9][0-9][0-9]"):
            shutil.rmtree(older, ignore_errors=True)

    def _write(self, name: str, state: dict, arrays: dict[str, list[np.ndarray]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{name}.partial-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        try:
            for file, values in arrays.items():
                np.savez(temporary / file, *values)
            (temporary / "state.json").write_text(json.dumps(state))  # written last
            target = self.directory / name
            shutil.rmtree(target, ignore_errors=True)
            temporary.rename(target)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise


def _plain(value):
    """A JSON value for a callback attribute (NumPy scalars to Python; the infinities json writes as is)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return np.asarray(value).item()
    return value


def fit_fingerprint(model: keras.Model, settings: TrainingSettings, steps_per_epoch: int, log_dir: Path | None) -> str:
    """A name for one fit of one model: its variables (shapes, dtypes, which train), optimizer, loss, epochs,
    patience, steps and stage (the log folder's name), so stages of one trainer get their own checkpoints.

    Layer names are left out: Keras numbers unnamed layers by how many were built before in the process.
    """
    optimizer = model.optimizer
    description = {
        "variables": [[list(v.shape), str(v.dtype), bool(v.trainable)] for v in model.variables],
        "optimizer": None
        if optimizer is None
        else [type(optimizer).__name__, float(np.asarray(optimizer.learning_rate))],
        "loss": _loss_description(getattr(model, "loss", None)),
        "epochs": settings.epochs,
        "patience": settings.patience,
        "steps": int(steps_per_epoch),
        "stage": None if log_dir is None else Path(log_dir).name,
    }
    return description_digest(description)


def _loss_description(loss):
    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, dict):
        return {str(k): _loss_description(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_loss_description(v) for v in loss]
    return type(loss).__name__


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
