"""RAVDESS-style recipe: labels from the name codes, actor-disjoint splits stratified by sex."""

import pytest

from keras_audio.corpora import emotion
from keras_audio.corpora._common import CorpusWarning
from tests.corpora import builders


def test_layout_runs_through_the_pipeline(tmp_path):
    truth = builders.ravdess(tmp_path)
    manifest, decoded = builders.through_pipeline("ravdess", tmp_path, tmp_path / "cache", seed=2)
    frame = manifest.frame
    assert len(frame) == truth["clips"] == len(decoded.store) == 42
    assert manifest.task == "emotion" and manifest.classes == ("neutral", "happy", "angry")  # code order
    row = frame.set_index("clip_id").loc["ravdess/03-01-05-01-01-02-03"]
    assert (row["label"], row["speaker"], row["sex"], row["intensity"], row["vocal_channel"]) == (
        "angry",
        "actor_03",
        "male",
        "normal",
        "speech",
    )
    # Six actors, three of each sex: one actor of each sex per split.
    actors = frame.drop_duplicates("speaker")
    assert (actors.groupby(["split", "sex"]).size() == 1).all()
    assert set(decoded.store.lengths.tolist()) == {4800}  # 0.3 s at 48 kHz -> 16 kHz


def test_gender_task_and_vocal_channel(tmp_path):
    builders.ravdess(tmp_path)
    gender = emotion.load(tmp_path, task="gender")
    assert gender.classes == ("female", "male")
    assert (
        gender.frame["label"]
        == gender.frame["speaker"].str[-2:].astype(int).map(lambda a: "male" if a % 2 else "female")
    ).all()
    speech = emotion.load(tmp_path, vocal_channel="speech")
    assert len(speech) == 36 and set(speech.frame["vocal_channel"]) == {"speech"}
    with pytest.raises(ValueError, match="vocal_channel"):
        emotion.load(tmp_path, vocal_channel="whisper")


def test_bad_codes_and_misplaced_files_are_named(tmp_path):
    builders.ravdess(tmp_path)
    folder = tmp_path / "Actor_01"
    (folder / "03-01-01-01-01-01-01.wav").rename(folder / "03-01-09-01-01-01-01.wav")
    (folder / "03-01-03-01-01-01-01.wav").rename(folder / "03-01-03-01-01-01-02.wav")
    with pytest.raises(ValueError) as caught:
        emotion.load(tmp_path)
    message = str(caught.value)
    assert "Actor_01/03-01-09-01-01-01-01.wav: emotion 09 not in 01..08" in message
    assert "actor code 02 but folder Actor_01" in message


def test_the_same_clip_twice_is_refused(tmp_path):
    builders.ravdess(tmp_path)
    copy = tmp_path / "backup" / "03-01-01-01-01-01-01.wav"
    copy.parent.mkdir()
    copy.write_bytes((tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav").read_bytes())
    with pytest.raises(ValueError, match="the same clip in several places"):
        emotion.load(tmp_path)


def test_uncoded_audio_is_listed(tmp_path):
    builders.ravdess(tmp_path)
    builders.write(tmp_path / "Actor_01" / "take2.wav", builders.tone(0.3), 16000)
    with pytest.warns(CorpusWarning, match="take2.wav"):
        assert len(emotion.load(tmp_path)) == 42
