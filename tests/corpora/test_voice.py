"""The voice synthesiser's pure functions: pitch, periodicity, formants, filterbank, channel, bounds."""

import dataclasses

import librosa
import numpy as np
import pytest
from scipy import signal

from keras_audio.corpora import voice

RATE = voice.SAMPLE_RATE


def measured_f0(waveform: np.ndarray) -> float:
    f0 = librosa.yin(waveform, fmin=50, fmax=500, sr=RATE, frame_length=1024)
    return float(np.median(f0[3:-3]))


@pytest.mark.parametrize("f0_hz", [90.0, 130.0, 210.0, 310.0])
@pytest.mark.parametrize("vowel", ["aa", "iy", "uw"])
def test_constant_f0_vowel_has_the_requested_pitch(f0_hz, vowel):
    waveform = voice.synthesize_vowel(f0_hz, 0.8, vowel=vowel, formant_scale=1.1)
    assert measured_f0(waveform) == pytest.approx(f0_hz, rel=0.02)


def test_no_jitter_no_shimmer_is_periodic_and_jitter_breaks_it():
    period = RATE // 100
    steady = voice.synthesize_vowel(100.0, 1.0)
    core = steady[2000:-2000]
    shifted = steady[2000 + period : -2000 + period]
    assert np.max(np.abs(core - shifted)) < 2e-3 * np.max(np.abs(core))
    rough = voice.synthesize_vowel(100.0, 1.0, jitter=0.02, shimmer=0.05, rng=np.random.default_rng(0))
    core, shifted = rough[2000:-2000], rough[2000 + period : -2000 + period]
    assert np.max(np.abs(core - shifted)) > 0.05 * np.max(np.abs(core))


def test_glottal_source_is_periodic_and_unit_rms():
    source = voice.glottal_source(np.full(8000, 125.0), RATE, open_quotient=0.6)
    np.testing.assert_allclose(source[128:-128], source[256:], atol=1e-9)  # 16000 / 125 = 128 samples
    assert np.sqrt(np.mean(source**2)) == pytest.approx(1.0)


def test_glottal_source_follows_a_glide():
    f0 = np.linspace(100.0, 200.0, RATE)
    source = voice.glottal_source(f0, RATE)
    # Abrupt closures (the most negative sample of each cycle) come once per period.
    closures = signal.find_peaks(-source, height=0.5 * np.max(-source))[0]
    assert len(closures) == pytest.approx(np.sum(f0) / RATE, abs=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"f0": np.array([100.0, -1.0])}, "positive"),
        ({"f0": np.full(100, 100.0), "jitter": 0.01}, "rng"),
        ({"f0": np.full(100, 100.0), "open_quotient": 0.1}, "open_quotient"),
        ({"f0": np.zeros((2, 2)) + 100}, "1-D"),
    ],
)
def test_glottal_source_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        voice.glottal_source(**kwargs)


def test_cascade_response_has_unit_dc_gain_and_peaks_at_the_resonance():
    n_fft = 4096
    response = voice.cascade_response(np.array([[1000.0]]), np.array([[80.0]]), n_fft, RATE)[0]
    freqs = np.fft.rfftfreq(n_fft, 1 / RATE)
    assert response[0] == pytest.approx(1.0, rel=1e-4)
    assert freqs[np.argmax(response)] == pytest.approx(1000.0, abs=2 * RATE / n_fft)
    # The -3 dB width is the requested bandwidth.
    above = freqs[response >= response.max() / np.sqrt(2)]
    assert above.max() - above.min() == pytest.approx(80.0, rel=0.15)


def test_cascade_response_rejects_resonances_beyond_nyquist():
    with pytest.raises(ValueError, match="resonances"):
        voice.cascade_response(np.array([[9000.0]]), np.array([[100.0]]), 512, RATE)


def test_formant_scale_moves_the_spectral_envelope_up():
    def envelope_centroid(scale):
        waveform = voice.synthesize_vowel(120.0, 1.0, vowel="ah", formant_scale=scale)
        spectrum = np.abs(librosa.stft(waveform, n_fft=2048)).mean(axis=1)
        freqs = np.fft.rfftfreq(2048, 1 / RATE)
        return np.sum(freqs * spectrum) / np.sum(spectrum)

    assert envelope_centroid(1.2) > 1.1 * envelope_centroid(1.0)


def test_formant_scale_moves_the_tract_peaks_by_the_same_factor():
    n_fft = 4096
    freqs = np.fft.rfftfreq(n_fft, 1 / RATE)
    targets = np.array([voice.VOWELS["aa"]])
    bandwidths = np.array([voice.BANDWIDTHS[:3]])
    for scale in (1.0, 1.2):
        response = voice.tract_response(targets, bandwidths, scale, 0.0, n_fft, RATE)[0]
        first_peak = freqs[signal.find_peaks(response)[0][0]]
        assert first_peak == pytest.approx(voice.VOWELS["aa"][0] * scale, rel=0.03)


