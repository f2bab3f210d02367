"""Load any model that takes a waveform batch, for evaluation: this suite's exports or a model from elsewhere.

`load_predictor(path)` accepts

- an export folder this suite wrote (`metadata.json` + `model.keras`, or a family's own format through its
  registered `loader`, as the scikit-learn baselines have);
- a `.keras` file saved by any Keras 3 code (`keras.models.load_model`);
- a TensorFlow SavedModel folder (`saved_model.pb`): its `serving_default` signature, which must take one
  float32 `[batch, samples]` input and return `[batch, classes]` probabilities (the output named
  ``probabilities``, or its only output).

The evaluate stage scores every model through it, so what is measured is what was exported. Class names
and the sample rate come from the export's metadata or, for outside models, from the caller (the
`keras-audio evaluate` flags); a model without them is refused with a message saying which flag to give.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_audio.evaluate import Predictor, keras_predictor
from keras_audio.manifest import Manifest

METADATA_FILE = "metadata.json"


@dataclasses.dataclass
class LoadedModel:
    """A model ready for evaluation.

    Attributes:
        predict: `waveforms [batch, samples] -> probabilities np.ndarray [batch, classes]`.
        class_names: in the order of the probabilities.
        sample_rate: the rate the model expects, in Hz.
        metadata: the export's metadata.json (empty for outside models).
        source: the path it was loaded from.
    """

    predict: Predictor
    class_names: tuple[str, ...]
    sample_rate: int
    metadata: dict
    source: Path


def load_predictor(path: str | Path, *, class_names: Sequence[str] | None = None,
                   sample_rate: int | None = None) -> LoadedModel:
    """Load the model at `path` (see the module docstring).

    Args:
        class_names: for models whose folder has no metadata; overrides none given by the metadata.
        sample_rate: likewise.

    Raises:
        ValueError: the path is none of the accepted kinds, or class names / sample rate are unknown.
    """
    path = Path(path)
    metadata: dict = {}
    if path.is_dir() and (path / METADATA_FILE).is_file():
        metadata = json.loads((path / METADATA_FILE).read_text())
        predict = _load_export(path, metadata)
    elif path.is_file() and path.suffix == ".keras":
        predict = keras_predictor(_load_keras(path))
    elif path.is_dir() and (path / "saved_model.pb").is_file():
        predict = _saved_model_predictor(path)
    elif not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    else:
        raise ValueError(f"{path}: not a model: expected an export folder with {METADATA_FILE}, a .keras file or a "
                         f"SavedModel folder (saved_model.pb)")
    names = metadata.get("class_names") or (list(class_names) if class_names else None)
    rate = metadata.get("sample_rate") or sample_rate
    if not names:
        raise ValueError(f"{path}: the model's class names are unknown; give them in its order (--class-names A B ...)")
    if not rate:
        raise ValueError(f"{path}: the model's sample rate is unknown; give it (--sample-rate HZ)")
    return LoadedModel(predict, tuple(str(n) for n in names), int(rate), metadata, path)


def _load_export(path: Path, metadata: dict) -> Predictor:
    from keras_audio.models import get_family

    family_name = metadata.get("model")
    family = None
    if family_name:
        try:
            family = get_family(family_name)
        except ValueError:
            family = None  # written by another version or by hand: read it as a plain Keras export
    if family is not None and family.loader is not None:
        predict, _ = family.loader(path)
        return predict
    if (path / "model.keras").is_file():
        return keras_predictor(_load_keras(path / "model.keras"))
    if (path / "saved_model").is_dir():
        return _saved_model_predictor(path / "saved_model")
    raise ValueError(f"{path}: export folder without model.keras or saved_model/")


def _load_keras(path: Path):
    import keras

    from keras_audio.models import registry

    registry.available()  # imports every family, registering the suite's custom layers with Keras
    return keras.models.load_model(path, compile=False)


def _saved_model_predictor(path: Path) -> Predictor:
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path}: SavedModel has no serving_default signature")
    serve = loaded.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    if len(inputs) != 1:
        raise ValueError(f"{path}: serving_default takes {len(inputs)} inputs {sorted(inputs)}; expected one "
                         f"float32 [batch, samples] waveform")
    (input_name,) = inputs
    outputs = list(serve.structured_outputs)
    output_name = "probabilities" if "probabilities" in outputs else outputs[0] if len(outputs) == 1 else None
    if output_name is None:
        raise ValueError(f"{path}: serving_default has outputs {outputs}; expected one, or one named probabilities")

    def predict(waveforms) -> np.ndarray:
        return serve(**{input_name: tf.convert_to_tensor(waveforms, tf.float32)})[output_name].numpy()

    predict.loaded = loaded  # keep the SavedModel alive as long as the function
    return predict


def align_classes(manifest: Manifest, model_classes: Sequence[str], class_map: dict[str, str] | None = None,
                  model: str = "the model") -> Manifest:
    """A corpus's manifest relabelled into a model's classes, matched by name.

    Args:
        class_map: corpus class name -> model class name, for corpora that name them differently.

    Returns:
        the manifest with `classes` in the model's order (label ids are then the model's output indices).

    Raises:
        ValueError: a corpus class (after mapping) that the model does not have, naming both class lists,
            or a mapped name that is not a class of the corpus.
    """
    class_map = dict(class_map or {})
    unknown_keys = sorted(set(class_map) - set(manifest.classes))
    if unknown_keys:
        raise ValueError(f"--class-map names {unknown_keys}, which are not classes of {manifest.name} "
                         f"{list(manifest.classes)}")
    missing = [c + (f" (mapped to {class_map[c]})" if c in class_map else "") for c in manifest.classes
               if class_map.get(c, c) not in model_classes]
    if missing:
        raise ValueError(f"{manifest.name} has class(es) {missing} that {model} does not know (its classes: "
                         f"{list(model_classes)}); map them with --class-map CORPUS_CLASS=MODEL_CLASS")
    frame = manifest.frame.copy()
    frame["label"] = frame["label"].map(lambda label: class_map.get(label, label))
    return Manifest(frame, classes=tuple(model_classes), name=manifest.name, task=manifest.task, root=manifest.root)
