"""Pretrained encoders against models trained from scratch: in domain, spoiled, and on another corpus.

    python benchmarks/pretrained.py                     # every part (needs ../shared/data)
    python benchmarks/pretrained.py --parts speech      # one part; --epochs / --seed to change the recipe
    python benchmarks/pretrained.py --dry-run           # print the commands and exit

Parts, each one or more `keras-audio` commands (`keras_audio.suite.cli.main`), their run folders under `--out`
(default ``results/pretrained``), the tables in ``pretrained.md`` there:

- ``speech``: speaker gender, trained on the generated corpus: Conv2D from scratch, the GE2E speaker encoder
  frozen (``ge2e``) and fine-tuned (``ge2e_finetune``), each with policies ``none`` and ``suite``; clean and
  spoiled (the quick grid's corruptions, `corruptions.registry.QUICK_GRID`, at severity 3), and AudioMNIST_AZ's test
  speakers as the other corpus. Then ``keras-audio evaluate`` of Conv2D and ``ge2e`` on all 59 speakers of
  AudioMNIST_AZ (clean, and white noise at severity 3 only: the grid there is not the point).
- ``audiomnist``: the reverse: trained on AudioMNIST_AZ's training speakers (Conv2D, ``ge2e``), scored on its
  test speakers and on the generated corpus's.
- ``esc50``: the 40 classes of ``esc50_fold4`` (320 clips), 5-fold cross-validation grouped by source
  recording (folds drawn here, `esc50_folds`), 5-s clips at 22,050 Hz: Conv2D from scratch against the
  sound encoder (``aisfx``), clean and spoiled (the quick grid at severity 3). A class whose 8 clips come from
  one or two recordings cannot be in every fold: ``--allow-missing-classes`` lets a fold lack it (balanced
  accuracy then averages over the classes present).

Each table names the command that produced it. Without ``../shared/data`` the script says so and exits 2.
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
from keras_audio.suite.cli import main as cli_main  # noqa: E402
from keras_audio.corruptions.registry import QUICK_GRID  # noqa: E402

AUDIOMNIST, ESC50 = "audiomnist_az", "esc50_fold4"
FOLDS = 5


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
            writer.writerow([str((root / "audio" / row["filename"]).resolve()), row["category"],
                             row["src_file"], int(fold)])
    return manifest


def commands(args, shared: Path, out: Path) -> dict[str, list[list[str]]]:
    """Part -> the `keras-audio` argument lists it runs, in order."""
    quick = ["--corruptions", *QUICK_GRID]
    common = ["--seed", str(args.seed), "--epochs", str(args.epochs), "--out", str(out), "--no-progress"]
    audiomnist = str(shared / AUDIOMNIST)
    speech_run = out / "speech"
    return {
        "speech": [
            ["run", "--run-name", "speech", "--models", "conv2d", "ge2e", "ge2e_finetune", "--policies", "none",
             "suite", *quick, "--severities", "3", "--test-corpus", f"audiomnist={audiomnist}", *common],
            *[["evaluate", str(speech_run / "models" / f"{model}-{policy}-seed{args.seed}"), "--corpus", "audiomnist",
               "--data-dir", audiomnist, "--task", "gender", "--split", "all", "--corruptions", "white_noise",
               "--severities", "3",
               "--run-name", f"speech-{model}-{policy}-on-audiomnist", "--out", str(out), "--no-progress"]
              for model in ("conv2d", "ge2e") for policy in ("none", "suite")],
        ],
        "audiomnist": [
            ["run", "--run-name", "audiomnist", "--corpus", "audiomnist", "--data-dir", audiomnist, "--task",
             "gender", "--models", "conv2d", "ge2e", *quick, "--severities", "3", "--test-corpus",
             "synthetic=", *common],
        ],
        "esc50": [
            ["run", "--run-name", "esc50", "--corpus", "csv", "--data-dir", str(out / "esc50_fold4_manifest.csv"),
             "--models", "conv2d", "aisfx", "--cross-validation", "--allow-missing-classes", "--sample-rate", "22050",
             "--clip-seconds", "5",
             *quick, "--severities", "3", *common],
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
        per_corruption = {c: _mean(r["accuracy"] for r in spoiled if r["corruption"] == c)
                          for c in dict.fromkeys(r["corruption"] for r in spoiled)}
        worst = min(per_corruption, key=per_corruption.get) if per_corruption else None
        out.append({"model": model, "policy": policy, "test": test,
                    "clean": _mean(r["accuracy"] for r in clean),
                    "balanced": _mean(r["balanced_accuracy"] for r in clean),
                    "spoiled": _mean(r["accuracy"] for r in spoiled),
                    "worst": f"{worst} ({per_corruption[worst]:.3f})" if worst else "—"})
    return out


def _table(figures: list[dict], header: str) -> list[str]:
    lines = [f"| model | policy | {header} clean | balanced | mean spoiled | worst corruption |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    lines += [f"| {f['model']} | {f['policy']} | {f['clean']:.3f} | {f['balanced']:.3f} | {f['spoiled']:.3f} | "
              f"{f['worst']} |" for f in figures]
    return lines


def report(out: Path, parts: list[str], ran: dict[str, list[str]]) -> str:
    lines = ["# Pretrained encoders against models trained from scratch", ""]
    for part in parts:
        lines += [f"## {part}", "", "Commands (`keras-audio ...`, in `benchmarks/pretrained.py`):", ""]
        lines += [f"    keras-audio {' '.join(cmd)}" for cmd in ran.get(part, [])] + [""]
        for run_dir in sorted(out.glob(f"{part}*")):
            if not (run_dir / "table.csv").is_file():
                continue
            figures = summary(run_dir)
            for test in dict.fromkeys(f["test"] for f in figures):
                lines += [f"**{run_dir.name}**, test set `{test}`:", ""]
                lines += _table([f for f in figures if f["test"] == test], "") + [""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=("speech", "audiomnist", "esc50"),
                        default=["speech", "audiomnist", "esc50"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="default: results/pretrained")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    shared = paths.shared_data_dir()
    missing = [name for name in (AUDIOMNIST, ESC50) if not (shared / name).is_dir()]
    if missing:
        print(f"pretrained.py: needs the development recordings {missing} in {shared} (see ../shared/data/README.md)",
              file=sys.stderr)
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
            with open(out / f"{name}.log", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
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
