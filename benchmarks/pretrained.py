"""Pretrained encoders against models trained from scratch: in domain, spoiled, and on another corpus.

    python benchmarks/pretrained.py                     # every part (needs ../shared/data)
    python benchmarks/pretrained.py --parts speech      # one part; --epochs / --seed to change the recipe
    python benchmarks/pretrained.py --dry-run           # print the commands and exit
    python benchmarks/pretrained.py --data-root /work/shared/data --parts audiomnist-splits   # from anywhere

Parts, each one or more `keras-audio` commands (`keras_audio.suite.cli.main`), their run folders under `--out`
(default ``results/pretrained``), the tables in ``pretrained.md`` there:

- ``speech``: speaker gender, trained on the generated corpus: Conv2D from scratch, the GE2E speaker encoder
  frozen (``ge2e``) and fine-tuned (``ge2e_finetune``), each with policies ``none`` and ``suite``; clean and
  spoiled (the quick grid's corruptions, `corruptions.registry.QUICK_GRID`, at severity 3), and AudioMNIST_AZ's test
  speakers as the other corpus. Then ``keras-audio evaluate`` of Conv2D, ``ge2e`` and ``ge2e_finetune`` on all
  59 speakers of AudioMNIST_AZ (clean, and white noise at severity 3 only: the grid there is not the point).
- ``audiomnist``: the reverse: trained on AudioMNIST_AZ's training speakers (Conv2D, ``ge2e``), scored on its
  test speakers and on the generated corpus's.
- ``audiomnist-splits``: AudioMNIST_AZ alone, over ``--split-seeds`` seeds (``--seed``, ``--seed`` + 1, ...):
  the corpus draws its speaker-disjoint split from the run's seed (`corpora.digits.load_audiomnist`: 70/15/15 %
  of the speakers, stratified by gender), so each seed is another split of the 59 speakers (9 of them in the
  test split). Conv2D and ``ge2e``, clean and white noise at severity 3; the table gives each seed and the mean
  ± standard deviation over seeds. One split's test set is 9 speakers: one seed alone says little.
- ``esc50``: the 40 classes of ``esc50_fold4`` (320 clips), 5-fold cross-validation grouped by source
  recording (folds drawn here, `esc50_folds`), 5-s clips at 22,050 Hz: Conv2D from scratch against the
  sound encoder (``aisfx``), clean and spoiled (the quick grid at severity 3). A class whose 8 clips come from
  one or two recordings cannot be in every fold: ``--allow-missing-classes`` lets a fold lack it (balanced
  accuracy then averages over the classes present).

Each table names the command that produced it. The recordings are looked for in ``../shared/data`` beside the
checkout (`paths.shared_data_dir`), or in ``--data-root``; without them the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio import paths  # noqa: E402
from keras_audio.corruptions.registry import QUICK_GRID  # noqa: E402
from keras_audio.suite.cli import main as cli_main  # noqa: E402

AUDIOMNIST, ESC50 = "audiomnist_az", "esc50_fold4"
FOLDS = 5
PARTS = ("speech", "audiomnist", "audiomnist-splits", "esc50")
SPLIT_SEEDS = 5


def esc50_folds(root: Path, out: Path, folds: int = FOLDS, seed: int = 0) -> Path:
    """A CSV manifest of `esc50_fold4` with `folds` folds drawn so that no source recording is in two and every
    class is spread evenly (scikit-learn's StratifiedGroupKFold); returns its path."""
    from sklearn.model_selection import StratifiedGroupKFold

    with open(root / "meta" / "esc50_fold4.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = [r["category"] for r in rows]
    groups = [r["src_file"] for r in rows]
    fold_of = np.zeros(len(rows), int)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(rows)), labels, groups)):
        fold_of[test] = fold + 1
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "esc50_fold4_manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "label", "speaker", "fold"])
        for row, fold in zip(rows, fold_of):
            writer.writerow(
                [str((root / "audio" / row["filename"]).resolve()), row["category"], row["src_file"], int(fold)]
            )
    return manifest


