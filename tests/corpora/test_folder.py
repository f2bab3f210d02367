"""Folder-per-class and CSV-manifest recipes: labels, speakers (or each file its own), given or drawn splits."""

import pytest

from keras_audio.corpora import folder
from keras_audio.corpora._common import CorpusWarning
from keras_audio.manifest import SplitLeakError
from tests.corpora import builders


def _speakers(manifest, split):
    return set(manifest.frame.loc[manifest.frame["split"] == split, "speaker"])


# ------------------------------------------------------------------------------------------ folder/class
def test_class_folders_run_through_the_pipeline_each_file_its_own_speaker(tmp_path):
    builders.class_folders(tmp_path / "pets")
    with pytest.warns(CorpusWarning, match="each file counts as its own speaker"):
        manifest, decoded = builders.through_pipeline("folder", tmp_path / "pets", tmp_path / "cache")
    frame = manifest.frame
    assert manifest.classes == ("cat", "dog") and manifest.name == "pets"
    assert len(frame) == len(decoded.store) == 12
    assert (frame["speaker"] == frame["clip_id"]).all()
    assert set(frame["path"].str.rsplit(".", n=1).str[1]) == {"wav", "flac", "ogg"}
    # 6 files per class at 70/15/15: 4 / 1 / 1 of each class.
    assert frame.groupby(["split", "label"]).size().to_dict() == {
        ("test", "cat"): 1,
        ("test", "dog"): 1,
        ("train", "cat"): 4,
        ("train", "dog"): 4,
        ("validation", "cat"): 1,
        ("validation", "dog"): 1,
    }


@pytest.mark.parametrize("nested, regex", [(False, r"^([^_]+)_nohash_"), (True, r"^(?P<speaker>[^/]+)/")])
def test_speaker_regex_keeps_voices_on_one_side(tmp_path, nested, regex):
    builders.class_folders(tmp_path, nested=nested)
    manifest = folder.load_folder(tmp_path, speaker_regex=regex)
    assert set(manifest.frame["speaker"]) == {"spk0", "spk1", "spk2"}
    assert all(len(_speakers(manifest, s)) == 1 for s in ("train", "validation", "test"))


def test_speaker_regex_that_misses_a_file_is_an_error(tmp_path):
    builders.class_folders(tmp_path)
    with pytest.raises(ValueError, match="does not match"):
        folder.load_folder(tmp_path, speaker_regex=r"^nobody_")


def test_top_level_files_are_listed_and_one_class_is_refused(tmp_path):
    builders.class_folders(tmp_path, labels=("cat",))
    builders.write(tmp_path / "loose.wav", builders.tone(), 16000)
    with pytest.warns(CorpusWarning, match="loose.wav"), pytest.raises(ValueError, match="at least 2 classes"):
        folder.load_folder(tmp_path)


@pytest.mark.filterwarnings("ignore:.*its own speaker")
def test_every_format_libsndfile_reads_is_used_and_other_files_are_listed(tmp_path):
    builders.class_folders(tmp_path)
    builders.write(tmp_path / "dog" / "extra.aiff", builders.tone(0.25), 16000, format="AIFF")
    (tmp_path / "dog" / "notes.txt").write_text("recorded on a Tuesday\n")
    with pytest.warns(CorpusWarning, match=r"notes\.txt"):
        manifest = folder.load_folder(tmp_path)
    assert "dog/extra.aiff" in set(manifest.frame["path"])
    assert not any("notes" in path for path in manifest.frame["path"])


# ------------------------------------------------------------------------------------------------- CSV
def test_csv_with_speakers_and_splits_runs_through_the_pipeline(tmp_path):
    csv = builders.csv_manifest(tmp_path)
    manifest, decoded = builders.through_pipeline("csv", csv, tmp_path / "cache")
    assert manifest.name == "clips" and manifest.classes == ("no", "yes")
    assert len(decoded.store) == 10
    assert _speakers(manifest, "validation") == {"s3"}  # "val" in the CSV
    assert _speakers(manifest, "test") == {"s4"}


def test_csv_from_a_folder_with_the_manifest_option(tmp_path):
    builders.csv_manifest(tmp_path, name="list.csv")
    assert len(folder.load_csv(tmp_path, manifest="list.csv")) == 10
    with pytest.raises(ValueError, match="manifest.csv not found"):
        folder.load_csv(tmp_path)


def test_csv_without_split_or_speaker_draws_a_split(tmp_path):
    csv = builders.csv_manifest(tmp_path, split=False)
    manifest = folder.load_csv(csv, seed=4)
    assert manifest.frame.drop_duplicates("speaker").groupby("split").size().to_dict() == {
        "test": 1,
        "train": 3,
        "validation": 1,
    }
    assert manifest.frame["split"].equals(folder.load_csv(csv, seed=4).frame["split"])
    bare = builders.csv_manifest(tmp_path / "bare", split=False, speaker=False)
    with pytest.warns(CorpusWarning, match="its own speaker"):
        manifest = folder.load_csv(bare)
    assert (manifest.frame["speaker"] == manifest.frame["path"]).all()


def test_csv_values_lose_trailing_spaces(tmp_path):
    csv = builders.csv_manifest(tmp_path)
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace(",yes,s0,", ",yes ,s0 ,")
    csv.write_text("\n".join(lines) + "\n")
    manifest = folder.load_csv(csv)
    assert manifest.classes == ("no", "yes")
    assert set(manifest.frame["speaker"]) == {"s0", "s1", "s2", "s3", "s4"}


