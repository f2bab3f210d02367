"""`keras-audio --help` and `--version` answer without importing TensorFlow; a command's stderr carries no
TensorFlow start-up log."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import keras_audio
from keras_audio.corpora import available as corpus_names
from keras_audio.suite import cli
from keras_audio.suite.tensorflow_logs import drop_quiet_lines

REPO = Path(keras_audio.__file__).parent.parent


def _keras_audio(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=300, env=env)


def _imported(importtime_log: str) -> set[str]:
    """Top-level package names from a `python -X importtime` log ("import time: self | cumulative | name")."""
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_neither_tensorflow_nor_keras(flag):
    done = _keras_audio("-X", "importtime", "-m", "keras_audio", flag)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = _imported(done.stderr)
    assert "keras_audio" in imported  # the log was read
    assert not {"tensorflow", "keras"} & imported
    expected = f"keras_audio {keras_audio.__version__}" if flag == "--version" else "prepare-asr"
    assert expected in done.stdout


def test_version_writes_nothing_to_stderr():
    done = _keras_audio("-m", "keras_audio", "--version")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, f"keras_audio {keras_audio.__version__}", "")


@pytest.mark.slow  # one TensorFlow import in a fresh interpreter
def test_a_command_prints_its_one_line_error_and_no_tensorflow_log(tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    done = _keras_audio("-m", "keras_audio", "report", str(tmp_path), env=env)
    assert done.returncode == 2
    assert done.stderr == f"keras-audio report: ValueError: {tmp_path}: not a run folder (no config.json)\n"


def test_the_corpus_names_in_the_help_are_the_registrys():
    assert list(cli.CORPUS_NAMES) == corpus_names()


ABSL_LOG = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796551748.175839   20043 port.cc:153] oneDNN custom operations are on.
W0000 00:00:1796551748.175839   20043 cpu_feature_guard.cc:227] a warning
E0000 00:00:1796551875.217439   22020 util.cc:131] oneDNN supports DT_UINT64 only on platforms with AVX-512.
F0000 00:00:1796551875.217439   22020 util.cc:131] fatal
Traceback (most recent call last):
"""


@pytest.mark.parametrize("level, kept", [(0, "IWEF"), (1, "WEF"), (2, "EF"), (3, "F")])
def test_the_start_up_log_keeps_the_lines_at_or_above_the_level(level, kept):
    lines = drop_quiet_lines(ABSL_LOG, level).splitlines()
    assert lines[-1] == "Traceback (most recent call last):"  # anything not in Abseil's format is kept
    assert "".join(line[0] for line in lines if line[1:5] == "0000") == kept
    assert (lines[0].startswith("WARNING: All log messages")) == (level == 0)
