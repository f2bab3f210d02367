"""What restores accuracy under real shift (issue 16): one fixed recipe, every remedy, both directions.

    python benchmarks/shift.py                 # the full recipe (both directions, every remedy, 3 seeds)
    python benchmarks/shift.py --quick         # a smoke test: one direction, four remedies, 1 seed, 1 epoch
    python benchmarks/shift.py --dry-run       # print the runs it would make and exit

The recipe. Train one model (Conv2D) on one corpus, speaker gender, and report for each remedy:

- **in-domain clean**: accuracy on the training corpus's own test speakers;
- **held-out spoiled**: accuracy on those test clips under a corruption family no remedy trains on
  (`--held-out`, default ``room``: synthetic reverberation), mean over the evaluated severities. Remedies
  that train on the suite use ``suite-minus:FAMILY``, so the family is held out for them too;
- **other-corpus clean**: accuracy and balanced accuracy on the other corpus's test split (the real shift);
- each with its training time (seconds per model) and its cost in in-domain clean accuracy against the
  baseline (``none``).

Directions: the generated corpus (``synthetic``) -> AudioMNIST_AZ (``../shared/data/audiomnist_az``), and
the reverse. Remedies, each one run of `keras-audio run` (`keras_audio.suite.cli.main`) with `--seeds 3`:

==================  ==============================================================================
``none``            the baseline: clean training
``suite``           policy ``suite-minus:FAMILY`` over the whole suite
``suite+specaugment`` the same plus SpecAugment masks
``gain+eq``         policy ``suite-minus:FAMILY`` over the corruptions ``gain``, ``eq`` (+ the held-out
                    family, evaluated only): training sees random gain and EQ, nothing else
``codec``           the same over ``mp3``: MP3 round trips at 48-8 kbit/s
``mixup``           clean training with ``training.mixup_alpha`` 0.2 (Zhang et al. 2018)
``pcen``            clean training, Conv2D with ``frontend="pcen"`` (learnt per-channel energy normalisation)
``multi-corpus``    clean training on both corpora (``data.corpora``); the other corpus's test speakers
                    are unseen but its recording conditions are not: a ceiling, not a shift
==================  ==============================================================================

Sizes are cut to fit about 30 minutes on an idle 2-core machine: `--epochs 2`, `--clip-seconds 0.5` (a
spoken digit is ~0.6 s; a generated utterance is randomly cropped in training, centre-cropped in
evaluation), severity 3 only (`--severities 1 3 5` triples the spoiling of the suite runs' grids); every
run keeps the library's recipe otherwise (early stopping, class weights, exports, whole-clip scores). Each run
is a folder under `--out` (default ``results/shift``); its log goes to `<run>.log` beside it, and the table
to ``shift.md`` and ``shift.json`` there. Without ``../shared/data/audiomnist_az`` the script says so and
exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import math
import re
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio import paths  # noqa: E402
from keras_audio.corruptions import registry  # noqa: E402
from keras_audio.suite.cli import main as cli_main  # noqa: E402

MODEL = "conv2d"
SEEDS = 3
EPOCHS = 2
CLIP_SECONDS = 0.5
SEVERITIES = (3,)
HELD_OUT = "room"
MIXUP_ALPHA = 0.2
AUDIOMNIST = "audiomnist_az"  # the folder under ../shared/data


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A corpus as the CLI names it: recipe, folder (None: its default), task."""

    name: str
    data_dir: str | None
    task: str = "gender"

    def spec(self) -> dict:
        return {"corpus": self.name, "data_dir": self.data_dir, "task": self.task}


@dataclasses.dataclass(frozen=True)
class Remedy:
    """One training recipe: its policy, the corruptions the run builds, extra options, multi-corpus or not.

    Attributes:
        trains_on: None: the whole suite; a tuple: only these corruptions (plus the held-out family's, which
            ``suite-minus`` leaves out of training); () for a policy without a waveform part.
    """

    name: str
    policy: str
    trains_on: tuple[str, ...] | None = ()
    options: dict = dataclasses.field(default_factory=dict)
    multi_corpus: bool = False


