"""MLP on handcrafted features: shapes, learning, serialization, argument checks."""

import numpy as np
import pytest

from keras_audio.models import build_model

TINY = dict(hidden=(8,), dropout=0.0)


@pytest.mark.parametrize("num_classes", [2, 5])
def test_output_shape_for_any_length(num_classes, sample_rate, features, make_tones):
    model = build_model("mlp_features", num_classes, sample_rate, features, **TINY)
    for seconds in (0.2, 0.61):
        x, _ = make_tones(3, seconds)
        p = model(x).numpy()
        assert p.shape == (3, num_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_learns_and_round_trips(sample_rate, features, tiny_batch, learns, round_trip):
    model = build_model("mlp_features", 2, sample_rate, features, **TINY)
    learns(model, *tiny_batch)
    round_trip(model, tiny_batch[0])


def test_reads_the_eight_pooled_features(sample_rate, features, make_tones):
    model = build_model("mlp_features", 2, sample_rate, features, **TINY)
    assert model.get_layer("time_statistics").output.shape == (None, 8)


@pytest.mark.parametrize("bad", [dict(spec_augment=True), dict(dropout=1.5), dict(hidden=(0,))])
def test_rejects_bad_hparams(bad, sample_rate, features):
    with pytest.raises(ValueError, match="mlp_features"):
        build_model("mlp_features", 2, sample_rate, features, **bad)
