"""SavedModel, TFLite (LiteRT) and ONNX copies of the aisfx encoder answer like the Keras model on the golden
waveforms (`golden_aisfx.npz`), at 44.1 kHz and, through the in-graph resampler, at 16 kHz.

The pretrained weights are required: without the aisfx checkpoint these tests fail, they do not skip.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.export_formats import FORMAT_ATOL, export_onnx, export_tflite, onnx_predictor
from keras_audio.pretrained import aisfx, sources

pytestmark = pytest.mark.slow  # SavedModel, TFLite and ONNX conversions of the encoder

GOLDEN = Path(__file__).with_name("golden_aisfx.npz")


@pytest.fixture(scope="module")
def golden_waveforms() -> np.ndarray:
    """The golden clips, each zero-padded to the longest (5 s; the encoder ignores the padding)."""
    with np.load(GOLDEN) as data:
        return data["waveforms"].astype(np.float32) / np.float32(32768)


@pytest.fixture(scope="module", params=[44100, 16000])
def case(request, tmp_path_factory, golden_waveforms):
    """(encoder, waveforms at its rate): the golden clips, or at 16 kHz the first 2.3 s of them resampled."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sources.CACHE_DIR_VARIABLE, str(tmp_path_factory.mktemp("cache")))
        encoder = aisfx.build_aisfx_encoder(request.param)
    if request.param == aisfx.SAMPLE_RATE:
        return encoder, golden_waveforms
    waveforms = librosa.resample(golden_waveforms[:, :101430], orig_sr=44100, target_sr=16000, res_type="soxr_hq")
    waveforms[0, 16000:] = 0  # the first clip is 1 s long
    return encoder, waveforms.astype(np.float32)


def test_saved_model_matches_keras(case, tmp_path):
    encoder, waveforms = case
    encoder.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    expected = encoder(tf.constant(waveforms), training=False).numpy()
    np.testing.assert_allclose(loaded.serve(tf.constant(waveforms)).numpy(), expected, rtol=0, atol=FORMAT_ATOL)


def test_tflite_matches_keras(case, tmp_path):
    encoder, waveforms = case
    assert export_tflite(encoder, tmp_path / "aisfx.tflite", waveforms) <= FORMAT_ATOL


def test_onnx_matches_keras(case, tmp_path):
    encoder, waveforms = case
    assert export_onnx(encoder, tmp_path / "aisfx.onnx", waveforms) <= FORMAT_ATOL
    # any batch and length: the ONNX graph keeps both dynamic
    short = waveforms[1:3, :30000]
    np.testing.assert_allclose(
        onnx_predictor(tmp_path / "aisfx.onnx")(short),
        encoder(tf.constant(short), training=False).numpy(),
        rtol=0,
        atol=FORMAT_ATOL,
    )
