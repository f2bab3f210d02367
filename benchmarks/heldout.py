"""Held-out corruption families on the generated corpus: Conv2D and CRNN, 3 seeds, one table.

    python benchmarks/heldout.py            # the recipe below: 48 models, about 25 minutes on 2 idle cores
    python benchmarks/heldout.py --quick    # a smoke test of the same path: 4 models, 1 seed, 1 epoch
    python benchmarks/heldout.py --epochs 4 --run-name heldout-synthetic-e4   # any `keras-audio run` flag overrides

The recipe (`keras-audio run` flags in `RECIPE`, model widths in `MODEL_OPTIONS`): the generated default corpus
(speaker gender; generated into datasets/synthetic/ on first use), `--no-shared-data` (background noise from
the corpus's own recordings, `ir_reverb` left out: what a fresh clone computes), models `conv2d` and `crnn`,
policies `none` and `heldout` (the train stage expands it into `suite` plus `suite-minus:F` for every family F
of the built suite: with the six families present, 8 policies), 3 training seeds: 2 × 8 × 3 = 48 models. To fit
about 25 minutes on 2 CPU cores it is reduced against the main job (`benchmarks/run.py`):

- 2 epochs (early stopping as usual) and half the default widths (`MODEL_OPTIONS`): clean accuracy is below a
  full run's (the same budget for every policy, so held out vs trained on is still a like-for-like comparison;
  the table prints each model's clean accuracy beside it);
- 1-s clips instead of 2 s (training crops and the evaluation's centre crop): half the samples per model;
- severity 3 only: a family's figure is the mean over its corruptions at the middle severity;
- `gain` left out (`--corruptions` lists the rest): the front-end's per-example standardisation undoes a level
  change, so its family, `level`, would cost six models and measure nothing.

Timing estimate (from `--quick`, timed on this machine while it was shared, scaled to idle cores): training
≈ 6.5 s (Conv2D) and 7.5 s (CRNN) per model-epoch, export ≈ 3 s per model, evaluation ≈ 13 s per model for the
19 conditions and the whole-clip pass: 48 × (2 × 7 + 3 + 13) s ≈ 24 min, ±40 % (the estimate rests on one
loaded measurement). `--epochs 4` ≈ 35 min.

It calls the library (`keras_audio.suite.cli.main(["run", ...])`, the model widths in a temporary `--config`), then
prints the run's "Held-out corruption families" section of `table.md` (mean ± sd over seeds; mCE on held-out families
against `conv2d / none`). Everything else a run writes is in the run folder it names.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio.corruptions import registry  # noqa: E402
from keras_audio.suite import cli  # noqa: E402

SECTION = "## Held-out corruption families"
LEFT_OUT = ("gain", "ir_reverb")  # gain: see the docstring; ir_reverb needs recorded impulse responses
RECIPE = [
    "--corpus",
    "synthetic",
    "--no-shared-data",
    "--models",
    "conv2d",
    "crnn",
    "--policies",
    "none",
    "heldout",
    "--seeds",
    "3",
    "--epochs",
    "2",
    "--severities",
    "3",
    "--clip-seconds",
    "1",
    "--corruptions",
    *[name for name in registry.names() if name not in LEFT_OUT],
    "--run-name",
    "heldout-synthetic",
    "--no-progress",
]
# The same path on a small scale (4 models, about 2 minutes of compute): 1 seed, 1 epoch, one corruption of two
# families at severity 3, and only `none` + `suite-minus:noise` (no `suite`: its column reads "–").
QUICK = [
    "--seeds",
    "1",
    "--epochs",
    "1",
    "--severities",
    "3",
    "--corruptions",
    "white_noise",
    "lowpass",
    "--policies",
    "none",
    "suite-minus:noise",
    "--run-name",
    "heldout-synthetic-quick",
]
# Half the default widths (conv2d 61k -> 16k parameters): 48 models must train in seconds each.
MODEL_OPTIONS = {
    "conv2d": {"filters": [8, 16, 32, 32]},
    "crnn": {"filters": [8, 16, 32], "units": 32, "attention_units": 16},
}


def heldout_section(table_md: str) -> str:
    """The held-out section of a run's `table.md` (empty if the run held nothing out)."""
    start = table_md.find(SECTION)
    if start < 0:
        return ""
    end = table_md.find("\n## ", start + len(SECTION))
    return table_md[start:] if end < 0 else table_md[start : end + 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 models, 1 seed, 1 epoch: a smoke test")
    known, extra = parser.parse_known_args(argv)
    # argparse keeps the last value of a repeated flag: QUICK and the caller's flags override the recipe.
    flags = [*RECIPE, *(QUICK if known.quick else []), *extra]
    with tempfile.TemporaryDirectory() as folder:
        if "--config" not in flags:  # the model widths have no flag: a config file holds them (yours wins)
            config_file = Path(folder) / "heldout.json"
            config_file.write_text(json.dumps({"training": {"model_options": MODEL_OPTIONS}}))
            flags = ["--config", str(config_file), *flags]
        status = cli.main(["run", *flags])
        if status:
            return status
        config = cli.build_config(cli.build_parser().parse_args(["run", *flags]))
    run = Path(config.out) / config.run_name
    section = heldout_section((run / "table.md").read_text())
    print(f"\n{section or 'no held-out policy in this run'}\nrun folder: {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
