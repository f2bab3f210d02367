"""Export round trip: the reloaded SavedModel takes waveforms and predicts what the Keras model predicts; it
carries its own metadata and refuses input it cannot answer."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.config import FeatureConfig
from keras_audio.export import (
    LONG_BATCH,
    ExportMismatchError,
    analysis_window,
    embedded_metadata,
    export_model,
    verify_export,
)
from keras_audio.features import LogMelSpectrogram
from keras_audio.loader import load_predictor
from keras_audio.models import build_model

pytestmark = pytest.mark.slow  # exports SavedModels and reloads them


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("conv1d", 3, 16000, FeatureConfig(n_mels=32), filters=(8, 8))
    directory = export_model(
        model, tmp_path_factory.mktemp("export"), class_names=["a", "b", "c"], sample_rate=16000, clip_samples=8000
    )
    return model, directory


def test_reloaded_savedmodel_matches_keras_predictions(exported):
    model, directory = exported
    waveforms = (0.1 * np.random.default_rng(0).standard_normal((4, 8000))).astype(np.float32)
    assert verify_export(directory, model, waveforms) <= 1e-5
    loaded = load_predictor(directory)
    predict, metadata = loaded.predict, loaded.metadata
    probabilities = predict(waveforms)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert metadata["class_names"] == ["a", "b", "c"] and metadata["sample_rate"] == 16000
    assert json.loads((directory / "metadata.json").read_text())["clip_samples"] == 8000


def test_savedmodel_takes_other_lengths_and_batch_sizes(exported):
    _, directory = exported
    predict = load_predictor(directory).predict
    assert predict(np.zeros((1, 12345), np.float32) + 0.01).shape == (1, 3)


def test_a_different_model_fails_the_check_loudly(exported, tmp_path):
    _, directory = exported
    other = build_model("conv1d", 3, 16000, FeatureConfig(n_mels=32), filters=(8, 8))
    waveforms = (0.1 * np.random.default_rng(1).standard_normal((4, 8000))).astype(np.float32)
    with pytest.raises(ExportMismatchError, match="differs"):
        verify_export(directory, other, waveforms)


# ---------------------------------------------------------------------- self-describing, defended exports


@pytest.fixture(scope="module")
def crnn_export(tmp_path_factory):
    """A CRNN: the family that answered NaN input with the silence prediction before the refusals."""
    model = build_model("crnn", 2, 16000, FeatureConfig(n_mels=32), filters=(4,), units=8, attention_units=8)
    directory = export_model(
        model, tmp_path_factory.mktemp("crnn"), class_names=["no", "yes"], sample_rate=16000, clip_samples=4000
    )
    return model, directory, tf.saved_model.load(str(directory / "saved_model"))


def test_the_savedmodel_carries_its_metadata(crnn_export):
    _, directory, loaded = crnn_export
    described = loaded.signatures["metadata"]()
    assert [c.decode() for c in described["class_names"].numpy()] == ["no", "yes"]
    assert int(described["sample_rate"]) == 16000 and int(described["clip_samples"]) == 4000
    assert int(described["min_samples"]) == 512  # the log-mel's n_fft
    metadata = embedded_metadata(loaded)
    assert metadata == json.loads((directory / "metadata.json").read_text())
    assert metadata["features"]["n_fft"] == 512 and metadata["features"]["n_mels"] == 32


def test_the_metadata_travels_without_metadata_json(crnn_export, tmp_path):
    _, directory, _ = crnn_export
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copytree(directory / "saved_model", copy / "saved_model")
    metadata = load_predictor(copy).metadata
    assert metadata["class_names"] == ["no", "yes"] and metadata["clip_samples"] == 4000


@pytest.mark.parametrize(
    "waveform, problem",
    [
        (np.zeros((0, 4000)), "empty batch"),
        (np.zeros((1, 0)), "too short"),
        (np.full((1, 1), 0.1), "too short"),
        (np.full((2, 511), 0.1), "too short"),
        (np.where(np.arange(4000) == 7, np.nan, 0.1)[None], "NaN or infinite"),
        (np.where(np.arange(4000) == 7, np.inf, 0.1)[None], "NaN or infinite"),
        (np.full(4000, 0.1), "must be float32 \\[batch, samples\\]"),
        (np.full((1, 1, 4000), 0.1), "must be float32 \\[batch, samples\\]"),
        (np.float32(0.1), "must be float32 \\[batch, samples\\]"),
    ],
)
def test_serving_signature_refuses_what_it_cannot_answer(crnn_export, waveform, problem):
    _, _, loaded = crnn_export
    with pytest.raises(tf.errors.InvalidArgumentError, match=problem):
        loaded.signatures["serving_default"](waveform=tf.constant(waveform, tf.float32))


def test_serving_signature_answers_one_analysis_window(crnn_export):
    model, _, loaded = crnn_export
    x = np.full((1, 512), 0.1, np.float32)
    np.testing.assert_allclose(
        loaded.signatures["serving_default"](waveform=tf.constant(x))["probabilities"],
        model(x, training=False),
        atol=1e-5,
    )


def test_long_signature_is_the_mean_of_the_windows(crnn_export):
    model, _, loaded = crnn_export
    x = (0.1 * np.random.default_rng(2).standard_normal(4000 * 9 + 77)).astype(np.float32)  # 18 windows
    long = loaded.signatures["serve_long"](waveform=tf.constant(x))
    starts = long["window_starts"].numpy()
    assert starts[0] == 0 and starts[-1] == len(x) - 4000 and np.all(np.diff(starts)[:-1] == 2000)
    expected = model(np.stack([x[s : s + 4000] for s in starts]), training=False).numpy()
    np.testing.assert_allclose(long["window_probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(long["probabilities"], expected.mean(axis=0), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        loaded.signatures["serve_long"](waveform=tf.constant(np.full(5000, np.nan, np.float32)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be float32 \\[samples\\]"):
        loaded.signatures["serve_long"](waveform=tf.constant(np.zeros((1, 5000), np.float32)))


def test_export_refuses_inconsistent_settings(tmp_path):
    model = build_model("conv1d", 2, 16000, FeatureConfig(n_mels=32), filters=(4,))
    with pytest.raises(ValueError, match="2 outputs but 3 class names"):
        export_model(model, tmp_path, class_names=["a", "b", "c"], sample_rate=16000, clip_samples=8000)
    with pytest.raises(ValueError, match="front-end expects 16000 Hz, but sample_rate=8000"):
        export_model(model, tmp_path, class_names=["a", "b"], sample_rate=8000, clip_samples=8000)
    with pytest.raises(ValueError, match="min_samples=512 must be in 1..clip_samples \\(100\\)"):
        export_model(model, tmp_path, class_names=["a", "b"], sample_rate=16000, clip_samples=100)
    assert analysis_window(model) == 512


@keras.saving.register_keras_serializable(package="tests")
class BatchCap(keras.layers.Layer):
    """Passes its input through, refusing a batch of more than LONG_BATCH waveforms."""

    def call(self, waveforms):
        check = tf.debugging.assert_less_equal(
            tf.shape(waveforms)[0], LONG_BATCH, message="the model was given more windows than one batch"
        )
        with tf.control_dependencies([check]):
            return tf.identity(waveforms)


def test_long_signature_feeds_the_model_one_batch_of_windows_at_a_time(tmp_path):
    """So that memory holds one batch's activations, not the whole recording's (a 30-min recording took 3.6 GB
    through a CRNN in one batch)."""
    inputs = keras.Input((None,))
    features = LogMelSpectrogram(16000, n_fft=512, hop_length=160, n_mels=16)(BatchCap()(inputs))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling1D()(features))
    model = keras.Model(inputs, outputs)
    directory = export_model(model, tmp_path / "capped", class_names=["a", "b"], sample_rate=16000, clip_samples=4000)
    loaded = tf.saved_model.load(str(directory / "saved_model"))
    x = (0.1 * np.random.default_rng(3).standard_normal(4000 + 2000 * (2 * LONG_BATCH + 5) + 123)).astype(np.float32)
    long = loaded.signatures["serve_long"](waveform=tf.constant(x))
    starts = long["window_starts"].numpy()
    assert len(starts) == 2 * LONG_BATCH + 7 and starts[-1] == len(x) - 4000
    windows = np.stack([x[s : s + 4000] for s in starts])
    expected = np.concatenate(
        [model(windows[i : i + LONG_BATCH], training=False).numpy() for i in range(0, len(windows), LONG_BATCH)]
    )
    np.testing.assert_allclose(long["window_probabilities"], expected, atol=1e-6)
    np.testing.assert_allclose(long["probabilities"], expected.mean(axis=0), atol=1e-6)
    short = loaded.signatures["serve_long"](waveform=tf.constant(x[:3000]))  # one centre-padded window
    assert short["window_starts"].numpy().tolist() == [-500]
    np.testing.assert_allclose(short["window_probabilities"], model(np.pad(x[:3000], 500)[None]).numpy(), atol=1e-6)
