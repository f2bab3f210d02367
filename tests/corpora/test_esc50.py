"""ESC-50 recipe: CSV + audio folder, fold protocol, source recordings never on two sides."""

import itertools

import pytest

from keras_audio.corpora import esc50
from keras_audio.corpora._common import CorpusWarning
from keras_audio.manifest import SplitLeakError
from tests.corpora import builders


def test_layout_runs_through_the_pipeline(tmp_path):
    truth = builders.esc50(tmp_path / "ESC-50-master")
    manifest, decoded = builders.through_pipeline("esc50", tmp_path, tmp_path / "cache")
    frame = manifest.frame
    assert len(frame) == truth["clips"] == 16
    assert manifest.classes == ("dog", "rooster", "pig")  # in target order
    assert manifest.task == "category"
    assert set(frame.loc[frame["split"] == "test", "fold"]) == {1}
    assert set(frame.loc[frame["split"] == "validation", "fold"]) == {2}
    assert set(frame.loc[frame["split"] == "train", "fold"]) == {3, 4, 5}
    # The two takes of fold 1's dog recording share a "speaker": the source recording.
    assert frame.loc[frame["clip_id"].isin(["esc50/1-1001-A-0", "esc50/1-1001-B-0"]), "speaker"].nunique() == 1
    # 0.3 s at 44.1 kHz -> 16 kHz.
    assert len(decoded.store) == 16 and set(decoded.store.lengths.tolist()) == {4800}


def test_every_cross_validation_round_is_leak_free(tmp_path):
    builders.esc50(tmp_path)
    manifest = esc50.load(tmp_path)
    for test_fold, validation_fold in itertools.permutations(esc50.FOLDS, 2):
        manifest.with_folds(test_fold, validation_fold).validate()


def test_default_split_can_be_moved(tmp_path):
    builders.esc50(tmp_path)
    manifest = esc50.load(tmp_path, test_fold=5, validation_fold=4)
    assert set(manifest.frame.loc[manifest.frame["split"] == "test", "fold"]) == {5}
    with pytest.raises(ValueError, match="differ"):
        esc50.load(tmp_path, test_fold=3, validation_fold=3)
    with pytest.raises(ValueError, match="test_fold"):
        esc50.load(tmp_path, test_fold=6)


def test_esc10_subset(tmp_path):
    truth = builders.esc50(tmp_path)
    manifest = esc50.load(tmp_path, esc10=True)
    assert len(manifest) == truth["esc10_clips"] == 11
    assert manifest.classes == ("dog", "rooster")
    assert manifest.name == "esc10"


def test_ogg_copies_are_found_by_stem(tmp_path):
    builders.esc50(tmp_path, ext="ogg")
    manifest, decoded = builders.through_pipeline("esc50", tmp_path, tmp_path / "cache")
    assert manifest.frame["path"].str.endswith(".ogg").all()
    assert len(decoded.store) == 16


def test_of_two_copies_of_a_clip_the_one_the_csv_names_is_read_and_the_other_reported(tmp_path):
    builders.esc50(tmp_path, ext="ogg")
    builders.write(tmp_path / "audio" / "1-1001-A-0.wav", builders.tone(0.3), 16000)
    with pytest.warns(CorpusWarning, match=r"second copy.*1-1001-A-0\.ogg"):
        manifest = esc50.load(tmp_path)
    paths = set(manifest.frame["path"])
    assert "audio/1-1001-A-0.wav" in paths and "audio/1-1001-A-0.ogg" not in paths


def test_a_source_recording_in_two_folds_is_refused(tmp_path):
    builders.esc50(tmp_path, leak=True)
    with pytest.raises(SplitLeakError, match="'2102' is in folds \\[2, 3\\]"):
        esc50.load(tmp_path)


def test_names_contradicting_the_csv_are_refused(tmp_path):
    builders.esc50(tmp_path)
    csv = tmp_path / "meta" / "esc50.csv"
    csv.write_text(csv.read_text().replace("2-2202-A-2.wav,2,2", "2-2202-A-2.wav,3,2"))
    with pytest.raises(ValueError, match="2-2202-A-2.wav: name says fold 2"):
        esc50.load(tmp_path)


def test_missing_audio_is_reported_by_validation(tmp_path):
    builders.esc50(tmp_path)
    (tmp_path / "audio" / "3-3103-A-1.wav").unlink()
    with pytest.raises(ValueError, match="3-3103-A-1.wav: file not found"):
        esc50.load(tmp_path)


def test_no_csv_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="meta/esc50.csv not found"):
        esc50.load(tmp_path)
