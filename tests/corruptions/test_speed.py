"""Speed change: length and F0 both scale by the factor (F0 by librosa's YIN)."""

import pytest

from keras_audio.corruptions.speed import SpeedChange


def seeds_by_direction(corruption, severity, helpers):
    found = {}
    for s in range(32):
        factor = float(corruption.sample(helpers.seed(s), severity)["factor"])
        found.setdefault(factor > 1, (s, factor))
    return found.values()


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_length_and_f0_scale_by_the_factor(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(150, 1.0)
    corruption = suite["speed"]
    directions = list(seeds_by_direction(corruption, severity, helpers))
    assert len(directions) == 2
    for s, factor in directions:
        change = SpeedChange.severities["change"][severity - 1]
        assert factor == pytest.approx(1 + change if factor > 1 else 1 / (1 + change), rel=1e-6)
        out = graph_call(corruption)(clean, helpers.seed(s), severity)
        assert out.size == round(clean.size / factor)
        assert helpers.median_f0(out) / helpers.median_f0(clean) == pytest.approx(factor, rel=0.02)
        assert helpers.rms_db(out[2000:-2000]) == pytest.approx(helpers.rms_db(clean), abs=0.5)
