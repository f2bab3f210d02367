"""Low-pass and telephone: an octave beyond a band edge is >= 30 dB down, in band is within 1 dB."""

import warnings

import numpy as np
import pytest

from keras_audio.corruptions.filters import LowPass, Telephone


def steady_level_change(corruption, frequency, severity, helpers, seconds=0.5):
    """dB change of a tone's level over the middle half of the clip (edges carry the onset transients)."""
    clean = helpers.sine(frequency, seconds)
    out = corruption(clean, helpers.seed(0), severity).numpy()
    middle = slice(clean.size // 4, 3 * clean.size // 4)
    return 10 * np.log10(np.mean(out[middle].astype(np.float64) ** 2) + 1e-30) - helpers.rms_db(clean[middle])


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_lowpass_attenuates_an_octave_above_and_passes_in_band(severity, suite, helpers):
    cutoff = LowPass.severities["cutoff_hz"][severity - 1]
    nyquist = helpers.SAMPLE_RATE / 2
    assert steady_level_change(suite["lowpass"], min(2 * cutoff, 0.99 * nyquist), severity, helpers) <= -30
    assert steady_level_change(suite["lowpass"], cutoff / 2, severity, helpers) == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_telephone_attenuates_an_octave_beyond_both_edges_and_passes_in_band(severity, suite, helpers):
    low = Telephone.severities["low_hz"][severity - 1]
    high = Telephone.severities["high_hz"][severity - 1]
    assert steady_level_change(suite["telephone"], low / 2, severity, helpers) <= -30
    assert steady_level_change(suite["telephone"], 2 * high, severity, helpers) <= -30
    centre = np.sqrt(low * high)
    assert steady_level_change(suite["telephone"], centre, severity, helpers) == pytest.approx(0.0, abs=1.0)


def test_lowpass_is_zero_phase(suite, helpers):
    clean = helpers.harmonic_tone(150, 0.5, harmonics=4)  # all partials well inside a 4 kHz band
    out = suite["lowpass"](clean, helpers.seed(0), 1).numpy()
    np.testing.assert_allclose(out[1000:-1000], clean[1000:-1000], atol=2e-3)


def test_telephone_codec_quantises_to_8_bits(helpers):
    clean = helpers.harmonic_tone(200, 0.25)
    filtered = Telephone(helpers.SAMPLE_RATE, codec_bits=None)(clean, helpers.seed(0), 1).numpy()
    coded = Telephone(helpers.SAMPLE_RATE)(clean, helpers.seed(0), 1).numpy()
    assert np.unique(filtered).size > 1000
    assert np.unique(coded).size <= 256
    assert helpers.rms_db(coded - filtered) < helpers.rms_db(filtered) - 25  # G.711-like noise floor


def test_cutoff_at_or_above_nyquist_passes_everything(helpers):
    clean = helpers.harmonic_tone(300, 0.25, sample_rate=8000)
    with pytest.warns(UserWarning, match=r"lowpass at 8000 Hz: severities \[1\] reach beyond the Nyquist"):
        lowpass = LowPass(8000)  # 4 kHz cutoff: its transition ends at 5 kHz (3 kHz's ends at 3.75 kHz)
    out = lowpass(clean, helpers.seed(0), 1).numpy()
    assert out.size == clean.size and np.all(np.isfinite(out))
    assert helpers.rms_db(out) == pytest.approx(helpers.rms_db(clean), abs=1.0)


def test_a_rate_that_fits_every_band_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LowPass(16000), Telephone(16000)
    with pytest.warns(UserWarning, match=r"telephone at 8000 Hz: severities \[1\]"):
        Telephone(8000)  # 3.4 kHz edge: its transition ends at 4.25 kHz


def test_codec_bits_are_validated():
    with pytest.raises(ValueError, match="codec_bits must be in 2..16 or None, got 40"):
        Telephone(16000, codec_bits=40)


@pytest.mark.parametrize("name, in_band_hz", [("lowpass", 500.0), ("telephone", 1000.0)])
def test_each_severity_removes_more_without_a_jump_in_level_or_delay(name, in_band_hz, suite, helpers):
    """Severity means damage: from severity 1 to 5 the share of white noise's energy removed grows, while a tone
    inside every severity's flat band keeps its level and nothing is delayed. (Accuracy need not fall in step:
    on the synthetic corpus a low-pass turns every voice into the models' "male", chance on a balanced test
    set, and the telephone's narrowest band also removes the low harmonics the models take for male.)"""
    corruption = suite[name]
    noise = (0.1 * np.random.default_rng(5).standard_normal(helpers.SAMPLE_RATE)).astype(np.float32)
    removed, lags = [], []
    for severity in range(1, 6):
        out = corruption(noise, helpers.seed(0), severity).numpy().astype(np.float64)
        removed.append(1.0 - np.sum(out**2) / np.sum(noise.astype(np.float64) ** 2))
        correlation = np.fft.irfft(np.fft.rfft(out, 2 * out.size) * np.conj(np.fft.rfft(noise, 2 * out.size)))
        lags.append(int(np.argmax(correlation)))
        assert steady_level_change(corruption, in_band_hz, severity, helpers) == pytest.approx(0.0, abs=0.2)
    assert all(a < b for a, b in zip(removed, removed[1:])), removed
    assert lags == [0] * 5  # zero phase at every severity: no latency that a milder setting adds
