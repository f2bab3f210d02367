"""SpecAugment layers: identity unless training, per-example masks filled with the example's mean, reload."""

import keras
import numpy as np
import pytest

from keras_audio.corruptions.spec_augment import FrequencyMask, SpecAugment, TimeMask


def spectrograms(batch=8, frames=50, mels=32, seed=0):
    return np.random.default_rng(seed).normal(-40, 10, (batch, frames, mels)).astype(np.float32)


@pytest.mark.parametrize("layer", [FrequencyMask(8, 2, seed=1), TimeMask(10, 2, seed=1), SpecAugment(seed=1)])
def test_identity_unless_training(layer):
    x = spectrograms()
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)


@pytest.mark.parametrize("cls, axis", [(FrequencyMask, 2), (TimeMask, 1)])
def test_masks_are_bands_filled_with_the_example_mean(cls, axis):
    x = spectrograms()
    out = np.asarray(cls(6, 2, seed=3)(x, training=True))
    means = x.mean(axis=(1, 2))
    patterns = []
    for example, mean in zip(range(x.shape[0]), means):
        masked = np.isclose(out[example], mean) & ~np.isclose(x[example], mean)
        np.testing.assert_array_equal(out[example][~masked], x[example][~masked])
        # One example is [frames, mels]: a frequency mask covers whole mel columns, a time mask whole frames.
        lines = masked.all(axis=2 - axis)
        assert np.array_equal(masked.any(axis=2 - axis), lines)
        assert lines.sum() <= 2 * 6
        patterns.append(tuple(np.flatnonzero(lines)))
    assert len(set(patterns)) > 1  # each example draws its own masks


def test_masks_change_from_call_to_call():
    layer = TimeMask(10, 1, seed=5)
    x = spectrograms(batch=1, frames=200)
    outputs = {np.asarray(layer(x, training=True)).tobytes() for _ in range(6)}
    assert len(outputs) > 1


def test_channels_axis_is_supported():
    x = spectrograms()[..., None]
    out = np.asarray(SpecAugment(seed=2)(x, training=True))
    assert out.shape == x.shape and not np.array_equal(out, x)


def test_config_round_trip_and_saved_model_reload(tmp_path):
    layer = SpecAugment(freq_max_width=5, freq_count=1, time_max_width=7, time_count=3, seed=9)
    assert SpecAugment.from_config(layer.get_config()).get_config() == layer.get_config()
    inputs = keras.Input((None, 16))
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x = spectrograms(batch=4, frames=20, mels=16)
    model.fit(x, np.zeros((4, 1)), epochs=1, verbose=0)  # masks run in a compiled training step
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.layers[1], SpecAugment)
    assert reloaded.layers[1].get_config()["time_count"] == 3
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_width": -1}, "max_width must be an integer >= 0, got -1"),
        ({"max_width": 3, "count": 1.5}, "count must be an integer"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrequencyMask(**kwargs)


def test_numpy_integers_are_integers():
    mask = FrequencyMask(max_width=np.int64(4), count=np.int32(2))
    assert mask.get_config()["max_width"] == 4 and type(mask.get_config()["count"]) is int
