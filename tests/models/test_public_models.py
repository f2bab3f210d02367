"""`keras_audio.models`: the registry and every builder public, each registered family's builder among them."""

import pytest

import keras_audio.models


def test_every_export_resolves():
    for name in keras_audio.models.__all__:
        assert getattr(keras_audio.models, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_builder"):
        keras_audio.models.no_such_builder  # noqa: B018


@pytest.mark.parametrize(
    "family",
    [
        "conv1d",
        "conv2d",
        "vgg",
        "lstm",
        "crnn",
        "mlp_features",
        "ae_clf",
        "ae_clf_joint",
        "sklearn_logreg",
        "sklearn_forest",
        "transfer",
    ],
)
def test_a_family_builder_is_the_registered_one(family):
    assert getattr(keras_audio.models, f"build_{family}") is keras_audio.models.get_family(family).build


def test_every_family_is_reachable_from_a_public_builder():
    """The pretrained families are closures over `build_pretrained`; every other one is exported by name."""
    public = {getattr(keras_audio.models, name) for name in keras_audio.models.__all__}
    for family in keras_audio.models.available():
        build = keras_audio.models.get_family(family).build
        assert build in public or family.split("_finetune")[0] in ("ge2e", "aisfx"), family
