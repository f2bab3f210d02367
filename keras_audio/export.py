"""Export a trained model so it can ship: a self-describing, defended SavedModel that takes raw waveforms.

Layout of an export folder::

    saved_model/     TensorFlow SavedModel (signatures below)
    model.keras      the Keras model (for fine-tuning, or as an encoder for transfer)
    metadata.json    class names, sample rate, clip length, feature settings (also inside the SavedModel)
    MODEL_CARD.md    what the model is, what it was trained on, its measured limits (`model_card`)
    model.tflite, model.onnx   optional copies (`export_formats`), listed under metadata.json's ``formats``

Signatures of the SavedModel:

- ``serving_default`` (alias ``serve``): ``waveform`` float32 `[batch, samples]`, mono, at the export's
  sample rate -> ``probabilities`` float32 `[batch, classes]`. Any length of at least one analysis window
  (`min_samples`, the front-end's `n_fft`) is taken; the tables were measured on `clip_samples` centre
  crops (see `keras_audio.api`, which prepares input exactly so). It refuses, with an
  `InvalidArgumentError` naming the problem, what it cannot answer: a rank other than 2, an empty batch,
  fewer than `min_samples` samples, NaN or infinite samples. (The input is declared with an unknown rank so
  that the rank can be checked at all: against a declared `[None, None]` TensorFlow neither checks a
  caller's rank nor lets the graph see it.)
- ``serve_long``: ``waveform`` float32 `[samples]`, one recording of any length -> ``window_probabilities``
  `[windows, classes]`, ``window_starts`` int32 `[windows]` (in samples), ``probabilities`` `[classes]`
  (their mean): windows of `clip_samples`, half a window apart (`keras_audio.windowing`). Same refusals.
  The windows are cut and go through the model `LONG_BATCH` at a time, one batch after the other, so beyond
  the recording itself memory holds one batch and the probabilities, whatever the recording's length.
- ``metadata``: no input -> ``class_names`` string `[classes]`, ``sample_rate``, ``clip_samples``,
  ``min_samples`` int64 scalars, ``metadata_json`` (the whole of metadata.json).

The TFLite and ONNX copies are in `keras_audio.export_formats`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_audio.model_card import write_model_card
from keras_audio.windowing import default_hop, window_starts, windows_at

# The export folder's layout: every module that reads or writes an export names its files through these.
METADATA_FILE = "metadata.json"
SAVED_MODEL_DIR = "saved_model"
KERAS_FILE = "model.keras"
# Entries written after the SavedModel (the TFLite/ONNX copies added by `keras-audio export`, the run's
# measured accuracy): metadata.json alone holds them, so the two copies are compared without them.
FILE_ONLY_KEYS = ("formats", "measured")

SIGNATURE_INPUT = "waveform"
SIGNATURE_OUTPUT = "probabilities"
LONG_SIGNATURE = "serve_long"
METADATA_SIGNATURE = "metadata"
EXPORT_VERSION = 2  # 1: serving_default only, no refusals, metadata.json only
LONG_BATCH = 32  # windows per model call in serve_long


class ExportMismatchError(RuntimeError):
    """A reloaded export does not predict what the Keras model predicts."""


class MetadataMismatchError(ValueError):
    """The two copies of an export's metadata (inside the SavedModel, and metadata.json) disagree."""


def check_metadata_copies(embedded: dict, saved_model: str | Path, beside: dict, beside_path: str | Path) -> None:
    """Refuse an export whose metadata.json differs from the metadata inside its SavedModel.

    The SavedModel's copy is the one read (it travels with the model); metadata.json is checked against it,
    except for the entries only it holds (`FILE_ONLY_KEYS`).

    Raises:
        MetadataMismatchError: one line naming both, the first differing key and its two values.
    """
    differing = sorted(
        key
        for key in (set(embedded) | set(beside)) - set(FILE_ONLY_KEYS)
        if embedded.get(key, ...) != beside.get(key, ...)
    )
    if differing:
        key = differing[0]
        values = ["(absent)" if key not in copy else json.dumps(copy[key])[:120] for copy in (beside, embedded)]
        more = f" and {len(differing) - 1} more key(s) {differing[1:4]}" if len(differing) > 1 else ""
        raise MetadataMismatchError(
            f"{beside_path} disagrees with the metadata inside {saved_model} on {key!r} ({values[0]} vs "
            f"{values[1]}){more}: the model answers as the SavedModel says; restore metadata.json or export again"
        )


