"""RunWriter: run folders stay under --out, appear complete or not at all, one writer per name, other runs'
leftovers are left alone, a killed run's folder is kept for --resume (adopted, never deleted by a plain
start), SIGTERM cleans up like Ctrl-C."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_audio.suite.run_writer import (
    RunExistsError,
    RunInUseError,
    RunKeptError,
    RunNameError,
    RunWriter,
    check_run_name,
    process_alive,
)

RUN_WRITER = Path(__file__).resolve().parents[2] / "keras_audio" / "suite" / "run_writer.py"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _script(body: str) -> str:
    """Python source that loads run_writer.py alone (no TensorFlow import), then runs `body`."""
    return textwrap.dedent(f"""
        import importlib.util, os, signal, sys, time
        spec = importlib.util.spec_from_file_location("run_writer", {str(RUN_WRITER)!r})
        run_writer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run_writer)
    """) + textwrap.dedent(body)


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "a\\b", "..", ".hidden", "-x", "", "a b", "x" * 201, 3])
def test_unsafe_run_names_are_refused(tmp_path, name):
    with pytest.raises(RunNameError):
        RunWriter(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_safe_names_pass():
    for name in ("synthetic-gender-seed0-20240101-120000", "a.b_c+d", "7"):
        assert check_run_name(name) == name


def test_a_finished_run_is_renamed_into_place_and_leaves_nothing_else(tmp_path):
    with RunWriter(tmp_path / "results", "run") as writer:
        assert writer.work == tmp_path / "results" / f".run.partial-{os.getpid()}"
        (writer.work / "metrics.json").write_text("{}")
        assert (tmp_path / "results" / ".run.lock").is_file()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["run"]
    assert (tmp_path / "results" / "run" / "metrics.json").is_file()
    with pytest.raises(RunExistsError, match="exists"):
        RunWriter(tmp_path / "results", "run").__enter__()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["run"]  # the lock was released


def test_an_exception_removes_the_partial_folder_and_the_lock(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(tmp_path, "run") as writer:
            (writer.work / "half.txt").write_text("x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_second_writer_of_a_name_in_use_is_refused_at_its_start(tmp_path):
    with RunWriter(tmp_path, "run"):
        with pytest.raises(RunInUseError, match=rf"'run' is being written by process {os.getpid()}"):
            RunWriter(tmp_path, "run").__enter__()
        with RunWriter(tmp_path, "other"):  # another name is free
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "run"]


def test_a_name_locked_by_another_live_process_is_refused_and_its_partial_kept(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _script(f"""
        with run_writer.RunWriter({str(tmp_path)!r}, "busy"):
            print("ready", flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RunInUseError, match=rf"process {holder.pid}"):
            RunWriter(tmp_path, "busy").__enter__()
        with RunWriter(tmp_path, "mine") as writer:
            assert writer.cleaned == []
        assert (tmp_path / f".busy.partial-{holder.pid}").is_dir()  # a live run's folder is left alone
    finally:
        holder.kill()
        holder.wait()


def test_other_runs_partial_folders_are_left_alone_and_only_empty_ones_of_the_name_removed(tmp_path):
    dead = _dead_pid()
    kept = tmp_path / f".old.partial-{dead}"  # another run's, kept for --resume by a killed run
    kept.mkdir()
    (kept / "model.keras").write_text("trained")
    (tmp_path / ".locked.partial-1").mkdir()
    (tmp_path / ".locked.lock").write_text("1\n")  # a lock file nobody holds: its process is gone
    (tmp_path / f".run.partial-{dead}").mkdir()  # this name's, killed before it wrote anything
    with RunWriter(tmp_path, "run") as writer:
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locked.partial-1", f".old.partial-{dead}", "run"]
    assert (kept / "model.keras").read_text() == "trained"
    assert len(writer.cleaned) == 2 and any(f".run.partial-{dead}" in line for line in writer.cleaned)


def test_a_plain_start_refuses_a_partial_folder_kept_for_resume_and_a_resumable_one_adopts_it(tmp_path):
    kept = tmp_path / f".run.partial-{_dead_pid()}"
    kept.mkdir()
    (kept / "model.keras").write_text("trained")
    with pytest.raises(RunKeptError, match=rf"{kept}.*--resume"):
        RunWriter(tmp_path, "run").__enter__()
    assert (kept / "model.keras").read_text() == "trained" and not (tmp_path / ".run.lock").exists()
    with RunWriter(tmp_path, "run", resumable=True) as writer:
        assert writer.adopted == kept and (writer.work / "model.keras").read_text() == "trained"


def test_keep_keeps_the_partial_folder_when_the_run_then_fails(tmp_path):
    with pytest.raises(OSError):
        with RunWriter(tmp_path, "run") as writer:
            (writer.work / "model.keras").write_text("trained")
            writer.keep = True
            raise OSError(28, "No space left on device")
    assert (writer.work / "model.keras").is_file() and not (tmp_path / "run").exists()


def test_sigterm_removes_the_partial_folder_and_exits_143(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _script(f"""
        with run_writer.RunWriter({str(tmp_path)!r}, "run") as writer:
            (writer.work / "model.keras").write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
    """),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 143, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_resumable_writer_keeps_its_partial_and_the_next_one_adopts_it(tmp_path):
    with pytest.raises(RuntimeError):
        with RunWriter(tmp_path, "run", resumable=True) as first:
            (first.work / "trained.txt").write_text("model 1 done")
            raise RuntimeError("killed")
    old = tmp_path / f".run.partial-{os.getpid()}"
    assert (old / "trained.txt").is_file() and not (tmp_path / ".run.lock").exists()
    stale = tmp_path / f".run.partial-{_dead_pid()}"
    old.rename(stale)  # as a killed process leaves it
    with RunWriter(tmp_path, "run", resumable=True) as second:
        assert second.adopted == stale and (second.work / "trained.txt").read_text() == "model 1 done"
    assert (tmp_path / "run" / "trained.txt").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_final_folder_made_while_running_keeps_the_finished_work(tmp_path):
    with pytest.raises(RunExistsError, match="kept in"):
        with RunWriter(tmp_path, "run") as writer:
            (writer.work / "metrics.json").write_text("{}")
            (tmp_path / "run").mkdir()
            (tmp_path / "run" / "other").write_text("by hand")
    assert (writer.work / "metrics.json").is_file()


def test_process_alive():
    assert process_alive(os.getpid()) and not process_alive(_dead_pid()) and not process_alive(0)
