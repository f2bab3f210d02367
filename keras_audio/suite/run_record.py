"""The run record: what produced a run folder, so that a number in it can be traced and reproduced.

`record.json` holds the software (Python, TensorFlow, Keras, tensorflow-io, NumPy, librosa, ...), the machine,
the git commit of the code (and whether it had uncommitted changes), the manifest summary (clips per split
and label, speakers), the bad files that were left out (counted by problem), wall-clock seconds per stage, and
per trained model its size and training time. Timings live here and never in `metrics.json`, so two runs with
the same seed give identical metrics files.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Distribution names on PyPI, as reported in the record.
PACKAGES = (
    "tensorflow",
    "keras",
    "tensorflow-io",
    "numpy",
    "librosa",
    "scipy",
    "scikit-learn",
    "pandas",
    "soundfile",
    "soxr",
    "matplotlib",
)
# Other distributions that install the same module (`pip install tensorflow-cpu` provides `tensorflow`).
_ALTERNATIVES = {"tensorflow": ("tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")}
UNKNOWN = "unknown"


def package_version(name: str) -> str | None:
    """The installed version of distribution `name` (or of a drop-in alternative), None when absent."""
    for candidate in (name, *_ALTERNATIVES.get(name, ())):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def software_versions() -> dict[str, str]:
    """Python and the versions of the packages a result depends on.

    tensorflow-io is special: installed is not usable (its shared library must match TensorFlow). When its ops
    cannot load, the entry says so and why.
    """
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        versions[name] = package_version(name) or "not installed"
    if versions["tensorflow-io"] != "not installed":
        from keras_audio import tfio_ops

        error = tfio_ops.load_error()
        if error:
            versions["tensorflow-io"] += f" (unusable: {error})"
    return versions


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_executable": sys.executable,
    }


def git_state(path: str | Path) -> dict[str, object]:
    """The commit checked out at `path` and whether the tree has uncommitted changes.

    Returns:
        `{"commit": sha or "unknown", "dirty": bool or None}`; "unknown"/None outside a git checkout or
        without git.
    """

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": UNKNOWN, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def problem_kind(problem: str) -> str:
    """A bad file's problem without its particulars (numbers, library messages), for counting by kind."""
    kind = re.sub(r"\(.*\)", "", problem.split(":")[0])
    kind = re.sub(r"\d+(\.\d+)?", "N", kind)
    return " ".join(kind.split()) or problem


def bad_files_summary(bad_files: Sequence) -> dict[str, object]:
    """Count of bad files, counts by kind of problem, and each file with its problem.

    Args:
        bad_files: objects with `clip_id`, `path`, `problem` (`cache.BadFile`).
    """
    by_kind: dict[str, int] = {}
    for bad in bad_files:
        kind = problem_kind(bad.problem)
        by_kind[kind] = by_kind.get(kind, 0) + 1
    return {
        "count": len(bad_files),
        "by_problem": dict(sorted(by_kind.items(), key=lambda item: (-item[1], item[0]))),
        "files": [{"clip_id": b.clip_id, "path": str(b.path), "problem": b.problem} for b in bad_files],
    }


def build_record(
    *,
    repo: str | Path,
    manifest_summary: Mapping,
    bad_files: Sequence,
    stage_seconds: Mapping[str, float],
    total_seconds: float | None = None,
    models: Sequence[Mapping] = (),
    extra: Mapping | None = None,
) -> dict[str, object]:
    """Everything `record.json` holds (see the module docstring).

    Args:
        repo: the code's folder (for the git commit).
        manifest_summary: `Manifest.summary()` of the manifest the run used (after bad files were left out).
        bad_files: the files left out (`cache.BadFile`).
        stage_seconds: wall-clock seconds per stage (corpus, decode, train, evaluate, report, ...); stages may
            nest (the experiment's ``train`` includes ``export``), so they need not add up to the total.
        total_seconds: wall-clock seconds of the whole run so far (None: unknown).
        models: one mapping per trained model (size, training time, export folder).
        extra: anything else to record.
    """
    record = {
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else [],
        "software": software_versions(),
        "machine": machine(),
        "git": git_state(repo),
        "manifest": dict(manifest_summary),
        "bad_files": bad_files_summary(bad_files),
        "stages_seconds": {stage: round(float(seconds), 3) for stage, seconds in stage_seconds.items()},
        "total_seconds": None if total_seconds is None else round(float(total_seconds), 3),
        "models": list(models),
    }
    record.update(extra or {})
    return record
