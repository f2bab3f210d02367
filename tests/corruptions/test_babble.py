"""Babble: SNR calibrated; built only from the utterances given; several talkers at once; errors."""

import numpy as np
import pytest

from keras_audio.corruptions import registry
from keras_audio.corruptions.babble import Babble
from keras_audio.corruptions.noise import SNR_DB


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.slow
def test_snr_measured_on_output_is_the_target(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(200, 0.5)
    spoiled = graph_call(suite["babble"])(clean, helpers.seed(severity, 5), severity)
    assert helpers.rms_db(clean) - helpers.rms_db(spoiled - clean) == pytest.approx(SNR_DB[severity - 1], abs=0.1)


def test_babble_is_made_of_the_given_utterances_several_at_once(suite, helpers):
    # The fixture's utterances are pure tones at BABBLE_TONES_HZ: the added babble holds those tones only.
    clean = np.full(helpers.SAMPLE_RATE // 2, 0.05, np.float32)
    for s in range(4):
        added = suite["babble"](clean, helpers.seed(s, 1), 3).numpy() - clean
        spectrum = np.abs(np.fft.rfft(added * np.hanning(added.size))) ** 2
        frequencies = np.fft.rfftfreq(added.size, 1 / helpers.SAMPLE_RATE)
        near_tone = np.zeros_like(frequencies, bool)
        for tone in helpers.BABBLE_TONES_HZ:
            near_tone |= np.abs(frequencies - tone) < 40
        assert spectrum[near_tone].sum() / spectrum.sum() > 0.95  # the rest: splices between utterances
        present = [
            t for t in helpers.BABBLE_TONES_HZ if spectrum[np.abs(frequencies - t) < 5].max() > 1e-3 * spectrum.max()
        ]
        assert len(present) >= 3, present


def test_too_few_utterances_for_the_talkers(helpers):
    with pytest.raises(registry.MissingResource, match="5 talkers need at least 5 utterances, got 2"):
        Babble(helpers.SAMPLE_RATE, [helpers.sine(300, 0.5)] * 2)
    few = registry.Resources(babble_waveforms=[helpers.sine(300, 0.5)] * 2)
    assert "babble" not in registry.build_suite(["gain", "babble"], helpers.SAMPLE_RATE, few, skip_missing=True)


def test_silent_utterance_is_an_error(helpers):
    with pytest.raises(ValueError, match="utterance 1 is empty, silent"):
        Babble(helpers.SAMPLE_RATE, [helpers.sine(300, 0.5), np.zeros(100)] + [helpers.sine(400, 0.5)] * 4)


def test_no_utterances_is_a_missing_resource():
    with pytest.raises(registry.MissingResource, match="babble_waveforms"):
        registry.build("babble", 16000, registry.Resources(babble_waveforms=[]))
