"""The public corruption API: a class export and a functional form for every registered corruption, the
functional form equal to the class applied once, of the input's kind, and the package free of the suite."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

import keras_audio.corruptions
from keras_audio.corruptions import Corruption, functional, registry
from keras_audio.corruptions.signal_ops import fit_length
from tests.suite_imports import loaded_suite_modules

SAMPLE_RATE = 16000
SEVERITY = 3
SEED = 5


def _clip(samples: int = 4000, seed: int = 0) -> np.ndarray:
    """A 0.25-s harmonic tone with a little noise (every corruption has something to act on)."""
    t = np.arange(samples) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * 180.0 * k * t) / k for k in range(1, 6))
    noise = 0.01 * np.random.default_rng(seed).standard_normal(samples)
    return (0.3 * tone / np.max(np.abs(tone)) + noise).astype(np.float32)


def _resources(name: str, resources: registry.Resources) -> dict:
    return {field: getattr(resources, field) for field in registry.needs_resources(name)}


def test_every_registered_corruption_is_exported_as_a_class():
    for name in registry.names():
        cls = registry.corruption_class(name)
        assert getattr(keras_audio.corruptions, cls.__name__) is cls, name
        assert cls.__name__ in keras_audio.corruptions.__all__, name


def test_every_exported_corruption_class_is_registered():
    exported = [getattr(keras_audio.corruptions, n) for n in keras_audio.corruptions.__all__]
    classes = {value for value in exported if isinstance(value, type) and issubclass(value, Corruption)}
    assert {cls.name for cls in classes - {Corruption}} == set(registry.names())


def test_every_export_resolves_and_unknown_names_fail():
    for name in keras_audio.corruptions.__all__:
        assert getattr(keras_audio.corruptions, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_corruption"):
        keras_audio.corruptions.no_such_corruption  # noqa: B018


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_corruption_has_a_functional_form(name):
    function = getattr(functional, name)
    assert functional.FUNCTIONS[name] is function and name in functional.__all__
    parameters = inspect.signature(function).parameters
    keyword_only = {p for p, v in parameters.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword_only == {"severity", "seed", "sample_rate", *registry.needs_resources(name)}


def test_the_functional_forms_are_the_registered_corruptions():
    assert list(functional.FUNCTIONS) == registry.names()


@pytest.mark.parametrize("name", registry.names())
def test_the_functional_form_is_the_class_applied_once(name, resources):
    x = _clip()
    needs = _resources(name, resources)
    expected = registry.build(name, SAMPLE_RATE, resources)(x, tf.constant([SEED, 0], tf.int64), SEVERITY).numpy()
    function = getattr(functional, name)

    spoiled = function(x, severity=SEVERITY, seed=SEED, sample_rate=SAMPLE_RATE, **needs)
    assert isinstance(spoiled, np.ndarray) and spoiled.dtype == np.float32
    np.testing.assert_array_equal(spoiled, expected)
    assert not np.array_equal(spoiled[: len(x)], x) or spoiled.shape != x.shape, f"{name} changed nothing"

    as_tensor = function(tf.constant(x), severity=SEVERITY, seed=[SEED, 0], sample_rate=SAMPLE_RATE, **needs)
    assert tf.is_tensor(as_tensor) and as_tensor.dtype == tf.float32
    np.testing.assert_array_equal(as_tensor.numpy(), expected)


@pytest.mark.parametrize("name", ["white_noise", "gain", "speed", "packet_loss"])
def test_a_batch_is_spoiled_row_by_row_with_a_seed_per_row(name):
    rows = np.stack([_clip(seed=0), _clip(seed=1)[::-1].copy()])
    function = getattr(functional, name)
    spoiled = function(rows, severity=SEVERITY, seed=SEED, sample_rate=SAMPLE_RATE)
    assert isinstance(spoiled, np.ndarray) and spoiled.shape == rows.shape
    for row in range(len(rows)):
        alone = function(rows[row], severity=SEVERITY, seed=[SEED, row], sample_rate=SAMPLE_RATE)
        np.testing.assert_allclose(
            spoiled[row], fit_length(alone, rows.shape[1]).numpy(), atol=1e-6, err_msg=f"{name}: row {row}"
        )
    seeds = np.array([[9, 1], [9, 2]])
    np.testing.assert_array_equal(
        function(rows, severity=SEVERITY, seed=seeds, sample_rate=SAMPLE_RATE),
        keras_audio.corruptions.build(name, SAMPLE_RATE).corrupt_batch(rows, seeds, SEVERITY).numpy(),
    )


def test_the_functional_form_runs_in_a_graph_and_is_deterministic():
    x = _clip()
    traced = tf.function(lambda waveform: functional.white_noise(waveform, severity=2, seed=4))
    np.testing.assert_array_equal(traced(tf.constant(x)).numpy(), functional.white_noise(x, severity=2, seed=4))
    np.testing.assert_array_equal(
        functional.white_noise(x, severity=2, seed=4), functional.white_noise(x, severity=2, seed=4)
    )
    assert not np.array_equal(
        functional.white_noise(x, severity=2, seed=4), functional.white_noise(x, severity=2, seed=5)
    )


@pytest.mark.parametrize(
    "waveform, seed, message",
    [
        (np.zeros(100, np.float32), [1, 2, 3], r"seed must be an int or a \[2\] seed, got shape \(3,\)"),
        (np.zeros((2, 100), np.float32), np.zeros((3, 3)), r"seed must be .*\[batch, 2\] seeds, got shape \(3, 3\)"),
        (np.zeros((1, 2, 100), np.float32), 1, r"gain: waveform must be \[samples\] or \[batch, samples\]"),
    ],
)
def test_bad_arguments_are_named(waveform, seed, message):
    with pytest.raises(ValueError, match=message):
        functional.gain(waveform, severity=1, seed=seed)


@pytest.mark.slow  # a fresh interpreter importing TensorFlow
def test_importing_the_corruptions_loads_no_suite_module():
    statement = "from keras_audio.corruptions import *\nfrom keras_audio.corruptions import functional"
    assert loaded_suite_modules(statement) == []
