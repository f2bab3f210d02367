"""Transfer: a classifier head on the embeddings of a given encoder, frozen or fine-tuned.

`--encoder PATH` (config: `training.model_options.transfer.encoder`) names one of:

- a run's export folder (`results/<run>/models/<tag>/`): its `model.keras` is used, and its `metadata.json`
  must give the run's sample rate;
- a `.keras` file of a waveform classifier: cut before its final dense layer (the layer named
  ``probabilities`` in this suite's models), so the embedding is what that layer read;
- a SavedModel folder (e.g. a TF-Hub style audio encoder saved locally): used whole through
  `keras.layers.TFSMLayer`; its `serve` (or `serving_default`) endpoint must take waveforms
  `[batch, samples]` and return the embedding (or a dict holding one; a key ``embedding`` is preferred). A
  SavedModel cannot be cut, so pass the `.keras` file to cut a classifier.

The encoder takes waveforms, so its own front-end is used (the run's feature settings do not apply).
Pretrained weights cannot be downloaded here; the tests use an encoder the suite trained itself.

With `fine_tune=False` (default) the encoder is frozen and only the head trains. With `fine_tune=True` the
head trains on the frozen encoder first, then everything is fine-tuned at a tenth of the learning rate. The
encoder always runs in inference mode (batch-norm statistics fixed, no dropout), as usual when fine-tuning.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from keras_audio.config import FeatureConfig
from keras_audio.export import KERAS_FILE, read_metadata_file
from keras_audio.models.frontend import waveform_input
from keras_audio.models.registry import register_model
from keras_audio.training import (
    TrainingInputs,
    TrainingResult,
    TrainingSettings,
    combine_stages,
    compile_classifier,
    fit_classifier,
    run_fit,
)

ENCODER = "encoder"
FINE_TUNE_FACTOR = 0.1
ENDPOINTS = ("serve", "serving_default")


@keras.saving.register_keras_serializable(package="keras_audio")
class SavedModelEncoder(keras.layers.TFSMLayer):
    """`keras.layers.TFSMLayer` returning one tensor: the output named `output_key` when the endpoint
    returns a dict (the only one when `output_key` is None and there is just one)."""

    def __init__(self, filepath, call_endpoint="serve", output_key: str | None = None, **kwargs):
        super().__init__(filepath, call_endpoint=call_endpoint, **kwargs)
        self.output_key = output_key

    def call(self, inputs, training=False, **kwargs):
        outputs = super().call(inputs, training=training, **kwargs)
        if isinstance(outputs, dict):
            if self.output_key is None and len(outputs) != 1:
                raise ValueError(
                    f"SavedModel {self.filepath}: endpoint {self.call_endpoint!r} returns "
                    f"{sorted(outputs)}; name the embedding with output_key"
                )
            outputs = outputs[self.output_key] if self.output_key is not None else next(iter(outputs.values()))
        return outputs

    def get_config(self):
        return {**super().get_config(), "output_key": self.output_key}


def _check_sample_rate(export_dir: Path, sample_rate: int) -> None:
    """Refuse an encoder from an export (`export_dir` holds its metadata) trained at another rate."""
    rate = (read_metadata_file(export_dir) or {}).get("sample_rate")
    if rate is not None and int(rate) != int(sample_rate):
        raise ValueError(
            f"encoder {export_dir}: trained at {rate} Hz, but the run uses {sample_rate} Hz; set --sample-rate {rate}"
        )


def _cut_classifier(model: keras.Model, source: Path) -> keras.Model:
    """The embedding model: `model` up to the input of its final dense layer."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2:
        raise ValueError(
            f"encoder {source}: must take waveforms [batch, samples], takes {[tuple(t.shape) for t in model.inputs]}"
        )
    names = [layer.name for layer in model.layers]
    final = model.get_layer("probabilities") if "probabilities" in names else model.layers[-1]
    embedding = final.input if isinstance(final, keras.layers.Dense) else model.outputs[0]
    if len(embedding.shape) != 2:
        raise ValueError(
            f"encoder {source}: the embedding before layer {final.name!r} has shape "
            f"{tuple(embedding.shape)}; expected [batch, features]"
        )
    return keras.Model(model.inputs[0], embedding, name=ENCODER)


