"""The main job: train models on a corpus, spoil the test set, write clean-vs-spoiled tables.

    python benchmarks/run.py                      # generated voice corpus, conv1d + conv2d
    python benchmarks/run.py --corpus timit --data-dir /data/TIMIT --models conv2d crnn --policies none suite

Writes results/<run-name>/ (table.csv, table.md, metrics.json, config.json, record.json, models/...) and
prints table.md at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_audio.config import FeatureConfig, RunConfig  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = RunConfig()
    parser.add_argument("--config", type=Path, help="a JSON config (e.g. benchmarks/configs/*.json); flags override it")
    parser.add_argument("--corpus", help=f"corpus recipe (default {defaults.corpus}): synthetic, timit, esc50, "
                                         "audiomnist, fsdd, ravdess, folder, csv")
    parser.add_argument("--data-dir", help="the corpus root (default: datasets/<corpus>; the synthetic corpus is "
                                           "generated there on first use)")
    parser.add_argument("--task", help="what to predict (gender, digit, emotion, ...; default: the corpus's own)")
    parser.add_argument("--models", nargs="+", help=f"model families to train (default {' '.join(defaults.models)})")
    parser.add_argument("--policies", nargs="+", help="training policies: none, noise, suite, specaugment, or "
                                                      "combinations like suite+specaugment (default none)")
    parser.add_argument("--corruptions", nargs="+", help="corruptions to evaluate (default: every one whose "
                                                         "resources are available)")
    parser.add_argument("--severities", nargs="+", type=int, help="severities to evaluate, 1..5 (default all)")
    parser.add_argument("--reference-model", help="the mCE reference model, trained with policy none "
                                                  "(default: the first of --models)")
    parser.add_argument("--epochs", type=int, help=f"maximum epochs; early stopping may end sooner (default {defaults.epochs})")
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {defaults.batch_size})")
    parser.add_argument("--learning-rate", type=float, help=f"Adam learning rate (default {defaults.learning_rate})")
    parser.add_argument("--seed", type=int, help=f"the seed for everything: splits, training, corruptions (default {defaults.seed})")
    parser.add_argument("--seeds", type=int, help="train every model this many times (seed, seed+1, ...) and report "
                                                  "mean ± sd (default 1)")
    parser.add_argument("--clip-seconds", type=float, help=f"clip length fed to the models (default {defaults.clip_seconds})")
    parser.add_argument("--sample-rate", type=int, help=f"model sample rate in Hz (default {defaults.sample_rate})")
    parser.add_argument("--skip-bad", action="store_true", default=None,
                        help="leave out bad audio files (listed in the run folder) instead of stopping")
    parser.add_argument("--noise-dir", help="background-noise recordings (default: ../shared/data/noise when present, "
                                            "else the generated corpus's noise/)")
    parser.add_argument("--ir-dir", help="room impulse responses (default: ../shared/data/impulse_responses when present)")
    parser.add_argument("--cross-validation", action="store_true", default=None,
                        help="one round per fold of the corpus's `fold` column (ESC-50's protocol)")
    parser.add_argument("--out", help=f"where run folders go (default {defaults.out})")
    parser.add_argument("--run-name", help="the run folder's name (default: corpus-task-seed-timestamp)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> RunConfig:
    config = RunConfig.load(args.config) if args.config else RunConfig()
    simple = {"corpus": "corpus", "data_dir": "data_dir", "task": "task", "models": "models", "policies": "policies",
              "corruptions": "corruptions", "severities": "severities", "reference_model": "reference_model",
              "epochs": "epochs", "batch_size": "batch_size", "learning_rate": "learning_rate", "seed": "seed",
              "seeds": "seeds", "clip_seconds": "clip_seconds", "sample_rate": "sample_rate",
              "skip_bad": "skip_bad", "noise_dir": "noise_dir", "ir_dir": "ir_dir", "out": "out",
              "run_name": "run_name"}
    for arg, field in simple.items():
        value = getattr(args, arg)
        if value is not None:
            setattr(config, field, value)
    if args.cross_validation:
        config.options["cross_validation"] = True
    if config.noise_dir is None:
        config.noise_dir = _first_existing([SHARED_DATA / "noise"]) or (
            str(REPO / "datasets" / "synthetic" / "noise") if config.corpus == "synthetic" and not config.data_dir else None)
    if config.ir_dir is None:
        config.ir_dir = _first_existing([SHARED_DATA / "impulse_responses"])
    if isinstance(config.features, dict):
        config.features = FeatureConfig(**config.features)
    return config


def _first_existing(paths) -> str | None:
    for path in paths:
        if Path(path).is_dir():
            return str(path)
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    config = build_config(args)
    from keras_audio.experiment import run_experiment

    run_experiment(config, progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
