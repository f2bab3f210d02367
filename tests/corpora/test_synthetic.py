"""The generated default corpus, on a tiny version: determinism, splits, layout, atomic writes, noise."""

import json
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from keras_audio.corpora import load_corpus, synthetic, voice
from keras_audio.manifest import Manifest

TINY = dict(num_speakers=8, utterances_per_speaker=2, progress=False, workers=1)


def audio_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.wav"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny") / "synthetic"
    return root, synthetic.load(root, **TINY)


def test_manifest_has_the_contract_columns_and_validates(corpus):
    root, manifest = corpus
    assert manifest.task == "gender" and manifest.classes == ("female", "male") and manifest.name == "synthetic"
    assert list(manifest.frame.columns) == ["clip_id", "path", "label", "speaker", "split", "group", "duration"]
    assert len(manifest) == 16 and manifest.frame["speaker"].nunique() == 8
    assert (manifest.frame["group"] == manifest.frame["label"]).all()
    assert manifest.frame["clip_id"].tolist()[:2] == ["spk000_00", "spk000_01"]
    assert (manifest.frame["label"] == "female").sum() == 8  # balanced
    assert Path(manifest.root) == root.resolve()
    manifest.validate()


def test_clips_are_16_khz_pcm_of_1_to_5_seconds(corpus):
    _, manifest = corpus
    for path, clip_length in zip(manifest.paths(), manifest.frame["duration"]):
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert info.frames / 16000 == pytest.approx(clip_length)
        assert 1.0 <= clip_length <= 5.0


def test_splits_are_speaker_disjoint_stratified_and_recorded(corpus):
    root, manifest = corpus
    manifest.check_disjoint("speaker")
    for split in ("train", "validation", "test"):
        assert set(manifest.subset(split).frame["label"]) == {"female", "male"}
    speakers = pd.read_csv(root / "speakers.csv").set_index("speaker")
    per_clip = manifest.frame.groupby("speaker")["split"].first()
    assert (speakers.loc[per_clip.index, "split"] == per_clip).all()
    assert (speakers.loc[manifest.frame["speaker"], "sex"].to_numpy() == manifest.frame["label"].to_numpy()).all()


def test_manifest_round_trips_through_csv(corpus):
    root, manifest = corpus
    again = Manifest.from_csv(root / "manifest.csv")
    assert again.classes == manifest.classes and again.task == "gender"
    pd.testing.assert_frame_equal(again.frame, manifest.frame)
    again.validate()


@pytest.mark.slow
def test_same_seed_gives_byte_identical_audio_and_another_seed_does_not(corpus, tmp_path):
    root, _ = corpus
    synthetic.load(tmp_path / "again", **TINY)
    synthetic.load(tmp_path / "other", corpus_seed=1, **TINY)
    reference = audio_bytes(root)
    assert audio_bytes(tmp_path / "again") == reference
    other = audio_bytes(tmp_path / "other")
    assert other.keys() == reference.keys()
    assert all(other[name] != reference[name] for name in reference)


@pytest.mark.slow
def test_worker_processes_do_not_change_the_audio(corpus, tmp_path):
    root, _ = corpus
    synthetic.load(tmp_path / "parallel", **{**TINY, "workers": 2})
    assert audio_bytes(tmp_path / "parallel") == audio_bytes(root)


def test_the_split_is_fixed_by_the_corpus_not_the_run_seed(corpus):
    root, manifest = corpus
    other_run = synthetic.load(root, seed=123, **TINY)
    pd.testing.assert_frame_equal(other_run.frame, manifest.frame)


def test_a_complete_corpus_is_reused_without_regenerating(corpus, monkeypatch):
    root, manifest = corpus
    monkeypatch.setattr(synthetic, "generate", lambda *a, **k: pytest.fail("regenerated a complete corpus"))
    pd.testing.assert_frame_equal(synthetic.load(root, **TINY).frame, manifest.frame)
    pd.testing.assert_frame_equal(load_corpus("synthetic", root, **TINY).frame, manifest.frame)


@pytest.mark.slow
def test_an_interrupted_generation_leaves_nothing_that_loads(tmp_path, monkeypatch):
    root = tmp_path / "synthetic"
    real_job = synthetic._speaker_job

    def failing_job(settings, index, sex, folder):
        if index == 5:
            raise KeyboardInterrupt("simulated interruption")  # not an Exception: like Ctrl-C
        return real_job(settings, index, sex, folder)

    monkeypatch.setattr(synthetic, "_speaker_job", failing_job)
    with pytest.raises(KeyboardInterrupt):
        synthetic.load(root, **TINY)
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []  # the partial folder was removed

    monkeypatch.setattr(synthetic, "_speaker_job", real_job)
    assert len(synthetic.load(root, **TINY)) == 16


@pytest.mark.slow
def test_a_leftover_partial_folder_is_ignored(tmp_path):
    leftover = tmp_path / ".synthetic.partial-999-deadbeef"
    (leftover / "wav").mkdir(parents=True)
    (leftover / "manifest.csv").write_text("clip_id,path,label,speaker,split\n")
    manifest = synthetic.load(tmp_path / "synthetic", **TINY)
    assert len(manifest) == 16 and Path(manifest.root) == (tmp_path / "synthetic").resolve()


