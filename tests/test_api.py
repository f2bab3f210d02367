"""The user's entry point: what `predict` answers is what evaluation measured, on files at any rate and layout."""

import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage
import soundfile as sf
import tensorflow as tf

import keras_audio
from keras_audio.api import Classifier, load_model, smooth_labels
from keras_audio.audio import AudioError
from keras_audio.cache import load_waveforms
from keras_audio.config import FeatureConfig
from keras_audio.export import export_model
from keras_audio.grid import keras_predictor
from keras_audio.manifest import Manifest
from keras_audio.models import build_model
from keras_audio.models.sklearn_baseline import export_sklearn
from keras_audio.pipeline import ClipSource, evaluation_dataset
from keras_audio.windowing import frame_windows
from tests.corpora import builders

RATE = 16000
CLIP = 8000  # 0.5 s
FEATURES = FeatureConfig(n_mels=32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("conv1d", 2, RATE, FEATURES, filters=(8,))
    directory = export_model(
        model,
        tmp_path_factory.mktemp("export"),
        class_names=["low", "high"],
        sample_rate=RATE,
        clip_samples=CLIP,
        extra_metadata={"features": {"n_fft": FEATURES.n_fft}},
    )
    return model, directory, load_model(directory)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Clips at other rates and layouts: 8 kHz mono WAV, 44.1 kHz stereo FLAC, 16 kHz WAV longer than a clip,
    16 kHz WAV shorter than a clip."""
    folder = tmp_path_factory.mktemp("audio")
    return {
        "8k": builders.write(folder / "8k.wav", builders.tone(0.7, 8000, 300.0, seed=1), 8000),
        "44k_stereo": builders.write(
            folder / "44k.flac", builders.tone(0.4, 44100, 900.0, seed=2, channels=2), 44100, format="FLAC"
        ),
        "long": builders.write(folder / "long.wav", builders.tone(1.3, RATE, 500.0, seed=3), RATE, subtype="FLOAT"),
        "short": builders.write(folder / "short.wav", builders.tone(0.2, RATE, 700.0, seed=4), RATE),
    }


def _evaluation_probabilities(model, paths, tmp_path) -> np.ndarray:
    """The run's evaluation path: manifest -> decode cache -> ClipSource -> evaluation_dataset -> the Keras model."""
    frame = pd.DataFrame(
        {
            "clip_id": [f"c{i}" for i in range(len(paths))],
            "path": [str(p) for p in paths],
            "label": ["low", "high"] * (len(paths) // 2) + ["low"] * (len(paths) % 2),
            "speaker": [f"s{i}" for i in range(len(paths))],
            "split": "test",
        }
    )
    decoded = load_waveforms(
        Manifest(frame, name="predict-vs-eval"), RATE, tmp_path / "cache", min_samples=FEATURES.n_fft, progress=False
    )
    predict = keras_predictor(model)
    source = ClipSource(decoded.store, decoded.manifest)
    return np.concatenate([predict(waveforms) for waveforms, _ in evaluation_dataset(source, CLIP, batch_size=3)])


def test_predict_gives_the_evaluation_probabilities_on_files_at_any_rate(exported, files, tmp_path):
    model, _, classifier = exported
    paths = list(files.values())
    evaluated = _evaluation_probabilities(model, paths, tmp_path)
    from_files = np.stack([classifier.predict_file(p, mode="center").probabilities for p in paths])
    np.testing.assert_allclose(from_files, evaluated, atol=1e-6, rtol=0)
    # The same audio handed over as arrays at their own rate and layout ([samples, channels] for the stereo file).
    arrays = [sf.read(str(p), dtype="float32") for p in paths]
    from_arrays = np.stack([classifier.predict_waveform(x, rate, mode="center").probabilities for x, rate in arrays])
    np.testing.assert_allclose(from_arrays, evaluated, atol=1e-6, rtol=0)
    assert [classifier.predict_file(p, mode="center").label for p in paths] == [
        classifier.class_names[i] for i in evaluated.argmax(axis=1)
    ]


def test_file_level_answer_is_the_mean_of_the_windows(exported, files):
    model, _, classifier = exported
    prediction = classifier.predict_file(files["long"])
    waveform = classifier.read(files["long"])
    assert len(waveform) == int(1.3 * RATE)
    windows = frame_windows(tf.constant(waveform), CLIP).numpy()
    expected = model(windows, training=False).numpy()
    table = prediction.windows
    np.testing.assert_allclose(table.probabilities, expected, atol=1e-6)
    np.testing.assert_allclose(prediction.probabilities, expected.mean(axis=0), atol=1e-6)
    assert prediction.label == classifier.class_names[int(expected.mean(axis=0).argmax())]
    np.testing.assert_allclose(table.start_s, [0.0, 0.25, 0.5, 0.75, 0.8])  # the last window ends at the end
    np.testing.assert_allclose(table.end_s, [0.5, 0.75, 1.0, 1.25, 1.3])
    assert prediction.mode == "windows" and prediction.duration_s == pytest.approx(1.3)
    assert prediction.source == str(files["long"])
    assert table.labels == [classifier.class_names[i] for i in expected.argmax(axis=1)]


def test_a_clip_shorter_than_the_window_is_one_centre_padded_window(exported, files):
    _, _, classifier = exported
    windows = classifier.predict_file(files["short"])
    center = classifier.predict_file(files["short"], mode="center")
    np.testing.assert_array_equal(windows.probabilities, center.probabilities)
    assert len(windows.windows) == 1
    assert windows.windows.start_s.tolist() == [0.0] and windows.windows.end_s.tolist() == [pytest.approx(0.2)]


def test_predict_windows_with_other_windows_and_smoothing(exported, files):
    _, _, classifier = exported
    table = classifier.predict_windows(files["long"], window_seconds=0.25, hop_seconds=0.1)
    assert len(table) == 12 and table.start_s[-1] == pytest.approx(1.05) and table.end_s[-1] == pytest.approx(1.3)
    x, rate = sf.read(str(files["long"]), dtype="float32")
    np.testing.assert_allclose(
        classifier.predict_windows(x, rate, 0.25, 0.1).probabilities, table.probabilities, atol=1e-6
    )
    smoothed = classifier.predict_windows(files["long"], window_seconds=0.25, hop_seconds=0.1, smooth=5)
    np.testing.assert_array_equal(smoothed.probabilities, table.probabilities)  # only the labels are smoothed
    np.testing.assert_array_equal(smoothed.label_ids, smooth_labels(table.label_ids, 5, 2))
    assert smoothed.smooth == 5
    rows = table.rows()
    assert list(rows[0]) == ["start_s", "end_s", "p_low", "p_high", "label"]
    assert rows[0]["p_low"] + rows[0]["p_high"] == pytest.approx(1.0, abs=1e-6)


def test_median_smoothing_of_labels():
    rng = np.random.default_rng(0)
    binary = rng.integers(0, 2, 50)
    for width in (1, 3, 5, 9):
        np.testing.assert_array_equal(
            smooth_labels(binary, width, 2), scipy.ndimage.median_filter(binary, size=width, mode="nearest")
        )
    # Three classes: a class holding the majority of the neighbourhood wins, else the label is kept.
    assert smooth_labels(np.array([0, 1, 0, 2, 2, 1, 2]), 3, 3).tolist() == [0, 0, 0, 2, 2, 2, 2]
    assert smooth_labels(np.array([0, 1, 2]), 3, 3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="odd number of windows"):
        smooth_labels(binary, 4, 2)


def test_metadata_comes_from_the_savedmodel(exported, tmp_path):
    _, directory, classifier = exported
    assert classifier.class_names == ("low", "high") and classifier.sample_rate == RATE
    assert classifier.clip_samples == CLIP and classifier.min_samples == FEATURES.n_fft
    assert classifier.metadata["export_version"] == 2
    # The SavedModel folder alone, without metadata.json beside it, is a complete export.
    alone = shutil.copytree(directory / "saved_model", tmp_path / "alone")
    assert load_model(alone).class_names == ("low", "high")
    assert keras_audio.load_model is load_model


def test_from_keras_answers_like_the_export(exported, files):
    model, _, classifier = exported
    in_memory = Classifier.from_keras(model, class_names=["low", "high"], sample_rate=RATE, clip_samples=CLIP)
    np.testing.assert_allclose(
        in_memory.predict_file(files["8k"]).probabilities, classifier.predict_file(files["8k"]).probabilities, atol=1e-6
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c.predict_waveform(np.zeros(0), RATE), "empty"),
        (lambda c: c.predict_waveform(np.full(100, 0.1), RATE), "too short: 100 samples"),
        (lambda c: c.predict_waveform(np.full(1000, np.nan), RATE), "1000 NaN or infinite"),
        (lambda c: c.predict_waveform(np.full(1000, 3e4), RATE), "magnitude 3e\\+04 exceeds"),
        (lambda c: c.predict_waveform(np.zeros((2, 9000)), RATE), "look like \\[channels, samples\\]"),
        (
            lambda c: c.predict_waveform(np.zeros((1, 2, 9000)), RATE),
            "must be \\[samples\\] or \\[samples, channels\\]",
        ),
        (lambda c: c.predict_waveform(np.zeros(9000), 0), "sample_rate must be a positive int"),
        (
            lambda c: c.predict_waveform(np.full(2000, 0.1), 100),
            "sample_rate 100 Hz is implausible \\(below 1000 Hz\\)",
        ),
        (lambda c: c.predict_waveform(np.zeros(9000), RATE, mode="middle"), "mode must be one of"),
        (lambda c: c.predict_waveform(np.zeros(9000), RATE, mode="center", smooth=3), "apply to mode 'windows'"),
        (lambda c: c.predict_waveform(np.zeros(9000), RATE, hop_seconds=0.6), "exceeds the window"),
        (lambda c: c.predict_waveform(np.zeros(9000), RATE, window_seconds=0.01), "fewer than one analysis window"),
        (lambda c: c.predict_waveform(np.zeros(9000), RATE, smooth=2), "odd number of windows"),
        (lambda c: c.predict_windows(np.zeros(9000)), "needs its sample_rate"),
        (lambda c: c.predict_windows("clip.wav", RATE), "sample_rate is read from the file"),
    ],
)
def test_refuses_bad_input_with_one_clear_message(exported, call, message):
    with pytest.raises(ValueError, match=message):
        call(exported[2])


