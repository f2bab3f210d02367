"""The main job: the train, evaluate and report stages (`keras_audio/suite/stages/`) into one run folder.

`run_experiment(config)` is what `benchmarks/run.py` and `keras-audio run` call. The run folder is written
under a temporary name and renamed when complete, so `results/` never holds a half-written run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from keras_audio.corpora.combined import GROUP_COLUMN
from keras_audio.loader import LoadedModel, load_predictor
from keras_audio.manifest import align_classes
from keras_audio.suite.config import RunConfig
from keras_audio.suite.plan import check_run, check_test_corpora
from keras_audio.suite.records import TRAINING_FILE, EvaluatedModel, EvaluationRecord
from keras_audio.suite.results import ModelKey, TestSetPredictions, describe_test_set, write_predictions
from keras_audio.suite.run_writer import RunWriter
from keras_audio.suite.stages.data import build_suite, load_clips
from keras_audio.suite.stages.evaluate import (
    PREDICTIONS_FILE,
    TestSet,
    evaluate_stage,
    in_domain_test_sets,
    trained_models,
)
from keras_audio.suite.stages.report import report_stage
from keras_audio.suite.stages.train import CHECKPOINTS, TRAINED_FILE, train_stage


class StageTimer:
    """Wall-clock seconds per stage, summed over repeats (written into the run record)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    # The task is user text: keep only what a run name may hold (`run_writer.check_run_name`).
    return re.sub(r"[^A-Za-z0-9._+-]", "_", f"{config.corpus}-{config.task or 'default'}-seed{config.seed}-{stamp}")


def run_experiment(
    config: RunConfig, progress: bool = True, log: Callable[[str], None] = print, resume: bool = False
) -> Path:
    """Train, spoil, evaluate and report as `config` says; returns the finished run folder.

    Args:
        resume: continue the run of this name that was killed (its partial folder): finished models are kept,
            a half-trained one continues from its last epoch, with the results of an uninterrupted run.
    """
    report = check_run(config)
    for line in report.notes:
        log(f"      note: {line}")
    return _in_run_folder(
        config, lambda work, timer: _run(config, work, timer, progress, log), log, resume, trains=True
    )