@pytest.mark.slow
def test_other_settings_are_refused_unless_overwrite(corpus, tmp_path):
    root = tmp_path / "synthetic"
    synthetic.load(root, **TINY)
    with pytest.raises(ValueError, match="num_speakers"):
        synthetic.load(root, **{**TINY, "num_speakers": 10})
    manifest = synthetic.load(root, **{**TINY, "num_speakers": 10}, overwrite=True)
    assert manifest.frame["speaker"].nunique() == 10
    assert json.loads((root / "corpus.json").read_text())["settings"]["num_speakers"] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]  # the old corpus is gone


@pytest.mark.slow
def test_a_corpus_from_an_older_format_version_is_regenerated(tmp_path):
    root = tmp_path / "synthetic"
    synthetic.load(root, **TINY)
    record = json.loads((root / "corpus.json").read_text())
    record["settings"]["format_version"] = synthetic.FORMAT_VERSION - 1
    (root / "corpus.json").write_text(json.dumps(record))
    (root / "wav" / "spk000" / "spk000_00.wav").unlink()  # stale content must not survive
    assert len(synthetic.load(root, **TINY).validate()) == 16
    assert synthetic.stored_settings(root)["format_version"] == synthetic.FORMAT_VERSION


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("not a corpus")
    with pytest.raises(ValueError, match="corpus.json"):
        synthetic.load(tmp_path, **TINY)
    assert (tmp_path / "mine.txt").read_text() == "not a corpus"


@pytest.mark.slow
def test_an_empty_folder_is_filled(tmp_path):
    assert len(synthetic.load(tmp_path, **TINY)) == 16


@pytest.mark.parametrize(
    "options, message",
    [
        ({"task": "digit"}, "task 'digit'"),
        ({"num_speakers": 3}, "num_speakers"),
        ({"utterances_per_speaker": 0}, "utterances_per_speaker"),
        ({"corpus_seed": -1}, "corpus_seed"),
        ({"num_speakers": "40"}, "num_speakers"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        synthetic.load(tmp_path / "x", **{**TINY, **options})
    assert not (tmp_path / "x").exists()


def test_noise_recordings_exist_and_are_distinct_real_sound(corpus):
    root, _ = corpus
    waveforms = {}
    for name in synthetic.NOISE_NAMES:
        waveform, rate = sf.read(str(synthetic.noise_dir(root) / f"{name}.wav"), dtype="float32")
        assert rate == 16000 and len(waveform) == pytest.approx(synthetic.NOISE_SECONDS * rate)
        assert np.all(np.isfinite(waveform))
        assert np.sqrt(np.mean(waveform**2)) == pytest.approx(10 ** (synthetic.NOISE_RMS_DBFS / 20), rel=0.1)
        waveforms[name] = waveform
    spectra = {name: np.abs(np.fft.rfft(w[:16000])) for name, w in waveforms.items()}
    names = list(spectra)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.corrcoef(spectra[a], spectra[b])[0, 1] < 0.9, (a, b)


def test_each_speaker_keeps_its_pitch_across_utterances(corpus):
    root, manifest = corpus
    traits = pd.read_csv(root / "speakers.csv").set_index("speaker")
    for speaker, rows in manifest.frame.groupby("speaker"):
        pitches = []
        for path in rows["path"]:
            waveform, rate = sf.read(str(root / path), dtype="float32")
            f0 = librosa.yin(waveform, fmin=50, fmax=500, sr=rate, frame_length=1024, hop_length=256)
            rms = librosa.feature.rms(y=waveform, frame_length=1024, hop_length=256)[0]
            pitches.append(np.median(f0[rms > 0.3 * rms.max()]))
        semitones = 12 * np.log2(np.array(pitches) / traits.loc[speaker, "f0_hz"])
        assert np.all(np.abs(semitones) < 3.5), (speaker, pitches, traits.loc[speaker, "f0_hz"])


def test_population_differs_by_sex_on_average_but_overlaps():
    rng = np.random.default_rng(0)
    female = [synthetic.sample_traits("female", rng) for _ in range(400)]
    male = [synthetic.sample_traits("male", rng) for _ in range(400)]
    for field in ("f0_hz", "formant_scale", "breathiness"):
        f = np.array([getattr(t, field) for t in female])
        m = np.array([getattr(t, field) for t in male])
        assert np.median(f) > np.median(m)
        assert np.percentile(m, 99) > np.percentile(f, 1), field  # overlap
    with pytest.raises(ValueError, match="sex"):
        synthetic.sample_traits("other", rng)


def test_speaker_traits_do_not_depend_on_generation_order():
    settings = synthetic.CorpusSettings()
    sexes = synthetic.speaker_sexes(settings)
    later = synthetic.speaker_traits(settings, 7, sexes[7])
    synthetic.speaker_traits(settings, 3, sexes[3])
    assert synthetic.speaker_traits(settings, 7, sexes[7]) == later
    assert isinstance(later, voice.SpeakerTraits) and later.sex == sexes[7]
    assert sexes.count("female") == settings.num_speakers // 2