def test_bad_files_name_the_file(exported, tmp_path):
    _, _, classifier = exported
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        classifier.predict_file(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="nowhere: no such file or folder"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="not an export folder"):
        load_model(tmp_path)


@pytest.mark.slow
def test_loads_a_scikit_learn_export(files, tmp_path):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((6, CLIP))).astype(np.float32)
    x[::2] += 0.2 * np.sin(2 * np.pi * 300 * np.arange(CLIP) / RATE).astype(np.float32)
    model = build_model("sklearn_logreg", 2, RATE, FEATURES, n_mfcc=8)
    model.fit(model.extract(x), np.arange(6) % 2)
    directory, _ = export_sklearn(
        model,
        tmp_path / "sklearn",
        x[:2],
        class_names=["low", "high"],
        sample_rate=RATE,
        clip_samples=CLIP,
        extra_metadata={"features": {"n_fft": FEATURES.n_fft}},
    )
    classifier = load_model(directory)
    assert classifier.class_names == ("low", "high") and classifier.min_samples == FEATURES.n_fft
    clip = classifier.read(files["long"])[(20800 - CLIP) // 2 :][:CLIP]
    np.testing.assert_allclose(
        classifier.predict_file(files["long"], mode="center").probabilities,
        model.predict_proba(clip[None])[0],
        atol=1e-6,
    )


@pytest.mark.slow
def test_loads_an_export_from_before_the_embedded_metadata(exported, files, tmp_path):
    """Version-1 exports: serving_default only, the metadata in metadata.json beside it."""
    model, _, classifier = exported
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda waveform: {"probabilities": model(waveform, training=False)},
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")],
    )
    archive.write_out(str(tmp_path / "old" / "saved_model"), verbose=False)
    (tmp_path / "old" / "metadata.json").write_text(
        json.dumps(
            {"class_names": ["low", "high"], "sample_rate": RATE, "clip_samples": CLIP, "features": {"n_fft": 512}}
        )
    )
    old = load_model(tmp_path / "old")
    assert old.min_samples == 512 and old.class_names == classifier.class_names
    np.testing.assert_allclose(
        old.predict_file(files["44k_stereo"]).probabilities,
        classifier.predict_file(files["44k_stereo"]).probabilities,
        atol=1e-6,
    )
