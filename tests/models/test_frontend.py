"""The shared front-end: every log-mel family takes `frontend=` (``log_mel``, ``pcen``, ``pcen_fixed``)."""

import inspect

import keras
import numpy as np
import pytest

from keras_audio.models import available, build_model, get_family
from keras_audio.models.frontend import FRONTENDS

TINY = {
    "conv1d": dict(filters=(4,)),
    "conv2d": dict(filters=(4,)),
    "vgg": dict(filters=(4,), dense_units=4),
    "lstm": dict(units=4),
    "crnn": dict(filters=(4,), units=4, attention_units=4),
    "ae_clf": dict(filters=(4,)),
    "ae_clf_joint": dict(filters=(4,)),
    "sklearn_logreg": dict(n_mfcc=8),
    "sklearn_forest": dict(n_mfcc=8),
}
# no log-mel to replace: handcrafted frame features; encoders that bring their own front-end
WITHOUT_FRONTEND = {"mlp_features", "transfer", "ge2e", "ge2e_finetune", "aisfx", "aisfx_finetune"}


def test_every_family_but_the_listed_ones_takes_a_frontend():
    takes = {name for name in available() if "frontend" in inspect.signature(get_family(name).build).parameters}
    assert takes == set(available()) - WITHOUT_FRONTEND
    assert takes == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_pcen_front_end_builds_and_predicts(name, sample_rate, features, make_tones):
    model = build_model(name, 2, sample_rate, features, frontend="pcen", **TINY[name])
    x, _ = make_tones(2, 0.3)
    if isinstance(model, keras.Model):
        model = get_family(name).inference_model(model) if get_family(name).inference_model else model
        p = model(x, training=False).numpy()
        assert p.shape == (2, 2) and np.all(np.isfinite(p))
        assert len(model.get_layer("pcen").trainable_weights) == 3  # learnt gain, bias, power
    else:  # the scikit-learn baselines: their feature extractor
        assert model.features(x).shape == (2, 32)


@pytest.mark.parametrize("name", sorted(TINY))
def test_an_unknown_frontend_is_refused_by_name(name, sample_rate, features):
    with pytest.raises(ValueError, match=rf"{name}: frontend must be one of .*'mfcc'"):
        build_model(name, 2, sample_rate, features, frontend="mfcc", **TINY[name])


def test_fixed_pcen_model_round_trips(sample_rate, features, tiny_batch, round_trip):
    model = build_model("conv2d", 2, sample_rate, features, frontend="pcen_fixed", **TINY["conv2d"])
    assert model.get_layer("pcen").trainable_weights == []
    round_trip(model, tiny_batch[0])


def test_frontends_are_the_documented_three():
    assert FRONTENDS == ("log_mel", "pcen", "pcen_fixed")