def run_evaluation(
    config: RunConfig,
    model_paths: Sequence[str | Path],
    *,
    split: str = "test",
    class_map: dict[str, str] | None = None,
    class_names: Sequence[str] | None = None,
    sample_rate: int | None = None,
    clip_seconds: float | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Score exported or outside models on `config.corpus` (clean and over the grid) into a new run folder.

    Args:
        model_paths: export folders (or their saved_model/, model.keras, .tflite, .onnx), run folders (every
            model their `training.json` lists), `.keras` files, SavedModel folders, ONNX or TFLite files (see
            `loader.load_predictor`).
        split: ``test`` (the corpus's test split; babble from its training split) or ``all`` (every clip).
        class_map, class_names, sample_rate, clip_seconds: see `loader.load_predictor` and
            `manifest.align_classes`. Each model is fed clips of its own length (an export's, else
            `clip_seconds`, else `config.clip_seconds`).

    Raises:
        ValueError: no models, models that disagree on classes or sample rate (the spoiled test set is made at
            one rate), classes the corpus and the models do not share, an unknown split, a value that
            contradicts an export's metadata.
    """
    if split not in ("test", "all"):
        raise ValueError(f"split must be 'test' or 'all', got {split!r}")
    models = load_models(
        model_paths,
        class_names=class_names,
        sample_rate=sample_rate,
        clip_seconds=clip_seconds,
        default_clip_seconds=config.clip_seconds,
    )
    for name, value in (("sample rates", lambda m: f"{m.sample_rate} Hz"), ("classes", lambda m: list(m.class_names))):
        if len({str(value(m)) for _, m in models}) > 1:
            raise ValueError(
                f"the models disagree on their {name} ("
                + "; ".join(f"{m.source}: {value(m)}" for _, m in models)
                + "); evaluate models of one task and rate together"
            )
    first = models[0][1]
    config.sample_rate = first.sample_rate
    config.clip_seconds = first.clip_seconds  # the run's record; each model is fed its own length
    config.models = list(dict.fromkeys(key.model for key, _ in models))
    config.policies = list(dict.fromkeys(key.policy for key, _ in models))
    config.validate()

    def evaluate(work: Path, timer: StageTimer) -> None:
        config.save(work / "config.json")
        log(f"[1/3] corpus: {config.corpus}")
        test_set = other_corpus_test_set(
            config,
            config.corpus,
            config.data_dir,
            config.task,
            split,
            first.class_names,
            class_map,
            timer,
            log,
            progress,
        )
        evaluate_stage(config, work, models, [test_set], timer, log, progress, step="[2/3]")
        log("[3/3] writing the report")
        log(report_stage(config, work, timer, log, total_started=timer.started))

    return _in_run_folder(config, evaluate, log)


def train_only(
    config: RunConfig, progress: bool = True, log: Callable[[str], None] = print, resume: bool = False
) -> Path:
    """The train stage alone: a run folder with the exports, `training.json` and the learning curves."""
    check_run(config)

    def train(work: Path, timer: StageTimer) -> None:
        config.save(work / "config.json")
        train_stage(config, work, timer, log, progress)

    return _in_run_folder(config, train, log, resume, trains=True)


def rereport(run_dir: str | Path, log: Callable[[str], None] = print) -> str:
    """Rewrite a run folder's tables, plots and record from its stage files; returns `table.md`."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir}: not a run folder (no config.json)")
    return report_stage(RunConfig.load(run_dir / "config.json"), run_dir, StageTimer(), log)


def export_corpus_testset(
    config: RunConfig,
    out: Path,
    *,
    split: str = "test",
    audio_format: str = "flac",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Publish `config.corpus`'s spoiled test set (every condition of the run's grid) as files in `out`."""
    from keras_audio.suite.testset import export_testset

    config.validate()
    timer = StageTimer()
    clips = load_clips(
        config,
        config.corpus,
        config.data_dir,
        config.task,
        timer,
        log,
        progress,
        config.data.corpus_options,
        splits=() if split == "all" else ("test",),
    )
    manifest = clips.manifest
    test, train = (manifest, None) if split == "all" else (manifest.subset("test"), manifest.subset("train"))
    suite, missing = build_suite(config, clips.store, train)
    if missing:
        log(f"      left out (resource not given): {', '.join(missing)}")
    recipe = {
        "corpus": config.corpus,
        "data_dir": config.data_dir,
        "task": manifest.task,
        "split": split,
        "noise_dir": config.noise_dir,
        "ir_dir": config.ir_dir,
        "left_out": missing,
    }
    return export_testset(
        test,
        clips.store,
        suite,
        config.severities,
        seed=config.seed,
        sample_rate=config.sample_rate,
        clip_samples=config.clip_samples,
        out_dir=out,
        progress=progress,
        audio_format=audio_format,
        recipe=recipe,
    )


def score_testset(
    testset_dir: str | Path,
    predictions_csv: str | Path | None = None,
    *,
    models: Sequence[str | Path] = (),
    out: str | None = None,
    run_name: str | None = None,
    log: Callable[[str], None] = print,
) -> str:
    """Score predictions against a published test set into a run folder; returns `table.md`.

    Args:
        predictions_csv: answers made by any framework (`testset.score_predictions`), or
        models: exports this suite wrote, which answer the set's files here (`testset_predictions`).
    """
    from keras_audio import paths
    from keras_audio.suite.testset import score_predictions

    if (predictions_csv is None) == (not models):
        raise ValueError("score: give the answers (--predictions CSV) or the models to answer (--model MODEL)")
    answers = predictions_csv if predictions_csv is not None else testset_predictions(testset_dir, models)
    source = str(predictions_csv) if predictions_csv is not None else ", ".join(map(str, models))
    name = Path(predictions_csv).stem if predictions_csv is not None else "-".join(Path(m).name for m in models)
    scored = score_predictions(testset_dir, answers)
    settings = scored.testset.settings
    config = RunConfig(
        corpus=settings.corpus,
        task=settings.task,
        seed=settings.seed,
        sample_rate=settings.sample_rate,
        clip_seconds=settings.clip_samples / settings.sample_rate,
        severities=list(settings.severities),
        corruptions=list(settings.corruptions) or None,
        models=list(scored.models),
        out=out or str(paths.results_dir()),
        run_name=run_name or re.sub(r"[^A-Za-z0-9._+-]", "_", f"score-{Path(testset_dir).name}-{name}"),
    )
    frame = scored.testset.clip_manifest().frame
    keys = {model: ModelKey(model, "unknown", 0) for model in scored.models}
    test_set = TestSetPredictions(
        name=settings.corpus,
        fold="",
        clip_ids=frame["clip_id"].tolist(),
        speakers=frame["speaker"].tolist(),
        y_true=scored.grid.y_true.astype(np.int64),
        class_names=tuple(settings.classes),
        predictions={(keys[m], c, s): y for (m, c, s), y in scored.grid.predictions.items()},
        probabilities={(keys[m], c, s): p for (m, c, s), p in scored.probabilities.items()} or None,
    )
    table = {}

    def score(work: Path, timer: StageTimer) -> None:
        config.save(work / "config.json")
        write_predictions([test_set], work / PREDICTIONS_FILE)
        EvaluationRecord(
            classes=tuple(settings.classes),
            task=settings.task,
            notes=(f"scored from {source} against the published test set {testset_dir}",),
            test_sets=(describe_test_set(test_set, settings.conditions, corpus=settings.corpus, task=settings.task),),
            seed=settings.seed,
            models=tuple(EvaluatedModel.of(k, source) for k in keys.values()),
        ).write(work)
        table["md"] = report_stage(config, work, timer, log)

    _in_run_folder(config, score, log)
    return table["md"]


def testset_predictions(testset_dir: str | Path, model_paths: Sequence[str | Path]) -> pd.DataFrame:
    """Every model's answers on a published test set's files (`testset.predict_testset`), each model read by
    the one loader (`load_models`); a model whose classes or rate are not the set's is refused."""
    from keras_audio.suite.testset import load_testset, predict_testset

    testset = load_testset(testset_dir)
    models = load_models(model_paths)
    names = [key.model for key, _ in models]
    frames = []
    for key, model in models:
        if model.class_names != testset.classes or model.sample_rate != testset.settings.sample_rate:
            raise ValueError(
                f"{model.source}: answers {list(model.class_names)} at {model.sample_rate} Hz; the test "
                f"set {testset_dir} has {list(testset.classes)} at {testset.settings.sample_rate} Hz"
            )
        frames.append(
            predict_testset(testset, model.predict, model=key.model if names.count(key.model) == 1 else key.tag)
        )
    return pd.concat(frames, ignore_index=True)


def load_models(model_paths: Sequence[str | Path], **described) -> list[tuple[ModelKey, LoadedModel]]:
    """Every model behind `model_paths`, keyed as the tables name them (outside models by their file name).

    Args:
        described: `class_names`, `sample_rate`, `clip_seconds`, `default_clip_seconds` for
            `loader.load_predictor`.
    """
    if not model_paths:
        raise ValueError("no models given")
    models: list[tuple[ModelKey, LoadedModel]] = []
    for path in map(Path, model_paths):
        if (path / TRAINING_FILE).is_file():
            models += trained_models(path, **described)
            continue
        model = load_predictor(path, **described)
        meta = model.metadata
        name = meta.get("model") or (path.stem if path.is_file() else path.name)
        key = ModelKey.from_label(
            name, meta.get("policy", "unknown"), int(meta.get("seed", 0)), str(meta.get("fold", ""))
        )  # exports of older versions: data in the label
        if meta.get("pairs") or meta.get("mixup"):
            key = dataclasses.replace(key, pairs=meta.get("pairs", ""), mixup=float(meta.get("mixup", 0.0)))
        models.append((key, model))
    repeated = sorted({k.label for k, _ in models if [m for m, _ in models].count(k) > 1})
    if repeated:
        raise ValueError(f"models named twice: {repeated} (one model per name, policy and seed)")
    return models


def other_corpus_test_set(
    config: RunConfig,
    corpus: str,
    data_dir: str | None,
    task: str | None,
    split: str,
    model_classes: Sequence[str],
    class_map: dict[str, str] | None,
    timer,
    log,
    progress: bool,
    corpus_options: dict | None = None,
) -> TestSet:
    """A corpus under test, relabelled into the models' classes: its test split (babble from its training
    split) or, with ``split="all"``, every clip (babble then left out: no speaker of it is unseen)."""
    # Only the clips scored must be there: a corpus made for evaluation alone has no training split.
    clips = load_clips(
        config,
        corpus,
        data_dir,
        task,
        timer,
        log,
        progress,
        corpus_options,
        label=corpus,
        splits=() if split == "all" else ("test",),
    )
    manifest = align_classes(clips.manifest, model_classes, class_map)
    clips = dataclasses.replace(clips, manifest=manifest)
    if split == "all":
        return TestSet(corpus, "", clips, manifest, None)
    return TestSet(corpus, "", clips, manifest.subset("test"), manifest.subset("train"))


def _in_run_folder(
    config: RunConfig,
    work_on: Callable[[Path, StageTimer], None],
    log: Callable[[str], None],
    resume: bool = False,
    trains: bool = False,
) -> Path:
    """Run `work_on` in a partial folder that becomes `out/<run name>` when it returns (`run_writer`).

    A run that trains (`trains`) keeps its partial folder when interrupted, and when it fails once a model
    is trained (the error says where), so that ``--resume`` continues it; an evaluation is cheap to repeat
    and keeps nothing.
    """
    timer = StageTimer()
    with RunWriter(
        config.out, config.run_name or default_run_name(config), resumable=resume, keep_interrupted=trains
    ) as writer:
        for line in writer.cleaned:
            log(f"      {line}")
        if writer.adopted is not None:
            previous = writer.work / "config.json"
            if previous.is_file() and RunConfig.load(previous).to_dict() != config.to_dict():
                raise ValueError(
                    f"--resume: {writer.final.name} was started with another config "
                    f"({previous}); resume it with the same flags, or choose another --run-name"
                )
            log(
                f"      resuming {writer.final.name}: finished models are kept, a half-trained one continues "
                f"from its last epoch"
            )
        elif resume:
            # Not refused: a preemptible job's script passes --resume on every attempt, the first included.
            print(
                f"keras-audio: --resume: no stopped run {writer.final.name!r} in {writer.out}; starting it afresh",
                file=sys.stderr,
            )
        try:
            work_on(writer.work, timer)
        except Exception as error:
            trained = sorted(writer.work.glob(f"models/*/{TRAINED_FILE}"))
            if trained:
                writer.keep = True
                error.add_note(
                    f"the {len(trained)} trained model(s) are kept in {writer.work}; continue with "
                    f"--resume --run-name {writer.name} once this is fixed"
                )
            raise
        shutil.rmtree(writer.work / CHECKPOINTS, ignore_errors=True)
    log(f"\nrun folder: {writer.final}")
    return writer.final


def _run(config: RunConfig, work: Path, timer: StageTimer, progress: bool, log: Callable[[str], None]) -> None:
    config.save(work / "config.json")
    clips = train_stage(config, work, timer, log, progress, before_decode=lambda m: check_test_corpora(config, m))
    test_sets = in_domain_test_sets(config, clips)
    if GROUP_COLUMN in clips.manifest.frame.columns:  # several training corpora: each one's test split too
        for name in dict.fromkeys(clips.manifest.frame[GROUP_COLUMN]):
            own = clips.manifest.replace(clips.manifest.frame[clips.manifest.frame[GROUP_COLUMN] == name])
            test_sets.append(TestSet(f"{name} (its test split)", "", clips, own.subset("test"), own.subset("train")))
    for spec in config.evaluation.test_corpora:
        log(f"      test corpus: {spec.corpus} ({spec.data_dir or 'default folder'})")
        test_sets.append(
            other_corpus_test_set(
                config,
                spec.corpus,
                spec.data_dir,
                spec.task or clips.manifest.task,
                config.evaluation.test_split,
                clips.manifest.classes,
                config.evaluation.class_map or None,
                timer,
                log,
                progress,
                spec.options,
            )
        )
    evaluate_stage(config, work, trained_models(work), test_sets, timer, log, progress)
    log("[4/4] writing the report")
    table_md = report_stage(config, work, timer, log, total_started=timer.started)
    log("")
    log(table_md)
