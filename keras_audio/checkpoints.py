"""Resuming a killed fit: checkpoints that give the weights and history of an uninterrupted one.

`run_fit` (`keras_audio.training`) keeps a `TrainingCheckpoint` after every epoch when the settings name a
backup folder; `fit_fingerprint` names the folder so that each fit of each model gets its own.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from keras_audio.hashing import description_digest

if TYPE_CHECKING:
    from keras_audio.training import TrainingResult, TrainingSettings


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
