"""Clipping: cut at a fraction of the peak, everything below untouched."""

import numpy as np
import pytest

from keras_audio.corruptions.clipping import Clipping


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_clipped_at_the_stated_fraction_of_the_peak(severity, suite, graph_call, helpers):
    clean = helpers.harmonic_tone(130, 0.25) * 1.3
    fraction = Clipping.severities["fraction"][severity - 1]
    out = graph_call(suite["clipping"])(clean, helpers.seed(0), severity)
    threshold = fraction * np.max(np.abs(clean))
    assert np.max(np.abs(out)) == pytest.approx(threshold, rel=1e-6)
    below = np.abs(clean) <= threshold
    np.testing.assert_array_equal(out[below], clean[below])
    np.testing.assert_allclose(out[~below], np.sign(clean[~below]) * threshold, rtol=1e-6)


def test_more_samples_clipped_at_higher_severity(suite, helpers):
    clean = helpers.sine(173.3, 1.0)  # no whole number of samples per period
    clipped = [np.mean(suite["clipping"](clean, helpers.seed(0), s).numpy() != clean) for s in range(1, 6)]
    assert all(a < b for a, b in zip(clipped, clipped[1:]))
