"""`check_layer`: the checks every public Keras layer must pass, in the manner of Keras' `run_layer_test`.

One call builds the layer, sets its weights to seeded random values (so a round trip that lost them shows),
and checks, on small inputs:

- the output shape (eager), and that the symbolic output shape (`keras.Input` through the layer) agrees;
- `get_config` is JSON and `from_config(get_config())` gives the same config and, with the weights copied,
  the same outputs;
- a functional model around the layer saved as `.keras` reloads with plain Keras (no custom objects: the
  layer is registered) and predicts the same;
- random layers (`random=True`, the seed an init argument ``seed``): the identity with `training=False`; in
  training the same seed gives the same output, another seed another one, and the input is changed;
- per-example layers (`per_example=True`): a batch gives, row for row, what each example gives alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras.src.saving.serialization_lib import SafeModeScope


def _as_list(inputs) -> list:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _structure(inputs, values):
    """`values` in the structure of `inputs` (one value, or a list)."""
    return list(values) if isinstance(inputs, (list, tuple)) else values[0]


def _outputs(outputs) -> list[np.ndarray]:
    return [np.asarray(output) for output in tf.nest.flatten(outputs)]


def _assert_same(actual, expected, atol: float, rtol: float, what: str) -> None:
    actual, expected = _outputs(actual), _outputs(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, expected {len(expected)}"
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what}: output {index} has shape {a.shape}, expected {e.shape}"
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=f"{what}: output {index}")
        else:
            np.testing.assert_array_equal(a, e, err_msg=f"{what}: output {index}")


def _random_inputs(input_shape, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    values = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    return values if isinstance(input_shape, list) else values[0]


def _symbolic_inputs(inputs):
    return _structure(
        inputs, [keras.Input(shape=np.shape(x)[1:], dtype=str(np.asarray(x).dtype)) for x in _as_list(inputs)]
    )


def _check_shapes(outputs, expected_output_shape) -> None:
    expected = expected_output_shape if isinstance(expected_output_shape, list) else [expected_output_shape]
    actual = [output.shape for output in _outputs(outputs)]
    assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
    for index, (shape, wanted) in enumerate(zip(actual, expected)):
        assert len(shape) == len(wanted) and all(w is None or s == w for s, w in zip(shape, wanted)), (
            f"output {index} has shape {shape}, expected {tuple(wanted)}"
        )


def _check_symbolic_shapes(symbolic_outputs, outputs) -> None:
    for index, (symbolic, eager) in enumerate(zip(tf.nest.flatten(symbolic_outputs), _outputs(outputs))):
        shape = tuple(symbolic.shape)
        assert len(shape) == eager.ndim and all(s is None or s == e for s, e in zip(shape, eager.shape)), (
            f"symbolic output {index} has shape {shape}, the eager one {eager.shape}"
        )


def _check_config(layer, cls, inputs, outputs, call_kwargs, safe_mode, atol, rtol) -> None:
    config = layer.get_config()
    json.dumps(keras.saving.serialize_keras_object(layer))  # a .keras file stores it as JSON
    with SafeModeScope(safe_mode):
        clone = cls.from_config(config)
    assert clone.get_config() == config, "from_config(get_config()) changed the config"
    clone(inputs, **call_kwargs)  # built, so the weights can be copied
    clone.set_weights(layer.get_weights())
    _assert_same(clone(inputs, **call_kwargs), outputs, atol, rtol, "from_config")


def _check_saved(layer, inputs, tmp_path: Path, safe_mode, atol, rtol):
    symbolic = _symbolic_inputs(inputs)
    symbolic_outputs = layer(symbolic)
    model = keras.Model(symbolic, symbolic_outputs)
    path = tmp_path / f"{type(layer).__name__}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=safe_mode)  # no custom_objects: the layer must be registered
    _assert_same(loaded(inputs, training=False), model(inputs, training=False), atol, rtol, ".keras reload")
    return symbolic_outputs


def _check_random(cls, init_kwargs, inputs, atol, rtol) -> None:
    assert "seed" in init_kwargs, f"{cls.__name__}: a random layer's case needs a `seed` init argument"
    _assert_same(cls(**init_kwargs)(inputs, training=False), inputs, 0.0, 0.0, "training=False")
    first = cls(**init_kwargs)(inputs, training=True)
    _assert_same(cls(**init_kwargs)(inputs, training=True), first, atol, rtol, "same seed")
    assert not np.allclose(np.asarray(first), np.asarray(inputs)), "training=True left the input unchanged"
    other = cls(**{**init_kwargs, "seed": init_kwargs["seed"] + 1})(inputs, training=True)
    assert not np.allclose(np.asarray(other), np.asarray(first)), "another seed gave the same output"


def _check_batch(layer, inputs, outputs, call_kwargs, atol, rtol) -> None:
    batch = np.shape(_as_list(inputs)[0])[0]
    assert batch > 1, "the batch check needs at least two examples"
    for row in range(batch):
        alone = layer(_structure(inputs, [np.asarray(x)[row : row + 1] for x in _as_list(inputs)]), **call_kwargs)
        expected = [output[row : row + 1] for output in _outputs(outputs)]
        _assert_same(alone, expected, atol, rtol, f"example {row} alone")


def check_layer(
    cls: type[keras.layers.Layer],
    init_kwargs: Mapping | None = None,
    *,
    input_data=None,
    input_shape: Sequence | None = None,
    expected_output_shape,
    tmp_path: Path,
    call_kwargs: Mapping | None = None,
    random: bool = False,
    per_example: bool = True,
    randomize_weights: bool = True,
    safe_mode: bool = True,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> None:
    """Run every check of the module docstring on `cls(**init_kwargs)`.

    Args:
        input_data: one array `[batch, ...]`, or a list of them for a layer of several inputs.
        input_shape: instead of `input_data`: a shape (or a list), filled with seeded standard normals.
        expected_output_shape: a shape with the batch (or a list of them); None matches any size.
        tmp_path: where the `.keras` file is written.
        call_kwargs: extra call arguments (not tensors), e.g. ``training``.
        random: the layer draws random numbers in training (checked as described above).
        per_example: each output row depends only on the same input row (checked against a batch of one).
        randomize_weights: False for a layer whose weights are not its own (a wrapped SavedModel's).
        safe_mode: False for a layer Keras only deserialises outside safe mode (one that loads a SavedModel).
    """
    if (input_data is None) == (input_shape is None):
        raise ValueError("check_layer: give input_data or input_shape, not both or neither")
    init_kwargs, call_kwargs = dict(init_kwargs or {}), dict(call_kwargs or {})
    inputs = _random_inputs(input_shape) if input_data is None else input_data
    layer = cls(**init_kwargs)
    layer(inputs, **call_kwargs)
    if randomize_weights:
        # Positive values, so a variance or a log-scale stays valid.
        rng = np.random.default_rng(1)
        layer.set_weights([rng.uniform(0.5, 1.5, np.shape(w)).astype(np.asarray(w).dtype) for w in layer.get_weights()])
    outputs = layer(inputs, **call_kwargs)
    _check_shapes(outputs, expected_output_shape)
    _check_config(layer, cls, inputs, outputs, call_kwargs, safe_mode, atol, rtol)
    _check_symbolic_shapes(_check_saved(layer, inputs, tmp_path, safe_mode, atol, rtol), outputs)
    if random:
        _check_random(cls, init_kwargs, inputs, atol, rtol)
    if per_example:
        _check_batch(layer, inputs, outputs, call_kwargs, atol, rtol)
