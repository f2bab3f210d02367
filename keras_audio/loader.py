"""The one loader: any model that takes a waveform batch, this suite's exports or a model from elsewhere, with
its metadata.

`load_predictor(path)` is how every model is read: `api.load_model` (so `keras-audio predict`), the evaluate
stage (`keras-audio evaluate`, a run's own evaluation), `keras-audio score --model` (the published test set's
files answered by `load_predictor(path).predict`) and the export check (`export.verify_export`). It accepts

- an export this suite wrote: the folder (`results/<run>/models/<tag>/`), its ``saved_model/``, its
  ``model.keras``, or its ``model.tflite`` / ``model.onnx`` copies, each answering with the export's metadata
  (a family with its own format, the scikit-learn baselines, through its registry hook `loader`);
- a `.keras` file saved by any Keras 3 code (`keras.models.load_model`);
- a TensorFlow SavedModel folder (`saved_model.pb`): its `serving_default` signature, which must take one
  float32 `[batch, samples]` input and return `[batch, classes]` probabilities (the output named
  ``probabilities``, or its only output);
- a `.tflite` or `.onnx` file taking float32 `[batch, samples]`.

An export has one source of metadata: the copy inside its SavedModel (`export.embedded_metadata`), which
travels with the model; metadata.json beside it is checked against it on every load and a difference is
refused, naming both files and the key (`export.check_metadata_copies`); the entries added after the
SavedModel was written (the ``formats`` copies and the run's ``measured`` figures, `export.FILE_ONLY_KEYS`)
are read from metadata.json. Exports from before the embedded copy, and the scikit-learn baselines, have
metadata.json alone.

A model without metadata is described by the caller (the `keras-audio evaluate` flags `--class-names`,
`--sample-rate`, `--clip-seconds`; the clip defaults to `default_clip_seconds`); without class names or a
rate it is refused, naming the flag. For an export, such a value must agree with the metadata and is
refused when it does not: applying it would score the model on classes or a rate it was not trained on
(a swapped class order scores 0 without a word), and ignoring it would leave the user believing it was
applied. The class names must be as many as the model's outputs, on loading (when the file says) and on
every call. Whatever the file, the predictor refuses what an export's SavedModel refuses (a rank other than
2, an empty batch, too few samples, NaN or infinite samples): the SavedModel itself, and
`export.checked_waveforms` in front of a `.keras`, ONNX or TFLite model, so no file answers NaN with a label.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_audio.export import (
    KERAS_FILE,
    METADATA_FILE,
    SAVED_MODEL_DIR,
    read_metadata_file,
    saved_model_metadata,
)
from keras_audio.grid import PredictFunction, keras_predictor

MODEL_FILES = (".keras", ".tflite", ".onnx")
DEFAULT_CLIP_SECONDS = 2.0  # fed to a model without metadata when no clip length is given (RunConfig's default)


@dataclasses.dataclass
class LoadedModel:
    """A model ready to predict, with what it takes and answers.

    Attributes:
        predict: `waveforms [batch, samples] -> probabilities np.ndarray [batch, classes]` (the output shape is
            checked on every call).
        class_names: in the order of the probabilities.
        sample_rate: the rate the model expects, in Hz.
        clip_samples: the length it was trained and evaluated at (what evaluation feeds it).
        min_samples: the shortest input it answers (one analysis window).
        metadata: the export's metadata (empty for outside models).
        source: the path it was loaded from.
    """

    predict: PredictFunction
    class_names: tuple[str, ...]
    sample_rate: int
    clip_samples: int
    min_samples: int
    metadata: dict
    source: Path

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate


def metadata_min_samples(metadata: Mapping) -> int:
    """The shortest input of an export: `min_samples`, or the front-end's `n_fft` for older exports, else 1."""
    return int(metadata.get("min_samples") or (metadata.get("features") or {}).get("n_fft") or 1)


def load_predictor(
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    sample_rate: int | None = None,
    clip_seconds: float | None = None,
    default_clip_seconds: float = DEFAULT_CLIP_SECONDS,
) -> LoadedModel:
    """Load the model at `path` (see the module docstring).

    Args:
        class_names, sample_rate, clip_seconds: describe a model without metadata; for an export they must
            agree with its metadata.
        default_clip_seconds: the clip length of a model without metadata when `clip_seconds` is None.

    Raises:
        ValueError: the path is none of the accepted kinds; class names or sample rate unknown; a value
            that contradicts the export's metadata; class names not matching the model's outputs.
        export.MetadataMismatchError: metadata.json disagrees with the SavedModel's copy.
    """
    path = Path(path)
    predict, metadata, origin = _load(path)
    names, rate, clip, min_samples = _describe(
        path, predict, metadata, origin, class_names, sample_rate, clip_seconds, default_clip_seconds
    )
    return LoadedModel(_checked_outputs(predict, path, len(names)), names, rate, clip, min_samples, metadata, path)


