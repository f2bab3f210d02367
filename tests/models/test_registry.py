"""The registry: every family of the zoo is found by name, hooks are registered and checked."""

import pytest

from keras_audio.models import available, build_model, get_family, register_model
from keras_audio.models.registry import _FAMILIES

ZOO = [
    "conv1d",
    "conv2d",
    "vgg",
    "lstm",
    "crnn",
    "ae_clf",
    "ae_clf_joint",
    "mlp_features",
    "sklearn_logreg",
    "sklearn_forest",
    "transfer",
]


def test_every_family_is_registered():
    assert set(ZOO) <= set(available())


def test_hooks_of_the_families_that_need_them():
    for name in ("ae_clf", "ae_clf_joint"):
        family = get_family(name)
        assert family.trainer is not None and family.inference_model is not None
    for name in ("sklearn_logreg", "sklearn_forest"):
        family = get_family(name)
        assert None not in (family.trainer, family.exporter, family.count_params, family.loader)
    plain = get_family("vgg")
    assert (plain.trainer, plain.inference_model, plain.exporter, plain.count_params, plain.loader) == (None,) * 5


def test_register_model_rejects_unknown_hooks_and_duplicates():
    with pytest.raises(ValueError, match="unknown hook"):
        register_model("tmp_model", "x", exporterr=print)
    with pytest.raises(ValueError, match="unknown hook"):
        register_model("tmp_model", "x", predictor=print)  # every model is served from its export
    with pytest.raises(ValueError, match="registered twice"):
        register_model("vgg", "another vgg")(lambda **kwargs: None)
    assert "tmp_model" not in _FAMILIES


def test_unknown_names_and_class_counts_are_refused(sample_rate, features):
    with pytest.raises(ValueError, match="unknown model 'resnet9000'"):
        get_family("resnet9000")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("vgg", 1, sample_rate, features)
