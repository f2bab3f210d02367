"""TIMIT recipe: LDC layout with SPHERE audio, SPKRINFO.TXT genders, whole-speaker splits, messy trees."""

import os

import numpy as np
import pytest
import soundfile as sf

from keras_audio.corpora import timit
from keras_audio.corpora._common import CorpusWarning
from tests.corpora import builders


def _speakers(manifest, split):
    return set(manifest.frame.loc[manifest.frame["split"] == split, "speaker"])


def test_sphere_fixture_is_real_nist_sphere(tmp_path):
    truth = builders.timit(tmp_path)
    wav = tmp_path / "TRAIN" / "DR1" / truth["train"][0] / "SA1.WAV"
    assert wav.read_bytes().startswith(b"NIST_1A\n   1024\n")
    assert sf.info(str(wav)).format == "NIST"


def test_ldc_layout_runs_through_the_pipeline(tmp_path):
    truth = builders.timit(tmp_path / "TIMIT")
    manifest, decoded = builders.through_pipeline("timit", tmp_path / "TIMIT", tmp_path / "cache")
    frame = manifest.frame
    assert len(frame) == truth["clips"] == 48
    assert manifest.task == "gender" and manifest.classes == ("female", "male")
    assert _speakers(manifest, "test") == set(truth["test"])
    assert _speakers(manifest, "train") | _speakers(manifest, "validation") == set(truth["train"])
    assert (frame["label"] == frame["speaker"].str[0].map({"F": "female", "M": "male"})).all()
    assert "timit/TRAIN/DR1/" + truth["train"][0] + "/SA1" in manifest.clip_ids
    # Validation: whole speakers, stratified by sex and region: one of the two speakers of each stratum.
    validation = frame[frame["split"] == "validation"].drop_duplicates("speaker")
    assert sorted(validation["group"]) == ["female/DR1", "female/DR2", "male/DR1", "male/DR2"]
    # Decoded from SPHERE: every clip, at the length the headers declare.
    assert len(decoded.store) == 48 and not decoded.bad_files
    for i, path in enumerate(manifest.paths()[:6]):
        assert decoded.store.lengths[i] == sf.info(str(path)).frames


def test_splits_are_seeded(tmp_path):
    builders.timit(tmp_path, speakers_per_stratum=4)
    first = timit.load(tmp_path, seed=1)
    assert first.frame["split"].equals(timit.load(tmp_path, seed=1).frame["split"])
    assert not first.frame["split"].equals(timit.load(tmp_path, seed=2).frame["split"])


def test_without_test_folder_lower_case_and_stray_files(tmp_path):
    truth = builders.timit(tmp_path, with_test=False, lower=True, stray=True, speakers_per_stratum=3)
    with pytest.warns(CorpusWarning) as caught:
        manifest, decoded = builders.through_pipeline("timit", tmp_path, tmp_path / "cache", seed=5)
    messages = " ".join(str(w.message) for w in caught)
    assert "no TEST/" in messages
    for stray in ("README.TXT", "notes.txt", "sa1.wav.wav", "backup", ".DS_Store"):
        assert stray in messages
    frame = manifest.frame
    assert len(frame) == truth["clips"] == len(decoded.store)
    assert {s.upper() for s in truth["train"]} == set(frame["speaker"])
    # Each (sex, region) stratum of three speakers gives one speaker to each split.
    per_speaker = frame.drop_duplicates("speaker")
    assert (per_speaker.groupby(["split", "group"]).size() == 1).all()
    assert len(per_speaker.groupby(["split", "group"])) == 12
    assert frame["path"].str.startswith("train/").all()  # the files as they are on disk
    assert "timit/TRAIN/DR1/" in frame["clip_id"].iloc[0]  # ids in the canonical spelling


def test_stray_files_with_test_folder(tmp_path):
    builders.timit(tmp_path, stray=True)
    with pytest.warns(CorpusWarning, match="TEST/DR1/tmp"):
        manifest = timit.load(tmp_path)
    assert len(manifest) == 48


