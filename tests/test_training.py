"""The training recipe: class weights, the standard fit (callbacks, logs, best weights), combined stages."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_audio.training import (
    TrainingInputs,
    TrainingResult,
    TrainingSettings,
    balanced_class_weights,
    combine_stages,
    compile_classifier,
    fit_classifier,
    set_global_seed,
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


@pytest.mark.slow
def test_fit_classifier_learns_and_logs(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int32)  # imbalanced
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    result = fit_classifier(
        model, _inputs(x, y), TrainingSettings(epochs=5, learning_rate=0.05, verbose=0), tmp_path / "logs"
    )
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


# --------------------------------------------------------------------------------------- non-finite
def _tiny_model(name="tiny"):
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs), name=name)


@pytest.mark.slow
def test_a_non_finite_loss_stops_training_at_once_naming_the_model_and_epoch():
    from keras_audio.training import NonFiniteTrainingError

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    x[20] = 3e29  # finite, in the third batch; its gradients overflow the weights
    with pytest.raises(
        NonFiniteTrainingError,
        match=r"training conv1d-none-seed0: loss became nan at epoch 1, "
        r"batch \d; stopped",
    ) as caught:
        fit_classifier(_tiny_model(), _inputs(x, y), TrainingSettings(epochs=5, verbose=0, name="conv1d-none-seed0"))
    assert caught.value.epoch == 1 and 3 <= caught.value.batch <= 8 and caught.value.metric == "loss"


@pytest.mark.slow
def test_a_non_finite_validation_loss_is_named():
    from keras_audio.training import NonFiniteTrainingError

    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    inputs = _inputs(x, y)
    inputs.validation = tf.data.Dataset.from_tensor_slices((np.full_like(x, np.nan), y)).batch(8)
    with pytest.raises(NonFiniteTrainingError, match=r"tiny: val_loss became nan at the end of epoch 1"):
        fit_classifier(_tiny_model(), inputs, TrainingSettings(epochs=2, verbose=0))


@pytest.mark.parametrize(
    "field, value",
    [
        ("learning_rate", float("nan")),
        ("learning_rate", -1.0),
        ("learning_rate", 0.0),
        ("epochs", 0),
        ("epochs", 1.5),
        ("patience", -1),
    ],
)
def test_training_settings_refuse_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingSettings(**{field: value})


# ------------------------------------------------------------------------------------------- resume
def _resume_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.standard_normal(48) > 0).astype(np.int32)
    vx = rng.standard_normal((16, 6)).astype(np.float32)
    vy = rng.integers(0, 2, 16).astype(np.int32)  # a noisy validation loss: the callbacks' state matters
    return TrainingInputs(
        # Like pipeline.training_dataset: endless, reshuffled each pass from a seed.
        make_train=lambda pairs: (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(48, seed=3, reshuffle_each_iteration=True)
            .repeat()
            .batch(8)
        ),
        validation=tf.data.Dataset.from_tensor_slices((vx, vy)).batch(8),
        steps_per_epoch=5,
        class_weight=None,
        num_classes=2,
    )


def _resume_model():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.4)(x)  # its seed generator's state must survive the interruption
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _train(backup_dir=None, interrupt_at=None, monkeypatch=None):
    from keras_audio import training

    set_global_seed(0)
    model = _resume_model()
    if interrupt_at is not None:
        standard = training.standard_callbacks
        monkeypatch.setattr(training, "standard_callbacks", lambda *a: standard(*a) + [_Interrupt(interrupt_at)])
    settings = TrainingSettings(epochs=10, learning_rate=0.1, patience=4, verbose=0, backup_dir=backup_dir)
    try:
        return model, fit_classifier(model, _resume_inputs(), settings)
    finally:
        if interrupt_at is not None:
            monkeypatch.undo()


@pytest.mark.slow
def test_training_interrupted_after_an_epoch_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    reference, expected = _train()
    # Best epoch 2, the learning rate halved at the end of epoch 4, early stopping after epoch 6: the interruption
    # after epoch 4 falls between, with both callbacks counting, and dropout, shuffle and Adam moments in flight.
    assert expected.best_epoch == 2 and expected.epochs_run == 6
    assert expected.history["learning_rate"][4] < expected.history["learning_rate"][3]
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "backup", interrupt_at=4, monkeypatch=monkeypatch)
    checkpoints = list((tmp_path / "backup").glob("*/epoch-*"))
    assert [c.name for c in checkpoints] == ["epoch-0004"]
    resumed, result = _train(tmp_path / "backup")
    for a, b in zip(reference.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert result.history == expected.history
    assert (result.epochs_run, result.best_epoch) == (expected.epochs_run, expected.best_epoch)


@pytest.mark.slow
def test_a_finished_fit_is_not_trained_again(tmp_path, monkeypatch):
    trained, expected = _train(tmp_path / "backup")
    set_global_seed(1)
    model = _resume_model()  # other initial weights
    monkeypatch.setattr(model, "fit", lambda *a, **k: pytest.fail("trained again"))
    settings = TrainingSettings(epochs=10, learning_rate=0.1, patience=4, verbose=0, backup_dir=tmp_path / "backup")
    result = fit_classifier(model, _resume_inputs(), settings)
    assert result.history == expected.history
    for a, b in zip(trained.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_stages_of_one_model_get_their_own_checkpoints(tmp_path):
    from keras_audio.checkpoints import fit_fingerprint

    model = _resume_model()
    compile_classifier(model, 0.1)
    settings = TrainingSettings(epochs=3)
    first = fit_fingerprint(model, settings, 5, tmp_path / "tag" / "head")
    assert fit_fingerprint(model, settings, 5, tmp_path / "elsewhere" / "head") == first  # a moved run folder
    assert fit_fingerprint(model, settings, 5, tmp_path / "tag" / "fine_tune") != first
    model.layers[1].trainable = False
    compile_classifier(model, 0.1)
    assert fit_fingerprint(model, settings, 5, tmp_path / "tag" / "head") != first
