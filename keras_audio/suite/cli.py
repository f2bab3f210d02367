"""`keras-audio` (also `python -m keras_audio`): the suite's one command. It parses and calls the library.

    keras-audio run [flags]                    train, evaluate and report (what benchmarks/run.py does)
    keras-audio train [flags]                  the train stage alone: a run folder with exported models
    keras-audio evaluate MODEL... --corpus C   exported or outside models × a corpus, clean and spoiled
    keras-audio report RUN                     rewrite a run folder's tables and plots from its files
    keras-audio predict MODEL PATH...          label files or folders; per-window CSV and a timeline plot
    keras-audio export MODEL --format tflite onnx      TFLite/ONNX copies of an exported model, checked
    keras-audio export-testset --corpus C --out DIR    publish the spoiled test set as files
    keras-audio score --testset DIR --predictions CSV  score anyone's predictions on it (or --model MODEL)
    keras-audio prepare-asr AUDIO TRANSCRIPT --out DIR  long recording -> <= 30 s segments, manifest, log-mels

A user error (a bad flag value, a bad file, an impossible plan) is one line on stderr and exit code 2;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# Nothing imported here loads TensorFlow or Keras, so `--help` and `--version` answer at once; each command
# imports what it needs (TensorFlow through `import_tensorflow_quietly`, in `main`).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_audio import __version__  # noqa: E402
from keras_audio.suite.config import CorpusSpec, RunConfig  # noqa: E402
from keras_audio.suite.tensorflow_logs import import_tensorflow_quietly  # noqa: E402

# Flags that set the RunConfig field of the same name.
CONFIG_FLAGS = (
    "corpus",
    "data_dir",
    "task",
    "models",
    "policies",
    "corruptions",
    "severities",
    "reference_model",
    "epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "seeds",
    "clip_seconds",
    "sample_rate",
    "skip_bad",
    "noise_dir",
    "ir_dir",
    "out",
    "run_name",
)
# The corpus recipes, for the help text: `keras_audio.corpora.available()` imports pandas, too slow for
# `--help` (tests/suite/test_cli_startup.py checks the two lists agree).
CORPUS_NAMES = ("synthetic", "timit", "esc50", "audiomnist", "fsdd", "ravdess", "folder", "csv")


class UserError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


def _corpus_flags(parser: argparse.ArgumentParser, defaults: RunConfig, several: bool = False) -> None:
    if several:
        parser.add_argument(
            "--corpus",
            action="append",
            metavar="NAME[=PATH]",
            help=f"corpus recipe (default {defaults.corpus}): {', '.join(CORPUS_NAMES)}; repeat "
            "it (NAME=PATH each) to train on several corpora together, labels matched by name, "
            "drawn from equally",
        )
    else:
        parser.add_argument("--corpus", help=f"corpus recipe (default {defaults.corpus}): {', '.join(CORPUS_NAMES)}")
    parser.add_argument(
        "--data-dir",
        help="the corpus root (default: datasets/<corpus> under the home folder; the "
        "synthetic corpus is generated there on first use)",
    )
    parser.add_argument("--task", help="what to predict (gender, digit, emotion, ...; default: the corpus's own)")
    parser.add_argument(
        "--corpus-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a corpus recipe option, repeatable (e.g. split=speaker for fsdd, include_sa=false "
        "for timit, test_fold=3 for esc50); values are read as JSON when they parse",
    )
    parser.add_argument("--esc10", action="store_true", default=None, help="ESC-50: keep the ESC-10 subset")


def _grid_flags(parser: argparse.ArgumentParser, defaults: RunConfig) -> None:
    parser.add_argument(
        "--corruptions",
        nargs="+",
        help="corruptions to evaluate (default: the quick grid, "
        "one or two per family; --full-grid: every one whose "
        "resources are available)",
    )
    parser.add_argument(
        "--severities", nargs="+", type=int, help="severities to evaluate, 1..5 (default 1 3 5; --full-grid: all)"
    )
    parser.add_argument(
        "--full-grid",
        action="store_true",
        help="evaluate every corruption at every severity (default without --config: the quick grid, see the README)",
    )
    parser.add_argument(
        "--seed", type=int, help=f"the seed for everything: splits, training, corruptions (default {defaults.seed})"
    )
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {defaults.batch_size})")
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        default=None,
        help="leave out bad audio files (listed in the run folder) instead of stopping",
    )
    parser.add_argument(
        "--noise-dir",
        help="background-noise recordings (default: ../shared/data/noise beside the "
        "checkout when present, else the generated corpus's noise/)",
    )
    parser.add_argument(
        "--ir-dir", help="room impulse responses (default: ../shared/data/impulse_responses when present)"
    )
    parser.add_argument(
        "--no-shared-data",
        action="store_true",
        help="do not look in ../shared/data for noise and impulse responses (what a fresh clone does)",
    )
    parser.add_argument("--out", help="where run folders go (default: results/ under the home folder)")
    parser.add_argument("--run-name", help="the run folder's name (default: corpus-task-seed-timestamp)")
    parser.add_argument(
        "--source",
        choices=("memory", "stream", "auto"),
        default=None,
        help="serve clips from memory, stream them from the decode cache on disk, or auto "
        "(default: stream a corpus above data.stream_threshold_gb, 2 GB of samples)",
    )
    parser.add_argument(
        "--shared-dir",
        help="a folder every worker of TF_CONFIG reads and writes: the evaluation "
        "grid is then split by condition across the workers and merged",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")


def _training_flags(parser: argparse.ArgumentParser, defaults: RunConfig) -> None:
    parser.add_argument("--config", type=Path, help="a JSON config (e.g. benchmarks/configs/*.json); flags override it")
    _corpus_flags(parser, defaults, several=True)
    parser.add_argument("--models", nargs="+", help=f"model families to train (default {' '.join(defaults.models)})")
    parser.add_argument(
        "--policies",
        nargs="+",
        help="training policies: none, noise, suite, "
        "suite-minus:FAMILY (the suite without one corruption family), "
        "heldout (suite and suite-minus: every family), specaugment, or "
        "combinations like suite+specaugment (default none)",
    )
    parser.add_argument(
        "--reference-model", help="the mCE reference model, trained with policy none (default: the first of --models)"
    )
    parser.add_argument(
        "--epochs", type=int, help=f"maximum epochs; early stopping may end sooner (default {defaults.epochs})"
    )
    parser.add_argument("--learning-rate", type=float, help=f"Adam learning rate (default {defaults.learning_rate})")
    parser.add_argument(
        "--seeds",
        type=int,
        help="train every model this many times (seed, seed+1, ...) and report mean ± sd (default 1)",
    )
    parser.add_argument(
        "--clip-seconds", type=float, help=f"clip length fed to the models (default {defaults.clip_seconds})"
    )
    parser.add_argument("--sample-rate", type=int, help=f"model sample rate in Hz (default {defaults.sample_rate})")
    parser.add_argument(
        "--cross-validation",
        action="store_true",
        default=None,
        help="one round per fold of the corpus's `fold` column (ESC-50's protocol)",
    )
    parser.add_argument(
        "--encoder",
        help="the encoder of the transfer model: a run's export folder "
        "(results/<run>/models/<tag>/), a .keras file or a SavedModel folder",
    )
    parser.add_argument(
        "--export",
        nargs="+",
        choices=("tflite", "onnx"),
        default=None,
        help="also export every model as TFLite (LiteRT) and/or ONNX, each checked against Keras",
    )
    parser.add_argument(
        "--allow-missing-classes",
        action="store_true",
        default=None,
        help="accept a class that is absent from a split (a warning instead of a refusal)",
    )
    parser.add_argument(
        "--content-hash",
        action="store_true",
        default=None,
        help="also refuse byte-identical files on two sides of the split (hashes every file)",
    )
    parser.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multi-worker"),
        default=None,
        help="train on one device (default), every local device (mirrored), or the cluster of "
        "TF_CONFIG (multi-worker: start the same command on every worker); --batch-size is "
        "the global batch, split over the replicas",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed run of this --run-name: finished models are kept, a half-trained "
        "one continues from its last epoch (same flags required); with nothing to continue, "
        "the run starts afresh and says so",
    )
    _grid_flags(parser, defaults)


def _shift_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--test-corpus",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="after training, also evaluate every model on this corpus (repeatable; NAME is a "
        "recipe, PATH its root, or NAME alone for datasets/NAME), clean and over the grid",
    )
    parser.add_argument(
        "--test-split",
        choices=("test", "all"),
        default=None,
        help="which clips of each --test-corpus: its test split (default) or all of them",
    )
    parser.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="CORPUS_CLASS=MODEL_CLASS",
        help="match a test corpus's class name to a model class of another name (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    defaults = RunConfig()
    parser = argparse.ArgumentParser(
        prog="keras-audio", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"keras_audio {__version__}")
    parser.add_argument(
        "--home",
        help="root of datasets/ and results/ (default: $KERAS_AUDIO_HOME, else the checkout, else ~/keras_audio)",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, text in (
        ("run", "train, evaluate and report: the main job"),
        ("train", "the train stage alone: exported models in a run folder"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        _training_flags(sub, defaults)
        if name == "run":
            _shift_flags(sub)

    sub = commands.add_parser(
        "evaluate",
        help="exported or outside models × a corpus, clean and over the grid",
        description="Score models on a corpus: this suite's exports (or whole run folders), "
        "or any .keras file / SavedModel taking a float32 [batch, samples] waveform.",
    )
    sub.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="export folder (or its saved_model/, model.keras, .onnx, .tflite), run folder, .keras file, "
        "SavedModel, .onnx or .tflite file",
    )
    _corpus_flags(sub, defaults)
    sub.add_argument("--split", choices=("test", "all"), default="test", help="the corpus's test split or all clips")
    sub.add_argument(
        "--class-names",
        nargs="+",
        help="a model's classes in output order (models without metadata; refused when it contradicts an export's)",
    )
    sub.add_argument(
        "--sample-rate",
        type=int,
        help="a model's sample rate in Hz (models without metadata; refused when it contradicts an export's)",
    )
    sub.add_argument(
        "--clip-seconds",
        type=float,
        help="clip length fed to models without metadata (default 2; "
        "each export is fed its own, and a contradicting value is "
        "refused)",
    )
    sub.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="CORPUS_CLASS=MODEL_CLASS",
        help="match a corpus class name to a model class of another name (repeatable)",
    )
    _grid_flags(sub, defaults)

    sub = commands.add_parser("report", help="rewrite a run folder's tables and plots from its files")
    sub.add_argument("run_dir", type=Path, metavar="RUN")

    _add_predict(commands)
    _add_export(commands)
    _add_testset_commands(commands, defaults)
    _add_prepare_asr(commands)
    return parser


def _add_predict(commands) -> None:
    sub = commands.add_parser(
        "predict",
        help="label audio files or folders with an exported model",
        description="Whole-file prediction: windows of the model's clip length over the "
        "file, their probabilities averaged.",
    )
    sub.add_argument(
        "model",
        type=Path,
        metavar="MODEL",
        help="an export folder (results/<run>/models/<tag>), or its saved_model/, model.keras, .tflite or .onnx",
    )
    sub.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders of them")
    sub.add_argument("--window", type=float, help="window length in seconds (default: the model's clip length)")
    sub.add_argument("--hop", type=float, help="hop between windows in seconds (default: half a window)")
    sub.add_argument(
        "--smooth",
        type=int,
        default=0,
        help="median smoothing of per-window labels over this many windows (odd; 0 = none)",
    )
    sub.add_argument(
        "--out", type=Path, help="write the file-level answers as CSV here (not an input, not an audio name)"
    )
    sub.add_argument("--windows-out", type=Path, help="write every window's probabilities as CSV here")
    sub.add_argument(
        "--plot",
        type=Path,
        help="draw a timeline PNG (spectrogram and class probabilities over "
        "time) here; with several files, one per file: PLOT-<file>.png "
        "(files of one name in several folders: PLOT-<folder>_<file>.png)",
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_export(commands) -> None:
    text = "TFLite/ONNX copies of an exported model, checked against it; refreshes its metadata and model card"
    sub = commands.add_parser("export", help=text, description=text)
    sub.add_argument(
        "model", type=Path, metavar="MODEL", help="an export folder written by a run (results/<run>/models/<tag>/)"
    )
    sub.add_argument(
        "--format",
        nargs="+",
        default=[],
        metavar="FORMAT",
        help="tflite and/or onnx (none: only refresh metadata.json's measured figures and MODEL_CARD.md)",
    )
    sub.add_argument(
        "--out",
        type=Path,
        help="write a copy of the export folder here, with the new files, instead "
        "of adding them in place (a new or empty folder)",
    )


def _add_testset_commands(commands, defaults: RunConfig) -> None:
    sub = commands.add_parser("export-testset", help="write a corpus's spoiled test set as audio files + manifest")
    _corpus_flags(sub, defaults)
    sub.add_argument("--split", choices=("test", "all"), default="test", help="the corpus's test split or all clips")
    sub.add_argument("--sample-rate", type=int, help=f"sample rate in Hz (default {defaults.sample_rate})")
    sub.add_argument("--clip-seconds", type=float, help=f"clip length (default {defaults.clip_seconds})")
    sub.add_argument(
        "--format", default="flac", choices=("flac", "wav"), help="flac (24-bit) or wav (32-bit float, exact)"
    )
    _grid_flags(sub, defaults)
    sub.set_defaults(testset_out=None)

    sub = commands.add_parser("score", help="score predictions made by any framework against an exported test set")
    sub.add_argument("--testset", type=Path, required=True, help="a folder written by export-testset")
    sub.add_argument(
        "--predictions", type=Path, help="CSV with clip, condition, severity, predicted (and optionally model)"
    )
    sub.add_argument(
        "--model",
        action="append",
        default=[],
        type=Path,
        metavar="MODEL",
        help="instead of --predictions: an export folder that answers the set's files here (repeatable)",
    )
    sub.add_argument("--out", type=Path, help="where run folders go (default: results/ under the home folder)")
    sub.add_argument("--run-name", help="the run folder's name")


def _add_prepare_asr(commands) -> None:
    sub = commands.add_parser("prepare-asr", help="long recording + word timings -> segments, manifest, log-mels")
    sub.add_argument("audio", type=Path)
    sub.add_argument("transcript", type=Path, help="JSON (phrases with terms, or words) or CSV start,end,text")
    sub.add_argument("--out", type=Path, required=True)
    sub.add_argument("--max-seconds", type=float, default=30.0, help="longest segment span (default 30)")
    sub.add_argument("--sample-rate", type=int, default=16000)
    sub.add_argument(
        "--augment", default="", help="comma-separated corruptions for spoiled copies, e.g. noise,pitch_shift"
    )
    sub.add_argument("--severity", type=int, default=2)
    sub.add_argument("--mels", type=int, default=80)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--skip-bad-words", action="store_true", help="report and skip bad words instead of stopping")
    sub.add_argument("--plot", action="store_true", help="also draw the waveform with the segment boundaries")
    sub.add_argument("--no-progress", action="store_true")


# ---------------------------------------------------------------------------------------------- building configs
def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items, flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise UserError(f"{flag} expects KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def _first_existing(paths) -> str | None:
    for path in paths:
        if Path(path).is_dir():
            return str(path)
    return None


def _training_corpora(values: list[str], config: RunConfig) -> str:
    """`--corpus` given once (NAME or NAME=PATH) or several times (data.corpora); returns the corpus name."""
    specs = []
    for value in values:
        name, separator, path = value.partition("=")
        specs.append(CorpusSpec(name, path or None))
    if len(specs) == 1:
        if specs[0].data_dir:
            config.data_dir = specs[0].data_dir
        return specs[0].corpus
    config.data.corpora = specs
    return "+".join(spec.corpus for spec in specs)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The config file (or the defaults) with every given flag on top, and the resource folders resolved."""
    from keras_audio import paths

    config = RunConfig.load(args.config) if getattr(args, "config", None) else RunConfig()
    if isinstance(getattr(args, "corpus", None), list):
        args.corpus = _training_corpora(args.corpus, config)
    if not getattr(args, "config", None) and not getattr(args, "full_grid", True) and hasattr(args, "corruptions"):
        from keras_audio.corruptions.registry import QUICK_GRID, QUICK_SEVERITIES

        config.corruptions, config.severities = list(QUICK_GRID), list(QUICK_SEVERITIES)
    for field in CONFIG_FLAGS:
        value = getattr(args, field, None)
        if value is not None:
            setattr(config, field, value)
    if config.out == RunConfig().out and getattr(args, "out", None) is None:
        config.out = str(paths.results_dir())
    if config.cache_dir == RunConfig().cache_dir:
        config.cache_dir = str(paths.cache_dir())
    if getattr(args, "cross_validation", None):
        config.data.cross_validation = True
    corpus_options = config.data.corpus_options
    if getattr(args, "esc10", None):
        corpus_options["esc10"] = True
    for key, value in _pairs(getattr(args, "corpus_option", []), "--corpus-option").items():
        corpus_options[key] = _parse_value(value)
    if getattr(args, "encoder", None) is not None:
        config.training.model_options.setdefault("transfer", {})["encoder"] = str(Path(args.encoder).resolve())
    if getattr(args, "export", None):
        config.training.export_formats = list(dict.fromkeys(args.export))
    if getattr(args, "allow_missing_classes", None):
        config.plan.allow_missing_classes = True
    if getattr(args, "content_hash", None):
        config.plan.content_hash = True
    for spec in getattr(args, "test_corpus", []):
        name, _, path = spec.partition("=")
        config.evaluation.test_corpora.append(CorpusSpec(name, path or None))
    for flag, section in (("strategy", config.training), ("source", config.data), ("shared_dir", config.evaluation)):
        if getattr(args, flag, None) is not None:
            setattr(section, flag, getattr(args, flag))
    if getattr(args, "test_split", None):
        config.evaluation.test_split = args.test_split
    class_map = _pairs(getattr(args, "class_map", []), "--class-map")
    if class_map:
        config.evaluation.class_map = class_map
    shared = [] if args.no_shared_data else [paths.shared_data_dir()]
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


