"""The phase vocoder: rate 1 reconstructs the clip; librosa-like output for a stretched tone."""

import librosa
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.corruptions.vocoder import frame_length_for, stretch


def test_rate_one_reconstructs_the_input():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    out = stretch(tf.constant(x), 1.0, 8000, 1024).numpy()
    np.testing.assert_allclose(out, x, atol=1e-4)


def test_frame_length_scales_with_the_rate():
    assert frame_length_for(16000) == 1024 and frame_length_for(8000) == 512 and frame_length_for(44100) == 2048


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_stretched_tone_keeps_its_level_like_librosa(rate, helpers):
    tone = helpers.harmonic_tone(120, 1.0)
    ours = stretch(tf.constant(tone), rate, round(tone.size / rate), 1024).numpy()
    reference = librosa.effects.time_stretch(tone, rate=rate)
    assert helpers.rms_db(ours) == pytest.approx(helpers.rms_db(reference), abs=1.0)


def test_rates_whose_float_steps_round_up_to_the_frame_count_do_not_index_past_the_end():
    # Regression: at rate 1/1.1 (time_stretch severity 2, slower) a ~3.1-s clip has 200 STFT frames, and
    # tf.range's last float32 step came out as exactly 200.0, so the gather asked for frame 200 of 200.
    x = tf.constant(np.random.default_rng(0).standard_normal(50100).astype(np.float32))
    rate = 1.0 / (1.0 + tf.constant(0.1, tf.float32))
    for n in (49953, 49990, 50027, 50064, 50101 - 1):
        out = stretch(x[:n], rate, int(round(n / float(rate))), 1024)
        assert out.shape == (int(round(n / float(rate))),)
        assert np.all(np.isfinite(out.numpy()))
