"""LSTM and CRNN: shapes for any length, padding masks, learning, serialization, argument checks."""

import numpy as np
import pytest

from keras_audio.models import build_model

TINY = {
    "lstm": dict(units=8, dropout=0.0),
    "crnn": dict(filters=(4, 8), units=8, attention_units=4, dropout=0.0),
}


@pytest.mark.parametrize("name, extra", [("lstm", {}), ("lstm", {"output": "last"}), ("crnn", {})])
@pytest.mark.parametrize("num_classes", [2, 5])
def test_output_shape_for_any_length(name, extra, num_classes, sample_rate, features, make_tones):
    model = build_model(name, num_classes, sample_rate, features, **TINY[name], **extra)
    for seconds in (0.21, 0.5, 0.93):
        x, _ = make_tones(3, seconds)
        p = model(x).numpy()
        assert p.shape == (3, num_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name, extra", [("lstm", {}), ("lstm", {"output": "last"}), ("crnn", {})])
@pytest.mark.slow
def test_learns_and_round_trips(name, extra, sample_rate, features, tiny_batch, learns, round_trip):
    model = build_model(name, 2, sample_rate, features, **TINY[name], **extra)
    learns(model, *tiny_batch)
    round_trip(model, tiny_batch[0])


def _output_of(model, layer):
    import keras

    return keras.Model(model.inputs[0], model.get_layer(layer).output)


def test_lstm_last_step_ignores_the_padded_steps(sample_rate, features, make_tones):
    # The model must hand its padding mask to the LSTM: its output then equals the LSTM run on the valid
    # steps alone.
    model = build_model("lstm", 2, sample_rate, features, output="last", **TINY["lstm"])
    x, _ = make_tones(2, 0.5)
    x[0, 1500:] = 0.0
    frames = _output_of(model, "time_pool_padding")(x).numpy()
    mask = _output_of(model, "time_pool_mask")(x).numpy()
    valid = int(mask[0].sum())
    assert 0 < valid < mask.shape[1] and mask[0, :valid].all()
    # the unpadded clip: every step but the last, whose only frame is centred one sample past the clip's end
    assert mask[1, :-1].all() and not mask[1, -1]
    assert np.all(frames[0, valid:] == 0.0)  # padded steps zeroed
    inside = _output_of(model, "lstm")(x).numpy()
    np.testing.assert_allclose(inside[0], model.get_layer("lstm")(frames[:1, :valid]).numpy()[0], atol=1e-5)
    assert not np.allclose(inside[0], model.get_layer("lstm")(frames[:1]).numpy()[0], atol=1e-3)


def test_masks_follow_the_padding(sample_rate, features, make_tones):
    x, _ = make_tones(1, 0.5)
    x[:, 2000:] = 0.0  # a short clip zero-padded to 0.5 s
    model = build_model("crnn", 2, sample_rate, features, **TINY["crnn"])
    mask = _output_of(model, "mask_pool1")(x).numpy()[0]  # at the GRU's frame rate (two 2x poolings)
    assert mask.shape == (-(-(1 + 4000 // features.hop_length) // 4),)
    assert mask[:5].all() and not mask[-3:].any()


@pytest.mark.parametrize(
    "name, bad",
    [
        ("lstm", dict(output="middle")),
        ("lstm", dict(units=0)),
        ("crnn", dict(filters=())),
        ("crnn", dict(dropout=-0.1)),
    ],
)
def test_rejects_bad_hparams(name, bad, sample_rate, features):
    with pytest.raises(ValueError, match=name):
        build_model(name, 2, sample_rate, features, **bad)


@pytest.mark.parametrize("name, limit", [("lstm", 100_000), ("crnn", 200_000)])
def test_defaults_are_small(name, limit, sample_rate, features):
    assert build_model(name, 2, sample_rate, features).count_params() < limit
