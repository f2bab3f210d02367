"""SavedModel, TFLite and ONNX copies of the pretrained GE2E encoder answer like the Keras encoder (and so like
Resemblyzer) on the golden waveforms. Without the checkpoint these tests fail, they do not skip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.export_formats import FORMAT_ATOL, export_onnx, export_tflite, onnx_predictor, tflite_predictor

pytestmark = pytest.mark.slow  # SavedModel, TFLite and ONNX conversions of the encoder

GOLDEN = Path(__file__).with_name("golden_ge2e.npz")


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def embed(encoder):
    function = tf.function(
        lambda waveforms: encoder(waveforms, training=False), input_signature=[tf.TensorSpec([None, None], tf.float32)]
    )
    return lambda waveforms: function(tf.constant(np.asarray(waveforms, np.float32))).numpy()


def probe(golden) -> np.ndarray:
    """The golden clips zero-padded to the longest, and the shortest again behind leading zeros."""
    shortest = golden["waveforms"][0, : golden["lengths"][0]]
    shifted = np.zeros_like(golden["waveforms"][:1])
    shifted[0, 5000 : 5000 + len(shortest)] = shortest
    return np.concatenate([golden["waveforms"], shifted])


def test_saved_model_matches_keras(encoder, embed, golden, tmp_path):
    encoder.export(
        str(tmp_path / "saved_model"),
        format="tf_saved_model",
        verbose=False,
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")],
    )
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))  # kept: `serve` alone loses its variables
    for waveforms in (probe(golden), golden["waveforms"][1:2, : golden["lengths"][1]]):
        np.testing.assert_allclose(
            reloaded.serve(tf.constant(waveforms)).numpy(), embed(waveforms), rtol=0, atol=FORMAT_ATOL
        )


def test_tflite_matches_keras_and_resemblyzer(encoder, embed, golden, tmp_path):
    path = tmp_path / "ge2e.tflite"
    waveforms = probe(golden)
    assert export_tflite(encoder, path, waveforms) <= FORMAT_ATOL
    embeddings = tflite_predictor(path)(waveforms)
    np.testing.assert_allclose(embeddings, embed(waveforms), rtol=0, atol=FORMAT_ATOL)
    np.testing.assert_allclose(embeddings[:-1], golden["embeddings"], rtol=0, atol=FORMAT_ATOL)
    np.testing.assert_allclose(embeddings[-1], golden["embeddings"][0], rtol=0, atol=FORMAT_ATOL)


def test_onnx_matches_keras_at_any_length(encoder, embed, golden, tmp_path):
    path = tmp_path / "ge2e.onnx"
    assert export_onnx(encoder, path, probe(golden)) <= FORMAT_ATOL
    predict = onnx_predictor(path)
    for waveforms in (golden["waveforms"][2:3, : golden["lengths"][2]], golden["waveforms"][:2, :40000]):
        np.testing.assert_allclose(predict(waveforms), embed(waveforms), rtol=0, atol=FORMAT_ATOL)
    np.testing.assert_allclose(predict(golden["waveforms"]), golden["embeddings"], rtol=0, atol=FORMAT_ATOL)