def commands(args, shared: Path, out: Path) -> dict[str, list[list[str]]]:
    """Part -> the `keras-audio` argument lists it runs, in order."""
    quick = ["--corruptions", *QUICK_GRID]
    common = ["--seed", str(args.seed), "--epochs", str(args.epochs), "--out", str(out), "--no-progress"]
    split_seeds = range(args.seed, args.seed + args.split_seeds)
    audiomnist = str(shared / AUDIOMNIST)
    speech_run = out / "speech"
    return {
        "speech": [
            [
                "run",
                "--run-name",
                "speech",
                "--models",
                "conv2d",
                "ge2e",
                "ge2e_finetune",
                "--policies",
                "none",
                "suite",
                *quick,
                "--severities",
                "3",
                "--test-corpus",
                f"audiomnist={audiomnist}",
                *common,
            ],
            *[
                [
                    "evaluate",
                    str(speech_run / "models" / f"{model}-{policy}-seed{args.seed}"),
                    "--corpus",
                    "audiomnist",
                    "--data-dir",
                    audiomnist,
                    "--task",
                    "gender",
                    "--split",
                    "all",
                    "--corruptions",
                    "white_noise",
                    "--severities",
                    "3",
                    "--run-name",
                    f"speech-{model}-{policy}-on-audiomnist",
                    "--out",
                    str(out),
                    "--no-progress",
                ]
                for model in ("conv2d", "ge2e", "ge2e_finetune")
                for policy in ("none", "suite")
            ],
        ],
        "audiomnist": [
            [
                "run",
                "--run-name",
                "audiomnist",
                "--corpus",
                "audiomnist",
                "--data-dir",
                audiomnist,
                "--task",
                "gender",
                "--models",
                "conv2d",
                "ge2e",
                *quick,
                "--severities",
                "3",
                "--test-corpus",
                "synthetic=",
                *common,
            ],
        ],
        "audiomnist-splits": [
            [
                "run",
                "--run-name",
                f"audiomnist-splits-seed{seed}",
                "--corpus",
                "audiomnist",
                "--data-dir",
                audiomnist,
                "--task",
                "gender",
                "--models",
                "conv2d",
                "ge2e",
                "--corruptions",
                "white_noise",
                "--severities",
                "3",
                "--seed",
                str(seed),
                "--epochs",
                str(args.epochs),
                "--out",
                str(out),
                "--no-progress",
            ]
            for seed in split_seeds
        ],
        "esc50": [
            [
                "run",
                "--run-name",
                "esc50",
                "--corpus",
                "csv",
                "--data-dir",
                str(out / "esc50_fold4_manifest.csv"),
                "--models",
                "conv2d",
                "aisfx",
                "--cross-validation",
                "--allow-missing-classes",
                "--sample-rate",
                "22050",
                "--clip-seconds",
                "5",
                *quick,
                "--severities",
                "3",
                *common,
            ],
        ],
    }


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "table.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else float("nan")


def summary(run_dir: Path) -> list[dict]:
    """Per model, policy and test corpus: clean accuracy and balanced accuracy, mean spoiled, worst corruption
    (means over folds and seeds)."""
    rows = _rows(run_dir)
    keys = list(dict.fromkeys((r["model"], r["policy"], r["test_corpus"]) for r in rows))
    out = []
    for model, policy, test in keys:
        mine = [r for r in rows if (r["model"], r["policy"], r["test_corpus"]) == (model, policy, test)]
        clean = [r for r in mine if r["corruption"] == "clean"]
        spoiled = [r for r in mine if r["corruption"] != "clean"]
        per_corruption = {
            c: _mean(r["accuracy"] for r in spoiled if r["corruption"] == c)
            for c in dict.fromkeys(r["corruption"] for r in spoiled)
        }
        worst = min(per_corruption, key=per_corruption.get) if per_corruption else None
        out.append(
            {
                "model": model,
                "policy": policy,
                "test": test,
                "clean": _mean(r["accuracy"] for r in clean),
                "balanced": _mean(r["balanced_accuracy"] for r in clean),
                "spoiled": _mean(r["accuracy"] for r in spoiled),
                "worst": f"{worst} ({per_corruption[worst]:.3f})" if worst else "—",
            }
        )
    return out


def _table(figures: list[dict], header: str) -> list[str]:
    lines = [
        f"| model | policy | {header} clean | balanced | mean spoiled | worst corruption |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {f['model']} | {f['policy']} | {f['clean']:.3f} | {f['balanced']:.3f} | {f['spoiled']:.3f} | {f['worst']} |"
        for f in figures
    ]
    return lines


