"""The plan check: what a run needs, checked before anything is decoded or trained.

Three calls, each listing every problem in one `PlanError` (or returning a `PlanReport` of warnings):

- `check_run(config)`, before the corpus is loaded: models and their hyperparameters (keyword names
  against each family's builder, with the closest valid name; value types against the defaults), the
  policies, the reference model, the corruptions and the resources they need (an encoder for ``transfer``,
  a noise folder for ``background_noise``, impulse responses for ``ir_reverb``), the corpus options, and a
  clip length between the front-end's window and what a training batch fits in memory;
- `check_test_corpora(config, manifest)`, with the training manifest before decoding: every
  ``--test-corpus`` loads, its classes map into the training classes, its clips to score are there;
- `check_folders(config)`, once the corpus is loaded (the generated corpus writes its noise folder then):
  the given noise and impulse-response folders exist and hold audio;
- `check_plan(manifest, settings)`, on each round's manifest before decoding: every class in train,
  validation and test (or a refusal naming the class and the split, unless
  `PlanConfig.allow_missing_classes`), a non-empty validation split, enough clips and speakers per class and
  split and enough test speakers (warnings), and no audio on two sides of the split: the same file under two
  clip ids (real paths: ``./x.wav`` and ``x.wav``, symbolic links) or, with `PlanConfig.content_hash`, the
  same bytes under two names.

Why each matters: a class missing from the test split leaves the majority baseline and balanced accuracy
computed without it (a two-class corpus whose test split holds one class reports a baseline of 1.000); a
class only in the test split can never be predicted (clean accuracy 0.000); an empty validation split
fails after decoding, with a TensorFlow shape error; a test clip that is also a training clip inflates
every accuracy. The 95 % intervals of the report resample whole test speakers: with a handful of them the
interval says little, and with one it has zero width, which reads as certainty.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_audio.config import did_you_mean
from keras_audio.hashing import file_sha256
from keras_audio.manifest import SPLITS, Manifest, problem_list
from keras_audio.suite.config import PlanConfig, RunConfig

SHOWN = 10
# Bytes held per input sample of a training batch: waveform copies in the pipeline and the corruption, the
# STFT and log-mel, the activations and their gradients (about 32 float32 values; a rough upper estimate).
TRAINING_BYTES_PER_SAMPLE = 128
# Builder arguments the run sets itself; not hyperparameters a config may give.
RUN_ARGUMENTS = ("num_classes", "sample_rate", "features", "spec_augment")
_CONSEQUENCE = {
    "train": "the models cannot learn it, and every test clip of it is an error",
    "validation": "early stopping and the learning-rate schedule do not see it",
    "test": "its accuracy is not measured: the majority baseline and balanced accuracy leave it out",
}


class PlanError(ValueError):
    """A run that cannot give valid results: every problem found, one per line."""

    def __init__(self, problems: Sequence[str], what: str = "plan"):
        self.problems = list(problems)
        super().__init__(f"{what}: {len(self.problems)} problem(s) found before any work:{problem_list(self.problems)}")


@dataclasses.dataclass
class PlanReport:
    """What a passed plan check found.

    Attributes:
        warnings: what a reader of the results must know (few clips or speakers, an accepted missing class):
            print them and list them in the report's notes.
        notes: informational (settings given for a model the run does not train, resources not given).
    """

    warnings: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def extend(self, other: PlanReport) -> PlanReport:
        """Add `other`'s lines (each once, in order) and return self."""
        self.warnings += [w for w in other.warnings if w not in self.warnings]
        self.notes += [n for n in other.notes if n not in self.notes]
        return self


