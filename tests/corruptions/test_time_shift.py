"""Time shift: the clip moves by exactly the stated time, zero-filled, both directions."""

import numpy as np
import pytest

from keras_audio.corruptions.time_shift import TimeShift


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_shifts_by_the_stated_time_with_zero_fill(severity, suite, graph_call, helpers):
    clean = np.random.default_rng(1).uniform(0.1, 1.0, helpers.SAMPLE_RATE).astype(np.float32)
    shift = int(TimeShift.severities["shift_ms"][severity - 1] * helpers.SAMPLE_RATE / 1000)
    directions = set()
    for s in range(8):
        out = graph_call(suite["time_shift"])(clean, helpers.seed(s), severity)
        assert out.size == clean.size
        if out[0] == 0:  # later
            np.testing.assert_array_equal(out[:shift], 0)
            np.testing.assert_array_equal(out[shift:], clean[:-shift])
            directions.add("later")
        else:
            np.testing.assert_array_equal(out[:-shift], clean[shift:])
            np.testing.assert_array_equal(out[-shift:], 0)
            directions.add("earlier")
    assert directions == {"later", "earlier"}


def test_shift_longer_than_the_clip_gives_silence(suite, helpers):
    out = suite["time_shift"](np.ones(100, np.float32), helpers.seed(0), 5).numpy()
    assert out.size == 100 and np.all(out == 0)