def _sd(values) -> float:
    values = [float(v) for v in values]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def splits_table(run_dirs: list[Path]) -> list[str]:
    """One row per model: clean balanced accuracy on each seed's split (and plain accuracy), then the mean ± sd
    over seeds of clean balanced, clean and white-noise accuracy."""
    per_model: dict[str, dict[str, list]] = {}
    seeds = []
    for run_dir in run_dirs:
        if not (run_dir / "table.csv").is_file():
            continue
        rows = [r for r in _rows(run_dir) if r["test_corpus"] == "in-domain"]
        seeds.append(rows[0]["seed"] if rows else "?")
        for f in summary(run_dir):
            if f["test"] != "in-domain":
                continue
            entry = per_model.setdefault(f"{f['model']} | {f['policy']}", {"balanced": [], "clean": [], "spoiled": []})
            entry["balanced"].append(f["balanced"])
            entry["clean"].append(f["clean"])
            entry["spoiled"].append(f["spoiled"])
    if not per_model:
        return []
    lines = [
        "| model | policy | clean balanced, per seed (" + ", ".join(seeds) + ") | clean balanced: mean ± sd | "
        "clean: mean ± sd | white noise (sev. 3): mean ± sd |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for key, e in per_model.items():
        lines.append(
            f"| {key} | {' '.join(f'{v:.3f}' for v in e['balanced'])} | {_mean(e['balanced']):.3f} ± "
            f"{_sd(e['balanced']):.3f} | {_mean(e['clean']):.3f} ± {_sd(e['clean']):.3f} | "
            f"{_mean(e['spoiled']):.3f} ± {_sd(e['spoiled']):.3f} |"
        )
    return lines


def report(out: Path, parts: list[str], ran: dict[str, list[str]]) -> str:
    lines = ["# Pretrained encoders against models trained from scratch", ""]
    for part in parts:
        lines += [f"## {part}", "", "Commands (`keras-audio ...`, in `benchmarks/pretrained.py`):", ""]
        lines += [f"    keras-audio {' '.join(cmd)}" for cmd in ran.get(part, [])] + [""]
        # This part's runs only (by name: one part's name may begin another's, audiomnist / audiomnist-splits).
        run_dirs = [out / cmd[cmd.index("--run-name") + 1] for cmd in ran.get(part, [])]
        if part == "audiomnist-splits":
            lines += ["Each seed's own speaker split, scored on its test speakers (in-domain):", ""]
            lines += splits_table(run_dirs) + [""]
            continue
        for run_dir in run_dirs:
            if not (run_dir / "table.csv").is_file():
                continue
            figures = summary(run_dir)
            for test in dict.fromkeys(f["test"] for f in figures):
                lines += [f"**{run_dir.name}**, test set `{test}`:", ""]
                lines += _table([f for f in figures if f["test"] == test], "") + [""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split-seeds",
        type=int,
        default=SPLIT_SEEDS,
        help=f"audiomnist-splits: how many seeds, hence speaker splits (default {SPLIT_SEEDS})",
    )
    parser.add_argument(
        "--data-root", type=Path, help="the development recordings (default: ../shared/data beside the checkout)"
    )
    parser.add_argument("--out", type=Path, help="default: results/pretrained")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.split_seeds < 1:
        parser.error("--split-seeds must be >= 1")
    shared = (args.data_root or paths.shared_data_dir()).resolve()
    missing = [name for name in (AUDIOMNIST, ESC50) if not (shared / name).is_dir()]
    if missing:
        print(
            f"pretrained.py: needs the development recordings {missing} in {shared} (see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    out = (args.out or paths.results_dir() / "pretrained").resolve()
    runs = commands(args, shared, out)
    ran: dict[str, list[str]] = {}
    started = time.perf_counter()
    for part in args.parts:
        if part == "esc50" and not args.dry_run:
            esc50_folds(shared / ESC50, out, seed=args.seed)
        for argv_ in runs[part]:
            ran.setdefault(part, []).append(argv_)
            name = argv_[argv_.index("--run-name") + 1]
            if args.dry_run:
                print("keras-audio " + " ".join(argv_))
                continue
            if (out / name).is_dir():
                print(f"[pretrained] {name}: already in {out / name}, kept (delete it to rerun)", flush=True)
                continue
            print(f"[pretrained] {name}: running ({time.perf_counter() - started:.0f} s so far)", flush=True)
            out.mkdir(parents=True, exist_ok=True)
            with (
                open(out / f"{name}.log", "w") as log,
                contextlib.redirect_stdout(log),
                contextlib.redirect_stderr(log),
            ):
                status = cli_main(argv_)
            if status != 0:
                print(f"[pretrained] {name}: failed (exit {status}; log {out / (name + '.log')})", flush=True)
    if args.dry_run:
        return 0
    text = report(out, args.parts, ran)
    (out / "pretrained.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
