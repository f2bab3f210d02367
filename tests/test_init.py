"""`import keras_audio`: free of TensorFlow, the small API exposed lazily; after `register_layers()` every family's
model.keras loads with plain Keras."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_audio
from keras_audio.config import FeatureConfig
from keras_audio.export import export_model
from keras_audio.models import available, build_model, get_family

RATE = 8000
FEATURES = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=16)
PACKAGE = Path(keras_audio.__file__).parent
# Tiny settings per family; a family missing here is built with its defaults.
TINY = {
    "conv1d": dict(filters=(4,)),
    "conv2d": dict(filters=(4,)),
    "vgg": dict(filters=(4,), dense_units=4),
    "lstm": dict(units=4),
    "crnn": dict(filters=(4,), units=4, attention_units=4),
    "ae_clf": dict(filters=(4,)),
    "ae_clf_joint": dict(filters=(4,)),
    "mlp_features": dict(hidden=(4,)),
    "sklearn_logreg": dict(n_mfcc=8),
}

LOADER = """
import json, sys
import keras_audio, keras
import numpy as np

keras_audio.register_layers()

cases = json.load(open(sys.argv[1]))
for case in cases:
    model = keras.models.load_model(case["path"], safe_mode=case["safe_mode"])
    x = np.load(case["inputs"])
    np.testing.assert_allclose(np.asarray(model(x, training=False)), np.load(case["outputs"]), atol=1e-5,
                               err_msg=case["path"])
registered = set(keras.saving.get_custom_objects())
print(json.dumps({"loaded": len(cases), "registered": sorted(registered)}))
"""


def _serializable_classes() -> set[str]:
    """`keras_audio>Name` of every class decorated `register_keras_serializable(package="keras_audio")`."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "register_keras_serializable" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                names.add(f"keras_audio>{node.name}")
    return names


def _keras_models(tmp_path):
    """`{name: model}`: every registered family's Keras model (for the scikit-learn baselines, their Keras
    feature extractor, saved as feature_extractor.keras)."""
    encoder = build_model("conv1d", 2, RATE, FEATURES, filters=(4,))
    folder = export_model(encoder, tmp_path / "encoder", class_names=["a", "b"], sample_rate=RATE, clip_samples=4000)
    models = {}
    for name in available():
        if name == "sklearn_forest":
            continue  # the same feature extractor as sklearn_logreg
        hparams = dict(TINY.get(name, {}))
        if name == "transfer":
            hparams.update(encoder=str(folder), hidden=4)
        # the speaker encoder takes 16 kHz only (the others take any rate)
        model = build_model(name, 2, 16000 if name.startswith("ge2e") else RATE, FEATURES, **hparams)
        family = get_family(name)
        if isinstance(model, keras.Model):
            models[name] = family.inference_model(model) if family.inference_model else model
        else:
            models[f"{name}.features"] = model.features
    # A saved file that names one more custom layer: a SavedModel used as the encoder (SavedModelEncoder).
    models["transfer+savedmodel"] = build_model(
        "transfer", 2, RATE, FEATURES, encoder=str(folder / "saved_model"), hidden=4
    )
    return models


@pytest.mark.slow
def test_every_family_loads_after_register_layers_alone(tmp_path):
    models = _keras_models(tmp_path)
    assert {
        "conv1d",
        "conv2d",
        "crnn",
        "lstm",
        "vgg",
        "ae_clf",
        "ae_clf_joint",
        "mlp_features",
        "transfer",
        "sklearn_logreg.features",
    } <= set(models)
    x = (0.1 * np.random.default_rng(0).standard_normal((2, 4000))).astype(np.float32)
    cases = []
    for name, model in models.items():
        path = tmp_path / f"{name}.keras"
        model.save(path)
        np.save(tmp_path / f"{name}-out.npy", np.asarray(model(x, training=False)))
        cases.append(
            {
                "path": str(path),
                "inputs": str(tmp_path / "x.npy"),
                "outputs": str(tmp_path / f"{name}-out.npy"),
                # Keras loads a layer that runs an outside SavedModel only when told the file is trusted.
                "safe_mode": name != "transfer+savedmodel",
            }
        )
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    # A fresh interpreter that imports nothing but keras_audio and keras, and calls `register_layers()`.
    done = subprocess.run(
        [sys.executable, "-c", LOADER, str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == len(cases)
    missing = _serializable_classes() - set(report["registered"])
    assert not missing, f"custom layers not registered by `register_layers()`: {sorted(missing)}"


def test_the_api_is_exposed_lazily():
    from keras_audio import api, export_formats, timeline, windowing

    assert keras_audio.load_model is api.load_model and keras_audio.Classifier is api.Classifier
    assert keras_audio.frame_windows is windowing.frame_windows
    assert keras_audio.write_window_csv is timeline.write_window_csv
    assert keras_audio.export_onnx is export_formats.export_onnx
    assert {"load_model", "predict_file"} & set(dir(keras_audio)) == {"load_model"}
    with pytest.raises(AttributeError, match="no attribute 'predict_everything'"):
        keras_audio.predict_everything  # noqa: B018


def test_import_keras_audio_loads_neither_tensorflow_nor_keras():
    probe = (
        "import sys, keras_audio; keras_audio.__version__; "
        "print(sorted({'tensorflow', 'keras'} & {name.split('.')[0] for name in sys.modules}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_the_subpackages_are_exported_and_imported_on_first_use():
    assert {"layers", "corruptions", "models", "__version__", "load_model"} <= set(keras_audio.__all__)
    assert isinstance(keras_audio.__version__, str)
    from keras_audio import corruptions, models

    assert keras_audio.models is models and keras_audio.corruptions is corruptions
    assert keras_audio.models.build_model is build_model
    assert {"layers", "corruptions", "models"} <= set(dir(keras_audio))
