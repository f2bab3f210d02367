"""The evaluate stage: exported models × test sets -> every prediction, clean and over the corruption grid.

Reads the models through `loader.load_predictor` (a run's `training.json` names its exports; `keras-audio
evaluate` names any model folders or files), so the numbers are those of the files that ship. Writes:

- `predictions.csv.gz`: one row per test set × model × condition × clip (`results.write_predictions`);
- `evaluation.json`: the test sets (name, fold, clips and their digest, speakers, conditions), the models,
  the classes, notes: what the report checks `predictions.csv.gz` against;
- `gallery.npz`: one test clip's log-mel features clean and under every corruption (for the report's plot).

Each test set's spoiled clips derive from `(seed, clip id, corruption, severity)`, and its babble from its own
corpus's training split, so a model scored here alone gets the same numbers as inside a run. Each model is
fed crops (and whole-clip windows) of its own clip length, whatever else is evaluated beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_audio.corruptions.seeds import name_hash
from keras_audio.features import LogMelSpectrogram
from keras_audio.grid import UTTERANCE, Condition, GridResult, evaluate_grid, grid, utterance_probabilities
from keras_audio.loader import LoadedModel, load_predictor
from keras_audio.manifest import Manifest
from keras_audio.pipeline import spoil_clip
from keras_audio.streaming import make_source, resolve_source
from keras_audio.suite.config import RunConfig
from keras_audio.suite.grid_parts import fingerprint, grid_split
from keras_audio.suite.records import EvaluatedModel, EvaluationRecord, TrainingRecord
from keras_audio.suite.results import ModelKey, TestSetPredictions, describe_test_set, write_predictions
from keras_audio.suite.stages.data import CorpusClips, build_suite, rounds

PREDICTIONS_FILE = "predictions.csv.gz"
GALLERY_FILE = "gallery.npz"
IN_DOMAIN = "in-domain"
FOCUS_SEVERITY = 3  # the severity of the confusion matrices and the spectrogram gallery


@dataclasses.dataclass
class TestSet:
    """Clips to score models on: a round's test split of the training corpus, or another corpus."""

    name: str
    fold: str
    clips: CorpusClips
    test: Manifest
    train: Manifest | None  # the same corpus's training split (babble comes from it); None for a whole corpus


