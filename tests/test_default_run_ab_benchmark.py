"""benchmarks/default_run_ab.py on a tiny git repository whose run.py writes a run folder (no timing asserted)."""

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.benchmark_modules import load_benchmark

default_run_ab = load_benchmark("default_run_ab")

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="the benchmark clones with git")

# A stand-in for the real run.py: writes what the benchmark reads, from the clone's own files.
FAKE_RUN = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    args = sys.argv[1:]
    name = args[args.index("--run-name") + 1]
    if Path("FAIL").exists():
        sys.exit(3)
    folder = Path("results") / name
    folder.mkdir(parents=True)
    seconds = float(Path("SECONDS").read_text())
    shared = Path("..", "shared", "marker").is_file()  # the fixture's stand-in folder, not real recordings
    (folder / "record.json").write_text(json.dumps({
        "stages_seconds": {"corpus": 1.0, "train": seconds, "evaluate": 2.0, "report": 0.5},
        "models": [{"model": "conv1d", "policy": "none", "train_seconds": seconds}],
        "args": args, "saw_shared": shared}))
    (folder / "metrics.json").write_text(Path("METRICS").read_text())
""")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "project" / "main"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    before = commit(repo, {"benchmarks/run.py": FAKE_RUN, "SECONDS": "4.0", "METRICS": '{"acc": 0.9}'}, "before")
    after = commit(repo, {"SECONDS": "2.0"}, "after: faster, same metrics")
    shared = tmp_path / "project" / "shared"
    shared.mkdir()
    (shared / "marker").write_text("development recordings")
    return repo, before, after


def test_two_commits_alternate_on_fresh_clones_and_their_metrics_are_compared(repo, tmp_path):
    repo, before, after = repo
    lines = []
    runs = default_run_ab.measure(
        before[:7], "HEAD", 2, tmp_path / "work", ["--epochs", "1"], repo=repo, echo=lines.append
    )
    assert [(r.commit, r.round) for r in runs] == [(before[:7], 1), (after[:7], 1), (before[:7], 2), (after[:7], 2)]
    assert [r.stages["train"] for r in runs] == [4.0, 2.0, 4.0, 2.0]  # each clone ran its own commit
    assert runs[0].train_seconds == {"conv1d-none": 4.0}
    record = (tmp_path / "work" / f"tree-{after[:7]}" / "results" / "ab-round2" / "record.json").read_text()
    assert '"--epochs", "1"' in record and '"saw_shared": true' in record  # flags passed, the stand-in linked
    assert len(lines) == 4 and lines[1].startswith(f"round 1 {after[:7]}:")
    table = default_run_ab.render(runs)
    assert "train 2.00x" in table  # median before / median after, per stage
    assert "metrics.json byte-identical across the commits: True, True" in table


def test_changed_metrics_are_reported_as_not_identical(repo, tmp_path):
    repo, before, _ = repo
    changed = commit(repo, {"METRICS": '{"acc": 0.8}'}, "other metrics")
    runs = default_run_ab.measure(before, changed, 1, tmp_path / "work", [], repo=repo, echo=lambda line: None)
    assert "byte-identical across the commits: False" in default_run_ab.render(runs)


def test_a_failed_run_names_its_log(repo, tmp_path):
    repo, before, _ = repo
    broken = commit(repo, {"FAIL": "yes"}, "a run that fails")
    with pytest.raises(RuntimeError, match=rf"{broken[:7]}-round1\.log: the run in .* failed with exit code 3"):
        default_run_ab.measure(before, broken, 1, tmp_path / "work", [], repo=repo, echo=lambda line: None)


def test_bad_revisions_and_rounds_are_refused_before_any_clone(repo, tmp_path, capsys):
    repo, before, _ = repo
    with pytest.raises(ValueError, match="'nonesuch' names no commit"):
        default_run_ab.measure(before, "nonesuch", 1, tmp_path / "work", [], repo=repo)
    with pytest.raises(ValueError, match="rounds must be >= 1, got 0"):
        default_run_ab.measure(before, "HEAD", 0, tmp_path / "work", [], repo=repo)
    assert not (tmp_path / "work").exists()
    with pytest.raises(SystemExit) as exit_:
        default_run_ab.main(["nonesuch-rev", "HEAD", "--work", str(tmp_path / "w2")])
    assert exit_.value.code == 2 and "names no commit" in capsys.readouterr().err
