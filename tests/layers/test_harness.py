"""The harness fails the layers it exists to catch (a check that cannot fail checks nothing)."""

import keras
import pytest
from keras import ops

from tests.layers.harness import check_layer


@keras.saving.register_keras_serializable(package="harness_test")
class Scale(keras.layers.Layer):
    """A correct layer: `factor * inputs`."""

    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="harness_test")
class ForgetfulScale(Scale):
    """`get_config` leaves out `factor`."""

    def get_config(self):
        return keras.layers.Layer.get_config(self)


class UnregisteredScale(Scale):
    """Not registered: a saved model naming it does not reload."""


@keras.saving.register_keras_serializable(package="harness_test")
class BatchMean(keras.layers.Layer):
    """Subtracts the batch mean: a row depends on the other rows."""

    def call(self, inputs):
        return inputs - ops.mean(inputs, axis=0, keepdims=True)


@keras.saving.register_keras_serializable(package="harness_test")
class NoiseAlways(keras.layers.Layer):
    """Random in inference too."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        return inputs + keras.random.normal(ops.shape(inputs), seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def test_a_correct_layer_passes(tmp_path):
    check_layer(Scale, dict(factor=3.0), input_shape=(2, 4), expected_output_shape=(2, 4), tmp_path=tmp_path)


@pytest.mark.parametrize(
    "cls, init_kwargs, kwargs, message",
    [
        (Scale, dict(factor=3.0), dict(expected_output_shape=(2, 5)), "shape"),
        (ForgetfulScale, dict(factor=3.0), dict(), "config"),
        (UnregisteredScale, dict(factor=3.0), dict(), "Could not locate class"),
        (BatchMean, dict(), dict(), "example"),
        # its outputs differ on every call: the first comparison (the reload) already fails
        (NoiseAlways, dict(seed=1), dict(random=True), "reload|training=False"),
    ],
)
def test_a_broken_layer_fails(cls, init_kwargs, kwargs, message, tmp_path):
    kwargs = {"expected_output_shape": (2, 4), **kwargs}
    with pytest.raises((AssertionError, TypeError, ValueError), match=message):
        check_layer(cls, init_kwargs, input_shape=(2, 4), tmp_path=tmp_path, **kwargs)