def focus_severity(severities: Sequence[int]) -> int | None:
    """The severity the confusion matrices and the gallery show: 3, or the middle of those evaluated."""
    if not severities:
        return None
    if FOCUS_SEVERITY in severities:
        return FOCUS_SEVERITY
    ordered = sorted(severities)
    return ordered[len(ordered) // 2]


def in_domain_test_sets(config: RunConfig, clips: CorpusClips) -> list[TestSet]:
    return [
        TestSet(IN_DOMAIN, fold, clips, manifest.subset("test"), manifest.subset("train"))
        for fold, manifest in rounds(clips.manifest, config)
    ]


def trained_models(run_dir: Path, **described) -> list[tuple[ModelKey, LoadedModel]]:
    """Every model `training.json` lists, loaded from its export (`described`: values the exports' metadata
    must agree with, see `loader.load_predictor`)."""
    return [(m.key, load_predictor(run_dir / m.export, **described)) for m in TrainingRecord.read(run_dir).models]


def evaluate_models(
    chosen: list[tuple[ModelKey, LoadedModel]],
    source,
    conditions: list[Condition],
    config: RunConfig,
    progress: bool,
    whole_clips: bool,
) -> GridResult:
    """Every model on every condition, fed crops (and, with `whole_clips`, whole-clip windows) of its own clip
    length: the models of one length share one pass over the grid. The result is in one pass's order
    (condition by condition, the models in `chosen`'s order on each, then the whole clips)."""
    groups: dict[int, dict] = {}
    for key, model in chosen:
        groups.setdefault(model.clip_samples, {})[key] = model.predict
    passes = [
        evaluate_grid(predictors, source, conditions, clip_samples, config.batch_size, config.seed, progress)
        for clip_samples, predictors in (groups or {config.clip_samples: {}}).items()
    ]
    found = {entry: p for result in passes for entry, p in result.probabilities.items()}
    probabilities = {
        (key, c.name, c.severity): found[(key, c.name, c.severity)] for c in conditions for key, _ in chosen
    }
    if whole_clips:  # after the grid: its rows keep their order
        whole = {
            key: p
            for clip_samples, predictors in groups.items()
            for key, p in utterance_probabilities(predictors, source, clip_samples, config.batch_size).items()
        }
        probabilities.update({(key, UTTERANCE, 0): whole[key] for key, _ in chosen})
    return GridResult(
        passes[0].y_true, {entry: np.argmax(p, axis=-1) for entry, p in probabilities.items()}, probabilities
    )


def evaluate_stage(
    config: RunConfig,
    run_dir: Path,
    models: list[tuple[ModelKey, LoadedModel]],
    test_sets: list[TestSet],
    timer,
    log: Callable[[str], None],
    progress: bool,
    notes: Sequence[str] = (),
    step: str = "[3/4]",
) -> list[TestSetPredictions]:
    """Score `models` on every test set and write the stage's files into `run_dir`.

    A model trained in a cross-validation round is scored on its own round's test split only; models
    without a fold (or a test set of another corpus) on every test set.
    """
    notes = list(notes)
    other_rates = [
        f"{key.label} ({m.source}): {m.sample_rate} Hz" for key, m in models if m.sample_rate != config.sample_rate
    ]
    if other_rates:  # the test clips are decoded and spoiled at config.sample_rate
        raise ValueError(
            f"models at another rate than the test clips' {config.sample_rate} Hz: {'; '.join(other_rates)}"
        )
    lengths = {m.clip_samples for _, m in models}
    if lengths != {config.clip_samples}:
        notes.append(
            "each model fed clips of its own length: "
            + "; ".join(f"{key.label}: {m.clip_seconds:g} s" for key, m in models)
        )
    # With evaluation.shared_dir and several workers in TF_CONFIG, each worker takes a share of the conditions.
    split = grid_split(config.evaluation.shared_dir, config.run_name, config.evaluation.shared_timeout_seconds)
    results: list[TestSetPredictions] = []
    gallery: dict = {}
    described = []
    for _number, test_set in enumerate(test_sets, start=1):
        chosen = [
            (key, model) for key, model in models if not (test_set.fold and key.fold and key.fold != test_set.fold)
        ]
        source = make_source(
            resolve_source(config.data.source, test_set.clips.store, test_set.test, config.data.stream_threshold_gb),
            test_set.clips.store,
            test_set.test,
        )
        suite, missing = build_suite(config, test_set.clips.store, test_set.train)
        if missing:
            notes.append(f"not evaluated (resource not given): {', '.join(missing)}")
        conditions = grid(suite, config.severities)
        label = test_set.name + (f" (fold {test_set.fold})" if test_set.fold else "")
        log(
            f"{step} evaluating on {label}: {len(conditions)} condition(s) × {len(chosen)} model(s) on "
            f"{len(source)} test clips"
        )
        with timer("evaluate"):
            grid_result = evaluate_models(
                chosen, source, split.share(conditions), config, progress, split.scores_whole_clips
            )
        keys = [key for key, _ in chosen]
        if split.active:  # every worker's part, merged in one process's order (`grid_parts`)
            log(
                f"      worker {split.worker.index} of {split.worker.count}: evaluated "
                f"{len(split.share(conditions))} condition(s); merging the parts in {split.folder}"
            )
            with timer("evaluate"):
                grid_result = split.merge(
                    grid_result,
                    keys,
                    conditions,
                    fingerprint(
                        split.run_name,
                        label,
                        test_set.test.clip_ids,
                        conditions,
                        keys,
                        config.seed,
                        [m.clip_samples for _, m in chosen],
                    ),
                )
        results.append(
            TestSetPredictions(
                name=test_set.name,
                fold=test_set.fold,
                clip_ids=test_set.test.clip_ids,
                speakers=test_set.test.frame["speaker"].tolist(),
                y_true=grid_result.y_true.astype(np.int64),
                class_names=tuple(test_set.test.classes),
                predictions=grid_result.predictions,
                probabilities=grid_result.probabilities,
            )
        )
        described.append(
            describe_test_set(
                results[-1],
                [(c.name, c.severity) for c in conditions],
                corpus=test_set.test.name,
                task=test_set.test.task,
            )
        )
        if not gallery and test_set.name == IN_DOMAIN:
            with timer("report"):
                gallery = _gallery(config, test_set.clips.store, test_set.test, suite)
    with timer("evaluate"):
        write_predictions(results, run_dir / PREDICTIONS_FILE)
    if gallery:
        np.savez_compressed(
            run_dir / GALLERY_FILE,
            clip_id=gallery["clip_id"],
            label=gallery["label"],
            severity=-1 if gallery["severity"] is None else gallery["severity"],
            names=np.array(list(gallery["spectrograms"])),
            spectrograms=np.stack(list(gallery["spectrograms"].values())),
        )
    EvaluationRecord(
        classes=tuple(results[0].class_names) if results else (),
        task=test_sets[0].test.task if test_sets else "",
        notes=tuple(dict.fromkeys(notes)),
        test_sets=tuple(described),
        seed=config.seed,
        models=tuple(EvaluatedModel.of(k, m.source, m.sample_rate, m.clip_samples) for k, m in models),
    ).write(run_dir)
    return results


def read_gallery(run_dir: Path) -> dict:
    path = run_dir / GALLERY_FILE
    if not path.is_file():
        return {}
    with np.load(path) as data:
        severity = int(data["severity"])
        return {
            "clip_id": str(data["clip_id"]),
            "label": str(data["label"]),
            "severity": None if severity < 0 else severity,
            "spectrograms": dict(zip([str(n) for n in data["names"]], data["spectrograms"])),
        }


def _gallery_waveforms(config: RunConfig, store, clip_id: str, suite) -> dict[str, np.ndarray]:
    """One test clip, clean and under each corruption at the focus severity, exactly as the models were
    tested on it (`pipeline.spoil_clip`, called eagerly: a tf.data pipeline per corruption costs ~0.3 s of
    tracing each)."""
    waveform = tf.constant(store.waveform(store.indices([clip_id])[0]))
    clip_hash = name_hash(clip_id)
    severity = focus_severity(config.severities)
    waveforms = {"clean": spoil_clip(waveform, clip_hash, None, 0, config.seed, config.clip_samples).numpy()}
    if severity is not None:
        for name, corruption in suite.items():
            spoiled = spoil_clip(waveform, clip_hash, corruption, severity, config.seed, config.clip_samples)
            waveforms[f"{name}, severity {severity}"] = spoiled.numpy()
    return waveforms


def _gallery(config: RunConfig, store, test: Manifest, suite) -> dict:
    """The models' log-mel features of the first test clip, clean and under each corruption (for the plot)."""
    clip_id = test.clip_ids[0]
    waveforms = _gallery_waveforms(config, store, clip_id, suite)
    features = LogMelSpectrogram(config.sample_rate, **dataclasses.asdict(config.features))
    spectrograms = features(tf.constant(np.stack(list(waveforms.values())))).numpy()
    return {
        "clip_id": clip_id,
        "label": test.frame["label"].iloc[0],
        "severity": focus_severity(config.severities),
        "spectrograms": dict(zip(waveforms, spectrograms)),
    }