# ---------------------------------------------------------------------------------------------- commands
def _cmd_run(args) -> None:
    from keras_audio.suite.experiment import run_experiment

    if args.resume and not args.run_name:
        raise UserError("--resume needs the --run-name of the run to continue")
    config = build_config(args)
    _start_strategy(config)
    run_experiment(config, progress=not args.no_progress, resume=args.resume)


def _cmd_train(args) -> None:
    from keras_audio.suite.experiment import train_only

    if args.resume and not args.run_name:
        raise UserError("--resume needs the --run-name of the run to continue")
    config = build_config(args)
    _start_strategy(config)
    train_only(config, progress=not args.no_progress, resume=args.resume)


def _start_strategy(config: RunConfig) -> None:
    """Create the run's tf.distribute strategy before any TensorFlow op (multi-worker needs it first)."""
    strategy = config.training.strategy
    if strategy == "multi-worker" and not config.run_name:
        raise UserError("--strategy multi-worker needs a --run-name, the same on every worker")
    if strategy != "default":
        from keras_audio.distribute import start

        start(strategy)


def _cmd_evaluate(args) -> None:
    from keras_audio.suite.experiment import run_evaluation

    args.config = None
    config = build_config(args)
    if args.corpus is None:
        raise UserError("evaluate: give the corpus to score on (--corpus NAME [--data-dir PATH])")
    run_evaluation(
        config,
        args.models,
        split=args.split,
        class_map=_pairs(args.class_map, "--class-map"),
        class_names=args.class_names,
        sample_rate=args.sample_rate,
        clip_seconds=args.clip_seconds,
        progress=not args.no_progress,
    )


