"""Export a trained model so it can ship: a SavedModel that takes raw waveforms, checked after reloading.

Layout of an export folder::

    saved_model/     TensorFlow SavedModel; signature "serving_default" (alias "serve"):
                     waveform float32 [batch, samples] at `sample_rate` -> probabilities [batch, classes]
    model.keras      the Keras model (for fine-tuning, or as an encoder for transfer)
    metadata.json    class names, sample rate, clip length, feature settings
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

SIGNATURE_INPUT = "waveform"
SIGNATURE_OUTPUT = "probabilities"


class ExportMismatchError(RuntimeError):
    """The reloaded SavedModel does not predict what the Keras model predicts."""


def export_model(model: keras.Model, directory: str | Path, *, class_names, sample_rate: int, clip_samples: int,
                 extra_metadata: dict | None = None) -> Path:
    """Write `model` as a SavedModel plus `.keras` file plus metadata into `directory`.

    Returns:
        the export folder.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda waveform: {SIGNATURE_OUTPUT: model(waveform, training=False)},
        input_signature=[tf.TensorSpec([None, None], tf.float32, name=SIGNATURE_INPUT)],
    )
    archive.write_out(str(directory / "saved_model"), verbose=False)
    model.save(directory / "model.keras")
    metadata = {
        "class_names": list(class_names),
        "sample_rate": int(sample_rate),
        "clip_samples": int(clip_samples),
        "clip_seconds": clip_samples / sample_rate,
        "input": f"{SIGNATURE_INPUT}: float32 [batch, samples], mono, {sample_rate} Hz, in [-1, 1]",
        "output": f"{SIGNATURE_OUTPUT}: float32 [batch, {len(class_names)}], in the order of class_names",
        **(extra_metadata or {}),
    }
    (directory / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return directory


def load_exported(directory: str | Path):
    """Reload an export: returns `(serve_function, metadata)`; `serve_function(waveforms) -> probabilities`."""
    directory = Path(directory)
    loaded = tf.saved_model.load(str(directory / "saved_model"))
    serve = loaded.signatures["serving_default"]
    metadata = json.loads((directory / "metadata.json").read_text())

    def predict(waveforms) -> np.ndarray:
        return serve(**{SIGNATURE_INPUT: tf.convert_to_tensor(waveforms, tf.float32)})[SIGNATURE_OUTPUT].numpy()

    predict.loaded = loaded  # keep the SavedModel alive as long as the function
    return predict, metadata


def verify_export(directory: str | Path, model: keras.Model, waveforms: np.ndarray, atol: float = 1e-5) -> float:
    """Reload the SavedModel and compare its predictions with the Keras model's on `waveforms`.

    Returns:
        the largest absolute difference.

    Raises:
        ExportMismatchError: it exceeds `atol`.
    """
    predict, _ = load_exported(directory)
    exported = predict(waveforms)
    expected = model(tf.convert_to_tensor(waveforms, tf.float32), training=False).numpy()
    difference = float(np.max(np.abs(exported - expected)))
    if not difference <= atol:
        raise ExportMismatchError(
            f"{directory}: reloaded SavedModel differs from the Keras model by {difference:.3g} (> {atol:g})"
        )
    return difference