def test_sex_letter_and_spkrinfo_must_agree(tmp_path):
    truth = builders.timit(tmp_path)
    wrong = truth["train"][0]
    builders.timit(tmp_path / "bad", spkrinfo_sex={wrong[1:]: "M" if wrong[0] == "F" else "F"})
    with pytest.raises(ValueError, match=f"speaker {wrong} .*folder letter says {wrong[0]}"):
        timit.load(tmp_path / "bad")


def test_speaker_missing_from_spkrinfo_is_named(tmp_path):
    truth = builders.timit(tmp_path)
    missing = truth["test"][0]
    spkrinfo = truth["spkrinfo"]
    spkrinfo.write_text(
        "".join(line + "\n" for line in spkrinfo.read_text().splitlines() if not line.strip().startswith(missing[1:]))
    )
    with pytest.raises(ValueError, match=f"{missing}.*not in SPKRINFO"):
        timit.load(tmp_path)


def test_spkrinfo_is_required_and_can_be_given(tmp_path):
    truth = builders.timit(tmp_path)
    moved = tmp_path / "spk.txt"
    os.replace(truth["spkrinfo"], moved)
    with pytest.raises(ValueError, match="SPKRINFO.TXT"):
        timit.load(tmp_path)
    assert len(timit.load(tmp_path, spkrinfo=moved)) == 48


def test_dialect_task_and_sa_sentences(tmp_path):
    builders.timit(tmp_path)
    dialect = timit.load(tmp_path, task="dialect")
    assert dialect.classes == ("DR1", "DR2")
    assert (dialect.frame["label"] == dialect.frame["clip_id"].str.split("/").str[2]).all()
    without_sa = timit.load(tmp_path, include_sa=False)
    assert len(without_sa) == 24 and not without_sa.frame["sentence"].str.startswith("SA").any()


def test_timit_utils_and_own_scan_agree_and_symlink_failure_falls_back(tmp_path, monkeypatch):
    builders.timit(tmp_path, stray=True)
    with pytest.warns(CorpusWarning) as caught:
        through_timit_utils = timit.load(tmp_path)
        own_scan = timit.load(tmp_path, use_timit_utils=False)
    assert not [w for w in caught if "own scan" in str(w.message)]  # timit-utils did the walk
    assert through_timit_utils.frame.sort_values("clip_id", ignore_index=True).equals(
        own_scan.frame.sort_values("clip_id", ignore_index=True)
    )

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(timit.os, "symlink", no_symlinks)
    with pytest.warns(CorpusWarning) as caught:
        fallback = timit.load(tmp_path)
    assert [w for w in caught if "symlink view" in str(w.message) and "own scan" in str(w.message)]
    assert set(fallback.clip_ids) == set(own_scan.clip_ids)


def test_no_timit_layout_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no TRAIN/ folder"):
        timit.load(tmp_path)
    with pytest.raises(ValueError, match="unknown task"):
        timit.load(tmp_path, task="speaker")


def test_decoded_audio_matches_the_sphere_samples(tmp_path):
    builders.timit(tmp_path)
    manifest, decoded = builders.through_pipeline("timit", tmp_path, tmp_path / "cache")
    raw = np.fromfile(manifest.paths()[0], dtype="<i2", offset=1024) / 32768.0
    np.testing.assert_allclose(decoded.store.waveform(0), raw, atol=1e-6)


def test_kaggle_style_copy_data_folder_and_flat_doc_files(tmp_path):
    truth = builders.timit(tmp_path / "data", stray=True)
    os.replace(truth["spkrinfo"], tmp_path / "SPKRINFO.TXT")
    with pytest.warns(CorpusWarning, match="SA1.WAV.wav"):
        manifest = timit.load(tmp_path)
    assert len(manifest) == 48
    assert manifest.root == str((tmp_path / "data").resolve())