def read_metadata_file(directory: str | Path) -> dict | None:
    """The export folder's metadata.json (`METADATA_FILE`), or None without one: the one reader of that file.

    Raises:
        ValueError: the file is not a JSON object, naming it.
    """
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        metadata = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    return metadata


def write_metadata_file(directory: str | Path, metadata: dict) -> Path:
    """Write `metadata` as the export folder's metadata.json and refresh its model card beside it."""
    directory = Path(directory)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    write_model_card(directory, metadata)
    return directory / METADATA_FILE


def model_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer of `model`, nested models' layers included, depth first."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(model_layers(layer))
    return found


def feature_settings(model: keras.Model) -> dict | None:
    """The front-end's framing and mel settings (its first layer with a `sample_rate` and an `n_fft`), or None."""
    for layer in model_layers(model):
        if hasattr(layer, "n_fft") and hasattr(layer, "sample_rate"):  # not FrameMask: it frames, has no rate
            config = layer.get_config()
            keys = (
                "sample_rate",
                "n_fft",
                "win_length",
                "hop_length",
                "n_mels",
                "fmin",
                "fmax",
                "top_db",
                "roll_percent",
            )
            return {"layer": type(layer).__name__, **{k: config[k] for k in keys if k in config}}
    return None


def analysis_window(model: keras.Model, default: int = 1) -> int:
    """The fewest samples the model can answer: its largest STFT frame (`n_fft`), or `default`."""
    sizes = [int(layer.n_fft) for layer in model_layers(model) if isinstance(getattr(layer, "n_fft", None), int)]
    return max(sizes, default=default)


