"""Manifest: validation lists every problem, splits never share a speaker, folds and CSV round trips."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_audio.manifest import (
    Manifest,
    ManifestError,
    SplitLeakError,
    _allocate,
    speaker_disjoint_split,
)


def _frame(n_speakers=6, clips=3, tmp_path=None):
    rows = []
    for s in range(n_speakers):
        for c in range(clips):
            path = f"s{s}_{c}.wav"
            if tmp_path is not None:
                (tmp_path / path).write_bytes(b"x")
            rows.append(
                {
                    "clip_id": f"s{s}/{c}",
                    "path": path,
                    "label": ("f", "m")[s % 2],
                    "speaker": f"s{s}",
                    "split": ("train", "train", "validation", "test")[s % 4],
                }
            )
    return pd.DataFrame(rows)


def test_a_good_manifest_validates_and_counts(tmp_path):
    manifest = Manifest(_frame(tmp_path=tmp_path), name="toy", task="gender", root=str(tmp_path)).validate()
    summary = manifest.summary()
    assert summary["clips"] == 18 and summary["speakers"] == 6
    assert summary["per_split"]["train"]["speakers"] == 4  # s0, s1, s4, s5
    assert manifest.label_ids.tolist()[:6] == [0, 0, 0, 1, 1, 1]
    assert all(p.is_file() for p in manifest.paths())


def test_validate_lists_every_problem_at_once(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame.loc[1, "clip_id"] = frame.loc[0, "clip_id"]
    frame.loc[2, "label"] = "x"
    frame.loc[3, "split"] = "dev"
    frame.loc[4, "path"] = "missing.wav"
    manifest = Manifest(frame, classes=("f", "m"), root=str(tmp_path))
    with pytest.raises(ManifestError) as caught:
        manifest.validate()
    message = str(caught.value)
    assert "duplicate clip_id" in message and "'x'" in message and "'dev'" in message and "missing.wav" in message
    assert len(caught.value.problems) == 4


def test_an_empty_test_split_is_refused(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame["split"] = "train"
    with pytest.raises(ManifestError, match="'test' split is empty"):
        Manifest(frame, root=str(tmp_path)).validate()


def test_a_speaker_on_two_sides_is_refused_by_name(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame.loc[frame["clip_id"] == "s0/2", "split"] = "test"
    with pytest.raises(SplitLeakError, match="'s0'"):
        Manifest(frame, root=str(tmp_path)).validate()


def test_a_split_by_utterance_is_accepted_only_when_the_recipe_says_so(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame.loc[frame["clip_id"] == "s0/2", "split"] = "test"
    frame["split_unit"] = "utterance"  # a dataset's own protocol (FSDD)
    manifest = Manifest(frame, root=str(tmp_path)).validate()
    assert manifest.split_unit == "utterance" and manifest.summary()["split_unit"] == "utterance"
    frame.loc[0, "split_unit"] = "speaker"  # mixed marks are not a protocol: checked by speaker
    with pytest.raises(SplitLeakError, match="'s0'"):
        Manifest(frame, root=str(tmp_path)).validate()


@given(n_speakers=st.integers(3, 40), clips=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_speaker_disjoint_split_never_shares_a_speaker(n_speakers, clips, seed):
    frame = _frame(n_speakers, clips)
    split = speaker_disjoint_split(frame, {"train": 0.7, "validation": 0.15, "test": 0.15}, seed)
    assert split.notna().all()
    assert (frame.assign(split=split).groupby("speaker")["split"].nunique() == 1).all()
    assert set(split) <= {"train", "validation", "test"}


def test_speaker_disjoint_split_is_seeded_and_stratified():
    frame = _frame(40, 2)
    fractions = {"train": 0.5, "validation": 0.25, "test": 0.25}
    first = speaker_disjoint_split(frame, fractions, seed=3)
    assert first.equals(speaker_disjoint_split(frame, fractions, seed=3))
    assert not first.equals(speaker_disjoint_split(frame, fractions, seed=4))
    per_speaker = frame.assign(split=first).drop_duplicates("speaker")
    counts = per_speaker.groupby(["split", "label"]).size()
    for label in ("f", "m"):  # 20 speakers of each label: 10 / 5 / 5
        assert (counts["train"][label], counts["validation"][label], counts["test"][label]) == (10, 5, 5)


@pytest.mark.parametrize(
    "fractions", [{"train": 0.5, "test": 0.4}, {"train": 1.2, "test": -0.2}, {"train": 0.5, "dev": 0.5}]
)
def test_speaker_disjoint_split_checks_its_fractions(fractions):
    with pytest.raises(ValueError):
        speaker_disjoint_split(_frame(), fractions, seed=0)


@given(n=st.integers(0, 200), weights=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=3))
def test_allocate_hands_out_every_item(n, weights):
    total = sum(weights)
    if total == 0:
        return
    fractions = [w / total for w in weights]
    counts = _allocate(n, fractions)
    assert sum(counts) == n and min(counts) >= 0
    if n >= sum(f > 0 for f in fractions):
        assert all(c >= 1 for c, f in zip(counts, fractions) if f > 0)


def test_with_folds_moves_whole_folds(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame["fold"] = frame["speaker"].str[1:].astype(int) % 3 + 1
    manifest = Manifest(frame, root=str(tmp_path))
    round_two = manifest.with_folds(test_fold=2, validation_fold=3)
    assert (round_two.frame.loc[round_two.frame["fold"] == 2, "split"] == "test").all()
    assert (round_two.frame.loc[round_two.frame["fold"] == 1, "split"] == "train").all()
    round_two.validate()
    with pytest.raises(ValueError, match="differ"):
        manifest.with_folds(1, 1)
    with pytest.raises(ValueError, match="not among"):
        manifest.with_folds(9, 1)


def test_csv_round_trip_keeps_rows_classes_and_root(tmp_path):
    frame = _frame(tmp_path=tmp_path)
    frame["duration"] = np.linspace(0.5, 1.0, len(frame))
    manifest = Manifest(frame, classes=("m", "f"), name="toy", task="gender", root=str(tmp_path))
    manifest.to_csv(tmp_path / "toy.csv")
    again = Manifest.from_csv(tmp_path / "toy.csv")
    assert again.classes == ("m", "f") and again.task == "gender" and again.root == str(tmp_path)
    pd.testing.assert_frame_equal(again.frame, manifest.frame)


def test_a_speaker_called_na_is_a_speaker_and_a_missing_one_is_refused(tmp_path):
    frame = _frame()
    frame.loc[frame["speaker"].isin(["s0", "s3"]), "speaker"] = "NA"  # s0 trains, s3 tests: one voice on two sides
    frame.to_csv(tmp_path / "m.csv", index=False)
    manifest = Manifest.from_csv(tmp_path / "m.csv")
    assert "NA" in set(manifest.frame["speaker"])
    with pytest.raises(SplitLeakError, match="'NA'"):
        manifest.validate(check_files=False)
    frame.loc[0, "speaker"] = ""
    with pytest.raises(ManifestError, match=r"'speaker' is empty on row\(s\) \[0\]"):
        Manifest(frame)


def test_subset_and_drop_clips(tmp_path):
    manifest = Manifest(_frame(tmp_path=tmp_path), root=str(tmp_path))
    assert set(manifest.subset("test").frame["split"]) == {"test"}
    assert len(manifest.drop_clips(["s0/0", "s1/1"])) == len(manifest) - 2
    with pytest.raises(ValueError, match="split must be"):
        manifest.subset("dev")


def test_a_moved_corpus_reads_its_manifest_relative_to_the_csv(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    manifest = Manifest(_frame(tmp_path=old), name="toy", root=str(old))
    manifest.to_csv(old / "manifest.csv")
    new = tmp_path / "new"
    old.rename(new)
    moved = Manifest.from_csv(new / "manifest.csv")
    assert moved.root == str(new.resolve())
    assert all(p.is_file() for p in moved.paths())