def test_csv_task_picks_the_label_column(tmp_path):
    csv = builders.csv_manifest(tmp_path)
    lines = csv.read_text().splitlines()
    csv.write_text(
        "\n".join([lines[0] + ",mood"] + [f"{line},{('calm', 'tense')[i % 2]}" for i, line in enumerate(lines[1:])])
        + "\n"
    )
    manifest = folder.load_csv(csv, task="mood")
    assert manifest.task == "mood" and manifest.classes == ("calm", "tense")
    with pytest.raises(ValueError, match="lacks column"):
        folder.load_csv(csv, task="colour")


def test_csv_split_that_puts_a_speaker_on_two_sides_is_refused(tmp_path):
    csv = builders.csv_manifest(tmp_path)
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace(",train", ",test")  # s0's first clip into test, its second stays in train
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(SplitLeakError, match="'s0'"):
        folder.load_csv(csv)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda line, i: line.replace(",train", ",holdout"), "'holdout'"),
        (lambda line, i: line.rsplit(",", 1)[0] + "," if i == 0 else line, "empty on line"),
        (lambda line, i: line.replace(",yes,", ",,") if i == 0 else line, "'label' is empty on line"),
        # A typo in a number must not read as "not given" (NaN: the whole file), nor count from the end.
        (
            lambda line, i: line + (",offset" if i < 0 else ",O.5"),
            r"'offset' is not a finite number >= 0 on line\(s\) \[2, 3",
        ),
        (
            lambda line, i: line + (",duration" if i < 0 else ",-1" if i == 4 else ",0.1"),
            r"'duration' .* line\(s\) \[6\]",
        ),
        (lambda line, i: line + (",duration" if i < 0 else ",inf" if i == 1 else ""), r"'duration' .* line\(s\) \[3\]"),
    ],
)
def test_csv_problems_are_listed(tmp_path, edit, message):
    csv = builders.csv_manifest(tmp_path)
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(edit(line, i - 1) for i, line in enumerate(lines)) + "\n")  # the header is -1
    with pytest.raises(ValueError, match=message):
        folder.load_csv(csv)


# ------------------------------------------------------------------------------- nothing left out unseen
@pytest.mark.filterwarnings("ignore:.*its own speaker")
def test_entries_that_are_no_audio_files_are_reported_not_dropped(tmp_path):
    import os

    from keras_audio.cache import BadFilesError, load_waveforms
    from keras_audio.corpora import load_corpus

    builders.class_folders(tmp_path / "pets")
    os.symlink(tmp_path / "gone.wav", tmp_path / "pets" / "cat" / "dangling.wav")
    (tmp_path / "pets" / "dog" / "folder.wav").mkdir()
    builders.write(tmp_path / "elsewhere" / "extra.wav", builders.tone(), 16000)
    os.symlink(tmp_path / "elsewhere", tmp_path / "pets" / "dog" / "linked")
    with pytest.warns(CorpusWarning) as caught:
        manifest = load_corpus("folder", tmp_path / "pets")
    message = " ".join(str(w.message) for w in caught)
    assert "dog/folder.wav: a folder named like an audio file" in message
    assert "dog/linked: a symbolic link to a folder (not followed)" in message
    assert "cat/dangling.wav" in set(manifest.frame["path"])  # a row, so the decode stage reports it
    with pytest.raises(BadFilesError, match=r"dangling\.wav: file not found"):
        load_waveforms(manifest, 16000, tmp_path / "cache", progress=False)
    decoded = load_waveforms(manifest, 16000, tmp_path / "cache", skip_bad=True, progress=False)
    assert [b.clip_id for b in decoded.bad_files] == ["cat/dangling.wav"]
    assert len(decoded.manifest) == 12


@pytest.mark.filterwarnings("ignore:.*its own speaker")
def test_a_folder_that_cannot_be_read_is_reported(tmp_path, monkeypatch):
    import os

    builders.class_folders(tmp_path)
    builders.write(tmp_path / "cat" / "locked" / "a.wav", builders.tone(), 16000)
    scandir = os.scandir

    def refuse(path="."):  # root reads every folder whatever its mode, so the refusal is simulated
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.warns(CorpusWarning, match=r"cat/locked: cannot be listed \(Permission denied\)"):
        manifest = folder.load_folder(tmp_path)
    assert len(manifest) == 12


def test_csv_rows_whose_file_is_missing_are_bad_files_that_skip_bad_leaves_out(tmp_path):
    from keras_audio.cache import BadFilesError, load_waveforms
    from keras_audio.corpora import load_corpus

    csv = builders.csv_manifest(tmp_path)
    (tmp_path / "audio" / "3.wav").unlink()
    manifest = load_corpus("csv", csv)  # not refused here: --skip-bad must be able to leave it out
    with pytest.raises(BadFilesError, match=r"3\.wav: file not found"):
        load_waveforms(manifest, 16000, tmp_path / "cache", progress=False)
    decoded = load_waveforms(manifest, 16000, tmp_path / "cache", skip_bad=True, progress=False)
    assert [b.clip_id for b in decoded.bad_files] == ["audio/3.wav"] and len(decoded.manifest) == 9
