"""One training recipe for every Keras model, so comparisons are fair.

Adam; early stopping on the speaker-disjoint validation split with the best weights restored;
ReduceLROnPlateau; class weights for imbalanced labels; one seed for everything; TensorBoard logs.
`fit` is fed from an endless dataset with `steps_per_epoch`: a fresh iterator per epoch stalls 1-5 s at
its first batch on this machine.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight


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


@dataclasses.dataclass
class TrainingSettings:
    epochs: int = 12
    learning_rate: float = 1e-3
    patience: int = 4
    verbose: int | None = None  # None: a progress bar on a terminal, one line per epoch otherwise


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
    return TrainingResult(history=history, seconds=sum(r.seconds for r in results),
                          epochs_run=sum(r.epochs_run for r in results), best_epoch=results[-1].best_epoch,
                          metadata={"stages": {stage: r.epochs_run for stage, r in stages.items()}, **(metadata or {})})


def standard_callbacks(settings: TrainingSettings, log_dir: Path | None) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, settings.patience // 2),
                                          min_lr=settings.learning_rate / 32),
    ]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0))
    return callbacks


def compile_classifier(model: keras.Model, learning_rate: float) -> None:
    """Adam and sparse cross-entropy on the probabilities, accuracy as the metric."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


def fit_classifier(model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings,
                   log_dir: Path | None = None) -> TrainingResult:
    """Compile `model` with Adam and sparse cross-entropy and fit it (the standard recipe)."""
    compile_classifier(model, settings.learning_rate)
    return run_fit(model, inputs.make_train(False), inputs, settings, log_dir, class_weight=inputs.class_weight)


def run_fit(model: keras.Model, train: tf.data.Dataset, inputs: TrainingInputs, settings: TrainingSettings,
            log_dir: Path | None, class_weight: dict[int, float] | None = None,
            validation: tf.data.Dataset | None = None) -> TrainingResult:
    """`model.fit` with the standard callbacks; returns the history and timing."""
    verbose = settings.verbose if settings.verbose is not None else (1 if sys.stdout.isatty() else 2)
    started = time.perf_counter()
    history = model.fit(train, epochs=settings.epochs, steps_per_epoch=inputs.steps_per_epoch,
                        validation_data=validation if validation is not None else inputs.validation,
                        class_weight=class_weight, callbacks=standard_callbacks(settings, log_dir),
                        verbose=verbose)
    seconds = time.perf_counter() - started
    record = {key: [float(v) for v in values] for key, values in history.history.items()}
    losses = record.get("val_loss") or record.get("loss") or [0.0]
    return TrainingResult(history=record, seconds=seconds, epochs_run=len(losses),
                          best_epoch=int(np.argmin(losses)) + 1)
