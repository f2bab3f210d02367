"""Time stretch: length scales by the rate, F0 stays; matches librosa's time_stretch."""

import librosa
import numpy as np
import pytest

from keras_audio.corruptions.time_stretch import TimeStretch


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_length_scales_and_f0_is_kept(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(150, 1.0)
    corruption = suite["time_stretch"]
    change = TimeStretch.severities["change"][severity - 1]
    rates = set()
    for s in range(6):
        rate = float(corruption.sample(helpers.seed(s), severity)["rate"])
        assert rate == pytest.approx(1 + change if rate > 1 else 1 / (1 + change), rel=1e-6)
        out = graph_call(corruption)(clean, helpers.seed(s), severity)
        assert out.size == round(clean.size / rate)
        assert helpers.median_f0(out) == pytest.approx(helpers.median_f0(clean), rel=0.02)
        reference = librosa.effects.time_stretch(clean, rate=rate)
        assert out.size == reference.size
        assert helpers.median_f0(out) == pytest.approx(helpers.median_f0(reference), rel=0.02)
        rates.add(rate > 1)
    assert rates == {True, False}


def test_events_move_in_time_by_the_rate(suite, helpers):
    # A tone burst starting at 0.5 s starts at 0.5 / rate s after stretching.
    clean = np.concatenate([np.zeros(8000, np.float32), helpers.harmonic_tone(200, 0.5)])
    corruption = suite["time_stretch"]
    params = corruption.sample(helpers.seed(0), 5)
    out = corruption.apply(clean, params).numpy()
    onset = np.argmax(np.abs(out) > 0.1 * np.abs(out).max()) / helpers.SAMPLE_RATE
    assert onset == pytest.approx(0.5 / float(params["rate"]), abs=0.02)