def remedies(held_out: str) -> dict[str, Remedy]:
    minus = f"suite-minus:{held_out}"
    return {
        r.name: r
        for r in (
            Remedy("none", "none"),
            Remedy("suite", minus, None),
            Remedy("suite+specaugment", f"{minus}+specaugment", None),
            Remedy("gain+eq", minus, ("gain", "eq")),
            Remedy("codec", minus, ("mp3",)),
            Remedy("mixup", "none", (), {"mixup_alpha": MIXUP_ALPHA}),
            Remedy("pcen", "none", (), {"models": {MODEL: {"frontend": "pcen"}}}),
            Remedy("multi-corpus", "none", (), multi_corpus=True),
        )
    }


def directions(shared: Path) -> dict[str, tuple[Corpus, Corpus]]:
    synthetic, audiomnist = Corpus("synthetic", None), Corpus("audiomnist", str(shared / AUDIOMNIST))
    return {"synthetic-to-audiomnist": (synthetic, audiomnist), "audiomnist-to-synthetic": (audiomnist, synthetic)}


def held_out_corruptions(family: str) -> list[str]:
    """The held-out family's corruptions that need no resource folder (so every run can build them)."""
    members = registry.families().get(family)
    if not members:
        raise SystemExit(
            f"shift.py: unknown or empty corruption family {family!r}; families: {', '.join(registry.families())}"
        )
    usable = [name for name in members if not registry.needs_resources(name)]
    if not usable:
        raise SystemExit(f"shift.py: every corruption of family {family!r} needs a resource folder ({members})")
    return usable


def run_config(remedy: Remedy, train: Corpus, other: Corpus, held_out: list[str], args) -> dict:
    """The `RunConfig` (as JSON) of one remedy in one direction."""
    config = {
        "corpus": train.name,
        "data_dir": train.data_dir,
        "task": train.task,
        "models": [MODEL],
        "policies": [remedy.policy],
        "seeds": args.seeds,
        "seed": args.seed,
        "epochs": args.epochs,
        "clip_seconds": args.clip_seconds,
        "severities": list(args.severities),
        "corruptions": None if remedy.trains_on is None else [*remedy.trains_on, *held_out],
        "options": json.loads(json.dumps(remedy.options)),
    }
    if remedy.multi_corpus:
        config["options"]["corpora"] = [train.spec(), other.spec()]
        config["corpus"], config["data_dir"] = f"{train.name}+{other.name}", None
    else:
        config["options"]["test_corpora"] = [other.spec()]
    return config


def mixup_wired() -> bool:
    """Whether the train stage passes `training.mixup_alpha` to the training stream (else mixup = baseline)."""
    import inspect

    from keras_audio.suite.stages import train

    return "mixup_alpha" in inspect.getsource(train)


# ------------------------------------------------------------------------------------------- results
def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "table.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _per_seed(rows, test_corpus: str, corruptions=None, field="accuracy") -> dict[int, float]:
    """Seed -> mean `field` over the rows of `test_corpus` (clean rows, or the given corruptions)."""
    chosen = [
        r
        for r in rows
        if r["test_corpus"] == test_corpus
        and r["model"] == MODEL
        and (r["corruption"] == "clean" if corruptions is None else r["corruption"] in corruptions)
    ]
    seeds = sorted({int(r["seed"]) for r in chosen})
    return {
        s: sum(float(r[field]) for r in chosen if int(r["seed"]) == s) / sum(1 for r in chosen if int(r["seed"]) == s)
        for s in seeds
    }


