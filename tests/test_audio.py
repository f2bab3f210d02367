"""read_audio: odd but valid files decode to mono float32 at the model rate; bad files raise AudioError."""

import os

import numpy as np
import pytest
import soundfile as sf

from keras_audio.audio import AudioError, read_audio, read_audio_blocks, resample
from tests.corpora import builders

RATE = 16000
WINDOW = 400  # one 25 ms analysis window at 16 kHz


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    return builders.good_odd_files(tmp_path_factory.mktemp("odd"), seconds=0.5)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return builders.bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    "kind", ["stereo", "8-bit", "8 kHz", "96 kHz", "44.1 kHz ogg", "22.05 kHz flac", "24-bit 48 kHz stereo", "sphere"]
)
def test_odd_but_valid_files_decode_to_mono_at_the_model_rate(odd_files, kind):
    path, _ = odd_files[kind]
    waveform = read_audio(path, RATE, min_samples=WINDOW)
    assert waveform.dtype == np.float32
    assert waveform.ndim == 1
    assert waveform.shape[0] == RATE // 2  # 0.5 s at 16 kHz, whatever the source rate
    assert np.all(np.isfinite(waveform))
    assert 0.05 < np.sqrt(np.mean(waveform**2)) < 0.5  # the tone survived (RMS of 0.3 sine ~ 0.21)


def test_stereo_is_the_mean_of_its_channels(odd_files):
    path, _ = odd_files["stereo"]
    channels, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(read_audio(path, RATE), channels.mean(axis=1), atol=1e-6)


def test_eight_bit_matches_the_source_within_one_quantisation_step(odd_files):
    path, _ = odd_files["8-bit"]
    reference = builders.tone(0.5, RATE)
    assert np.max(np.abs(read_audio(path, RATE) - reference)) <= 1 / 128 + 1e-6


@pytest.mark.parametrize("rate_in", [8000, 22050, 44100, 96000])
def test_resampling_keeps_a_tone_at_its_frequency(rate_in):
    t = np.arange(rate_in) / rate_in
    waveform = resample(np.sin(2 * np.pi * 440.0 * t).astype(np.float32), rate_in, RATE)
    spectrum = np.abs(np.fft.rfft(waveform))
    assert waveform.shape == (RATE,)
    assert np.argmax(spectrum) * RATE / len(waveform) == pytest.approx(440.0, abs=1.0)


def test_segment_reads_the_requested_slice(tmp_path):
    path = builders.write(tmp_path / "a.wav", builders.tone(1.0, RATE), RATE)
    full = read_audio(path, RATE)
    segment = read_audio(path, RATE, offset=0.25, duration=0.5)
    np.testing.assert_allclose(segment, full[4000:12000], atol=1e-6)


def test_offset_past_the_end_is_an_error(tmp_path):
    path = builders.write(tmp_path / "a.wav", builders.tone(0.5, RATE), RATE)
    with pytest.raises(AudioError, match="past the end"):
        read_audio(path, RATE, offset=2.0)


@pytest.mark.parametrize(
    "offset, duration, phrase",
    [
        (-1.0, None, "offset -1.0"),  # soundfile would count a negative start from the end
        (0.0, -0.25, "duration -0.25"),
        (0.0, float("inf"), "duration inf"),
        (0.0, float("nan"), "duration nan"),
        (0.25, 0.5, "runs past the end"),  # a 0.5-s file
    ],
)
def test_a_bad_segment_is_an_audio_error_naming_the_file(tmp_path, offset, duration, phrase):
    path = builders.write(tmp_path / "a.wav", builders.tone(0.5, RATE), RATE)
    with pytest.raises(AudioError, match=phrase) as caught:
        read_audio(path, RATE, offset=offset, duration=duration)
    assert caught.value.path == str(path)


def test_a_segment_rounded_past_the_end_by_a_few_samples_reads_to_the_end(tmp_path):
    path = builders.write(tmp_path / "a.wav", builders.tone(1.5, RATE), RATE)
    assert read_audio(path, RATE, offset=1.0, duration=0.5001, max_seconds=1.0).shape == (RATE // 2,)


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "truncated wav",
        "truncated wavex",
        "truncated wav, data after 4 kB",
        "header only",
        "truncated flac",
        "truncated sphere",
        "not audio",
        "nan",
        "inf",
        "silent",
        "short",
        "long",
        "not a file",
        "dangling link",
        "cancelling stereo",
    ],
)
def test_each_bad_file_is_an_audio_error_naming_it(bad_files, kind):
    path, phrase = bad_files[kind]
    with pytest.raises(AudioError) as caught:
        read_audio(path, RATE, min_samples=WINDOW, max_seconds=1.0)
    assert caught.value.path == str(path)
    assert phrase in caught.value.problem
    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_an_audio_error(tmp_path):
    path = builders.write(tmp_path / "locked.wav", builders.tone(0.5), RATE)
    path.chmod(0)
    with pytest.raises(AudioError, match="permission denied"):
        read_audio(path, RATE)


