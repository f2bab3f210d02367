"""Resampling: frequencies scale by the realised ratio (within 0.3 % of the one asked), lengths exact."""

import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions import resampling


def peak_frequency(x, sample_rate=16000):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), 16 * x.size))
    return np.argmax(spectrum) * sample_rate / (16 * x.size)


@pytest.mark.parametrize("ratio", [0.8, 1 / 1.12, 1.0, 1.07, 1.25])
def test_tone_frequency_scales_and_length_is_exact(ratio, helpers):
    tone = helpers.sine(440.0, 0.5)
    length = round(tone.size * ratio)
    out = resampling.resample(tf.constant(tone), ratio, length).numpy()
    assert out.size == length
    assert peak_frequency(out[1000:-1000]) == pytest.approx(440.0 / ratio, rel=0.003)
    assert helpers.rms_db(out[1000:-1000]) == pytest.approx(helpers.rms_db(tone), abs=0.05)


def test_ratio_one_is_the_identity():
    x = np.random.default_rng(0).standard_normal(3000).astype(np.float32)
    np.testing.assert_allclose(resampling.resample(tf.constant(x), 1.0, 3000).numpy(), x, atol=1e-5)


def test_frame_pair_is_fast_and_close_to_the_ratio():
    from keras_audio.corruptions.fft_ops import FAST_LENGTHS

    for ratio in np.linspace(0.75, 1.35, 61):
        frame_in, frame_out = (int(v) for v in resampling._frame_pair(ratio, 2048))
        assert frame_in in FAST_LENGTHS and frame_out in FAST_LENGTHS
        assert frame_in % resampling.PARTS == 0 and frame_out % resampling.PARTS == 0
        assert frame_out / frame_in == pytest.approx(ratio, rel=0.003)


def test_fft_resample_whole_clip(helpers):
    tone = helpers.sine(300.0, 0.25)
    out = resampling.fft_resample(tf.constant(tone), 2000).numpy()
    assert out.size == 2000
    assert peak_frequency(out, 8000) == pytest.approx(300.0, rel=0.002)
