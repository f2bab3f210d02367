"""AudioMNIST (JSON and CSV metadata, WAV and FLAC) and FSDD (its own protocol, or speaker-disjoint)."""

import pytest

from keras_audio.cache import load_waveforms
from keras_audio.corpora import digits
from keras_audio.corpora._common import CorpusWarning
from tests.corpora import builders


def _speakers(manifest, split):
    return set(manifest.frame.loc[manifest.frame["split"] == split, "speaker"])


# ------------------------------------------------------------------------------------------- AudioMNIST
@pytest.mark.parametrize("variant, ext", [("json", "wav"), ("csv", "flac")])
def test_audiomnist_gender_runs_through_the_pipeline(tmp_path, variant, ext):
    truth = builders.audiomnist(tmp_path / "corpus", variant=variant, ext=ext)
    manifest, decoded = builders.through_pipeline("audiomnist", tmp_path / "corpus", tmp_path / "cache", task="gender")
    frame = manifest.frame
    assert len(frame) == truth["clips"] == len(decoded.store) == 36
    assert manifest.classes == ("female", "male")
    assert (frame["label"] == frame["speaker"].map(truth["sexes"])).all()
    # 3 speakers of each sex: one of each in every split.
    per_speaker = frame.drop_duplicates("speaker")
    assert (per_speaker.groupby(["split", "label"]).size() == 1).all()
    assert set(decoded.store.lengths.tolist()) == {4800}  # 0.3 s at 48 kHz -> 16 kHz


def test_audiomnist_digit_task_is_speaker_disjoint_and_seeded(tmp_path):
    builders.audiomnist(tmp_path)
    manifest = digits.load_audiomnist(tmp_path, seed=3)
    assert manifest.task == "digit" and manifest.classes == ("0", "1", "2")
    assert manifest.clip_ids[0] == "audiomnist/01/0_01_0"
    assert (manifest.frame["label"] == manifest.frame["digit"]).all()
    assert manifest.frame["split"].equals(digits.load_audiomnist(tmp_path, seed=3).frame["split"])
    assert _speakers(manifest, "test").isdisjoint(_speakers(manifest, "train"))


def test_audiomnist_data_folder_itself_and_explicit_metadata(tmp_path):
    builders.audiomnist(tmp_path, variant="csv")
    (tmp_path / "metadata.txt").rename(tmp_path / "speakers_table.csv")
    assert len(digits.load_audiomnist(tmp_path / "data")) == 36  # digit task needs no metadata
    with pytest.raises(ValueError, match="needs the speaker table"):
        digits.load_audiomnist(tmp_path, task="gender")
    gender = digits.load_audiomnist(tmp_path / "data", task="gender", metadata=tmp_path / "speakers_table.csv")
    assert set(gender.frame["label"]) == {"female", "male"}


def test_audiomnist_misplaced_and_stray_files(tmp_path):
    builders.audiomnist(tmp_path)
    (tmp_path / "data" / "01" / "notes.txt").write_text("stray")
    with pytest.warns(CorpusWarning, match="notes.txt"):
        digits.load_audiomnist(tmp_path)
    (tmp_path / "data" / "01" / "0_01_0.wav").rename(tmp_path / "data" / "01" / "0_02_9.wav")
    with pytest.raises(ValueError, match="named for speaker 02 but in folder 01"):
        digits.load_audiomnist(tmp_path)


def test_audiomnist_speaker_missing_from_metadata(tmp_path):
    builders.audiomnist(tmp_path)
    builders.write(tmp_path / "data" / "07" / "0_07_0.wav", builders.tone(0.3), 16000)
    with pytest.raises(ValueError, match=r"\['07'\] not in"):
        digits.load_audiomnist(tmp_path, task="gender")


def test_audiomnist_bad_gender_value_is_named(tmp_path):
    builders.audiomnist(tmp_path)
    meta = tmp_path / "data" / "audioMNIST_meta.txt"
    meta.write_text(meta.read_text().replace('"female"', '"unknown"', 1))
    with pytest.raises(ValueError, match="speaker '01'.*'unknown' is neither"):
        digits.load_audiomnist(tmp_path, task="gender")


# ------------------------------------------------------------------------------------------------ FSDD
def test_fsdd_dataset_protocol_is_by_utterance_and_says_so(tmp_path):
    truth = builders.fsdd(tmp_path)
    manifest = digits.load_fsdd(tmp_path)
    frame = manifest.frame
    assert len(frame) == truth["clips"] == 96
    assert (frame.loc[frame["index"] < 5, "split"] == "test").all()
    assert (frame.loc[frame["index"].between(5, 9), "split"] == "validation").all()
    assert (frame.loc[frame["index"] >= 10, "split"] == "train").all()
    # Every speaker on every side: the dataset's own protocol, flagged for the split check and the report.
    assert _speakers(manifest, "train") == _speakers(manifest, "test") == _speakers(manifest, "validation")
    assert manifest.split_unit == "utterance"
    decoded = load_waveforms(manifest, 16000, tmp_path / "cache", progress=False)
    assert set(decoded.store.lengths.tolist()) == {3200}  # 0.2 s at 8 kHz -> 16 kHz


def test_fsdd_speaker_split_runs_through_the_pipeline(tmp_path):
    builders.fsdd(tmp_path)
    manifest, decoded = builders.through_pipeline("fsdd", tmp_path, tmp_path / "cache", split="speaker", seed=1)
    assert manifest.split_unit == "speaker"
    sides = [_speakers(manifest, s) for s in ("train", "validation", "test")]
    assert [len(s) for s in sides] == [2, 1, 1]  # 4 speakers at 70/15/15
    assert len(decoded.store) == 96


def test_fsdd_gender_needs_a_speaker_split_and_both_genders(tmp_path):
    builders.fsdd(tmp_path)
    with pytest.raises(ValueError, match="needs split='speaker'"):
        digits.load_fsdd(tmp_path, task="gender")
    with pytest.raises(ValueError, match="at least 2 classes"):
        digits.load_fsdd(tmp_path, task="gender", split="speaker")
    mixed = (
        ("jackson", "male"),
        ("theo", "male"),
        ("ann", "female"),
        ("eve", "female"),
        ("bob", "male"),
        ("zoe", "female"),
    )
    builders.fsdd(tmp_path / "mixed", speakers=mixed)
    manifest = digits.load_fsdd(tmp_path / "mixed", task="gender", split="speaker")
    assert manifest.classes == ("female", "male")
    assert (manifest.frame.drop_duplicates("speaker").groupby(["split", "label"]).size() == 1).all()


def test_fsdd_options_are_checked(tmp_path):
    builders.fsdd(tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        digits.load_fsdd(tmp_path, split="random")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no recordings"):
        digits.load_fsdd(tmp_path / "empty")
    with pytest.raises(ValueError, match="not a folder"):
        digits.load_fsdd(tmp_path / "nowhere")
