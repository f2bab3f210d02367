"""Published spoiled test set: export, regenerate sample for sample, read, and score predictions made outside."""

import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import tensorflow as tf

from keras_audio.cache import WaveformStore
from keras_audio.corruptions import registry
from keras_audio.corruptions.base import Corruption
from keras_audio.export import export_model
from keras_audio.grid import evaluate_grid, grid
from keras_audio.loader import load_predictor
from keras_audio.manifest import Manifest
from keras_audio.models import build_model
from keras_audio.pipeline import ClipSource, evaluation_dataset
from keras_audio.suite import cli
from keras_audio.suite.testset import (
    ANSWER_COLUMNS,
    PublishedTestSet,
    TestSetError,
    TestSetMismatchError,
    export_testset,
    file_stems,
    load_testset,
    predict_testset,
    read_conditions,
    score_predictions,
    verify_testset,
)

pytestmark = pytest.mark.slow  # publishes and scores a whole spoiled test set

SR = 16000
CLIP_SAMPLES = 4000
SEED = 7
SEVERITIES = (1, 5)
BATCH = 4


def _store_and_manifest():
    """Eight tones (low or high), some shorter and some longer than the clip; clip 3 is loud (peak ~0.95)."""
    rng = np.random.default_rng(0)
    lengths = [3000, 5200, 4000, 6100, 2500, 4500, 3900, 7000]
    waveforms, labels = [], []
    for i, length in enumerate(lengths):
        label = "high" if i % 2 else "low"
        f0 = 440.0 if label == "high" else 110.0
        t = np.arange(length) / SR
        amplitude = 0.9 if i == 3 else rng.uniform(0.05, 0.3)
        wave = amplitude * np.sin(2 * np.pi * f0 * t) + 0.05 * amplitude * rng.standard_normal(length)
        waveforms.append(wave.astype(np.float32))
        labels.append(label)
    clip_ids = [f"unit/s{i // 2}/utt{i}" for i in range(len(lengths))]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    store = WaveformStore(np.concatenate(waveforms), offsets, np.array(lengths), clip_ids, SR)
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": labels,
            "speaker": [f"s{i // 2}" for i in range(len(lengths))],
            "split": "test",
        }
    )
    return store, Manifest(frame, name="unit", task="pitch")


def _suite():
    return registry.build_suite(["white_noise", "gain"], SR)


@pytest.fixture(scope="module")
def data():
    return _store_and_manifest()


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    """The same test set written as 24-bit FLAC and as float WAV."""
    store, manifest = data
    root = tmp_path_factory.mktemp("testsets")
    return {
        fmt: export_testset(
            manifest,
            store,
            _suite(),
            SEVERITIES,
            seed=SEED,
            sample_rate=SR,
            clip_samples=CLIP_SAMPLES,
            out_dir=root / fmt,
            progress=False,
            audio_format=fmt,
            recipe={"command": "test"},
        )
        for fmt in ("flac", "wav")
    }


