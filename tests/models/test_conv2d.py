"""Conv2D: shapes for any length, learning, serialization."""

import numpy as np
import pytest

from keras_audio.models import build_model

TINY = dict(filters=(4, 8), dropout=0.0)


@pytest.mark.parametrize("num_classes", [2, 5])
def test_output_shape_for_any_length(num_classes, sample_rate, features, make_tones):
    model = build_model("conv2d", num_classes, sample_rate, features, **TINY)
    for seconds in (0.25, 0.6):
        p = model(make_tones(3, seconds)[0]).numpy()
        assert p.shape == (3, num_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_learns_and_round_trips(sample_rate, features, tiny_batch, learns, round_trip):
    model = build_model("conv2d", 2, sample_rate, features, **TINY)
    learns(model, *tiny_batch)
    round_trip(model, tiny_batch[0])
