"""Tiny data and settings for the model tests: 8 clips of 0.5 s at 8 kHz, two classes of harmonic tones."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.config import FeatureConfig
from keras_audio.training import TrainingInputs

SAMPLE_RATE = 8000
FEATURES = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=32)


def tones(n: int = 8, seconds: float = 0.5, num_classes: int = 2, seed: int = 0):
    """`n` harmonic tones with noise, class `c` at fundamental `150 * (c + 1)` Hz: `(waveforms, labels)`."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    labels = np.arange(n) % num_classes
    waveforms = []
    for label in labels:
        f0 = 150.0 * (label + 1) * rng.uniform(0.95, 1.05)
        wave = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 5))
        waveforms.append(0.1 * wave + 0.01 * rng.standard_normal(t.size))
    return np.stack(waveforms).astype(np.float32), labels.astype(np.int32)


@pytest.fixture
def tiny_batch():
    return tones()


@pytest.fixture
def learns():
    """`learns(model, x, y)`: a few Adam steps on one fixed batch lower its cross-entropy.

    The loss is measured in training mode (batch-norm batch statistics), with dropout set to 0 by the caller,
    so before and after are deterministic and comparable.
    """

    def check(model, x, y, steps: int = 8, learning_rate: float = 1e-2):
        loss = keras.losses.SparseCategoricalCrossentropy()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
        before = float(loss(y, model(x, training=True)))
        for _ in range(steps):
            model.train_on_batch(x, y)
        after = float(loss(y, model(x, training=True)))
        assert after < before, f"{model.name}: loss {before:.4f} -> {after:.4f} after {steps} steps"
        return before, after

    return check


@pytest.fixture
def round_trip(tmp_path):
    """`round_trip(model, x)`: `model.save` then `keras.models.load_model` predicts the same."""

    def check(model, x):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        reloaded = keras.models.load_model(path)
        np.testing.assert_allclose(reloaded(x, training=False), model(x, training=False), atol=1e-6)
        return reloaded

    return check


def tiny_inputs(x, y, num_classes: int = 2, batch: int = 4, noise: float = 0.05) -> TrainingInputs:
    """TrainingInputs over one tiny set: endless shuffled-free training streams, white-noise pairs."""
    noisy = (x + noise * np.random.default_rng(1).standard_normal(x.shape)).astype(np.float32)

    def stream(elements):
        return tf.data.Dataset.from_tensor_slices(elements).repeat().batch(batch, drop_remainder=True)

    return TrainingInputs(
        make_train=lambda pairs: stream(((x, x), y) if pairs else (x, y)),
        validation=tf.data.Dataset.from_tensor_slices((x, y)).batch(batch),
        steps_per_epoch=max(1, len(x) // batch),
        class_weight={c: 1.0 for c in range(num_classes)},
        num_classes=num_classes,
        seed=0,
        make_pairs_train=lambda: stream(((noisy, x), y)),
        make_pairs_validation=lambda: tf.data.Dataset.from_tensor_slices(((noisy, x), y)).batch(batch),
        pairs_policy="noise",
    )


@pytest.fixture
def inputs_for():
    return tiny_inputs


@pytest.fixture(scope="session")
def sample_rate():
    return SAMPLE_RATE


@pytest.fixture(scope="session")
def features():
    return FEATURES


@pytest.fixture(scope="session")
def make_tones():
    return tones