def test_flat_response_reconstructs_the_input():
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    n_fft, hop = voice.frame_params(RATE)
    flat = np.ones((voice.num_frames(len(x), hop), n_fft // 2 + 1), np.float32)
    np.testing.assert_allclose(voice.filter_frames([(x, flat)], n_fft, hop), x, atol=1e-5)


def test_filter_frames_sums_sources_and_checks_shapes():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3000)).astype(np.float32)
    n_fft, hop = voice.frame_params(RATE)
    flat = np.ones((voice.num_frames(3000, hop), n_fft // 2 + 1), np.float32)
    np.testing.assert_allclose(voice.filter_frames([(x, flat), (y, 0.5 * flat)], n_fft, hop), x + 0.5 * y, atol=1e-5)
    with pytest.raises(ValueError, match="response"):
        voice.filter_frames([(x, flat[:-1])], n_fft, hop)


def test_channel_colouring_has_the_requested_resonance():
    channel = voice.Channel(highpass_hz=60.0, tilt_db=0.0, peak_hz=1500.0, peak_gain_db=6.0, peak_q=2.0)
    sos = voice.channel_sos(channel, RATE)
    freqs, response = signal.sosfreqz(sos, worN=[100.0, 1500.0, 6000.0], fs=RATE)
    gains = 20 * np.log10(np.abs(response))
    assert gains[1] == pytest.approx(6.0, abs=0.3)
    assert abs(gains[2]) < 0.5
    assert np.all(np.abs(np.roots(sos[0, 3:])) < 1)  # stable


def test_plan_fills_the_duration_with_speech_and_edges():
    traits = voice.SpeakerTraits("female", 200.0)
    plan = voice.plan_utterance(traits, 4.0, np.random.default_rng(3))
    assert sum(s.seconds for s in plan) == pytest.approx(4.0)
    kinds = {s.kind for s in plan}
    assert {"silence", "vowel"} <= kinds and kinds & {"fricative", "burst", "nasal"}
    assert plan[0].kind == "silence" and plan[-1].kind == "silence"
    assert min(s.seconds for s in plan) >= 0


def test_faster_speakers_say_more_syllables():
    def vowels(rate):
        traits = voice.SpeakerTraits("male", 110.0, speaking_rate=rate)
        return sum(
            sum(s.kind == "vowel" for s in voice.plan_utterance(traits, 5.0, np.random.default_rng(i)))
            for i in range(10)
        )

    assert vowels(6.0) > 1.3 * vowels(3.5)


TRAITS = [
    voice.SpeakerTraits(
        "male",
        70.0,
        formant_scale=0.85,
        breathiness=0.0,
        open_quotient=0.35,
        jitter=0.03,
        shimmer=0.12,
        level_dbfs=-10.0,
        channel=voice.Channel(120.0, 8.0, 3000.0, 8.0, 4.0, -55.0),
    ),
    voice.SpeakerTraits("female", 380.0, formant_scale=1.35, breathiness=1.0, open_quotient=0.9, speaking_rate=6.5),
    voice.SpeakerTraits("female", 210.0),
]


@pytest.mark.parametrize("traits", TRAITS)
@pytest.mark.parametrize("seconds", [1.0, 3.37])
def test_utterances_are_finite_bounded_and_exactly_long(traits, seconds):
    waveform = voice.synthesize_utterance(traits, seconds, np.random.default_rng(7))
    assert waveform.dtype == np.float32 and waveform.shape == (round(seconds * RATE),)
    assert np.all(np.isfinite(waveform))
    assert np.max(np.abs(waveform)) <= 0.98 + 1e-6
    assert np.sqrt(np.mean(waveform**2)) > 1e-3


def test_utterance_depends_only_on_its_generator():
    traits = TRAITS[2]
    first = voice.synthesize_utterance(traits, 2.0, np.random.default_rng(11))
    np.testing.assert_array_equal(first, voice.synthesize_utterance(traits, 2.0, np.random.default_rng(11)))
    assert not np.array_equal(first, voice.synthesize_utterance(traits, 2.0, np.random.default_rng(12)))


def test_utterance_pitch_follows_the_speaker():
    def pitch(f0_hz):
        traits = voice.SpeakerTraits("female", f0_hz)
        waveform = voice.synthesize_utterance(traits, 3.0, np.random.default_rng(5))
        f0, voiced, _ = librosa.pyin(
            waveform, fmin=50, fmax=500, sr=RATE, frame_length=1024, hop_length=256, resolution=0.25, n_thresholds=40
        )
        return np.nanmedian(f0[voiced])

    low, high = pitch(110.0), pitch(220.0)
    assert 0.8 * 110 < low < 1.25 * 110
    assert high / low == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("field, value", [("f0_hz", 20.0), ("breathiness", 1.5), ("formant_scale", 3.0)])
def test_traits_out_of_range_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TRAITS[2], **{field: value}).validate()