@pytest.fixture(scope="module")
def model_dir(data, tmp_path_factory):
    """A tiny Conv1D fitted for a few steps on the clean clips, so that its predictions differ across clips."""
    store, manifest = data
    tf.keras.utils.set_random_seed(1)
    model = build_model("conv1d", 2, SR, filters=(8,))
    clean = np.concatenate([w.numpy() for w, _ in evaluation_dataset(ClipSource(store, manifest), CLIP_SAMPLES, 8)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(clean, manifest.label_ids, epochs=5, batch_size=8, verbose=0)
    return export_model(
        model,
        tmp_path_factory.mktemp("model") / "export",
        class_names=["high", "low"],
        sample_rate=SR,
        clip_samples=CLIP_SAMPLES,
    )


def test_layout_manifest_and_hashes(exported, data):
    _, manifest = data
    directory = exported["flac"]
    testset = load_testset(directory)
    assert isinstance(testset, PublishedTestSet)
    assert testset.conditions == [("clean", 0)] + [(c, s) for c in ("white_noise", "gain") for s in SEVERITIES]
    assert len(testset.frame) == 5 * 8 and testset.clip_ids == manifest.clip_ids
    assert testset.classes == ("high", "low") and list(testset.y_true) == list(manifest.label_ids)
    assert not list(directory.parent.glob(".*partial*"))  # the temporary folder was renamed away
    for row in testset.frame.itertuples():
        path = directory / row.path
        assert path.suffix == ".flac" and path.parent == directory / "audio" / row.condition / str(row.severity)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        info = sf.info(str(path))
        assert (info.samplerate, info.frames, info.channels, info.subtype) == (SR, CLIP_SAMPLES, 1, "PCM_24")
        assert row.seed == SEED and row.samples == CLIP_SAMPLES and row.sample_rate == SR
    readme = (directory / "README.md").read_text()
    assert "seed: 7" in readme and "4000 samples" in readme and "keras-audio score" in readme
    assert "| gain |" in readme and "`test`" in readme
    # Gain up and noise on loud clips exceed full scale: those files carry a power-of-two scale, which the
    # reader applies (the clip's peak lies between half the scale and the scale).
    assert set(testset.frame["scale"]) > {1.0} and set(testset.frame["scale"]) <= {1.0, 2.0, 4.0, 8.0, 16.0}
    scaled = testset.frame[testset.frame["scale"] > 1].iloc[0]
    clips = next(
        c for c in read_conditions(testset) if (c.condition, c.severity) == (scaled.condition, scaled.severity)
    )
    peak = np.abs(clips.waveforms[clips.clips.index(scaled["clip"])]).max()
    assert scaled.scale / 2 < peak <= scaled.scale


def test_wav_files_hold_exactly_the_clips_evaluation_feeds_the_models(exported, data, direct):
    _, manifest = data
    _, fed = direct  # what `evaluate_grid` gave the model, condition by condition
    conditions = grid(_suite(), SEVERITIES)
    read = list(read_conditions(exported["wav"], check_hashes=True))
    assert [(c.condition, c.severity) for c in read] == [(c.name, c.severity) for c in conditions]
    assert fed.shape == (len(conditions), len(manifest), CLIP_SAMPLES)
    for condition, clips, expected in zip(conditions, read, fed, strict=True):
        np.testing.assert_array_equal(clips.waveforms, expected, err_msg=f"{condition.name} {condition.severity}")
        assert clips.clips == manifest.clip_ids
    assert np.abs(read[[c.name for c in conditions].index("gain") + 1].waveforms).max() > 1.0


def test_a_published_short_clip_is_spoiled_at_its_own_length_then_padded(exported, data):
    store, manifest = data
    noise = next(c for c in read_conditions(exported["wav"]) if (c.condition, c.severity) == ("white_noise", 5))
    short = [i for i in range(len(manifest)) if store.lengths[i] < CLIP_SAMPLES]
    assert short
    for i in short:
        length, waveform = int(store.lengths[i]), noise.waveforms[noise.clips.index(manifest.clip_ids[i])]
        before = (CLIP_SAMPLES - length) // 2
        assert not np.any(waveform[:before]) and not np.any(waveform[before + length :]), manifest.clip_ids[i]
        assert np.all(waveform[before : before + length] != 0)


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_regenerated_test_set_matches_the_files_sample_for_sample(exported, data, fmt):
    store, _ = data
    result = verify_testset(exported[fmt], store, _suite(), batch_size=3)
    assert result.files == 5 * 8
    if fmt == "wav":
        assert result.max_quantization_error == 0.0
    else:  # 24-bit rounding: nonzero, and at most half a step at the largest scale used
        scales = load_testset(exported[fmt]).frame["scale"]
        assert 0.0 < result.max_quantization_error <= scales.max() / 2**24


def test_export_is_byte_reproducible(exported, data, tmp_path):
    store, manifest = data
    again = export_testset(
        manifest,
        store,
        _suite(),
        SEVERITIES,
        seed=SEED,
        sample_rate=SR,
        clip_samples=CLIP_SAMPLES,
        out_dir=tmp_path / "again",
        progress=False,
        recipe={"command": "test"},
    )
    assert (again / "manifest.csv").read_bytes() == (exported["flac"] / "manifest.csv").read_bytes()


def test_verify_names_a_file_that_differs(exported, data, tmp_path):
    store, _ = data
    copy = tmp_path / "copy"
    shutil.copytree(exported["flac"], copy)
    row = load_testset(copy).frame.iloc[20]
    ints, rate = sf.read(str(copy / row.path), dtype="int32")
    ints[100] += 1 << 8  # one sample one 24-bit step off
    sf.write(str(copy / row.path), ints, rate, subtype="PCM_24", format="FLAC")
    with pytest.raises(TestSetError, match="sha256 differs"):
        verify_testset(copy, store, _suite())
    with pytest.raises(TestSetMismatchError, match=f"1 of 40 file.*{row.path}"):
        verify_testset(copy, store, _suite(), check_hashes=False)
    other_seed = registry.build_suite(["white_noise"], SR)
    with pytest.raises(TestSetError, match=r"lacks corruption\(s\) \['gain'\]"):
        verify_testset(copy, store, other_seed)


@pytest.fixture(scope="module")
def direct(data, model_dir):
    """The exported model's predictions from `evaluate_grid` on the decoded store (the suite's own table), and
    the clips it fed the model, `[condition, clip, sample]`."""
    store, manifest = data
    predict = load_predictor(model_dir).predict
    fed = []

    def recording(waveforms):
        fed.append(np.asarray(waveforms).copy())
        return predict(waveforms)

    conditions = grid(_suite(), SEVERITIES)
    result = evaluate_grid(
        {"conv1d": recording}, ClipSource(store, manifest), conditions, CLIP_SAMPLES, BATCH, SEED, progress=False
    )
    return result, np.concatenate(fed).reshape(len(conditions), len(manifest), CLIP_SAMPLES)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_scores_from_the_exported_files_reproduce_evaluate_grid(exported, model_dir, direct, tmp_path, fmt):
    """The SavedModel fed from the files predicts every clip as evaluate_grid does on the store.

    Float WAV holds the evaluation clips bit for bit, so this holds by construction; 24-bit FLAC moves each
    sample by at most 2**-24 of its scale, too little to flip this model's predictions.
    """
    direct, _ = direct  # the grid's result
    loaded = load_predictor(model_dir)
    predict, metadata = loaded.predict, loaded.metadata
    frame = predict_testset(exported[fmt], predict, model="conv1d", batch_size=BATCH)
    assert list(frame.columns[1:5]) == list(ANSWER_COLUMNS)  # after `model`: the answer file's own columns
    frame.to_csv(tmp_path / "preds.csv", index=False)
    scored = score_predictions(exported[fmt], tmp_path / "preds.csv")
    assert scored.models == ("conv1d",) and metadata["class_names"] == list(scored.testset.classes)
    np.testing.assert_array_equal(scored.grid.y_true, direct.y_true)
    assert list(scored.grid.predictions) == list(direct.predictions)
    for key, y_pred in direct.predictions.items():
        np.testing.assert_array_equal(scored.grid.predictions[key], y_pred, err_msg=str(key))
    assert scored.rows() == [{"model": r.pop("key"), **r} for r in direct.rows()]
    for y_pred in direct.predictions.values():  # the model tells clips apart, so the comparison can fail
        assert 0 < y_pred.mean() < 1
    probabilities = scored.probabilities[("conv1d", "gain", 5)]
    assert probabilities.shape == (8, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_score_with_a_model_answers_the_files_through_the_loader(exported, model_dir, direct, tmp_path, capsys):
    """`keras-audio score --model EXPORT`: the export answers the set's files (read by the one loader), and the
    scores are those of the predictions CSV route, and so of evaluate_grid."""
    direct, _ = direct
    assert (
        cli.main(
            [
                "score",
                "--testset",
                str(exported["wav"]),
                "--model",
                str(model_dir),
                "--out",
                str(tmp_path),
                "--run-name",
                "scored",
            ]
        )
        == 0
    )
    rows = pd.read_csv(tmp_path / "scored" / "predictions.csv.gz")
    classes = list(load_testset(exported["wav"]).classes)
    for (_, corruption, severity), y_pred in direct.predictions.items():
        answered = rows[(rows["corruption"] == corruption) & (rows["severity"] == severity)]
        assert [classes.index(label) for label in answered["predicted_label"]] == list(y_pred)
    assert set(rows["model"]) == {model_dir.name}
    capsys.readouterr()
    assert cli.main(["score", "--testset", str(exported["wav"]), "--out", str(tmp_path)]) == 2
    assert "give the answers (--predictions CSV) or the models to answer (--model MODEL)" in capsys.readouterr().err


def test_score_takes_several_models_and_the_file_stem_as_default_name(exported, tmp_path):
    testset = load_testset(exported["flac"])
    frame = testset.frame[["clip", "condition", "severity"]].copy()
    truth = testset.frame["label"].to_numpy()
    frame["predicted"] = truth
    frame[["clip", "condition", "severity", "predicted"]].to_csv(tmp_path / "oracle.csv", index=False)
    scored = score_predictions(exported["flac"], tmp_path / "oracle.csv")
    assert scored.models == ("oracle",) and scored.probabilities == {}
    assert all(row["accuracy"] == 1.0 and row["n"] == 8 for row in scored.rows())

    wrong = frame.assign(predicted=np.where(truth == "low", "high", "low"), model="wrong")
    both = pd.concat([frame.assign(model="right"), wrong]).sample(frac=1.0, random_state=0)  # any row order
    both.to_csv(tmp_path / "both.csv", index=False)
    scored = score_predictions(exported["flac"], tmp_path / "both.csv")
    assert scored.models[0] in ("right", "wrong") and set(scored.models) == {"right", "wrong"}
    accuracy = {(r["model"], r["corruption"], r["severity"]): r["accuracy"] for r in scored.rows()}
    assert accuracy[("right", "clean", 0)] == 1.0 and accuracy[("wrong", "gain", 5)] == 0.0


def _predictions(exported):
    testset = load_testset(exported["flac"])
    frame = testset.frame[["clip", "condition", "severity", "label"]].rename(columns={"label": "predicted"})
    return frame.reset_index(drop=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(index=[0, 9]), r"2 file\(s\) not predicted, e.g. \(unit/s0/utt0, clean, 0\)"),
        (
            lambda f: pd.concat([f, f.iloc[[3]]]),
            r"1 file\(s\) predicted more than once, e.g. \(unit/s1/utt3, clean, 0\)",
        ),
        (
            lambda f: pd.concat([f, f.iloc[[0]].assign(severity=3)]),
            r"1 row\(s\) name no file of the test set, e.g. \(unit/s0/utt0, clean, 3\)",
        ),
        (lambda f: pd.concat([f, f.iloc[[0]].assign(clip="nobody")]), r"name no file.*\(nobody, clean, 0\)"),
        (lambda f: f.assign(predicted=f["predicted"].replace("low", "Low")), r"unknown label\(s\) 'Low'"),
        (lambda f: f.assign(severity=f["severity"].astype(str).replace("5", "five")), r"severity is not an integer"),
        (lambda f: f.drop(columns=["predicted"]), r"missing column\(s\) \['predicted'\]"),
        (lambda f: f.assign(prob_high=0.5), r"probability column\(s\) \['prob_low'\] missing"),
        (lambda f: f.assign(prob_cat=0.5), r"\['prob_cat'\] name no class"),
        (
            lambda f: f.assign(prob_high=-5, prob_low=7),
            r"line 2: prob_high is '-5'; probabilities must be numbers in \[0, 1",
        ),
        (lambda f: f.assign(prob_high=0.7, prob_low=0.7), r"line 2: the probabilities sum to 1.4, not 1"),
        (lambda f: f.assign(prob_high=0.5, prob_low=np.where(f.index == 7, "x", "0.5")), r"line 9: prob_low is 'x'"),
    ],
)
def test_score_refuses_bad_predictions_naming_the_file(exported, tmp_path, change, message):
    change(_predictions(exported)).to_csv(tmp_path / "preds.csv", index=False)
    with pytest.raises(TestSetError, match="preds.csv: .*" + message):
        score_predictions(exported["flac"], tmp_path / "preds.csv")


@pytest.mark.parametrize("edit", ["flip a label", "remove a clip"])
def test_a_manifest_edited_after_export_is_refused_by_verify_and_score(exported, data, tmp_path, edit):
    store, _ = data
    copy = tmp_path / "copy"
    shutil.copytree(exported["flac"], copy)
    frame = pd.read_csv(copy / "manifest.csv", dtype=str, keep_default_na=False)
    clip = frame["clip"].iloc[0]
    if edit == "flip a label":
        frame.loc[frame["clip"] == clip, "label"] = "high" if frame["label"].iloc[0] == "low" else "low"
    else:
        frame = frame[frame["clip"] != clip]
    frame.to_csv(copy / "manifest.csv", index=False, lineterminator="\n")
    predictions = frame[["clip", "condition", "severity"]].assign(predicted=_predictions(exported)["predicted"])
    predictions.dropna().to_csv(tmp_path / "preds.csv", index=False)
    for check in (
        lambda: score_predictions(copy, tmp_path / "preds.csv"),
        lambda: verify_testset(copy, store, _suite()),
    ):
        with pytest.raises(TestSetError, match="manifest.csv: its sha256 differs from the one testset.json pins"):
            check()


def test_score_keeps_the_submitted_probabilities_in_the_run_folder(exported, tmp_path, capsys):
    import gzip

    from keras_audio.suite import cli

    frame = _predictions(exported)
    frame["prob_high"] = np.where(frame["predicted"] == "high", 0.75, 0.125)
    frame["prob_low"] = 1 - frame["prob_high"]
    frame.to_csv(tmp_path / "preds.csv", index=False)
    assert (
        cli.main(
            [
                "score",
                "--testset",
                str(exported["flac"]),
                "--predictions",
                str(tmp_path / "preds.csv"),
                "--out",
                str(tmp_path / "results"),
                "--run-name",
                "scored",
            ]
        )
        == 0
    )
    with gzip.open(tmp_path / "results" / "scored" / "predictions.csv.gz", "rt") as handle:
        written = pd.read_csv(handle)
    assert len(written) == len(frame) and written[["p_high", "p_low"]].notna().all().all()
    merged = written.merge(
        frame, left_on=["clip_id", "corruption", "severity"], right_on=["clip", "condition", "severity"]
    )
    assert len(merged) == len(frame) and np.allclose(merged["p_high"], merged["prob_high"])


def test_exported_files_do_not_repeat_the_clips_audio_suffix(data, tmp_path):
    assert file_stems(["a.wav", "dir/b.FLAC", "c", "d.wav.x"]) == ["a", "dir__b", "c", "d.wav.x"]
    assert file_stems(["a.wav", "a.flac"])[0] != file_stems(["a.wav", "a.flac"])[1]  # still unique
    store, manifest = data
    ids = [f"{clip}.wav" for clip in manifest.clip_ids]
    renamed = WaveformStore(store.samples, store.offsets, store.lengths, ids, SR)
    out = export_testset(
        manifest.replace(manifest.frame.assign(clip_id=ids)),
        renamed,
        {},
        SEVERITIES,
        seed=SEED,
        sample_rate=SR,
        clip_samples=CLIP_SAMPLES,
        out_dir=tmp_path / "set",
        progress=False,
        audio_format="wav",
    )
    names = sorted(p.name for p in (out / "audio" / "clean" / "0").iterdir())
    assert names == sorted(f"unit__s{i // 2}__utt{i}.wav" for i in range(8))


def test_score_refuses_a_missing_file_and_a_folder_that_is_no_test_set(exported, tmp_path):
    with pytest.raises(TestSetError, match="nothing.csv: predictions file not found"):
        score_predictions(exported["flac"], tmp_path / "nothing.csv")
    with pytest.raises(TestSetError, match="testset.json is missing"):
        score_predictions(tmp_path, tmp_path / "nothing.csv")


class _Broken(Corruption):
    name = "broken"

    def apply(self, waveform, params):
        return waveform * float("nan")


def test_export_refuses_bad_arguments_and_leaves_nothing_behind(data, tmp_path):
    store, manifest = data
    arguments = dict(seed=SEED, sample_rate=SR, clip_samples=CLIP_SAMPLES, progress=False)
    with pytest.raises(ValueError, match="audio_format must be one of"):
        export_testset(manifest, store, _suite(), SEVERITIES, out_dir=tmp_path / "a", audio_format="mp3", **arguments)
    with pytest.raises(ValueError, match=r"severities must be distinct integers in 1..5, got \[0, 2\]"):
        export_testset(manifest, store, _suite(), [0, 2], out_dir=tmp_path / "a", **arguments)
    with pytest.raises(ValueError, match="store holds clips at 16000 Hz, but sample_rate is 8000"):
        export_testset(
            manifest, store, _suite(), SEVERITIES, out_dir=tmp_path / "a", **{**arguments, "sample_rate": 8000}
        )
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken exists"):
        export_testset(manifest, store, _suite(), SEVERITIES, out_dir=tmp_path / "taken", **arguments)
    with pytest.raises(ValueError, match=r"clip 'unit/s0/utt0', broken 1: the spoiled clip holds NaN"):
        export_testset(manifest, store, {"broken": _Broken(SR)}, [1], out_dir=tmp_path / "b", **arguments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no half-written set


def test_file_stems_are_safe_and_unique():
    stems = file_stems(["timit/train/dr1/fcjf0/sa1", "a b", "a_b", "A_B", "../up", "ok-1.x"])
    assert stems[0] == "timit__train__dr1__fcjf0__sa1" and stems[-1] == "ok-1.x"
    assert len({s.lower() for s in stems}) == len(stems)
    assert all("/" not in s and not s.startswith(".") for s in stems)
