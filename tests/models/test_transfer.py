"""Transfer: an encoder the suite trained itself (a tiny conv1d), loaded three ways; frozen and fine-tuned."""

import numpy as np
import pytest

from keras_audio.export import export_model
from keras_audio.models import build_model, get_family
from keras_audio.models.transfer import load_encoder
from keras_audio.training import TrainingSettings

pytestmark = pytest.mark.slow  # exports an encoder and trains transfer models on it


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_rate, features, make_tones):
    import keras

    x, y = make_tones()
    tmp_path = tmp_path_factory.mktemp("encoder")
    model = build_model("conv1d", 2, sample_rate, features, filters=(8,), dropout=0.0)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    for _ in range(2):
        model.train_on_batch(x, y)
    directory = export_model(
        model, tmp_path / "conv1d-none-seed0", class_names=["a", "b"], sample_rate=sample_rate, clip_samples=x.shape[1]
    )
    return directory, model


def _where(directory, kind):
    return {"folder": directory, "keras": directory / "model.keras", "saved_model": directory / "saved_model"}[kind]


@pytest.mark.parametrize("kind, dims", [("folder", 16), ("keras", 16), ("saved_model", 2)])
def test_loads_an_encoder_three_ways(kind, dims, exported, sample_rate, tiny_batch):
    directory, trained = exported
    x = tiny_batch[0]
    encoder = load_encoder(_where(directory, kind), sample_rate)
    embedding = encoder(x).numpy()
    assert embedding.shape == (len(x), dims)  # conv1d: average and max pooling of 8 channels
    if kind == "saved_model":  # a SavedModel is used whole: here, the classifier's probabilities
        np.testing.assert_allclose(embedding, trained(x).numpy(), atol=1e-5)
    assert not encoder.trainable


@pytest.mark.parametrize("kind", ["folder", "saved_model"])
@pytest.mark.parametrize("num_classes", [2, 5])
def test_transfer_model_shapes(kind, num_classes, exported, sample_rate, features, make_tones):
    model = build_model(
        "transfer", num_classes, sample_rate, features, encoder=str(_where(exported[0], kind)), hidden=8
    )
    for seconds in (0.3, 0.6):
        p = model(make_tones(3, seconds)[0]).numpy()
        assert p.shape == (3, num_classes)
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)


def _weights(layer):
    return [w.numpy().copy() for w in layer.weights]


@pytest.mark.parametrize("fine_tune", [False, True])
def test_frozen_encoder_stays_fixed_and_fine_tuning_moves_it(
    fine_tune, exported, sample_rate, features, tiny_batch, inputs_for, tmp_path
):
    x, y = tiny_batch
    model = build_model(
        "transfer", 2, sample_rate, features, encoder=str(exported[0]), fine_tune=fine_tune, hidden=8, dropout=0.0
    )
    encoder = model.get_layer("encoder")
    head = model.get_layer("probabilities")
    before_encoder, before_head = _weights(encoder), _weights(head)
    settings = TrainingSettings(epochs=2, learning_rate=1e-2, patience=5, verbose=0)
    result = get_family("transfer").trainer(model, inputs_for(x, y), settings, tmp_path / "logs")
    moved = [not np.array_equal(a, b) for a, b in zip(before_encoder, _weights(encoder))]
    assert any(moved) == fine_tune
    assert any(not np.array_equal(a, b) for a, b in zip(before_head, _weights(head)))
    assert result.metadata["encoder"] == ("fine-tuned" if fine_tune else "frozen")
    if fine_tune:
        assert "fine_tune/loss" in result.history


def test_learns_and_round_trips(exported, sample_rate, features, tiny_batch, learns, round_trip):
    model = build_model("transfer", 2, sample_rate, features, encoder=str(exported[0]), hidden=8, dropout=0.0)
    learns(model, *tiny_batch)
    round_trip(model, tiny_batch[0])


def test_refuses_a_sample_rate_mismatch(exported, features):
    with pytest.raises(ValueError, match="Hz"):
        build_model("transfer", 2, 16000, features, encoder=str(exported[0]))


def test_refuses_missing_or_unknown_encoders(sample_rate, features, tmp_path, exported):
    with pytest.raises(ValueError, match="--encoder"):
        build_model("transfer", 2, sample_rate, features)
    with pytest.raises(ValueError, match="not an export folder"):
        build_model("transfer", 2, sample_rate, features, encoder=str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="specaugment"):
        build_model("transfer", 2, sample_rate, features, spec_augment=True, encoder=str(exported[0]))
