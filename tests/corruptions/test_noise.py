"""White, pink and brown noise: SNR calibrated on the output, colour measured on the added noise."""

import numpy as np
import pytest
import scipy.signal

from keras_audio.corruptions import registry
from keras_audio.corruptions.noise import SNR_DB
from keras_audio.corruptions.signal_ops import mix_at_snr


@pytest.mark.parametrize("name", ["white_noise", "pink_noise", "brown_noise"])
@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_snr_measured_on_output_is_the_target(name, severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(140, 0.5)
    spoiled = graph_call(suite[name])(clean, helpers.seed(severity, 3), severity)
    measured = helpers.rms_db(clean) - helpers.rms_db(spoiled - clean)
    assert measured == pytest.approx(SNR_DB[severity - 1], abs=0.1)


@pytest.mark.parametrize("name, slope", [("white_noise", 0.0), ("pink_noise", -1.0), ("brown_noise", -2.0)])
def test_noise_colour_has_the_named_spectral_slope(name, slope, suite, graph_call, helpers):
    silence_free = np.full(helpers.SAMPLE_RATE, 1e-3, np.float32)  # a DC carrier: the added noise is all we see
    added = graph_call(suite[name])(silence_free, helpers.seed(1), 5) - silence_free
    frequencies, power = scipy.signal.welch(added, fs=helpers.SAMPLE_RATE, nperseg=2048)
    band = (frequencies > 50) & (frequencies < 5000)
    fitted = np.polyfit(np.log10(frequencies[band]), np.log10(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.25)


def test_different_seeds_give_different_excerpts(suite, graph_call, helpers):
    clean = helpers.harmonic_tone(140, 0.25)
    call = graph_call(suite["white_noise"])
    assert not np.allclose(call(clean, helpers.seed(1), 3), call(clean, helpers.seed(2), 3))


def test_silence_gets_no_noise(helpers):
    out = mix_at_snr(np.zeros(100, np.float32), np.ones(100, np.float32), 10.0).numpy()
    assert np.all(out == 0)


def test_bank_is_fixed_by_construction():
    first = registry.build("pink_noise", 16000)
    second = registry.build("pink_noise", 16000)
    np.testing.assert_array_equal(first.bank.samples.numpy(), second.bank.samples.numpy())
