"""Reverberation: RT60 by Schroeder backward integration within 15 %; recorded IRs convolved as loaded."""

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

from keras_audio.corruptions import registry
from keras_audio.corruptions.reverb import ImpulseResponseReverb, SyntheticReverb


def schroeder_rt60(response: np.ndarray, sample_rate: int) -> float:
    """T20 × 3: the slope of the energy decay curve between -5 and -25 dB, extrapolated to -60 dB."""
    energy = np.cumsum(np.asarray(response, np.float64)[::-1] ** 2)[::-1]
    decay_db = 10 * np.log10(energy / energy[0])
    fit = (decay_db <= -5) & (decay_db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / sample_rate, decay_db[fit], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_rt60_of_the_reverberated_impulse(severity, suite, helpers):
    target = SyntheticReverb.severities["rt60_s"][severity - 1]
    impulse = np.zeros(int((target + 0.5) * helpers.SAMPLE_RATE), np.float32)
    impulse[0] = 1.0
    for s in range(3):
        out = suite["reverb"](impulse, helpers.seed(s, severity), severity).numpy()
        assert schroeder_rt60(out, helpers.SAMPLE_RATE) == pytest.approx(target, rel=0.15)


@pytest.mark.parametrize("severity", [1, 5])
def test_impulse_response_has_a_direct_path_and_a_tail_growing_with_rt60(severity, suite, helpers):
    corruption = suite["reverb"]
    rt60 = SyntheticReverb.severities["rt60_s"][severity - 1]
    response = corruption.impulse_response(corruption.sample(helpers.seed(1), severity)).numpy()
    assert response.size == int(np.ceil(rt60 * helpers.SAMPLE_RATE))
    assert response[0] == 1.0
    assert np.sum(response[1:].astype(np.float64) ** 2) == pytest.approx(rt60 / 0.5, rel=1e-4)


def test_reverb_keeps_length_and_rms_and_depends_on_the_seed(suite, graph_call, helpers):
    clean = helpers.harmonic_tone(150, 0.5)
    call = graph_call(suite["reverb"])
    first, second = call(clean, helpers.seed(1), 4), call(clean, helpers.seed(2), 4)
    assert first.size == clean.size
    assert helpers.rms_db(first) == pytest.approx(helpers.rms_db(clean), abs=1e-3)
    assert not np.allclose(first, second)


def expected_ir(path, sample_rate):
    """What the loader should make of an IR file: downmix, resample, trim at the peak, unit energy."""
    data, rate = sf.read(path, always_2d=True, dtype="float32")
    mono = data.mean(axis=1)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    mono = mono[np.argmax(np.abs(mono)) :].astype(np.float64)
    return mono / np.sqrt(np.sum(mono**2))


@pytest.mark.parametrize("severity", [1, 5])
def test_recorded_ir_is_convolved_and_mixed_as_documented(severity, suite, resources, helpers):
    corruption = suite["ir_reverb"]
    clean = helpers.harmonic_tone(150, 0.5)
    wet_share = ImpulseResponseReverb.severities["wet"][severity - 1]
    seen = set()
    for s in range(8):
        params = corruption.sample(helpers.seed(s), severity)
        path = corruption.files[int(params["index"])]
        seen.add(path.name)
        wet = fftconvolve(clean.astype(np.float64), expected_ir(path, helpers.SAMPLE_RATE))[: clean.size]
        wet *= np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(wet**2))
        mixed = (1 - wet_share) * clean + wet_share * wet
        mixed *= np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(mixed**2))
        out = corruption.apply(clean, params).numpy()
        np.testing.assert_allclose(out, mixed, atol=2e-4)
    assert seen == {"room_stereo.wav", "room_mono.wav"}


def test_missing_ir_dir_is_named(tmp_path):
    with pytest.raises(ValueError, match="ir_dir.*no such folder"):
        ImpulseResponseReverb(16000, tmp_path / "absent")
    with pytest.raises(registry.MissingResource, match="ir_dir"):
        registry.build("ir_reverb", 16000)
