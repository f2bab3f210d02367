"""Gain: exact in dB, both directions, no clipping."""

import numpy as np
import pytest

from keras_audio.corruptions.gain import Gain


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_gain_is_exact_in_both_directions(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(150, 0.25)
    target = Gain.severities["gain_db"][severity - 1]
    measured = set()
    for s in range(16):
        out = graph_call(suite["gain"])(clean, helpers.seed(s, severity), severity)
        change = helpers.rms_db(out) - helpers.rms_db(clean)
        assert abs(change) == pytest.approx(target, abs=1e-3)
        np.testing.assert_allclose(out, clean * 10 ** (np.sign(change) * target / 20), rtol=1e-6)
        measured.add(np.sign(change))
    assert measured == {-1.0, 1.0}


def test_gain_does_not_clip(helpers):
    full_scale = np.ones(100, np.float32)
    corruption = Gain(helpers.SAMPLE_RATE)
    peaks = {float(np.max(np.abs(corruption(full_scale, helpers.seed(s), 5).numpy()))) for s in range(16)}
    assert max(peaks) == pytest.approx(10.0, rel=1e-5)  # +20 dB on full scale: 10x, nothing cut