def test_limits_are_the_callers_choice(bad_files):
    long_path, _ = bad_files["long"]
    assert read_audio(long_path, RATE, max_seconds=None).shape == (int(1.5 * RATE),)
    short_path, _ = bad_files["short"]
    assert read_audio(short_path, RATE, min_samples=1).shape == (80,)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": RATE, "resampler": "sinc"}, "resampler"),
    ],
)
def test_bad_arguments_raise_value_error(odd_files, arguments, message):
    path, _ = odd_files["stereo"]
    with pytest.raises(ValueError, match=message):
        read_audio(path, **arguments)


# ------------------------------------------------------------------------------- samples that overflow
def test_finite_samples_too_large_for_the_features_are_an_audio_error(tmp_path):
    from keras_audio.audio import MAX_ABS_SAMPLE

    huge = builders.write(tmp_path / "huge.wav", builders.tone(0.5) * 1e30, RATE, subtype="FLOAT")  # peaks ~3e29
    with pytest.raises(AudioError, match=r"sample magnitude 3.*e\+29 exceeds 10000") as caught:
        read_audio(huge, RATE)
    assert caught.value.path == str(huge)
    loud = builders.write(
        tmp_path / "loud.wav", builders.tone(0.5) * (0.9 * MAX_ABS_SAMPLE / 0.33), RATE, subtype="FLOAT"
    )
    assert np.max(np.abs(read_audio(loud, RATE))) > 0.8 * MAX_ABS_SAMPLE  # up to the bound: read as is
    assert read_audio(huge, RATE, max_abs=None).shape == (RATE // 2,)
    with pytest.raises(ValueError, match="max_abs"):
        read_audio(loud, RATE, max_abs=float("nan"))


def test_the_bound_keeps_the_log_mel_finite_where_larger_samples_make_it_nan():
    from keras_audio.audio import MAX_ABS_SAMPLE
    from keras_audio.config import FeatureConfig
    from keras_audio.features import LogMelSpectrogram

    layer = LogMelSpectrogram(RATE, **vars(FeatureConfig()))
    tone = builders.tone(0.5)
    tone = tone / np.max(np.abs(tone))  # peak 1
    features = layer(np.stack([tone * MAX_ABS_SAMPLE, tone * 3e29]).astype(np.float32)).numpy()
    assert np.all(np.isfinite(features[0]))
    assert not np.all(np.isfinite(features[1]))  # what the bad-file check keeps out


# ------------------------------------------------------------------------------- sample rates in the header
@pytest.mark.parametrize("rate", [1, 100, 999])
def test_a_header_rate_below_one_kilohertz_is_refused_naming_the_file_and_the_rate(tmp_path, rate):
    """2000 samples said to be at 1 Hz would otherwise be resampled into 2000 s of 'audio'."""
    path = tmp_path / f"r{rate}.wav"
    sf.write(str(path), builders.tone(0.125), rate, subtype="FLOAT")  # 2000 samples
    with pytest.raises(AudioError, match=f"sample rate {rate} Hz is implausible \\(below 1000 Hz\\)") as caught:
        read_audio(path, RATE, max_seconds=None)
    assert caught.value.path == str(path)
    with pytest.raises(AudioError, match=f"sample rate {rate} Hz"):
        read_audio_blocks(path, RATE, max_seconds=None)


def test_a_header_rate_of_one_kilohertz_is_read(tmp_path):
    path = tmp_path / "r1000.wav"
    sf.write(str(path), builders.tone(0.125), 1000, subtype="FLOAT")
    assert read_audio(path, RATE, max_seconds=None).shape == (2000 * 16,)


# ------------------------------------------------------------------------------- reading in blocks
@pytest.mark.parametrize(
    "kind", ["stereo", "8-bit", "8 kHz", "96 kHz", "44.1 kHz ogg", "22.05 kHz flac", "24-bit 48 kHz stereo", "sphere"]
)
def test_blocks_joined_are_exactly_the_whole_read(odd_files, kind):
    path, _ = odd_files[kind]
    whole = read_audio(path, RATE)
    blocks = list(read_audio_blocks(path, RATE, block_seconds=0.0371))  # 14 reads, edges mid-filter
    assert len(blocks) >= 4 and all(b.dtype == np.float32 and b.size for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    segment = np.concatenate(list(read_audio_blocks(path, RATE, offset=0.1, duration=0.3, block_seconds=0.05)))
    np.testing.assert_array_equal(segment, read_audio(path, RATE, offset=0.1, duration=0.3))


@pytest.mark.parametrize(
    "kind", ["nan", "inf", "silent", "short", "cancelling stereo", "truncated wav", "truncated flac"]
)
def test_blocks_refuse_what_read_audio_refuses(bad_files, kind):
    path, phrase = bad_files[kind]
    with pytest.raises(AudioError) as caught:
        list(read_audio_blocks(path, RATE, min_samples=WINDOW, max_seconds=1.0, block_seconds=0.01))
    assert caught.value.path == str(path) and phrase in caught.value.problem