# ------------------------------------------------------------------------------------------ the splits
def check_plan(manifest: Manifest, settings: PlanConfig | None = None, *, where: str = "") -> PlanReport:
    """Check the splits and labels of `manifest` (one round) before any decoding.

    Args:
        manifest: the round's clips with their splits.
        settings: thresholds and options (default `PlanConfig()`).
        where: a prefix for every line, e.g. ``"fold 3: "`` for a cross-validation round.

    Raises:
        PlanError: an empty split, a class absent from a split (unless `settings.allow_missing_classes`),
            the same audio on two sides of the split.
    """
    settings = settings or PlanConfig()
    settings.validate()
    frame = manifest.frame
    problems: list[str] = []
    report = PlanReport()
    for split in SPLITS:
        if not (frame["split"] == split).any():
            fix = (
                (
                    " (early stopping and the learning-rate schedule watch it): give some rows split=validation, "
                    "or leave the split column out to have one drawn"
                )
                if split == "validation"
                else ""
            )
            problems.append(f"{where}the {split!r} split is empty{fix}")
    counts = frame.groupby(["label", "split"]).size().to_dict()
    speakers = frame.groupby(["label", "split"])["speaker"].nunique().to_dict()
    by_speaker = manifest.split_unit == "speaker"
    for label in manifest.classes:
        per_split = {split: int(counts.get((label, split), 0)) for split in SPLITS}
        for split in SPLITS:
            clips = per_split[split]
            if clips == 0:
                if not (frame["split"] == split).any():
                    continue  # already said: the split is empty
                shown = ", ".join(f"{s} {n}" for s, n in per_split.items())
                line = (
                    f"{where}class {label!r} has no clips in the {split!r} split (clips: {shown}): "
                    f"{_CONSEQUENCE[split]}"
                )
                if settings.allow_missing_classes:
                    report.warnings.append(line + " (accepted: plan.allow_missing_classes)")
                else:
                    problems.append(
                        line + "; a drawn split needs at least 3 speakers per class to reach every "
                        "split. Add clips, or set plan.allow_missing_classes to accept it"
                    )
                continue
            voices = int(speakers.get((label, split), 0))
            few = []
            if clips < settings.min_clips:
                few.append(f"{clips} clip(s)")
            if by_speaker and voices < settings.min_speakers:
                few.append(f"{voices} speaker(s)")
            if few:
                report.warnings.append(
                    f"{where}class {label!r} has only {' and '.join(few)} in the {split!r} split (fewer than "
                    f"{settings.min_clips} clips or {settings.min_speakers} speakers): its score there rests on "
                    f"very few examples"
                )
    test_speakers = int(frame.loc[frame["split"] == "test", "speaker"].nunique())
    if 0 < test_speakers < settings.min_test_speakers:
        report.warnings.append(
            f"{where}the test split has {test_speakers} speaker(s) (fewer than {settings.min_test_speakers}): the "
            f"95% intervals resample whole test speakers, so with this few they are unreliable"
            + (" (one speaker: an interval of zero width)" if test_speakers == 1 else "")
        )
    leaks, repeats = duplicate_audio(manifest, content_hash=settings.content_hash)
    problems += [f"{where}{line}" for line in leaks[:SHOWN]]
    if len(leaks) > SHOWN:
        problems.append(f"{where}... and {len(leaks) - SHOWN} more audio on two sides of the split")
    report.warnings += [f"{where}{line}" for line in repeats[:SHOWN]]
    if problems:
        raise PlanError(problems, f"{manifest.name}: plan")
    return report


def duplicate_audio(manifest: Manifest, content_hash: bool = False) -> tuple[list[str], list[str]]:
    """The same audio under two clip ids: `(across splits, within one split)`, one line per pair.

    Two rows are the same audio when their files resolve to one real path (``./x.wav`` and ``x.wav``, a
    symbolic link and its target) or, with `content_hash`, have identical bytes (hashed only for files that
    share their size with another), and their segments overlap (no ``offset``/``duration``: the whole file).
    """
    frame = manifest.frame
    paths = [os.path.realpath(p) for p in manifest.paths()]
    identity = list(paths)
    if content_hash:
        digests = _content_digests(sorted(set(paths)))
        identity = [digests.get(p, p) for p in paths]
    offsets = _column(frame, "offset", 0.0)
    durations = _column(frame, "duration", np.inf)
    starts = np.nan_to_num(offsets, nan=0.0)
    ends = starts + np.nan_to_num(durations, nan=np.inf)
    groups: dict[str, list[int]] = defaultdict(list)
    for row, key in enumerate(identity):
        groups[key].append(row)
    clip_ids, splits = frame["clip_id"].tolist(), frame["split"].tolist()
    across, within = [], []
    for key, rows in groups.items():
        if len(rows) < 2:
            continue
        rows = sorted(rows, key=lambda r: (starts[r], r))
        for i, first in enumerate(rows):
            for second in rows[i + 1 :]:
                if starts[second] >= ends[first]:
                    break  # sorted by start: no later row overlaps `first` either
                how = "identical bytes" if key.startswith("sha256:") else f"one file, {paths[first]}"
                pair = f"clip {clip_ids[first]!r} ({splits[first]}) and clip {clip_ids[second]!r} ({splits[second]})"
                if splits[first] != splits[second]:
                    across.append(f"the same audio is on two sides of the split: {pair} ({how})")
                else:
                    within.append(
                        f"the same audio twice in the {splits[first]!r} split: {pair} ({how}); it weighs double"
                    )
    return across, within