# ---------------------------------------------------------------------------------------------- reading files
def _load(path: Path) -> tuple[PredictFunction, dict, str | None]:
    """`(predict, metadata or {}, where the metadata was read)` for any accepted path."""
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return _saved_model(path)
        if (path / METADATA_FILE).is_file() or (path / SAVED_MODEL_DIR / "saved_model.pb").is_file():
            return _export_folder(path)
        raise ValueError(
            f"{path}: not an export folder (no {METADATA_FILE} or {SAVED_MODEL_DIR}/) nor a SavedModel "
            f"(no saved_model.pb)"
        )
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILES:
        raise ValueError(
            f"{path}: not a model: expected an export folder, a SavedModel folder or a {' / '.join(MODEL_FILES)} file"
        )
    metadata, origin = export_metadata(path.parent)
    if suffix == ".keras":
        return _keras_predictor(path, metadata), metadata, origin
    from keras_audio.export_formats import onnx_predictor, tflite_predictor

    if suffix == ".tflite":
        return tflite_predictor(path), metadata, origin
    return onnx_predictor(path, metadata_min_samples(metadata)), metadata, origin


def _export_folder(folder: Path) -> tuple[PredictFunction, dict, str | None]:
    file_metadata = read_metadata_file(folder) or {}
    family_loader = _family_loader(file_metadata)
    if family_loader is not None:  # a family with its own format: metadata.json is its only copy
        predict, metadata = family_loader(folder)
        return predict, metadata, str(folder / METADATA_FILE)
    if (folder / SAVED_MODEL_DIR / "saved_model.pb").is_file():
        return _saved_model(folder / SAVED_MODEL_DIR)
    if (folder / KERAS_FILE).is_file():
        return _keras_predictor(folder / KERAS_FILE, file_metadata), file_metadata, str(folder / METADATA_FILE)
    raise ValueError(f"{folder}: export folder without {SAVED_MODEL_DIR}/ or {KERAS_FILE}")


def export_metadata(folder: str | Path) -> tuple[dict, str | None]:
    """The metadata of the export `folder`, and where it was read, without loading its model for prediction:
    the SavedModel's copy checked against metadata.json (`export.saved_model_metadata`), or metadata.json
    alone (older exports, the scikit-learn baselines). `({}, None)` for a folder that is no export.

    Raises:
        export.MetadataMismatchError: metadata.json disagrees with the SavedModel's copy.
    """
    folder = Path(folder)
    if (folder / SAVED_MODEL_DIR / "saved_model.pb").is_file():
        saved_model = folder / SAVED_MODEL_DIR
        metadata, origin = saved_model_metadata(tf.saved_model.load(str(saved_model)), saved_model)
        if metadata is not None:
            return metadata, origin
    metadata = read_metadata_file(folder)
    return (metadata, str(folder / METADATA_FILE)) if metadata is not None else ({}, None)


def _family_loader(metadata: Mapping):
    """The registered `loader` of the family that wrote an export with its own format, or None."""
    from keras_audio.models import get_family

    family = None
    if metadata.get("model"):
        try:
            family = get_family(metadata["model"])
        except ValueError:
            family = None  # written by another version or by hand: read it as a plain export
    if family is not None and family.loader is not None:
        return family.loader
    if metadata.get("format") == "sklearn":  # exported without the family's name in its metadata
        from keras_audio.models.sklearn_baseline import load_sklearn_export

        return load_sklearn_export
    return None


def _keras_predictor(path: Path, metadata: Mapping) -> PredictFunction:
    """A `.keras` file's model, refusing what the SavedModel refuses (fewer samples than the export's
    `min_samples`, or without metadata the model's analysis window)."""
    import keras

    from keras_audio import register_layers
    from keras_audio.export import analysis_window, checked_waveforms

    register_layers()  # every custom layer a saved model may name (`import keras_audio` registers none)
    model = keras.models.load_model(path, compile=False)
    compiled = keras_predictor(model)
    shortest = metadata_min_samples(metadata) if metadata else analysis_window(model)

    def predict(waveforms) -> np.ndarray:
        return compiled(checked_waveforms(path, waveforms, shortest))

    outputs = getattr(model, "outputs", None)
    predict.num_classes = outputs[0].shape[-1] if outputs else None
    predict.min_samples = shortest
    return predict


