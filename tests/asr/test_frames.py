"""Frame counts and settings: 1 s at 16 kHz, 25-ms windows, 10-ms hop -> 98 frames uncentred, 101 centred."""

import librosa
import numpy as np
import pytest

from keras_audio.asr.frames import FrameSettings, centred_frames, frame_settings, uncentred_frames

ONE_SECOND = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1


@pytest.mark.slow
def test_one_second_without_padding_gives_98_frames_as_librosa_counts_them():
    assert uncentred_frames(16000, 400, 160) == 98
    frames = librosa.util.frame(ONE_SECOND, frame_length=400, hop_length=160)
    assert frames.shape[1] == 98
    mel = librosa.feature.melspectrogram(y=ONE_SECOND, sr=16000, n_fft=400, hop_length=160, n_mels=80, center=False)
    assert mel.shape == (80, 98)


@pytest.mark.slow
def test_one_second_centred_gives_101_frames_from_the_layer_and_librosa():
    settings = frame_settings(16000)
    assert centred_frames(16000, 160) == settings.frames(16000) == 101
    assert settings.layer()(ONE_SECOND[None]).shape == (1, 101, 80)
    mel = librosa.feature.melspectrogram(
        y=ONE_SECOND, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80, center=True
    )
    assert mel.shape == (80, 101)


@pytest.mark.parametrize("samples", [0, 399, 400, 559, 560, 16001, 480000])
def test_uncentred_count_is_the_number_of_whole_windows(samples):
    expected = sum(1 for start in range(0, samples - 399, 160))  # windows [start, start + 400) inside
    assert uncentred_frames(samples, 400, 160) == expected


@pytest.mark.parametrize(
    "rate, expected",
    [
        (16000, FrameSettings(16000, 512, 400, 160, 80)),
        (8000, FrameSettings(8000, 256, 200, 80, 80)),
        (22050, FrameSettings(22050, 1024, 551, 220, 80)),
        (48000, FrameSettings(48000, 2048, 1200, 480, 80)),
    ],
)
def test_settings_keep_25_ms_windows_and_10_ms_hops_at_any_rate(rate, expected):
    assert frame_settings(rate) == expected
    assert frame_settings(np.int64(rate), n_mels=40).n_mels == 40


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: frame_settings(100), "sample_rate"),
        (lambda: frame_settings(16000.0), "sample_rate"),
        (lambda: frame_settings(16000, n_mels=0), "n_mels"),
        (lambda: uncentred_frames(-1, 400, 160), "num_samples"),
        (lambda: uncentred_frames(100, 400, 0), "hop_length"),
    ],
)
def test_bad_settings_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()
