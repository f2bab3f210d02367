"""Autoencoder + classifier: shapes, the (spoiled, clean) pairs and their targets, reconstruction learning,
both trainers end to end, the exported classifier."""

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.corruptions.noise import SNR_DB, WhiteNoise
from keras_audio.corruptions.policy import parse_policy
from keras_audio.export import export_model
from keras_audio.loader import load_predictor
from keras_audio.manifest import Manifest
from keras_audio.models import build_model, get_family
from keras_audio.models.autoencoder import (
    PROBABILITIES,
    RECONSTRUCTION,
    autoencoder_of,
    classifier_of,
    reconstruction_error,
    target_frontend,
    train_joint,
    train_two_stage,
    with_targets,
)
from keras_audio.pipeline import ClipSource, training_dataset
from keras_audio.training import TrainingSettings

TINY = dict(filters=(4, 8), dropout=0.0)


@pytest.mark.parametrize("name", ["ae_clf", "ae_clf_joint"])
@pytest.mark.parametrize("num_classes", [2, 5])
def test_outputs_for_any_length(name, num_classes, sample_rate, features, make_tones):
    model = build_model(name, num_classes, sample_rate, features, **TINY)
    for seconds in (0.23, 0.5):  # frames not a multiple of the encoder's stride: the decoder output is cropped
        x, _ = make_tones(3, seconds)
        outputs = model(x)
        frames = 1 + x.shape[1] // features.hop_length
        assert outputs[PROBABILITIES].shape == (3, num_classes)
        assert outputs[RECONSTRUCTION].shape == (3, frames, features.n_mels)
        classifier = classifier_of(model)
        np.testing.assert_allclose(classifier(x).numpy(), outputs[PROBABILITIES].numpy(), atol=1e-6)


@pytest.mark.slow
def test_classifier_has_no_decoder_and_exports_waveform_to_probabilities(sample_rate, features, tiny_batch, tmp_path):
    model = build_model("ae_clf", 2, sample_rate, features, **TINY)
    classifier = get_family("ae_clf").inference_model(model)
    decoder_params = model.get_layer("decoder").count_params()
    assert classifier.count_params() == model.count_params() - decoder_params > 0
    export_model(
        classifier,
        tmp_path / "export",
        class_names=["a", "b"],
        sample_rate=sample_rate,
        clip_samples=tiny_batch[0].shape[1],
    )
    predict = load_predictor(tmp_path / "export").predict
    np.testing.assert_allclose(predict(tiny_batch[0]), classifier(tiny_batch[0]).numpy(), atol=1e-5)


def _source(waveforms, labels):
    clip_ids = [f"clip{i}" for i in range(len(waveforms))]
    lengths = np.array([w.size for w in waveforms])
    store = WaveformStore(
        np.concatenate(waveforms), np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths, clip_ids, 8000
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": [f"class{label}" for label in labels],
            "speaker": clip_ids,
            "split": "train",
        }
    )
    return ClipSource(store, Manifest(frame, name="unit"))


@pytest.mark.slow
def test_pairs_are_spoiled_and_clean_views_of_the_same_clip(sample_rate, features, make_tones):
    waveforms, labels = make_tones(6, 0.5)
    source = _source(list(waveforms), labels)
    policy = parse_policy("noise", {"white_noise": WhiteNoise(sample_rate)}, probability=1.0)
    pairs = (
        training_dataset(source, waveforms.shape[1], 3, seed=0, waveform_policy=policy.waveform, pairs=True)
        .take(4)
        .cache()
    )
    list(pairs)  # fill the cache: both iterations below then see the same batches
    model = build_model("ae_clf", 2, sample_rate, features, **TINY)
    frontend = target_frontend(model)
    for ((corrupted, clean), label), (inputs, target) in zip(pairs, with_targets(pairs, frontend)):
        corrupted, clean, label = corrupted.numpy(), clean.numpy(), label.numpy()
        for k in range(len(label)):
            matches = [i for i, w in enumerate(waveforms) if np.array_equal(w, clean[k])]
            assert len(matches) == 1 and labels[matches[0]] == label[k]  # clean: the clip itself, its label
            noise = corrupted[k] - clean[k]
            snr = 20 * np.log10(np.sqrt(np.mean(clean[k] ** 2)) / np.sqrt(np.mean(noise**2)))
            assert min(SNR_DB) - 0.1 <= snr <= max(SNR_DB) + 0.1  # spoiled: that clip plus calibrated noise
        # the autoencoder's input is the spoiled view; its target, the clean view through the model's front-end
        np.testing.assert_array_equal(inputs.numpy(), corrupted)
        np.testing.assert_allclose(target.numpy(), frontend(clean).numpy(), atol=1e-6)
        assert not np.allclose(target.numpy(), frontend(corrupted).numpy(), atol=0.1)


def test_target_frontend_is_the_model_front_end_without_spec_augment(sample_rate, features, tiny_batch):
    model = build_model("ae_clf", 2, sample_rate, features, spec_augment=True, **TINY)
    frontend = target_frontend(model)
    assert "spec_augment" not in [layer.name for layer in frontend.layers]
    x = tiny_batch[0]
    np.testing.assert_allclose(frontend(x, training=True).numpy(), frontend(x, training=False).numpy())
    standardized = frontend(x).numpy()
    np.testing.assert_allclose(standardized.mean(axis=(1, 2)), 0.0, atol=1e-3)


