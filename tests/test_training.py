"""The training recipe: class weights, the standard fit (callbacks, logs, best weights), combined stages."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.training import (
    TrainingInputs, TrainingResult, TrainingSettings, balanced_class_weights, combine_stages, fit_classifier,
    standard_callbacks,
)


def test_balanced_class_weights_like_sklearn_with_absent_classes_at_one():
    labels = np.array([0] * 70 + [1] * 30)
    weights = balanced_class_weights(labels, 3)
    assert weights[0] == pytest.approx(100 / (2 * 70)) and weights[1] == pytest.approx(100 / (2 * 30))
    assert weights[2] == 1.0
    assert 70 * weights[0] == pytest.approx(30 * weights[1])  # each class weighs the same in total


def _inputs(x, y, batch=8):
    return TrainingInputs(
        make_train=lambda pairs: tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch),
        validation=tf.data.Dataset.from_tensor_slices((x, y)).batch(batch),
        steps_per_epoch=len(x) // batch,
        class_weight=balanced_class_weights(y, 2),
        num_classes=2,
    )


def test_fit_classifier_learns_and_logs(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int32)  # imbalanced
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    result = fit_classifier(model, _inputs(x, y), TrainingSettings(epochs=5, learning_rate=0.05, verbose=0),
                            tmp_path / "logs")
    assert result.epochs_run == 5 and len(result.history["val_loss"]) == 5
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
    assert any((tmp_path / "logs").rglob("events.out.tfevents*"))  # TensorBoard


def test_standard_callbacks_restore_the_best_weights():
    callbacks = standard_callbacks(TrainingSettings(patience=3, learning_rate=1e-3), None)
    stopping = next(c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping))
    plateau = next(c for c in callbacks if isinstance(c, keras.callbacks.ReduceLROnPlateau))
    assert stopping.restore_best_weights and stopping.monitor == "val_loss" and stopping.patience == 3
    assert plateau.monitor == "val_loss" and plateau.min_lr == pytest.approx(1e-3 / 32)
    assert not any(isinstance(c, keras.callbacks.TensorBoard) for c in callbacks)


def test_combine_stages_prefixes_histories_and_sums_epochs_and_time():
    first = TrainingResult({"loss": [3.0, 2.0]}, seconds=1.5, epochs_run=2, best_epoch=2)
    second = TrainingResult({"loss": [1.0], "val_loss": [1.2]}, seconds=0.5, epochs_run=1, best_epoch=1)
    combined = combine_stages({"pretrain": first, "tune": second}, {"note": "x"})
    assert combined.history == {"pretrain/loss": [3.0, 2.0], "tune/loss": [1.0], "tune/val_loss": [1.2]}
    assert (combined.seconds, combined.epochs_run, combined.best_epoch) == (2.0, 3, 1)
    assert combined.metadata == {"stages": {"pretrain": 2, "tune": 1}, "note": "x"}
    with pytest.raises(ValueError, match="no stages"):
        combine_stages({})
