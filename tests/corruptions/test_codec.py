"""MP3 round trip: same length and lined up with the input, harm growing as the bitrate falls, the
bitrate asked for is the one written, deterministic, and a clear refusal where MP3 cannot be written."""

import io

import numpy as np
import pytest
import soundfile as sf

from keras_audio.corruptions import codec, registry
from keras_audio.corruptions.base import MissingResource
from keras_audio.corruptions.codec import Mp3, compression_level, mp3_round_trip


def speech_like(helpers, seconds=1.0, seed=0):
    """Syllable-like bursts of a harmonic tone with a little noise: aperiodic, so an offset would show."""
    n = int(seconds * helpers.SAMPLE_RATE)
    envelope = np.clip(np.sin(2 * np.pi * 3 * np.arange(n) / helpers.SAMPLE_RATE), 0, None)
    noise = 0.02 * np.random.default_rng(seed).standard_normal(n)
    return ((helpers.harmonic_tone(130, seconds, harmonics=40) + noise) * envelope).astype(np.float32)


def high_band_db(waveform, sample_rate=16000, above_hz=6000.0):
    spectrum = np.abs(np.fft.rfft(waveform.astype(np.float64))) ** 2
    bins = np.fft.rfftfreq(waveform.size, 1.0 / sample_rate)
    return 10 * np.log10(spectrum[bins > above_hz].sum() / spectrum.sum())


def test_output_keeps_length_and_is_aligned_at_every_severity(suite, graph_call, helpers):
    clean = speech_like(helpers)
    for severity in range(1, 6):  # severities 4-5 come back without a gapless header: the delay is cut
        out = graph_call(suite["mp3"])(clean, helpers.seed(0), severity)
        assert out.shape == clean.shape and out.dtype == np.float32
        lags = np.arange(-600, 601)
        correlation = [np.dot(np.roll(out, -lag), clean) for lag in lags]
        assert lags[int(np.argmax(correlation))] == 0, severity


def test_harm_grows_as_the_bitrate_falls(suite, graph_call, helpers):
    clean = speech_like(helpers)
    outputs = [graph_call(suite["mp3"])(clean, helpers.seed(0), s) for s in range(1, 6)]
    snr = [helpers.rms_db(clean) - helpers.rms_db(y - clean) for y in outputs]
    assert all(a > b for a, b in zip(snr, snr[1:])), snr
    high = [high_band_db(y) for y in outputs]  # the encoder's low-pass falls with the bitrate
    assert high[0] == pytest.approx(high_band_db(clean), abs=3.0), high
    assert all(a >= b - 1.0 for a, b in zip(high, high[1:])) and high[-1] < high[0] - 30, high


def test_the_bitrate_asked_for_is_the_one_written(helpers):
    clean = speech_like(helpers, seconds=2.0)
    for kbps in Mp3.severities["bitrate_kbps"]:
        buffer = io.BytesIO()
        sf.write(
            buffer,
            clean,
            helpers.SAMPLE_RATE,
            format="MP3",
            bitrate_mode="CONSTANT",
            compression_level=compression_level(kbps, helpers.SAMPLE_RATE),
        )
        assert len(buffer.getvalue()) * 8 / 2.0 / 1000 == pytest.approx(kbps, rel=0.15)


def test_deterministic_level_independent_and_silence_stays_silent(helpers):
    clean = speech_like(helpers, seconds=0.5)
    first = mp3_round_trip(clean, helpers.SAMPLE_RATE, 24.0)
    np.testing.assert_array_equal(first, mp3_round_trip(clean, helpers.SAMPLE_RATE, 24.0))
    np.testing.assert_allclose(mp3_round_trip(0.01 * clean, helpers.SAMPLE_RATE, 24.0), 0.01 * first, atol=1e-7)
    assert np.all(mp3_round_trip(np.zeros(100, np.float32), helpers.SAMPLE_RATE, 24.0) == 0)
    with pytest.raises(ValueError, match="mp3: bitrate_kbps must be positive, got 0"):
        mp3_round_trip(clean, helpers.SAMPLE_RATE, 0)


def test_refused_when_libsndfile_cannot_write_mp3(monkeypatch):
    monkeypatch.setattr(codec.sf, "available_formats", lambda: {"WAV": "WAV", "FLAC": "FLAC"})
    with pytest.raises(MissingResource, match=r"mp3: this libsndfile \(.*\) cannot write MP3; install soundfile"):
        registry.build("mp3", 16000)
    assert "mp3" not in registry.build_suite(["gain", "mp3"], 16000, skip_missing=True)


def test_a_rate_mpeg_lacks_is_refused_and_mpeg1_floors_are_named():
    with pytest.raises(MissingResource, match="mp3: MPEG audio has no 20000 Hz sample rate"):
        Mp3(20000)
    with pytest.warns(UserWarning, match=r"mp3 at 44100 Hz: severities \[3, 4, 5\] ask for less than the 32 kbit/s"):
        Mp3(44100)


def test_a_batch_is_row_for_row_the_clip_by_clip_round_trip(suite, helpers):
    clips = np.stack([speech_like(helpers, 0.3, seed=s) for s in range(3)])
    seeds = np.array([[s, 1] for s in range(3)], np.int64)
    batch = suite["mp3"].corrupt_batch(clips, seeds, 4).numpy()
    for row, clip, seed_ in zip(batch, clips, seeds):
        np.testing.assert_array_equal(row, suite["mp3"](clip, seed_, 4).numpy())
