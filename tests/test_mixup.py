"""Mixup: each mixed example is the convex combination with the drawn weight and partner, targets sum to 1,
alpha 0 is the identity, draws come from the seed, and a mixed stream trains (soft-target loss, class
weights per example, clean validation with class ids)."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.config import ConfigError
from keras_audio.manifest import Manifest
from keras_audio.mixup import Mixup, mixup_batch, mixup_partners, mixup_weights
from keras_audio.pipeline import ClipSource, training_dataset
from keras_audio.suite.config import RunConfig
from keras_audio.training import (
    TrainingInputs,
    TrainingSettings,
    balanced_class_weights,
    compile_classifier,
    fit_classifier,
    run_fit,
    weigh_soft_targets,
)


def batch(b=16, n=50, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((b, n)).astype(np.float32), rng.integers(0, classes, b).astype(np.int32)


def test_each_mixed_example_is_the_convex_combination_with_the_drawn_weight_and_partner():
    waveforms, labels = batch()
    seed = tf.constant([5, 6], tf.int64)
    mixed, targets = (t.numpy() for t in mixup_batch(waveforms, labels, 3, 0.4, seed))
    weight_seed, partner_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    weights = mixup_weights(weight_seed, 16, 0.4).numpy()
    partners = mixup_partners(partner_seed, 16).numpy()
    assert sorted(partners) == list(range(16)) and np.all((weights >= 0) & (weights <= 1))
    expected = weights[:, None] * waveforms + (1 - weights[:, None]) * waveforms[partners]
    np.testing.assert_allclose(mixed, expected, rtol=1e-6, atol=1e-6)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    np.testing.assert_allclose(
        targets, weights[:, None] * one_hot + (1 - weights[:, None]) * one_hot[partners], atol=1e-6
    )
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    assert len(np.unique(weights)) == 16  # one weight per example


def test_alpha_zero_is_the_identity_with_one_hot_targets():
    waveforms, labels = batch()
    mixed, targets = mixup_batch(waveforms, labels, 3, 0.0, tf.constant([1, 2], tf.int64))
    np.testing.assert_array_equal(mixed.numpy(), waveforms)
    np.testing.assert_array_equal(targets.numpy(), np.eye(3)[labels])


def test_draws_come_from_the_seed_and_follow_beta():
    waveforms, labels = batch()
    first, again, other = (
        mixup_batch(waveforms, labels, 3, 0.4, tf.constant(s, tf.int64))[0].numpy() for s in ([1, 2], [1, 2], [1, 3])
    )
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    weights = mixup_weights(tf.constant([0, 1], tf.int64), 20000, 0.2).numpy()
    assert np.mean(weights) == pytest.approx(0.5, abs=0.02)
    assert np.var(weights) == pytest.approx(1 / (4 * (2 * 0.2 + 1)), rel=0.05)  # Beta(a, a): 1 / (4 (2a + 1))
    tiny = mixup_weights(tf.constant([0, 1], tf.int64), 1000, 1e-4).numpy()  # gammas underflow: λ 0 or 1
    assert np.all(np.isfinite(tiny)) and np.mean(np.isclose(tiny, 0) | np.isclose(tiny, 1)) > 0.99


@pytest.mark.parametrize(
    "alpha, classes, message",
    [
        (-0.1, 3, "mixup: alpha must be a finite number >= 0, got -0.1"),
        (float("nan"), 3, "mixup: alpha must be a finite number >= 0, got nan"),
        (0.2, 1, "mixup: num_classes must be an int >= 2, got 1"),
    ],
)
def test_bad_settings_are_refused(alpha, classes, message):
    with pytest.raises(ValueError, match=message):
        Mixup(alpha, classes)
    with pytest.raises(ValueError, match=message):
        mixup_batch(*batch(), classes, alpha, tf.constant([0, 0], tf.int64))


def test_the_config_option_is_checked():
    assert RunConfig.from_dict({"training": {"mixup_alpha": 0.2}}).training.mixup_alpha == 0.2
    assert RunConfig.from_dict({"options": {"mixup_alpha": 0.2}}).training.mixup_alpha == 0.2  # an old config
    with pytest.raises(ConfigError, match=r"training.mixup_alpha.*must be >= 0.0, got -1"):
        RunConfig.from_dict({"training": {"mixup_alpha": -1}})


def _source(n=12, classes=("a", "b")):
    rng = np.random.default_rng(0)
    lengths = rng.integers(800, 1600, size=n)
    clip_ids = [f"clip{i:02d}" for i in range(n)]
    store = WaveformStore(
        np.concatenate([(0.1 * rng.standard_normal(k)).astype(np.float32) for k in lengths]),
        np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        lengths,
        clip_ids,
        16000,
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": [classes[i % len(classes)] for i in range(n)],
            "speaker": [f"s{i // 2}" for i in range(n)],
            "split": "train",
        }
    )
    return ClipSource(store, Manifest(frame, name="unit"))


@pytest.mark.slow
def test_a_mixed_training_stream_is_soft_reproducible_and_refuses_pairs():
    source = _source()
    settings = Mixup(0.3, 2)
    streams = [training_dataset(source, 1000, 4, seed=3, mixup=settings) for _ in range(2)]
    assert streams[0].element_spec[1].shape.as_list() == [4, 2]
    first, second = ([(x.numpy(), y.numpy()) for x, y in stream.take(3)] for stream in streams)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_allclose(y1.sum(axis=1), 1.0, atol=1e-6)
    plain = training_dataset(source, 1000, 4, seed=3, mixup=Mixup(0.0, 2))
    assert plain.element_spec[1].shape.rank == 1  # alpha 0: class ids, no mixing
    with pytest.raises(ValueError, match="mixup cannot mix denoising pairs"):
        training_dataset(source, 1000, 4, seed=3, pairs=True, mixup=settings)


def _tiny_inputs(mixup_alpha):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    y = (x[:, 0] > 0.4).astype(np.int32)  # imbalanced, so the class weights matter
    settings = Mixup(mixup_alpha, 2)

    def make_train(pairs):
        batches = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
        return batches.enumerate().map(
            lambda i, b: mixup_batch(b[0], b[1], 2, settings.alpha, tf.stack([i, tf.constant(7, tf.int64)]))
        )

    return TrainingInputs(
        make_train=make_train,
        validation=tf.data.Dataset.from_tensor_slices((x, y)).batch(8),
        steps_per_epoch=6,
        class_weight=balanced_class_weights(y, 2),
        num_classes=2,
    )


@pytest.mark.slow
def test_a_tiny_fit_with_mixup_runs_on_soft_targets_and_validates_on_class_ids():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    result = fit_classifier(model, _tiny_inputs(0.4), TrainingSettings(epochs=3, learning_rate=0.05, verbose=0))
    assert result.epochs_run == 3
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert len(result.history[key]) == 3 and np.all(np.isfinite(result.history[key])), key
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]


def test_class_weights_become_per_example_weights_of_the_mix():
    targets = tf.constant([[0.25, 0.75], [1.0, 0.0]])
    dataset = tf.data.Dataset.from_tensors((tf.zeros([2, 3]), targets))
    _, _, weights = next(iter(weigh_soft_targets(dataset, {0: 2.0, 1: 0.5}, 2)))
    np.testing.assert_allclose(weights.numpy(), [0.25 * 2.0 + 0.75 * 0.5, 2.0])


def test_a_trainer_compiled_for_class_ids_refuses_soft_targets():
    inputs = _tiny_inputs(0.4)
    model_input = keras.Input((4,))
    model = keras.Model(model_input, keras.layers.Dense(2, activation="softmax")(model_input), name="sparse_one")
    compile_classifier(model, 0.01)
    settings = TrainingSettings(epochs=1, verbose=0)
    with pytest.raises(
        ValueError,
        match="sparse_one: the training stream has soft targets .mixup. but the model is "
        "compiled with sparse cross-entropy",
    ):
        run_fit(model, inputs.make_train(False), inputs, settings, None)
    compile_classifier(model, 0.01, soft_targets=True)
    with pytest.raises(ValueError, match="class_weight with soft targets"):
        run_fit(model, inputs.make_train(False), inputs, settings, None, class_weight=inputs.class_weight)