def _cmd_report(args) -> None:
    from keras_audio.suite.experiment import rereport

    print(rereport(args.run_dir))


def _cmd_predict(args) -> None:
    from keras_audio.suite.predict_command import predict_paths

    predict_paths(
        args.model,
        args.paths,
        window_seconds=args.window,
        hop_seconds=args.hop,
        smooth=args.smooth,
        out=args.out,
        windows_out=args.windows_out,
        plot=args.plot,
        progress=not args.no_progress,
    )


def _cmd_export(args) -> None:
    from keras_audio.suite.export_command import export_existing

    print(export_existing(args.model, args.format, out=args.out))


def _cmd_export_testset(args) -> None:
    from keras_audio.suite.experiment import export_corpus_testset

    args.config = None
    if args.out is None:
        raise UserError("export-testset: give the folder to write (--out DIR)")
    out = Path(args.out)
    args.out = None
    config = build_config(args)
    print(export_corpus_testset(config, out, split=args.split, audio_format=args.format, progress=not args.no_progress))


def _cmd_score(args) -> None:
    from keras_audio.suite.experiment import score_testset

    out = str(args.out) if args.out else None
    print(score_testset(args.testset, args.predictions, models=args.model, out=out, run_name=args.run_name))


def _cmd_prepare_asr(args) -> None:
    from keras_audio.asr import parse_augment, prepare_asr

    summary = prepare_asr(
        args.audio,
        args.transcript,
        args.out,
        max_seconds=args.max_seconds,
        sample_rate=args.sample_rate,
        augment=parse_augment(args.augment),
        severity=args.severity,
        n_mels=args.mels,
        seed=args.seed,
        skip_bad_words=args.skip_bad_words,
        plot=args.plot,
        progress=not args.no_progress,
    )
    print(summary.describe())


COMMANDS = {
    "run": _cmd_run,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "report": _cmd_report,
    "predict": _cmd_predict,
    "export": _cmd_export,
    "export-testset": _cmd_export_testset,
    "score": _cmd_score,
    "prepare-asr": _cmd_prepare_asr,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        os.environ["KERAS_AUDIO_HOME"] = str(Path(args.home).resolve())
    import_tensorflow_quietly()  # every command needs it
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("keras-audio: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a user error is one line; anything else too, unless --debug
        if args.debug:
            raise
        # OSError: a folder given as an output file, a full disk, a read-only folder...
        if not isinstance(error, (UserError, ValueError, OSError, RuntimeError)):
            raise
        message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        lines = message.splitlines() or [type(error).__name__]
        lines[0] += "".join(f"; {note}" for note in getattr(error, "__notes__", ()))  # e.g. where work was kept
        # Errors that list several files (bad audio) keep their list; everything else is one line.
        print(f"keras-audio {args.command}: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line.strip()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