def _column(frame, name: str, default: float) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default)
    return np.asarray(frame[name].astype(float).to_numpy(), dtype=float)


def _content_digests(paths: Iterable[str]) -> dict[str, str]:
    """``sha256:<hex>`` of each file whose size another file shares (a unique size cannot repeat bytes)."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for path in paths:
        try:
            by_size[os.stat(path).st_size].append(path)
        except OSError:
            continue  # missing: the decode stage lists it
    digests = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        for path in group:
            try:
                digests[path] = f"sha256:{file_sha256(path)}"
            except OSError:
                continue
    return digests


# ------------------------------------------------------------------------------------- models, resources
def check_model_options(models: Sequence[str], options_models: Mapping[str, Mapping] | None) -> PlanReport:
    """Check the run's model names and `training.model_options` against the registered builders, building nothing.

    Args:
        models: the models the run trains.
        options_models: `config.training.model_options`: per model, keyword arguments of its builder.

    Raises:
        PlanError: an unknown model, an unknown hyperparameter (with the closest valid name and the list), an
            argument the run sets itself, a value whose type differs from the default's.
    """
    from keras_audio.models import registry  # imports Keras and every family

    known = registry.available()
    problems, report = [], PlanReport()
    for name in models:
        if name not in known:
            problems.append(f"unknown model {name!r}{did_you_mean(name, known)}")
    for name, hparams in (options_models or {}).items():
        where = f"training.model_options.{name}"
        if name not in known:
            problems.append(f"{where}: unknown model {name!r}{did_you_mean(name, known)}")
            continue
        if name not in models:
            report.notes.append(f"{where} is set, but {name!r} is not among the run's models {list(models)}: unused")
        if not isinstance(hparams, Mapping):
            problems.append(f"{where}: must be a JSON object of keyword arguments, got {hparams!r}")
            continue
        parameters = inspect.signature(registry.get_family(name).build).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            continue  # the builder takes any keyword
        allowed = [
            p
            for p, spec in parameters.items()
            if p not in RUN_ARGUMENTS
            and spec.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        for key, value in hparams.items():
            if key in RUN_ARGUMENTS:
                problems.append(f"{where}.{key}: set by the run, not a hyperparameter")
            elif key not in allowed:
                problems.append(
                    f"{where}.{key}: {name} has no hyperparameter {key!r}{did_you_mean(key, allowed)} "
                    f"({name} takes {', '.join(allowed)})"
                )
            else:
                wrong = _type_problem(value, parameters[key].default)
                if wrong:
                    problems.append(f"{where}.{key}: {wrong}")
    if problems:
        raise PlanError(problems, "models")
    return report


def _type_problem(value, default) -> str | None:
    """Why `value` cannot stand for a parameter whose default is `default` (None: it can, or no default)."""
    shown = f"{value!r} ({type(value).__name__})"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"must be true or false like its default, got {shown}"
    if isinstance(default, numbers.Integral):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return None if ok else f"must be an integer like its default {default!r}, got {shown}"
    if isinstance(default, numbers.Real):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
        return None if ok else f"must be a finite number like its default {default!r}, got {shown}"
    if isinstance(default, (tuple, list)):
        ok = isinstance(value, (tuple, list))
        return None if ok else f"must be a list like its default {list(default)}, got {shown}"
    if isinstance(default, str):
        return None if isinstance(value, str) else f"must be a string like its default {default!r}, got {shown}"
    return None  # no default, or None: any value (the builder checks it)


def encoder_problem(path: str | os.PathLike | None) -> str | None:
    """Why `path` cannot be the transfer model's encoder (None: it has one of the accepted forms).

    The forms `models.transfer.load_encoder` accepts: an export folder with ``model.keras``, a ``.keras``
    file, a SavedModel folder with ``saved_model.pb``. Nothing is loaded.
    """
    if path is None:
        return (
            "model 'transfer' needs an encoder: pass --encoder PATH (a run's export folder "
            "results/<run>/models/<tag>/, a .keras file or a SavedModel folder)"
        )
    path = Path(path)
    if not path.exists():
        return f"encoder {path}: no such file or folder"
    if path.is_dir() and ((path / "model.keras").is_file() or (path / "saved_model.pb").is_file()):
        return None
    if path.is_file() and path.suffix == ".keras":
        return None
    return (
        f"encoder {path}: not an export folder (with model.keras), a .keras file or a SavedModel folder "
        f"(with saved_model.pb)"
    )


def check_folders(config: RunConfig) -> None:
    """Refuse a given noise or impulse-response folder that is missing or holds no audio.

    Call it once the corpus is loaded: the generated corpus writes its own noise folder on its first load.

    Raises:
        PlanError: naming the folder and the problem.
    """
    from keras_audio.corruptions.banks import audio_files

    problems = []
    for resource, folder in (("noise_dir", config.noise_dir), ("ir_dir", config.ir_dir)):
        if folder is not None:
            try:
                audio_files(folder, resource)
            except ValueError as error:
                problems.append(str(error))
    if problems:
        raise PlanError(problems, "resources")


def check_resources(config: RunConfig) -> PlanReport:
    """Check the corruptions and the resources they need, the policies and the encoder, loading nothing.

    Corruptions named in `config.corruptions` must have their resources; with every corruption (None) those
    without resources are left out (a note says which). Whether a given folder holds audio is
    `check_folders`'s job.

    Raises:
        PlanError: an unknown corruption or policy part, a named corruption without its folder, a ``noise``
            policy without ``white_noise`` among the named corruptions, ``transfer`` without a usable encoder.
    """
    from keras_audio.corruptions import registry as corruptions
    from keras_audio.corruptions.policy import policy_parts

    problems, report = [], PlanReport()
    folders = {"noise_dir": config.noise_dir, "ir_dir": config.ir_dir}
    known = corruptions.names()
    names = config.corruptions
    missing = []
    for name in names if names is not None else known:
        if name not in known:
            problems.append(f"unknown corruption {name!r}{did_you_mean(name, known)}")
            continue
        for resource in corruptions.needs_resources(name):
            if resource in folders and folders[resource] is None:
                if names is None:
                    missing.append(f"{name} (no {resource})")
                else:
                    flag = "--" + resource.replace("_", "-")
                    problems.append(
                        f"corruption {name!r} needs {resource}: pass {flag} FOLDER, or leave {name} "
                        f"out of --corruptions"
                    )
    if missing:
        report.notes.append(f"not evaluated (resource not given): {', '.join(missing)}")
    for policy in config.policies:
        try:
            waveform_part, _ = policy_parts(policy)
        except ValueError as error:
            problems.append(str(error))
            continue
        if waveform_part == "noise" and names is not None and "white_noise" not in names:
            problems.append(
                f"policy {policy!r} trains with white_noise, which --corruptions {list(names)} leaves "
                f"out; add white_noise or use another policy"
            )
    if "transfer" in config.models:
        problem = encoder_problem(config.training.model_options.get("transfer", {}).get("encoder"))
        if problem:
            problems.append(problem)
    if problems:
        raise PlanError(problems, "resources")
    return report


def memory_bytes() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def clip_length_problems(config: RunConfig, memory: int | None = None) -> list[str]:
    """Why `config.clip_seconds` cannot train (an empty list: it can).

    At least the front-end's analysis window (`features.n_fft` samples): a shorter clip has no log-mel frame,
    and the export refuses a model that cannot answer its own clip length. At most what one training batch
    (`batch_size` clips, `TRAINING_BYTES_PER_SAMPLE` bytes per input sample) fits in half of `memory` (default:
    this machine's): past it the run dies out of memory after decoding, or swaps for hours.
    """
    samples, rate, window = config.clip_samples, config.sample_rate, config.features.n_fft
    problems = []
    if samples < window:
        shortest = math.ceil(window / rate * 1000) / 1000
        problems.append(
            f"--clip-seconds {config.clip_seconds:g} is {samples} sample(s) at {rate} Hz, shorter than "
            f"the front-end's analysis window (features.n_fft = {window} samples): the log-mel has no "
            f"frame and the export refuses the model; use --clip-seconds {shortest:g} or more"
        )
    memory = memory_bytes() if memory is None else memory
    if memory:
        need = config.batch_size * samples * TRAINING_BYTES_PER_SAMPLE
        if need > memory / 2:
            longest = math.floor(memory / 2 / (config.batch_size * TRAINING_BYTES_PER_SAMPLE * rate) * 1000) / 1000
            problems.append(
                f"--clip-seconds {config.clip_seconds:g}: a training batch of {config.batch_size} clips "
                f"of {samples} samples needs about {need / 1e9:.3g} GB ({TRAINING_BYTES_PER_SAMPLE} bytes "
                f"per input sample with the models' activations), more than half of this machine's "
                f"{memory / 1e9:.3g} GB; use --clip-seconds {longest:g} or less, or a smaller "
                f"--batch-size"
            )
    return problems


def corpus_option_problems(config: RunConfig) -> list[str]:
    """Unknown corpora and corpus options (`--corpus-option`), for the training and the test corpora."""
    from keras_audio.corpora.registry import check_options

    specs = [(s.corpus, s.options) for s in config.data.corpora] or [(config.corpus, config.data.corpus_options)]
    problems = []
    for corpus, options in [*specs, *[(s.corpus, s.options) for s in config.evaluation.test_corpora]]:
        try:
            check_options(corpus, options)
        except ValueError as error:
            problems.append(str(error))
    return problems


def check_test_corpora(config: RunConfig, manifest: Manifest) -> None:
    """Each corpus of ``--test-corpus`` (`evaluation.test_corpora`): its manifest builds (the folder exists, the
    layout is right), its classes map into the training corpus's (`manifest`; ``--class-map``), the clips
    to score are there (its test split, or every clip with ``--test-split all``), and no recipe is given twice
    (a test set is named by its recipe). Call it with the training
    manifest before decoding, so that a bad test corpus fails before training rather than after.

    Raises:
        PlanError: one line per test corpus that cannot be scored.
    """
    from keras_audio import corpora
    from keras_audio.manifest import align_classes

    split = config.evaluation.test_split
    specs = config.evaluation.test_corpora
    names = [spec.corpus for spec in specs]
    problems = [
        f"--test-corpus {name} is given {names.count(name)} times: a test set is named by its recipe, so "
        f"their rows would mix in predictions.csv.gz and the tables; give each recipe once"
        for name in dict.fromkeys(names)
        if names.count(name) > 1
    ]
    if problems:
        raise PlanError(problems, "test corpora")
    for spec in specs:
        name = f"--test-corpus {spec.corpus}" + (f"={spec.data_dir}" if spec.data_dir else "")
        try:
            test = corpora.load_corpus(
                spec.corpus, spec.data_dir, spec.task or manifest.task, config.seed, progress=False, **spec.options
            )
            align_classes(test, manifest.classes, config.evaluation.class_map or None, model="the training corpus")
        except (ValueError, OSError) as error:
            problems.append(f"{name}: {' '.join(line.strip() for line in str(error).splitlines())}")
            continue
        if split == "test" and not (test.frame["split"] == "test").any():
            problems.append(f"{name}: its test split is empty; pass --test-split all to score every clip")
    if problems:
        raise PlanError(problems, "test corpora")


def check_run(config: RunConfig) -> PlanReport:
    """Everything `check_model_options` and `check_resources` check, plus the model × policy plan: a policy
    with SpecAugment for a family without a log-mel, a reference model that is not trained with policy
    none, the clip length (`clip_length_problems`) and the corpus options. Call it first, before loading the
    corpus (then `check_folders` and `check_plan` after loading it).

    Raises:
        PlanError: every problem found (a `ConfigError` first, for a config that does not validate).
    """
    config.validate()
    from keras_audio.corruptions.policy import policy_parts
    from keras_audio.models import registry

    problems, report = [], PlanReport()
    for check in (
        lambda: check_model_options(config.models, config.training.model_options),
        lambda: check_resources(config),
    ):
        try:
            report.extend(check())
        except PlanError as error:
            problems += error.problems
    known = registry.available()
    for model in config.models:
        if model not in known:
            continue  # already listed
        for policy in config.policies:
            try:
                spec_augment = policy_parts(policy)[1]
            except ValueError:
                continue  # already listed
            if spec_augment and not registry.get_family(model).spec_augment:
                problems.append(
                    f"model {model!r} cannot train with policy {policy!r}: it has no log-mel for SpecAugment to mask"
                )
    if config.training.mixup_alpha:
        # Mixup's soft targets need the standard Keras recipe's loss; the other trainers compile their own.
        problems += [
            f"model {model!r} cannot train with mixup (training.mixup_alpha): its trainer uses class ids"
            for model in config.models
            if model in known and registry.get_family(model).trainer is not None
        ]
    problems += clip_length_problems(config) + corpus_option_problems(config)
    if config.reference_model and (config.reference_model not in config.models or "none" not in config.policies):
        problems.append(
            f"reference model {config.reference_model!r} must be one of the models {list(config.models)}, "
            f"trained with policy 'none' (policies: {list(config.policies)})"
        )
    if problems:
        raise PlanError(problems, "run")
    return report