def summarize_run(run_dir: Path, remedy: Remedy, train: Corpus, other: Corpus, held_out: list[str]) -> dict:
    """Per-seed figures of one run: in-domain clean, held-out spoiled, other-corpus clean, training time."""
    rows = _rows(run_dir)
    test_corpora = {r["test_corpus"] for r in rows}
    if remedy.multi_corpus:  # each corpus's own test split is reported beside the combined one
        own = next(t for t in test_corpora if t.startswith(f"{train.name} ("))
        target = next(t for t in test_corpora if t.startswith(f"{other.name} ("))
    else:
        own, target = "in-domain", other.name
    training = json.loads((run_dir / "training.json").read_text())
    seconds = [m["train_seconds"] for m in training["models"] if m["model"] == MODEL]
    return {
        "in_domain_clean": _per_seed(rows, own),
        "held_out_spoiled": _per_seed(rows, own, held_out),
        "other_clean": _per_seed(rows, target),
        "other_balanced": _per_seed(rows, target, field="balanced_accuracy"),
        "train_seconds": seconds,
        "run": str(run_dir),
    }


def mean_sd(values) -> tuple[float, float]:
    values = list(values)
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, sd


def _cell(values) -> str:
    mean, sd = mean_sd(values)
    return "—" if math.isnan(mean) else f"{mean:.3f} ± {sd:.3f}"


