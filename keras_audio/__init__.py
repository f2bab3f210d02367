"""keras_audio: how much accuracy survives when audio is spoiled, and what gets it back.

The data flows one way: corpus -> manifest -> waveform dataset -> corruption -> features -> model ->
metrics -> report. Each step is a module; the map is docs/design.md.

Use a trained model::

    import keras_audio

    classifier = keras_audio.load_model("results/<run>/models/<tag>")
    prediction = classifier.predict_file("clip.flac")        # any rate, stereo: resampled like the corpora
    table = classifier.predict_windows("long.wav", smooth=3)  # per-window probabilities over a recording
    keras_audio.write_window_csv(table, "windows.csv")

`import keras_audio` is cheap: it imports neither TensorFlow nor Keras (so `keras-audio --help` answers at
once); each public name loads its module on first use. To read a suite's `model.keras` with plain Keras, call
`keras_audio.register_layers()` first (or `import keras_audio.layers`): it registers every custom layer.
"""

import importlib
import os

from keras_audio.lazy_exports import lazy_exports

# Keras 3 picks its backend at import time; this suite is built on TensorFlow (tf.data, tf.signal).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# The public API, imported on first use (module __getattr__): `import keras_audio` stays free of cycles
# however the modules below import each other.
_API = {
    "load_model": "keras_audio.api",
    "Classifier": "keras_audio.api",
    "ModelInfo": "keras_audio.api",
    "Prediction": "keras_audio.api",
    "WindowTable": "keras_audio.api",
    "smooth_labels": "keras_audio.api",
    "write_window_csv": "keras_audio.timeline",
    "plot_timeline": "keras_audio.timeline",
    "center_crop_or_pad": "keras_audio.windowing",
    "frame_windows": "keras_audio.windowing",
    "window_starts": "keras_audio.windowing",
    "read_audio": "keras_audio.audio",
    "AudioError": "keras_audio.audio",
    "export_model": "keras_audio.export",
    "export_tflite": "keras_audio.export_formats",
    "export_onnx": "keras_audio.export_formats",
}
# Subpackages reached as attributes (`keras_audio.models.build_model`), imported on first use like the API.
_SUBMODULES = ("layers", "corruptions", "models")
__all__ = sorted(_API) + ["__version__", *_SUBMODULES]

# Modules defining the `register_keras_serializable` layers (tests/test_init.py checks the list is complete).
_LAYER_MODULES = (
    "keras_audio.features",
    "keras_audio.handcrafted_features",
    "keras_audio.corruptions.spec_augment",
    "keras_audio.pcen",
    "keras_audio.models.layers",
    "keras_audio.models.masking",
    "keras_audio.models.transfer",
    "keras_audio.pretrained.ge2e",
    "keras_audio.pretrained.aisfx",
)


__getattr__, __dir__ = lazy_exports(__name__, _API, globals(), _SUBMODULES)


def register_layers() -> None:
    """Import the modules whose custom layers a saved `model.keras` may name, registering them with Keras.

    Not done on `import keras_audio`, which stays free of TensorFlow; `load_model` and the suite do it.
    """
    for module in _LAYER_MODULES:
        importlib.import_module(module)
