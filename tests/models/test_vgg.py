"""VGG-like model: shapes, variable length, learning, serialization, argument checks."""

import numpy as np
import pytest

from keras_audio.models import build_model

TINY = dict(filters=(4, 8), dense_units=8, block_dropout=0.0, dropout=0.0)


@pytest.mark.parametrize("num_classes", [2, 5])
def test_output_shape_and_probabilities(num_classes, sample_rate, features, make_tones):
    model = build_model("vgg", num_classes, sample_rate, features, **TINY)
    for seconds in (0.3, 0.77):  # any length: global pooling
        x, _ = make_tones(3, seconds)
        p = model(x).numpy()
        assert p.shape == (3, num_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_learns_and_round_trips(sample_rate, features, tiny_batch, learns, round_trip):
    model = build_model("vgg", 2, sample_rate, features, **TINY)
    learns(model, *tiny_batch)
    round_trip(model, tiny_batch[0])


def test_default_is_small(sample_rate, features):
    assert build_model("vgg", 2, sample_rate, features).count_params() < 200_000


@pytest.mark.parametrize("bad", [dict(filters=()), dict(convs_per_block=0), dict(dropout=1.0), dict(dense_units=-1)])
def test_rejects_bad_hparams(bad, sample_rate, features):
    with pytest.raises(ValueError, match="vgg"):
        build_model("vgg", 2, sample_rate, features, **bad)