def _saved_model(path: Path) -> tuple[PredictFunction, dict, str | None]:
    """A SavedModel folder: its `serving_default`, and its export's metadata (`export.saved_model_metadata`)."""
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path}: SavedModel has no serving_default signature")
    metadata, origin = saved_model_metadata(loaded, path)
    serve = loaded.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    if len(inputs) != 1:
        raise ValueError(
            f"{path}: serving_default takes {len(inputs)} inputs {sorted(inputs)}; expected one "
            f"float32 [batch, samples] waveform"
        )
    (input_name,) = inputs
    outputs = serve.structured_outputs
    output_name = "probabilities" if "probabilities" in outputs else next(iter(outputs)) if len(outputs) == 1 else None
    if output_name is None:
        raise ValueError(
            f"{path}: serving_default has outputs {list(outputs)}; expected one, or one named probabilities"
        )

    def predict(waveforms) -> np.ndarray:
        return serve(**{input_name: tf.convert_to_tensor(waveforms, tf.float32)})[output_name].numpy()

    predict.loaded = loaded  # keep the SavedModel alive as long as the function
    shape = outputs[output_name].shape
    predict.num_classes = shape[-1] if shape.rank else None
    return predict, metadata or {}, origin


# ---------------------------------------------------------------------------------------------- what it takes
def _describe(
    path: Path,
    predict,
    metadata: dict,
    origin: str | None,
    class_names,
    sample_rate,
    clip_seconds,
    default_clip_seconds: float,
) -> tuple[tuple[str, ...], int, int, int]:
    """`(class names, sample rate, clip samples, min samples)` from the metadata, or from the caller's values."""
    if sample_rate is not None and (
        isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1
    ):
        raise ValueError(f"--sample-rate must be a positive int (Hz), got {sample_rate!r}")
    if clip_seconds is not None and not (
        isinstance(clip_seconds, (int, float)) and np.isfinite(clip_seconds) and clip_seconds > 0
    ):
        raise ValueError(f"--clip-seconds must be a positive number, got {clip_seconds!r}")
    given = tuple(str(c) for c in class_names) if class_names else None
    if metadata:
        try:
            names = tuple(str(c) for c in metadata["class_names"])
            rate, clip = int(metadata["sample_rate"]), int(metadata["clip_samples"])
        except KeyError as missing:
            raise ValueError(f"{path}: the export's metadata ({origin}) lacks {missing}") from None
        for flag, value, recorded, text in (
            ("--class-names", given, names, " ".join(given or ())),
            ("--sample-rate", sample_rate, rate, str(sample_rate)),
            (
                "--clip-seconds",
                None if clip_seconds is None else int(round(clip_seconds * rate)),
                clip,
                f"{clip_seconds:g}" if clip_seconds is not None else "",
            ),
        ):
            if value is not None and value != recorded:
                export_value = {
                    "--class-names": " ".join(names),
                    "--sample-rate": f"{rate} Hz",
                    "--clip-seconds": f"{clip / rate:g} s",
                }[flag]
                raise ValueError(
                    f"{path}: {flag} {text} contradicts the export's {export_value} ({origin}); an "
                    f"export is evaluated as its metadata says: leave {flag} out (it describes models "
                    f"without metadata)"
                )
        min_samples = metadata_min_samples(metadata)
    else:
        if not given:
            raise ValueError(
                f"{path}: the model's class names are unknown (it has no metadata); give them in its "
                f"order (--class-names A B ...)"
            )
        if not sample_rate:
            raise ValueError(
                f"{path}: the model's sample rate is unknown (it has no metadata); give it (--sample-rate HZ)"
            )
        names, rate = given, int(sample_rate)
        clip = int(round((default_clip_seconds if clip_seconds is None else clip_seconds) * rate))
        min_samples = int(getattr(predict, "min_samples", 1))
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"{path}: class names must be at least two distinct names, got {list(names)}")
    outputs = getattr(predict, "num_classes", None)
    if outputs is not None and outputs != len(names):
        said = f"recorded in {origin}" if metadata else "given (--class-names)"
        raise ValueError(
            f"{path}: the model has {outputs} outputs but {len(names)} class names {list(names)} were "
            f"{said}: one name per output, in output order"
        )
    fixed = getattr(predict, "input_samples", None)  # a TFLite file takes one length only
    if fixed is not None and fixed != clip:
        if metadata or clip_seconds is not None:
            raise ValueError(
                f"{path}: takes clips of {fixed} samples, but the clip length is {clip} samples "
                f"({'from ' + str(origin) if metadata else '--clip-seconds'})"
            )
        clip = int(fixed)
    if clip < 1:
        raise ValueError(f"{path}: a clip of {clip} samples at {rate} Hz is shorter than one sample")
    return names, rate, clip, min(min_samples, clip)


def _checked_outputs(predict: PredictFunction, path: Path, classes: int) -> PredictFunction:
    """`predict`, refusing an answer that is not `[batch, classes]`: a probability column per class name."""

    def checked(waveforms) -> np.ndarray:
        probabilities = np.asarray(predict(waveforms))
        if probabilities.ndim != 2 or probabilities.shape != (len(waveforms), classes):
            raise ValueError(
                f"{path}: the model answered shape {probabilities.shape} for {len(waveforms)} "
                f"waveform(s); expected [batch, {classes}], one column per class name"
            )
        return probabilities

    checked.model = predict  # the function it checks (and what that keeps alive)
    return checked
