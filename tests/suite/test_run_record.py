"""The run record names the software, the code's commit, the data and where the time went."""

import json
import shutil
import subprocess

import pytest

from keras_audio.cache import BadFile
from keras_audio.suite.run_record import bad_files_summary, build_record, git_state, problem_kind, software_versions

RECORD_KEYS = {
    "created",
    "command",
    "software",
    "machine",
    "git",
    "manifest",
    "bad_files",
    "stages_seconds",
    "total_seconds",
    "models",
}


def test_software_versions_name_the_stack():
    versions = software_versions()
    for key in ("python", "tensorflow", "keras", "tensorflow-io", "numpy", "librosa"):
        assert versions[key], key
    assert versions["tensorflow"] != "not installed"
    import keras
    import numpy

    assert versions["keras"] == keras.__version__
    assert versions["numpy"] == numpy.__version__


def test_git_state_outside_a_checkout_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": "unknown", "dirty": None}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_state_gives_commit_and_dirty_flag(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "first")
    state = git_state(tmp_path)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "a.txt").write_text("two\n")
    assert git_state(tmp_path) == {"commit": state["commit"], "dirty": True}


def test_bad_files_are_counted_by_kind_of_problem():
    bad = [
        BadFile("a", "/d/a.wav", "too short: 12 samples at 16000 Hz < one analysis window (512)"),
        BadFile("b", "/d/b.wav", "too short: 40 samples at 16000 Hz < one analysis window (512)"),
        BadFile("c", "/d/c.wav", "not a readable audio file (Format not recognised)"),
    ]
    summary = bad_files_summary(bad)
    assert summary["count"] == 3
    assert summary["by_problem"] == {"too short": 2, "not a readable audio file": 1}
    assert summary["files"][2] == {
        "clip_id": "c",
        "path": "/d/c.wav",
        "problem": "not a readable audio file (Format not recognised)",
    }
    assert problem_kind("all-silent (every sample is zero)") == "all-silent"


def test_record_has_every_key_and_is_json(tmp_path):
    manifest = {"corpus": "toy", "clips": 10, "speakers": 4, "per_split": {}}
    record = build_record(
        repo=tmp_path,
        manifest_summary=manifest,
        bad_files=[BadFile("x", "x.wav", "file not found")],
        stage_seconds={"train": 2.5, "export": 0.5, "evaluate": 1.0},
        total_seconds=4.2,
        models=[{"model": "conv1d", "params": 100}],
        extra={"plots": ["a.png"]},
    )
    assert RECORD_KEYS | {"plots"} <= set(record)
    assert record["manifest"] == manifest
    assert record["bad_files"]["count"] == 1
    assert record["stages_seconds"] == {"train": 2.5, "export": 0.5, "evaluate": 1.0}
    assert record["total_seconds"] == 4.2
    assert record["git"]["commit"] == "unknown"
    assert {"platform", "cpu_count"} <= set(record["machine"])
    json.loads(json.dumps(record))  # plain JSON types only