def markdown(results: dict, held_out: str, held_out_names: list[str], settings: str) -> str:
    """One table per direction: every remedy's figures (mean ± sd over seeds) and its costs."""
    lines = [
        f"Shift benchmark ({settings}); held-out family `{held_out}` ({', '.join(held_out_names)}), "
        f"model {MODEL}; mean ± sd over seeds.",
        "",
    ]
    for direction, by_remedy in results.items():
        baseline = by_remedy.get("none", {})
        base_clean = mean_sd(baseline.get("in_domain_clean", {}).values())[0] if "error" not in baseline else math.nan
        lines += [
            f"### {direction}",
            "",
            "| remedy | in-domain clean | held-out spoiled | other corpus clean | balanced | "
            "Δ clean vs none | train s/model |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, figures in by_remedy.items():
            if "error" in figures:
                lines.append(f"| {name} | not run: {figures['error']} | | | | | |")
                continue
            clean = mean_sd(figures["in_domain_clean"].values())[0]
            delta = "—" if math.isnan(base_clean) or name == "none" else f"{clean - base_clean:+.3f}"
            label = name + (" (other corpus in training: a ceiling)" if name == "multi-corpus" else "")
            lines.append(
                f"| {label} | {_cell(figures['in_domain_clean'].values())} | "
                f"{_cell(figures['held_out_spoiled'].values())} | {_cell(figures['other_clean'].values())} | "
                f"{_cell(figures['other_balanced'].values())} | {delta} | "
                f"{mean_sd(figures['train_seconds'])[0]:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: synthetic-to-audiomnist, remedies none, gain+eq, codec, mixup, 1 seed, "
        "1 epoch, 0.5-s clips, severity 3",
    )
    parser.add_argument("--remedies", nargs="+", help="a subset of the remedies (default: all)")
    parser.add_argument("--directions", nargs="+", help="a subset of the directions (default: both)")
    parser.add_argument(
        "--held-out", default=HELD_OUT, help=f"the corruption family no remedy trains on (default {HELD_OUT})"
    )
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--clip-seconds", type=float, default=CLIP_SECONDS)
    parser.add_argument("--severities", type=int, nargs="+", default=list(SEVERITIES))
    parser.add_argument("--out", type=Path, help="where the run folders and the table go (default results/shift)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs and their configs, run nothing")
    args = parser.parse_args(argv)
    if args.quick:
        args.remedies = args.remedies or ["none", "gain+eq", "codec", "mixup"]
        args.directions = args.directions or ["synthetic-to-audiomnist"]
        args.seeds, args.epochs, args.clip_seconds, args.severities = 1, 1, 0.5, [3]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    shared = paths.shared_data_dir()
    if not (shared / AUDIOMNIST).is_dir():
        print(
            f"shift.py: needs the AudioMNIST_AZ development recordings at {shared / AUDIOMNIST} "
            f"(see ../shared/data/README.md); not found",
            file=sys.stderr,
        )
        return 2
    held_out = held_out_corruptions(args.held_out)
    known, ways = remedies(args.held_out), directions(shared)
    members = set(registry.families()[args.held_out])
    clash = [
        (r.name, sorted(members & set(r.trains_on)))
        for r in known.values()
        if r.trains_on and members & set(r.trains_on)
    ]
    if clash:  # a remedy that trains on the held-out family would make "held out" untrue for its row
        print(
            f"shift.py: --held-out {args.held_out} holds {', '.join(clash[0][1])}, which remedy {clash[0][0]!r} "
            f"trains on; hold out another family",
            file=sys.stderr,
        )
        return 2
    for kind, chosen, options in (("remedy", args.remedies, known), ("direction", args.directions, ways)):
        unknown = [c for c in chosen or [] if c not in options]
        if unknown:
            print(f"shift.py: unknown {kind} {unknown[0]!r}; choose from {', '.join(options)}", file=sys.stderr)
            return 2
    out = (args.out or paths.results_dir() / "shift").resolve()
    settings = (
        f"{args.seeds} seed(s), {args.epochs} epoch(s), {args.clip_seconds:g}-s clips, severities "
        f"{', '.join(map(str, args.severities))}"
    )
    results: dict[str, dict] = {}
    started = time.perf_counter()
    for direction in args.directions or list(ways):
        train, other = ways[direction]
        results[direction] = {}
        for name in args.remedies or list(known):
            remedy = known[name]
            config = run_config(remedy, train, other, held_out, args)
            run_name = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{direction}-{name}")
            if args.dry_run:
                print(f"{run_name}: {json.dumps(config)}")
                continue
            if name == "mixup" and not mixup_wired():
                results[direction][name] = {
                    "error": "training.mixup_alpha is not passed to the training stream (stages/train.py)"
                }
                print(f"[shift] {run_name}: skipped, mixup is not wired into the train stage", flush=True)
                continue
            out.mkdir(parents=True, exist_ok=True)
            config_path = out / f"{run_name}.config.json"
            config_path.write_text(json.dumps(config, indent=2) + "\n")
            run_dir = out / run_name
            if run_dir.exists():
                print(f"[shift] {run_name}: already in {run_dir}, kept (delete it to rerun)", flush=True)
                status = 0
            else:
                print(f"[shift] {run_name}: running ({time.perf_counter() - started:.0f} s so far)", flush=True)
                log_path = out / f"{run_name}.log"
                with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    try:
                        status = cli_main(
                            [
                                "run",
                                "--config",
                                str(config_path),
                                "--run-name",
                                run_name,
                                "--out",
                                str(out),
                                "--no-progress",
                            ]
                        )
                    except Exception:  # a crash of one remedy is its row's note, not the end of the benchmark
                        traceback.print_exc()
                        status = 1
            if status != 0:
                last = [line for line in (out / f"{run_name}.log").read_text().splitlines() if line.strip()][-1:]
                results[direction][name] = {
                    "error": (last[0].strip()[:200] if last else f"exit status {status}").replace("|", "/")
                    + f" (log: {run_name}.log)"
                }
                print(f"[shift] {run_name}: failed: {results[direction][name]['error']}", flush=True)
                continue
            results[direction][name] = summarize_run(run_dir, remedy, train, other, held_out)
    if args.dry_run:
        return 0
    table = markdown(results, args.held_out, held_out, settings)
    total = time.perf_counter() - started
    (out / "shift.md").write_text(table + f"\nTotal wall-clock time: {total:.0f} s.\n")
    (out / "shift.json").write_text(
        json.dumps(
            {
                "settings": settings,
                "held_out": args.held_out,
                "held_out_corruptions": held_out,
                "seconds": round(total, 1),
                "results": results,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(table)
    print(f"Total wall-clock time: {total:.0f} s; written to {out / 'shift.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
