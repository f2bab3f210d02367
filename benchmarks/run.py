"""The main job: train models on a corpus, spoil the test set, write clean-vs-spoiled tables.

    python benchmarks/run.py                      # generated voice corpus, conv1d + conv2d
    python benchmarks/run.py --corpus timit --data-dir /data/TIMIT --models conv2d crnn --policies none suite
    python benchmarks/run.py --models transfer --encoder results/<run>/models/conv1d-none-seed0

Writes results/<run-name>/ (table.csv, table.md, metrics.json, config.json, record.json, models/...) and
prints table.md at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from keras_audio.config import RunConfig  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
# Flags that set the RunConfig field of the same name.
CONFIG_FLAGS = ("corpus", "data_dir", "task", "models", "policies", "corruptions", "severities", "reference_model",
                "epochs", "batch_size", "learning_rate", "seed", "seeds", "clip_seconds", "sample_rate", "skip_bad",
                "noise_dir", "ir_dir", "out", "run_name")


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
    parser.add_argument("--no-shared-data", action="store_true",
                        help="do not look in ../shared/data for noise and impulse responses (what a fresh clone does)")
    parser.add_argument("--cross-validation", action="store_true", default=None,
                        help="one round per fold of the corpus's `fold` column (ESC-50's protocol)")
    parser.add_argument("--encoder", help="the encoder of the transfer model: a run's export folder "
                                          "(results/<run>/models/<tag>/), a .keras file or a SavedModel folder")
    parser.add_argument("--esc10", action="store_true", default=None, help="ESC-50: keep the ESC-10 subset")
    parser.add_argument("--corpus-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a corpus recipe option, repeatable (e.g. split=speaker for fsdd, include_sa=false "
                             "for timit, test_fold=3 for esc50); values are read as JSON when they parse")
    parser.add_argument("--out", help=f"where run folders go (default {defaults.out})")
    parser.add_argument("--run-name", help="the run folder's name (default: corpus-task-seed-timestamp)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The config file (or the defaults) with every given flag on top, and the resource folders resolved."""
    config = RunConfig.load(args.config) if args.config else RunConfig()
    for field in CONFIG_FLAGS:
        value = getattr(args, field)
        if value is not None:
            setattr(config, field, value)
    if args.cross_validation:
        config.options["cross_validation"] = True
    corpus_options = config.options.setdefault("corpus", {})
    if args.esc10:
        corpus_options["esc10"] = True
    for item in args.corpus_option:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise SystemExit(f"--corpus-option expects KEY=VALUE, got {item!r}")
        corpus_options[key] = _parse_value(value)
    if args.encoder is not None:
        config.options.setdefault("models", {}).setdefault("transfer", {})["encoder"] = str(Path(args.encoder).resolve())
    shared = [] if args.no_shared_data else [SHARED_DATA]
    if config.noise_dir is None:
        config.noise_dir = _first_existing([folder / "noise" for folder in shared])
    if config.noise_dir is None and config.corpus == "synthetic":
        # The generated corpus brings its own background recordings, written with it on first use.
        from keras_audio.corpora import default_data_dir
        from keras_audio.corpora.synthetic import noise_dir

        config.noise_dir = str(noise_dir(config.data_dir or default_data_dir("synthetic")))
    if config.ir_dir is None:
        config.ir_dir = _first_existing([folder / "impulse_responses" for folder in shared])
    return config


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


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