def _saved_model_encoder(path: Path, trainable: bool) -> keras.Model:
    loaded = tf.saved_model.load(str(path))
    endpoint = next((name for name in ENDPOINTS if hasattr(loaded, name) or name in loaded.signatures), None)
    if endpoint is None:
        raise ValueError(f"encoder {path}: the SavedModel has none of the endpoints {ENDPOINTS}")
    probe = SavedModelEncoder(str(path), call_endpoint=endpoint)
    outputs = probe.call(tf.zeros([1, 1600]))
    key = None
    if isinstance(outputs, dict):
        key = "embedding" if "embedding" in outputs else None
    layer = SavedModelEncoder(
        str(path), call_endpoint=endpoint, output_key=key, trainable=trainable, name="saved_model"
    )
    waveform = waveform_input()
    embedding = layer(waveform)
    if len(embedding.shape) != 2:
        raise ValueError(
            f"encoder {path}: endpoint {endpoint!r} returns shape {tuple(embedding.shape)}; "
            "expected an embedding [batch, features]"
        )
    return keras.Model(waveform, embedding, name=ENCODER)


def load_encoder(path: str | Path, sample_rate: int, trainable: bool = False) -> keras.Model:
    """The embedding model `waveform [batch, samples] -> [batch, features]` named ``encoder`` (see the module
    docstring for what `path` may be)."""
    from keras_audio import register_layers

    register_layers()  # every custom layer a saved encoder may name (`import keras_audio` registers none)
    path = Path(path)
    if path.is_dir() and (path / KERAS_FILE).is_file():
        _check_sample_rate(path, sample_rate)
        path = path / KERAS_FILE
    if path.is_file() and path.suffix == ".keras":
        _check_sample_rate(path.parent, sample_rate)
        encoder = _cut_classifier(keras.models.load_model(path, compile=False), path)
    elif path.is_dir() and (path / "saved_model.pb").is_file():
        _check_sample_rate(path.parent, sample_rate)
        encoder = _saved_model_encoder(path, trainable)
    else:
        raise ValueError(
            f"encoder {path}: not an export folder (with model.keras), a .keras file or a SavedModel "
            "folder (with saved_model.pb)"
        )
    encoder.trainable = trainable
    return encoder


def train_transfer(
    model: keras.Model, inputs: TrainingInputs, settings: TrainingSettings, log_dir: Path | None = None
) -> TrainingResult:
    """The head on the frozen encoder; then, if the encoder was built trainable, everything fine-tuned."""
    encoder = model.get_layer(ENCODER)
    fine_tune = encoder.trainable
    encoder.trainable = False
    head = fit_classifier(model, inputs, settings, None if log_dir is None else Path(log_dir) / "head")
    if not fine_tune:
        head.metadata["encoder"] = "frozen"
        return head
    encoder.trainable = True
    tuned = dataclasses.replace(settings, learning_rate=settings.learning_rate * FINE_TUNE_FACTOR)
    compile_classifier(model, tuned.learning_rate)
    result = run_fit(
        model,
        inputs.make_train(False),
        inputs,
        tuned,
        None if log_dir is None else Path(log_dir) / "fine_tune",
        class_weight=inputs.class_weight,
    )
    return combine_stages({"head": head, "fine_tune": result}, {"encoder": "fine-tuned"})


@register_model(
    "transfer",
    "a dense head on a given encoder's embeddings (--encoder PATH), frozen or fine-tuned",
    trainer=train_transfer,
    spec_augment=False,
)
def build_transfer(
    num_classes: int,
    sample_rate: int,
    features: FeatureConfig,
    spec_augment: bool = False,
    encoder: str | None = None,
    fine_tune: bool = False,
    hidden: int = 64,
    dropout: float = 0.3,
) -> keras.Model:
    """Waveform -> encoder (inference mode) -> [dense ReLU] -> dropout -> probabilities.

    Args:
        features: unused (the encoder brings its own front-end).
        spec_augment: not applicable (the encoder's spectrogram is not reachable); must be False.
        encoder: the encoder's path (see the module docstring).
        fine_tune: fine-tune the encoder after training the head.
        hidden: units of the hidden dense layer (0: a linear head).
        dropout: before the classifier.
    """
    del features
    if encoder is None:
        raise ValueError(
            "transfer: no encoder given; pass --encoder PATH (an export folder, a .keras file or a SavedModel folder)"
        )
    if spec_augment:
        raise ValueError("transfer: the specaugment policy cannot reach inside the encoder; use a waveform policy")
    if hidden < 0 or not 0 <= dropout < 1:
        raise ValueError(f"transfer: hidden must be >= 0 and dropout in [0, 1), got {hidden}, {dropout}")
    embedder = load_encoder(encoder, sample_rate, trainable=bool(fine_tune))
    waveform = waveform_input()
    x = embedder(waveform, training=False)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", name="head_dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(waveform, probabilities, name="transfer")
