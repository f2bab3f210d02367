"""Bit depth and μ-law: the stated number of levels, on a grid set by the clip's peak."""

import numpy as np
import pytest

from keras_audio.corruptions.quantization import BitDepth, MuLaw


def ramp(peak=1.0):
    return np.linspace(-peak, peak, 65536).astype(np.float32)


@pytest.mark.parametrize("name, cls", [("bit_depth", BitDepth), ("mu_law", MuLaw)])
@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_number_of_levels_is_two_to_the_bits(name, cls, severity, suite, graph_call, helpers):
    bits = int(cls.severities["bits"][severity - 1])
    out = graph_call(suite[name])(ramp(0.3), helpers.seed(0), severity)
    assert np.unique(out).size == 2**bits


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_bit_depth_levels_lie_on_the_pcm_grid_of_the_peak(severity, suite, helpers):
    bits = BitDepth.severities["bits"][severity - 1]
    clean = helpers.harmonic_tone(150, 0.2) * 0.37
    out = suite["bit_depth"](clean, helpers.seed(0), severity).numpy()
    codes = out / np.max(np.abs(clean)) * 2 ** (bits - 1)
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
    step = np.max(np.abs(clean)) / 2 ** (bits - 1)
    assert np.max(np.abs(out - clean)) <= step * 1.0001  # half a step, one step at the clipped top code


def test_quiet_clip_gets_as_many_levels_as_a_loud_one(suite):
    loud = np.unique(suite["bit_depth"](ramp(1.0), [0, 0], 5).numpy()).size
    quiet = np.unique(suite["bit_depth"](ramp(0.001), [0, 0], 5).numpy()).size
    assert loud == quiet == 16


def test_mu_law_levels_are_densest_near_zero(suite):
    levels = np.unique(suite["mu_law"](ramp(1.0), [0, 0], 3).numpy())
    steps = np.diff(levels[levels >= 0])
    assert steps[0] * 20 < steps[-1]
    assert np.all(np.diff(steps) > -1e-6)  # steps grow with the level


@pytest.mark.parametrize("name", ["bit_depth", "mu_law"])
def test_fewer_bits_more_error(name, suite, helpers):
    clean = helpers.harmonic_tone(150, 0.25)
    errors = [helpers.rms_db(suite[name](clean, [0, 0], s).numpy() - clean) for s in range(1, 6)]
    assert all(a < b for a, b in zip(errors, errors[1:]))
