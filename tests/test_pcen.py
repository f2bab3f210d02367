"""PCEN: librosa compatibility of the fixed version, padding, learnable parameters, round trip, refusals."""

import keras
import librosa
import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

from keras_audio.models.masking import PaddingMask
from keras_audio.pcen import PCENSpectrogram, pcen_smoother, smoothing_coefficient

RATE = 8000
MEL = dict(n_fft=256, win_length=200, hop_length=80, n_mels=32, fmin=20.0)
# librosa (float64 lfilter) against our float32 matrix form, on PCEN values of 0..2.3: measured 4.3e-6
# (initial state "first") and 2.4e-7 (librosa's default state).
ATOL = 2e-5


def _clip(seconds: float = 0.73, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 1 + np.sin(2 * np.pi * 3 * t)
    return (0.1 * np.sin(2 * np.pi * 300 * t) * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("initial_state", ["first", 1.0])
def test_fixed_pcen_matches_librosa(initial_state):
    y = _clip()
    layer = PCENSpectrogram(sample_rate=RATE, initial_state=initial_state, **MEL)
    ours = layer(y[None]).numpy()[0].T
    power = librosa.feature.melspectrogram(y=y, sr=RATE, power=2.0, **MEL)
    zi = scipy.signal.lfilter_zi([layer.smooth], [1, layer.smooth - 1])
    if initial_state == "first":
        expected = librosa.pcen(power, sr=RATE, hop_length=MEL["hop_length"], zi=zi * power[:, :1])
    else:  # librosa's default state
        expected = librosa.pcen(power, sr=RATE, hop_length=MEL["hop_length"])
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0)


def test_smoothing_coefficient_is_librosas():
    # librosa.pcen's b for t_frames = 0.4 s * 8000 / 80 = 40 frames
    frames = 40.0
    assert smoothing_coefficient(0.4, RATE, 80) == pytest.approx((np.sqrt(1 + 4 * frames**2) - 1) / (2 * frames**2))


def test_the_smoother_holds_over_padded_frames():
    energy = np.random.default_rng(0).uniform(0.1, 1.0, (1, 12, 2)).astype(np.float32)
    mask = np.zeros((1, 12), bool)
    mask[0, 3:9] = True  # 3 leading and 3 trailing padded frames
    held = pcen_smoother(tf.constant(energy), 0.3, "first", mask).numpy()[0]
    alone = pcen_smoother(tf.constant(energy[:, 3:9]), 0.3, "first").numpy()[0]
    np.testing.assert_allclose(held[3:9], alone, rtol=1e-6)
    np.testing.assert_allclose(held[9:], np.repeat(alone[-1:], 3, axis=0), rtol=1e-6)  # state carried over
    # the recursion M[t] = (1 - s) M[t-1] + s E[t], started at E[0]
    state, expected = energy[0, 3], []
    for frame in energy[0, 3:9]:
        state = 0.7 * state + 0.3 * frame
        expected.append(state)
    np.testing.assert_allclose(alone, np.array(expected), rtol=1e-5)


def test_padding_leaves_the_signal_frames_unchanged_and_zeroes_the_rest():
    y = _clip(0.6)
    layer = PCENSpectrogram(sample_rate=RATE, **MEL)
    outputs = []
    for before, after in ((0, 0), (0, 2 * RATE), (16 * MEL["hop_length"], RATE)):
        x = np.pad(y, (before, after))[None]
        mask = PaddingMask(MEL["hop_length"])(x)
        out = layer(x, frame_mask=mask).numpy()[0]
        valid = mask.numpy()[0]
        assert np.all(out[~valid] == 0.0)
        outputs.append(out[valid])
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], atol=1e-5)


def test_silence_gives_zeros_not_nan():
    for learnable in (False, True):
        out = PCENSpectrogram(sample_rate=RATE, learnable=learnable, **MEL)(np.zeros((2, 1600), np.float32)).numpy()
        assert np.all(out == 0.0)


def test_learnable_pcen_starts_at_the_fixed_values_and_gets_gradients():
    y = _clip(0.3)[None]
    fixed = PCENSpectrogram(sample_rate=RATE, **MEL)
    learnable = PCENSpectrogram(sample_rate=RATE, learnable=True, **MEL)
    np.testing.assert_allclose(learnable(y).numpy(), fixed(y).numpy(), atol=1e-5)
    assert fixed.trainable_weights == [] and len(learnable.trainable_weights) == 3
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(learnable(y))
    gradients = tape.gradient(loss, learnable.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0) for g in gradients)


def test_round_trip_in_a_saved_model(tmp_path):
    waveform = keras.Input((None,))
    mask = PaddingMask(MEL["hop_length"])(waveform)
    out = PCENSpectrogram(sample_rate=RATE, learnable=True, gain=0.9, initial_state=0.5, **MEL)(
        waveform, frame_mask=mask
    )
    model = keras.Model(waveform, out)
    x = np.pad(_clip(0.4), (0, 800))[None]
    model.save(tmp_path / "pcen.keras")
    reloaded = keras.models.load_model(tmp_path / "pcen.keras")
    np.testing.assert_allclose(reloaded(x), model(x), atol=1e-6)
    assert reloaded.layers[-1].get_config()["initial_state"] == 0.5


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(gain=0.0), "gain"),
        (dict(power=1.5), "power"),
        (dict(bias=-1.0), "bias"),
        (dict(time_constant=0.0), "time_constant"),
        (dict(eps=0.0), "eps"),
        (dict(initial_state="last"), "initial_state"),
        (dict(n_fft=255), "n_fft"),
    ],
)
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        PCENSpectrogram(sample_rate=RATE, **{**MEL, **bad})