def export_model(
    model: keras.Model,
    directory: str | Path,
    *,
    class_names: Sequence[str],
    sample_rate: int,
    clip_samples: int,
    extra_metadata: dict | None = None,
    min_samples: int | None = None,
) -> Path:
    """Write `model` as a SavedModel (signatures in the module docstring), a `.keras` file and metadata.json.

    Args:
        model: waveforms `[batch, samples]` -> probabilities `[batch, len(class_names)]`.
        directory: the export folder (created).
        class_names: in the order of the model's outputs.
        sample_rate: the rate the model was trained at, in Hz.
        clip_samples: the length the model was trained and evaluated at.
        extra_metadata: more entries for metadata.json (the run's model, policy, seed, feature settings...).
        min_samples: the shortest input the serving signature takes; None: the model's largest `n_fft`,
            else `extra_metadata["features"]["n_fft"]`, else 1.

    Returns:
        the export folder.

    Raises:
        ValueError: class names that do not match the model's outputs, a sample rate other than the one the
            model's front-end was built for, a clip shorter than `min_samples`.
    """
    class_names = [str(name) for name in class_names]
    outputs = int(model.outputs[0].shape[-1]) if getattr(model, "outputs", None) else None
    if not class_names or len(set(class_names)) != len(class_names):
        raise ValueError(f"export_model: class_names must be distinct and non-empty, got {class_names}")
    if outputs is not None and outputs != len(class_names):
        raise ValueError(
            f"export_model: the model has {outputs} outputs but {len(class_names)} class names were "
            f"given ({class_names})"
        )
    for name, value in (("sample_rate", sample_rate), ("clip_samples", clip_samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"export_model: {name} must be a positive int, got {value!r}")
    features = feature_settings(model)
    if features and features.get("sample_rate") not in (None, int(sample_rate)):
        raise ValueError(
            f"export_model: the model's front-end expects {features['sample_rate']} Hz, but sample_rate={sample_rate}"
        )
    extra_metadata = dict(extra_metadata or {})
    if min_samples is None:
        fallback = int((extra_metadata.get("features") or {}).get("n_fft", 1))
        min_samples = analysis_window(model, default=fallback)
    if not 1 <= min_samples <= clip_samples:
        raise ValueError(f"export_model: min_samples={min_samples} must be in 1..clip_samples ({clip_samples})")
    sample_rate, clip_samples, min_samples = int(sample_rate), int(clip_samples), int(min_samples)
    hop = default_hop(clip_samples)
    metadata = {
        "class_names": class_names,
        "sample_rate": sample_rate,
        "clip_samples": clip_samples,
        "clip_seconds": clip_samples / sample_rate,
        "min_samples": min_samples,
        "export_version": EXPORT_VERSION,
        "input": f"{SIGNATURE_INPUT}: float32 [batch, samples], mono, {sample_rate} Hz, in [-1, 1], "
        f"at least {min_samples} samples; the tables used centre crops of {clip_samples} samples",
        "output": f"{SIGNATURE_OUTPUT}: float32 [batch, {len(class_names)}], in the order of class_names",
        "signatures": {
            "serving_default": "waveform [batch, samples] -> probabilities [batch, classes]",
            LONG_SIGNATURE: f"waveform [samples] -> window_probabilities [windows, classes], window_starts "
            f"[windows], probabilities [classes] (their mean); windows of {clip_samples} "
            f"samples, {hop} apart",
            METADATA_SIGNATURE: "() -> class_names, sample_rate, clip_samples, min_samples, metadata_json",
        },
        "long_input_hop_samples": hop,
        **({"features": features} if features else {}),
        **extra_metadata,
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_saved_model(model, directory / SAVED_MODEL_DIR, metadata, json.dumps(metadata, indent=2) + "\n", hop)
    model.save(directory / KERAS_FILE)
    write_metadata_file(directory, metadata)
    return directory


def _checked(waveform: tf.Tensor, rank: int, min_samples: int, sample_rate: int) -> tf.Tensor:
    """`waveform` after the serving refusals, with its static rank restored.

    Only ops whose shape inference cannot fail on a wrong rank are used before the checks have run
    (`reduce_prod` of shape slices, not indexing or `ensure_shape`): TensorFlow infers shapes when it runs the
    function on a concrete input, and a failure there would pre-empt the clear message with an obscure one.
    """
    layout = "[batch, samples]" if rank == 2 else "[samples]"
    with tf.control_dependencies(
        [
            tf.debugging.assert_equal(
                tf.rank(waveform), rank, message=f"waveform must be float32 {layout}, mono; got another rank"
            )
        ]
    ):
        shape = tf.shape(waveform)
        batch, samples = tf.reduce_prod(shape[:-1]), tf.reduce_prod(shape[-1:])
        checks = [
            tf.debugging.assert_greater_equal(
                samples,
                min_samples,
                message=f"waveform too short: fewer than {min_samples} samples (one analysis "
                f"window at {sample_rate} Hz); samples =",
            )
        ]
        if rank == 2:
            checks.insert(0, tf.debugging.assert_greater_equal(batch, 1, message="waveform: empty batch"))
    with tf.control_dependencies(checks):
        checked = tf.debugging.assert_all_finite(waveform, "waveform holds NaN or infinite samples")
    return tf.reshape(checked, tf.stack([batch, samples]) if rank == 2 else [-1])


def checked_waveforms(path, waveforms, min_samples: int = 1, length: int | None = None) -> np.ndarray:
    """`waveforms` as float32 `[batch, samples]`, after the serving signature's refusals (`_checked`), in
    NumPy: for the copies and files that lack them (TFLite, ONNX, `.keras`).

    Args:
        path: the model file (named in the messages).
        min_samples: the fewest samples the model answers (one analysis window).
        length: the one length a fixed-shape model takes (TFLite), or None.

    Raises:
        ValueError: another rank, an empty batch, too few samples (or not `length`), NaN or infinite samples.
    """
    waveforms = np.asarray(waveforms, np.float32)
    if waveforms.ndim != 2:
        raise ValueError(f"{path}: waveform must be float32 [batch, samples], mono; got shape {waveforms.shape}")
    if waveforms.shape[0] == 0:
        raise ValueError(f"{path}: waveform: empty batch")
    if length is not None and waveforms.shape[1] != length:
        raise ValueError(f"{path}: takes float32 [batch, {length}] (a fixed clip length), got shape {waveforms.shape}")
    if waveforms.shape[1] < min_samples:
        raise ValueError(
            f"{path}: waveform too short: {waveforms.shape[1]} samples, fewer than {min_samples} (one analysis window)"
        )
    bad = int(np.sum(~np.isfinite(waveforms)))
    if bad:
        raise ValueError(f"{path}: waveform holds {bad} NaN or infinite sample(s)")
    return waveforms


def _write_saved_model(model: keras.Model, path: Path, metadata: dict, metadata_json: str, hop: int) -> None:
    min_samples, sample_rate, clip_samples = metadata["min_samples"], metadata["sample_rate"], metadata["clip_samples"]

    def serve(waveform):
        return {SIGNATURE_OUTPUT: model(_checked(waveform, 2, min_samples, sample_rate), training=False)}

    def serve_long(waveform):
        waveform = _checked(waveform, 1, min_samples, sample_rate)
        starts = window_starts(tf.shape(waveform)[0], clip_samples, hop)
        batches = (tf.shape(starts)[0] + LONG_BATCH - 1) // LONG_BATCH

        def one_batch(i, parts):
            windows = windows_at(waveform, starts[i * LONG_BATCH : (i + 1) * LONG_BATCH], clip_samples)
            return i + 1, parts.write(i, tf.cast(model(windows, training=False), tf.float32))

        # parallel_iterations=1: one batch at a time, so only one batch's windows and activations are held.
        _, parts = tf.while_loop(
            lambda i, _: i < batches,
            one_batch,
            (
                tf.constant(0),
                tf.TensorArray(
                    tf.float32, size=batches, infer_shape=False, element_shape=[None, len(metadata["class_names"])]
                ),
            ),
            parallel_iterations=1,
        )
        probabilities = parts.concat()
        return {
            "window_probabilities": probabilities,
            "window_starts": starts,
            SIGNATURE_OUTPUT: tf.reduce_mean(probabilities, axis=0),
        }

    def describe():
        return {
            "class_names": tf.constant(metadata["class_names"], tf.string),
            "sample_rate": tf.constant(sample_rate, tf.int64),
            "clip_samples": tf.constant(clip_samples, tf.int64),
            "min_samples": tf.constant(min_samples, tf.int64),
            "metadata_json": tf.constant(metadata_json, tf.string),
        }

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", fn=serve, input_signature=[tf.TensorSpec(None, tf.float32, name=SIGNATURE_INPUT)]
    )
    archive.add_endpoint(
        name=LONG_SIGNATURE, fn=serve_long, input_signature=[tf.TensorSpec(None, tf.float32, name=SIGNATURE_INPUT)]
    )
    archive.add_endpoint(name=METADATA_SIGNATURE, fn=describe, input_signature=[])
    archive.write_out(str(path), verbose=False)


def embedded_metadata(loaded) -> dict | None:
    """The metadata a SavedModel written by `export_model` carries (None for older exports without it)."""
    if METADATA_SIGNATURE not in getattr(loaded, "signatures", {}):
        return None
    return json.loads(loaded.signatures[METADATA_SIGNATURE]()["metadata_json"].numpy().decode())


def saved_model_metadata(
    loaded, saved_model: str | Path, directory: str | Path | None = None
) -> tuple[dict | None, str | None]:
    """A loaded SavedModel's export metadata, and where it was read (for messages).

    The copy inside the SavedModel is the one read, and metadata.json in the export folder must say the same
    (`check_metadata_copies`); an export that predates the copy is read from metadata.json. `(None, None)`:
    a SavedModel of no export.

    Args:
        directory: the export folder; None: the parent of a SavedModel folder named ``saved_model``.

    Raises:
        MetadataMismatchError: metadata.json disagrees with the SavedModel's copy.
    """
    saved_model = Path(saved_model)
    if directory is None and saved_model.name == SAVED_MODEL_DIR:
        directory = saved_model.parent
    beside = None if directory is None else read_metadata_file(directory)
    metadata = embedded_metadata(loaded)
    if metadata is not None:
        if beside is not None:
            check_metadata_copies(metadata, saved_model, beside, Path(directory) / METADATA_FILE)
            metadata.update({key: beside[key] for key in FILE_ONLY_KEYS if key in beside})
        return metadata, f"the metadata inside {saved_model}"
    if beside is not None:
        return beside, str(Path(directory) / METADATA_FILE)
    return None, None


def verify_export(directory: str | Path, model: keras.Model, waveforms: np.ndarray, atol: float = 1e-5) -> float:
    """Reload the export through the one loader (`loader.load_predictor`, as evaluation and `predict` will) and
    compare its predictions with the Keras model's on `waveforms`.

    Returns:
        the largest absolute difference.

    Raises:
        ExportMismatchError: it exceeds `atol`, or the metadata inside the SavedModel differs from
            metadata.json.
    """
    from keras_audio.loader import (
        load_predictor,  # the loader reads exports with this module: import it late
    )

    try:
        predict = load_predictor(directory).predict
    except MetadataMismatchError as error:
        raise ExportMismatchError(str(error)) from error
    exported = predict(waveforms)
    expected = model(tf.convert_to_tensor(waveforms, tf.float32), training=False).numpy()
    difference = float(np.max(np.abs(exported - expected)))
    if not difference <= atol:
        raise ExportMismatchError(
            f"{directory}: reloaded SavedModel differs from the Keras model by {difference:.3g} (> {atol:g})"
        )
    return difference
