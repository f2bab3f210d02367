"""LogMelSpectrogram: librosa parity, per-example dB (batch consistency), shapes, config round trip."""

import keras
import librosa
import numpy as np
import pytest

from keras_audio.features import LogMelSpectrogram, num_frames

SR = 16000
SETTINGS = dict(n_fft=512, win_length=400, hop_length=160, n_mels=64, fmin=20.0, fmax=7600.0)


def _voice_like(seconds=1.0, f0=180.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 10)) * np.hanning(len(t))
    return (0.2 * x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _librosa_log_mel(x, top_db=80.0):
    power = librosa.feature.melspectrogram(y=x, sr=SR, power=2.0, **SETTINGS)
    return librosa.power_to_db(power, top_db=top_db).T


@pytest.mark.parametrize("top_db", [80.0, None])
def test_matches_librosa_within_a_tenth_of_a_db(top_db):
    x = _voice_like()
    layer = LogMelSpectrogram(sample_rate=SR, top_db=top_db, **SETTINGS)
    ours = layer(x[None])[0].numpy()
    reference = _librosa_log_mel(x, top_db)
    assert ours.shape == reference.shape
    assert np.max(np.abs(ours - reference)) < 0.1


def test_win_length_equal_to_n_fft_and_odd_lengths_match_librosa():
    x = _voice_like(0.37)
    settings = dict(SETTINGS, win_length=512)
    ours = LogMelSpectrogram(sample_rate=SR, **settings)(x[None])[0].numpy()
    power = librosa.feature.melspectrogram(y=x, sr=SR, power=2.0, **settings)
    assert np.max(np.abs(ours - librosa.power_to_db(power, top_db=80.0).T)) < 0.1


def test_a_quiet_clip_gets_the_same_features_alone_and_beside_a_loud_one():
    quiet = 0.001 * _voice_like(seed=1)
    loud = 0.9 * _voice_like(f0=120.0, seed=2) / np.abs(_voice_like(f0=120.0, seed=2)).max()
    layer = LogMelSpectrogram(sample_rate=SR, **SETTINGS)
    alone = layer(quiet[None])[0].numpy()
    in_batch = layer(np.stack([loud, quiet, loud]))[1].numpy()
    np.testing.assert_allclose(in_batch, alone, atol=1e-4)


def test_keras_mel_layer_is_not_batch_consistent_which_is_why_ours_exists():
    # Documents the trap: if Keras fixes it, this test tells us our layer may be replaceable.
    quiet = 0.001 * _voice_like(seed=1)
    loud = 0.9 * _voice_like(f0=120.0, seed=2)
    keras_layer = keras.layers.MelSpectrogram(sampling_rate=SR, fft_length=512, sequence_stride=160, num_mel_bins=64)
    alone = keras_layer(quiet[None])[0].numpy()
    in_batch = keras_layer(np.stack([loud, quiet]))[1].numpy()
    assert np.max(np.abs(alone - in_batch)) > 10.0


@pytest.mark.parametrize("samples", [512, 16000, 16001, 32000])
def test_output_shape_and_frame_count(samples):
    layer = LogMelSpectrogram(sample_rate=SR, **SETTINGS)
    out = layer(np.zeros((3, samples), np.float32) + 0.01)
    assert out.shape == (3, num_frames(samples, 160), 64)
    assert layer.compute_output_shape((3, samples)) == (3, num_frames(samples, 160), 64)
    assert np.all(np.isfinite(out.numpy()))


def test_silence_is_finite_and_at_the_floor():
    out = LogMelSpectrogram(sample_rate=SR, **SETTINGS)(np.zeros((1, 4000), np.float32)).numpy()
    assert np.all(out == -100.0)  # 10·log10(amin = 1e-10)


def test_config_round_trip_gives_the_same_features():
    layer = LogMelSpectrogram(sample_rate=SR, **SETTINGS)
    clone = LogMelSpectrogram.from_config(layer.get_config())
    x = _voice_like()[None]
    np.testing.assert_array_equal(layer(x).numpy(), clone(x).numpy())


@pytest.mark.parametrize(
    "bad",
    [
        dict(n_fft=0),
        dict(n_fft=511),
        dict(win_length=1024),
        dict(hop_length=-1),
        dict(n_mels=2.5),
        dict(fmax=9000.0),
        dict(fmin=8000.0),
        dict(top_db=0.0),
    ],
)
def test_invalid_settings_raise_value_error_naming_the_value(bad):
    settings = dict(SETTINGS, **bad)
    with pytest.raises(ValueError, match=next(iter(bad))):
        LogMelSpectrogram(sample_rate=SR, **settings)