@pytest.mark.slow
def test_reconstruction_error_falls_when_the_autoencoder_trains(sample_rate, features, tiny_batch):
    x, _ = tiny_batch
    noisy = (x + 0.05 * np.random.default_rng(0).standard_normal(x.shape)).astype(np.float32)
    model = build_model("ae_clf", 2, sample_rate, features, **TINY)
    autoencoder = autoencoder_of(model)
    target = target_frontend(model)(x).numpy()
    autoencoder.compile(keras.optimizers.Adam(1e-2), "mse")

    def error():  # training mode: batch statistics, comparable before and after a few steps
        return float(np.mean((autoencoder(noisy, training=True).numpy() - target) ** 2))

    before = error()
    for _ in range(15):
        autoencoder.train_on_batch(noisy, target)
    after = error()
    assert after < 0.8 * before, (before, after)
    assert np.isfinite(reconstruction_error(model, noisy, x))


@pytest.mark.slow
def test_joint_model_learns_both_outputs(sample_rate, features, tiny_batch):
    x, y = tiny_batch
    model = build_model("ae_clf_joint", 2, sample_rate, features, **TINY)
    target = target_frontend(model)(x)
    model.compile(
        keras.optimizers.Adam(1e-2), loss={PROBABILITIES: "sparse_categorical_crossentropy", RECONSTRUCTION: "mse"}
    )

    def losses():
        out = model(x, training=True)
        return (
            float(keras.losses.sparse_categorical_crossentropy(y, out[PROBABILITIES]).numpy().mean()),
            float(np.mean((out[RECONSTRUCTION].numpy() - target.numpy()) ** 2)),
        )

    before = losses()
    for _ in range(10):
        model.train_on_batch(x, {PROBABILITIES: y, RECONSTRUCTION: target})
    after = losses()
    assert after[0] < before[0] and after[1] < before[1], (before, after)


@pytest.mark.slow
def test_two_stage_trainer_runs_every_stage_and_freezes_then_unfreezes(
    sample_rate, features, tiny_batch, inputs_for, monkeypatch, tmp_path
):
    import keras_audio.models.autoencoder as autoencoder

    x, y = tiny_batch
    model = build_model("ae_clf", 2, sample_rate, features, **TINY)
    encoder = model.get_layer("encoder")
    seen = []
    real_run_fit = autoencoder.run_fit

    def spy(fit_model, *args, **kwargs):
        seen.append((fit_model.name, encoder.trainable, fit_model.optimizer.learning_rate.numpy()))
        return real_run_fit(fit_model, *args, **kwargs)

    monkeypatch.setattr(autoencoder, "run_fit", spy)
    settings = TrainingSettings(epochs=2, learning_rate=1e-3, patience=2, verbose=0)
    result = train_two_stage(model, inputs_for(x, y), settings, tmp_path / "logs")
    assert [(name, trainable) for name, trainable, _ in seen] == [
        ("ae_clf_autoencoder", True),
        ("ae_clf", False),
        ("ae_clf", True),
    ]
    np.testing.assert_allclose([lr for *_, lr in seen], [1e-3, 1e-3, 1e-4], rtol=1e-5)
    expected = {"autoencoder/loss", "autoencoder/val_loss", "classifier/val_accuracy", "fine_tune/loss"}
    assert expected <= set(result.history)
    assert result.metadata["denoising_pairs"] == "noise" and result.metadata["stages"]["autoencoder"] == 2
    assert (tmp_path / "logs" / "autoencoder").is_dir()


@pytest.mark.slow
def test_joint_trainer_runs_and_records_the_pairs(sample_rate, features, tiny_batch, inputs_for):
    x, y = tiny_batch
    model = build_model("ae_clf_joint", 2, sample_rate, features, reconstruction_weight=0.5, **TINY)
    result = train_joint(model, inputs_for(x, y), TrainingSettings(epochs=2, verbose=0))
    assert {"probabilities_loss", "reconstruction_loss", "val_loss", "probabilities_accuracy"} <= set(result.history)
    assert result.metadata["denoising_pairs"] == "noise"
    assert classifier_of(model)(x).shape == (len(x), 2)


def test_trainers_need_pairs(sample_rate, features, tiny_batch, inputs_for):
    inputs = dataclasses.replace(inputs_for(*tiny_batch), make_pairs_train=None)
    model = build_model("ae_clf_joint", 2, sample_rate, features, **TINY)
    with pytest.raises(ValueError, match="pairs"):
        train_joint(model, inputs, TrainingSettings(epochs=1, verbose=0))


@pytest.mark.parametrize(
    "bad", [dict(filters=()), dict(dropout=1.0), dict(fine_tune_factor=0.0), dict(decoder_filters=(4,))]
)
def test_rejects_bad_hparams(bad, sample_rate, features):
    with pytest.raises(ValueError, match="ae_clf"):
        build_model("ae_clf", 2, sample_rate, features, **bad)


def test_round_trip_of_the_classifier(sample_rate, features, tiny_batch, round_trip):
    model = build_model("ae_clf_joint", 2, sample_rate, features, **TINY)
    round_trip(classifier_of(model), tiny_batch[0])


def test_joint_targets_carry_the_class_weights_as_sample_weights(sample_rate, features, tiny_batch):
    x, y = tiny_batch
    model = build_model("ae_clf_joint", 2, sample_rate, features, **TINY)
    pairs = tf.data.Dataset.from_tensor_slices(((x, x), y)).batch(4)
    batches = list(with_targets(pairs, target_frontend(model), {0: 2.0, 1: 0.5}, classify=True))
    for _inputs, targets, weights in batches:
        labels = targets[PROBABILITIES].numpy()
        np.testing.assert_array_equal(weights[PROBABILITIES].numpy(), np.where(labels == 0, 2.0, 0.5))
        assert weights[RECONSTRUCTION].shape == (4, 1)
        assert targets[RECONSTRUCTION].shape == (4, 1 + x.shape[1] // features.hop_length, features.n_mels)
