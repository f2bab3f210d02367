"""The default run of two commits on fresh clones, alternated: wall and CPU time, stages, identical metrics.

    python benchmarks/default_run_ab.py bf0fb12 HEAD                 # 2 rounds: before, after, before, after
    python benchmarks/default_run_ab.py bf0fb12 HEAD --rounds 3 --work /tmp/ab
    python benchmarks/default_run_ab.py 63622c5 HEAD -- --epochs 2   # flags after -- go to run.py

How issue 15's "the default run in half the time" is measured: each run gets a new `git clone` of this
repository checked out at its commit (committed work only: the working tree is not copied), so the
generated corpus and the decode cache are built inside it as on a fresh machine, and `python
benchmarks/run.py` runs there with the interpreter running this script. The commits alternate (A, B, A,
B, ...) so that a machine whose speed drifts (this project's 2-core machines differ by 2x, and one machine
by as much within minutes) weighs on both alike; the ratio is the median of
A's times over the median of B's. CPU seconds (user + system of the run's process tree) are printed next to
the wall seconds: they show whether a change did less work or the same work in parallel.

The development recordings (`../shared`) are seen by every clone: the work folder gets a `shared` link to
this repository's `../shared` when that exists, so `../shared` from a clone is the same folder.

Per run the record's stage times are printed (corpus, train with each model, evaluate, report), and at the
end whether each round's `metrics.json` files are byte-identical across the two commits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("corpus", "train", "evaluate", "report")


@dataclasses.dataclass
class RunTime:
    """One default run: where, how long, and what it wrote."""

    commit: str
    round: int
    wall_seconds: float
    cpu_seconds: float
    stages: dict[str, float]
    train_seconds: dict[str, float]
    metrics: bytes


def resolve(repo: Path, revision: str) -> str:
    """The full commit id of `revision` in `repo`.

    Raises:
        ValueError: `revision` names no commit there.
    """
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ValueError(f"{repo}: {revision!r} names no commit")
    return done.stdout.strip()


def fresh_clone(repo: Path, commit: str, destination: Path) -> Path:
    """`destination` as a new clone of `repo` at `commit` (an old folder there is removed first)."""
    if destination.exists():
        shutil.rmtree(destination)
    subprocess.run(["git", "clone", "--quiet", str(repo), str(destination)], check=True)
    subprocess.run(["git", "-C", str(destination), "checkout", "--quiet", commit], check=True)
    return destination


def run_default(tree: Path, run_name: str, run_args: list[str], log: Path) -> tuple[float, float]:
    """`python benchmarks/run.py --run-name NAME --no-progress ARGS` in `tree`: (wall s, CPU s of its tree).

    Raises:
        RuntimeError: the run failed, naming its log.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(
            [sys.executable, "benchmarks/run.py", "--run-name", run_name, "--no-progress", *run_args],
            cwd=tree,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{log}: the run in {tree} failed with exit code {done.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def read_run(folder: Path) -> tuple[dict[str, float], dict[str, float], bytes]:
    """(stage seconds, train seconds per model, metrics.json bytes) of a finished run folder.

    Raises:
        ValueError: the folder lacks record.json or metrics.json.
    """
    for name in ("record.json", "metrics.json"):
        if not (folder / name).is_file():
            raise ValueError(f"{folder}: no {name}; not a finished run")
    record = json.loads((folder / "record.json").read_text())
    stages = {k: float(v) for k, v in record.get("stages_seconds", {}).items()}
    trains = {
        f"{m['model']}-{m.get('policy', '')}".rstrip("-"): float(m["train_seconds"]) for m in record.get("models", [])
    }
    return stages, trains, (folder / "metrics.json").read_bytes()


def measure(
    before: str,
    after: str,
    rounds: int,
    work: Path,
    run_args: list[str],
    repo: Path = REPO,
    shared: Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[RunTime]:
    """The default run of `before` and `after` alternated for `rounds` rounds, each on a fresh clone in `work`
    (`shared`: the development recordings the clones see as `../shared`; default this repository's).

    Raises:
        ValueError: a revision that names no commit, or `rounds` < 1 (both before any clone).
        RuntimeError: a run failed (`run_default`).
    """
    if rounds < 1:
        raise ValueError(f"default_run_ab: rounds must be >= 1, got {rounds!r}")
    commits = [resolve(repo, before), resolve(repo, after)]
    work.mkdir(parents=True, exist_ok=True)
    shared = repo.parent / "shared" if shared is None else shared
    link = work / "shared"
    if shared.is_dir() and not link.exists() and not link.is_symlink():
        link.symlink_to(shared.resolve())
    runs = []
    for round_ in range(1, rounds + 1):
        for commit in commits:
            tree = fresh_clone(repo, commit, work / f"tree-{commit[:7]}")
            name = f"ab-round{round_}"
            wall, cpu = run_default(tree, name, run_args, work / f"{commit[:7]}-round{round_}.log")
            stages, trains, metrics = read_run(tree / "results" / name)
            runs.append(RunTime(commit[:7], round_, wall, cpu, stages, trains, metrics))
            echo(
                f"round {round_} {commit[:7]}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                + ", ".join(f"{k} {stages[k]:.1f}" for k in STAGES if k in stages)
                + "; "
                + ", ".join(f"{k} {v:.1f}" for k, v in trains.items())
            )
    return runs


def render(runs: list[RunTime]) -> str:
    """The runs as a markdown table, then the median ratios and whether each round's metrics are identical."""
    lines = [
        "| round | commit | wall s | CPU s | " + " | ".join(STAGES) + " | training per model |",
        "|---:|---|---:|---:|" + "---:|" * len(STAGES) + "---|",
    ]
    for r in runs:
        stages = " | ".join(f"{r.stages[k]:.1f}" if k in r.stages else "" for k in STAGES)
        trains = ", ".join(f"{k} {v:.1f}" for k, v in r.train_seconds.items())
        lines.append(f"| {r.round} | {r.commit} | {r.wall_seconds:.1f} | {r.cpu_seconds:.1f} | {stages} | {trains} |")
    commits = list(dict.fromkeys(r.commit for r in runs))
    if len(commits) == 2:
        first, second = ([r for r in runs if r.commit == c] for c in commits)

        def ratio(get):
            return statistics.median(get(r) for r in first) / statistics.median(get(r) for r in second)

        lines += [
            "",
            f"median {commits[0]} / median {commits[1]}: wall {ratio(lambda r: r.wall_seconds):.2f}x, "
            f"CPU {ratio(lambda r: r.cpu_seconds):.2f}x, "
            + ", ".join(
                f"{k} {ratio(lambda r, k=k: r.stages[k]):.2f}x"
                for k in STAGES
                if all(k in r.stages and r.stages[k] > 0 for r in runs)
            ),
        ]
        same = [a.metrics == b.metrics for a, b in zip(first, second)]
        lines.append(f"metrics.json byte-identical across the commits: {', '.join(map(str, same))} (per round)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[RunTime]:
    argv = sys.argv[1:] if argv is None else list(argv)
    run_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="the commit measured first in each round (e.g. the tree before a change)")
    parser.add_argument("after", help="the commit measured second (e.g. HEAD)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, help="where the clones go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="default-run-ab-"))
    try:
        runs = measure(args.before, args.after, args.rounds, work, run_args)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"default_run_ab: {error}\n")
    print()
    command = " ".join(["python benchmarks/run.py", *run_args])
    print(f"# `{command}` on fresh clones in {work}")
    print()
    print(render(runs))
    return runs


if __name__ == "__main__":
    main()
