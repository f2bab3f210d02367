"""Handcrafted features: librosa parity of each one, batch consistency, the layers."""

import keras
import librosa
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.features import LogMelSpectrogram
from keras_audio.handcrafted_features import (
    FrameFeatures,
    MfccStatistics,
    TimeStatistics,
    deltas,
    fft_frequencies,
    frame_rms,
    magnitude_spectrogram,
    mean_and_std,
    mfcc,
    spectral_centroid,
    spectral_rolloff,
    zero_crossing_rate,
)

SR = 16000
N_FFT, WIN, HOP = 512, 400, 160


def _signal(seconds=0.6, seed=0):
    """A chirp plus noise with a silent stretch: frames of every kind (voiced, noisy, silent)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.4 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.05 * rng.standard_normal(t.size)
    x[int(0.3 * SR) : int(0.4 * SR)] = 0.0
    return x.astype(np.float32)


def _magnitude(x):
    return magnitude_spectrogram(tf.constant(x[None]), N_FFT, WIN, HOP)


def test_rms_matches_librosa():
    x = _signal()
    expected = librosa.feature.rms(y=x, frame_length=N_FFT, hop_length=HOP)[0]
    np.testing.assert_allclose(frame_rms(tf.constant(x[None]), N_FFT, HOP).numpy()[0], expected, rtol=1e-4, atol=1e-6)


def test_zero_crossing_rate_matches_librosa():
    x = _signal()
    x[100:140] = 1e-12  # below librosa's threshold: counts as zero (positive)
    expected = librosa.feature.zero_crossing_rate(y=x, frame_length=N_FFT, hop_length=HOP)[0]
    np.testing.assert_allclose(zero_crossing_rate(tf.constant(x[None]), N_FFT, HOP).numpy()[0], expected, atol=1e-6)


def test_magnitude_spectrogram_matches_librosa_stft():
    x = _signal()
    expected = np.abs(librosa.stft(x, n_fft=N_FFT, hop_length=HOP, win_length=WIN)).T
    np.testing.assert_allclose(_magnitude(x).numpy()[0], expected, rtol=1e-3, atol=1e-4)


def test_spectral_centroid_matches_librosa():
    x = _signal()
    expected = librosa.feature.spectral_centroid(y=x, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=WIN)[0]
    frequencies = tf.constant(fft_frequencies(SR, N_FFT))
    got = spectral_centroid(_magnitude(x), frequencies).numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=0.5)  # Hz
    assert np.any(expected == 0) and np.all(got[expected == 0] == 0)  # silent frames: 0, as librosa


def test_spectral_rolloff_matches_librosa():
    x = _signal()
    for roll in (0.5, 0.85):
        expected = librosa.feature.spectral_rolloff(
            y=x, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=WIN, roll_percent=roll
        )[0]
        got = spectral_rolloff(_magnitude(x), tf.constant(fft_frequencies(SR, N_FFT)), roll).numpy()[0]
        # a cumulative sum on the threshold can land one bin apart in float32: allow it on a few frames
        bin_width = SR / N_FFT
        assert np.max(np.abs(got - expected)) <= bin_width + 1e-3
        assert np.mean(got == expected) > 0.95


def test_fft_frequencies_match_librosa():
    np.testing.assert_allclose(fft_frequencies(SR, N_FFT), librosa.fft_frequencies(sr=SR, n_fft=N_FFT))


def test_mfcc_matches_librosa_on_the_same_log_mel():
    x = _signal()
    log_mel = LogMelSpectrogram(SR, N_FFT, WIN, HOP, n_mels=40)(x[None]).numpy()  # [1, frames, mels]
    expected = librosa.feature.mfcc(S=log_mel[0].T, n_mfcc=13).T
    np.testing.assert_allclose(mfcc(tf.constant(log_mel), 13).numpy()[0], expected, rtol=1e-4, atol=1e-3)


def test_deltas_match_librosa_away_from_the_edges():
    rng = np.random.default_rng(0)
    features = np.cumsum(rng.standard_normal((60, 5)), axis=0).astype(np.float32)
    expected = librosa.feature.delta(features.T, width=9).T
    got = deltas(tf.constant(features[None]), 9).numpy()[0]
    np.testing.assert_allclose(got[4:-4], expected[4:-4], rtol=1e-4, atol=1e-4)
    # a linear ramp has slope 1 everywhere inside
    ramp = np.arange(20, dtype=np.float32)[None, :, None]
    np.testing.assert_allclose(deltas(tf.constant(ramp), 5).numpy()[0, 2:-2, 0], 1.0, rtol=1e-6)


def test_mean_and_std():
    x = np.random.default_rng(0).standard_normal((2, 30, 3)).astype(np.float32)
    got = mean_and_std(tf.constant(x)).numpy()
    np.testing.assert_allclose(got, np.concatenate([x.mean(1), x.std(1)], axis=-1), rtol=1e-4, atol=1e-5)


def test_frame_features_are_batch_consistent_and_scaled():
    a, b = _signal(seed=0), 0.1 * _signal(seed=1)
    layer = FrameFeatures(SR, N_FFT, WIN, HOP)
    together = layer(np.stack([a, b])).numpy()
    alone = layer(b[None]).numpy()
    np.testing.assert_allclose(together[1], alone[0], rtol=1e-5, atol=1e-6)
    assert together.shape == (2, 1 + a.size // HOP, 4)
    assert np.all((together[..., 1:] >= 0) & (together[..., 1:] <= 1))  # rates and fractions of Nyquist
    # quieter by 20 dB: the RMS channel (dB / 20) drops by 1 where the clip is not silent
    voiced = together[0, :10, 0] > -3
    np.testing.assert_allclose(
        layer((0.1 * a)[None]).numpy()[0, :10, 0][voiced], together[0, :10, 0][voiced] - 1.0, atol=1e-3
    )


def test_spectral_features_respond_to_pitch():
    t = np.arange(SR // 2) / SR
    low, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (300.0, 3000.0))
    features = FrameFeatures(SR, N_FFT, WIN, HOP)(np.stack([low, high])).numpy()[:, 5:-5].mean(axis=1)
    assert features[1, 1] > 5 * features[0, 1]  # zero-crossing rate
    np.testing.assert_allclose(features[:, 2] * SR / 2, [300.0, 3000.0], rtol=0.05)  # centroid of a sine


def test_layers_round_trip(tmp_path):
    waveform = keras.Input((None,))
    frames = FrameFeatures(SR, N_FFT, WIN, HOP, roll_percent=0.9)(waveform)
    log_mel = LogMelSpectrogram(SR, N_FFT, WIN, HOP, n_mels=40)(waveform)
    outputs = keras.layers.Concatenate()([TimeStatistics()(frames), MfccStatistics(12, 5)(log_mel)])
    model = keras.Model(waveform, outputs)
    x = np.stack([_signal(), _signal(seed=3)])
    assert model(x).shape == (2, 8 + 48)
    model.save(tmp_path / "features.keras")
    reloaded = keras.models.load_model(tmp_path / "features.keras")
    np.testing.assert_allclose(reloaded(x), model(x), rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FrameFeatures(SR, N_FFT, win_length=N_FFT + 1),
        lambda: FrameFeatures(SR, N_FFT, hop_length=0),
        lambda: FrameFeatures(SR, N_FFT + 1),  # odd: one frame fewer than declared
        lambda: FrameFeatures(SR, roll_percent=1.0),
        lambda: MfccStatistics(0),
        lambda: MfccStatistics(13, delta_width=4),
    ],
)
def test_layers_reject_bad_settings(make):
    with pytest.raises(ValueError):
        make()


def test_functions_reject_bad_settings():
    with pytest.raises(ValueError, match="roll_percent"):
        spectral_rolloff(tf.ones((1, 3, 5)), tf.range(5, dtype=tf.float32), 0.0)
    with pytest.raises(ValueError, match="n_mfcc"):
        mfcc(tf.ones((1, 3, 8)), 9)
    with pytest.raises(ValueError, match="width"):
        deltas(tf.ones((1, 3, 2)), 4)
