"""The main job: corpus -> manifest -> decoded clips -> trained models -> spoiled evaluation -> run folder.

`run_experiment(config)` is what `benchmarks/run.py` calls. The run folder is written under a temporary
name and renamed when complete, so `results/` never holds a half-written run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import librosa
import numpy as np
import tensorflow as tf
from sklearn.metrics import confusion_matrix

from keras_audio import corpora
from keras_audio.cache import BadFile, load_waveforms
from keras_audio.config import RunConfig
from keras_audio.corruptions import registry as corruption_registry
from keras_audio.corruptions.base import name_hash
from keras_audio.corruptions.policy import TrainingPolicy, parse_policy, policy_parts
from keras_audio.evaluate import (
    CLEAN, MCE_MIN_REFERENCE_ERROR, GridResult, evaluate_grid, grid, keras_predictor, majority_baseline,
    mce_reference_errors, summarize,
)
from keras_audio.export import export_model, verify_export
from keras_audio.features import LogMelSpectrogram
from keras_audio.manifest import Manifest
from keras_audio.models import build_model, get_family
from keras_audio.pipeline import ClipSource, evaluation_dataset, spoil_clip, training_dataset
from keras_audio.report import render_markdown, write_json, write_long_table, write_plots
from keras_audio.run_record import build_record
from keras_audio.statistics import DEFAULT_RESAMPLES, SpeakerBootstrap, percentile_interval
from keras_audio.training import (
    TrainingInputs, TrainingResult, TrainingSettings, balanced_class_weights, fit_classifier, set_global_seed,
)

BABBLE_CLIPS = 64  # training utterances the babble corruption mixes from
FOCUS_SEVERITY = 3  # the severity of the confusion matrices and the spectrogram gallery


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


@dataclasses.dataclass
class TrainedModel:
    model: str
    policy: str
    seed: int
    fold: str
    keras_model: object
    params: int
    result: TrainingResult
    export_dir: Path
    export_difference: float

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.model, self.policy, self.seed, self.fold)


@dataclasses.dataclass
class RoundEvaluation:
    """One round's predictions, with the speaker bootstrap the report's intervals come from.

    Attributes:
        result: every model's predictions under every condition.
        bootstrap: resamples of the round's test speakers (drawn once from the run seed).
        replicates: `(model key, corruption, severity) -> accuracy on each speaker resample`.
    """

    result: GridResult
    bootstrap: SpeakerBootstrap
    replicates: dict[tuple, np.ndarray]

    @classmethod
    def of(cls, result: GridResult, test: Manifest, seed: int) -> "RoundEvaluation":
        bootstrap = SpeakerBootstrap(test.frame["speaker"].to_numpy(), DEFAULT_RESAMPLES, seed)
        replicates = {key: bootstrap.accuracy_replicates(result.y_true, y_pred)
                      for key, y_pred in result.predictions.items()}
        return cls(result, bootstrap, replicates)


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{config.corpus}-{config.task or 'default'}-seed{config.seed}-{stamp}"


def run_experiment(config: RunConfig, progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Train, spoil, evaluate and report as `config` says; returns the finished run folder."""
    config.validate()
    check_plan(config)
    timer = StageTimer()
    run_name = config.run_name or default_run_name(config)
    final = Path(config.out) / run_name
    if final.exists():
        raise FileExistsError(f"run folder {final} exists; choose another --run-name or remove it")
    work = Path(config.out) / f".{run_name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _run(config, work, timer, progress, log)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"\nrun folder: {final}")
    return final


def check_plan(config: RunConfig) -> None:
    """Refuse an impossible model × policy plan before anything is loaded or trained.

    Raises:
        ValueError: an unknown model or corruption, a malformed policy, a policy a model cannot take, a
            model or policy named twice, or a reference model the run does not train with policy none.
    """
    for what, names in (("models", config.models), ("policies", config.policies)):
        repeated = sorted({name for name in names if list(names).count(name) > 1})
        if repeated:  # two runs under one name would overwrite each other's predictions and exports
            raise ValueError(f"{what} {repeated} named more than once")
    for policy_name in config.policies:
        policy_parts(policy_name)
    if config.reference_model and (config.reference_model not in config.models or "none" not in config.policies):
        raise ValueError(f"reference model {config.reference_model!r} must be one of the models "
                         f"{list(config.models)}, trained with policy 'none' (policies: {list(config.policies)})")
    for name in config.corruptions or ():
        corruption_registry.corruption_class(name)
    for model_name in config.models:
        family = get_family(model_name)
        for policy_name in config.policies:
            if policy_parts(policy_name)[1] and not family.spec_augment:
                raise ValueError(f"model {model_name!r} cannot train with policy {policy_name!r}: it has no "
                                 f"log-mel for SpecAugment to mask")


def _run(config: RunConfig, work: Path, timer: StageTimer, progress: bool, log: Callable[[str], None]) -> None:
    config.save(work / "config.json")
    set_global_seed(config.seed)

    log(f"[1/5] corpus: {config.corpus}")
    with timer("corpus"):
        manifest = corpora.load_corpus(config.corpus, config.data_dir, config.task, config.seed, progress=progress,
                                       **config.options.get("corpus", {}))
    log(f"      {len(manifest)} clips, {manifest.frame['speaker'].nunique()} speakers, task {manifest.task}, "
        f"classes {list(manifest.classes)}")

    log(f"[2/5] decoding at {config.sample_rate} Hz (cache: {config.cache_dir})")
    with timer("decode"):
        decoded = load_waveforms(manifest, config.sample_rate, config.cache_dir, skip_bad=config.skip_bad,
                                 min_samples=config.features.n_fft, progress=progress)
    log(f"      {'cache hit' if decoded.cache_hit else 'decoded'} in {decoded.seconds:.1f} s")
    if decoded.bad_files:
        _write_bad_files(decoded.bad_files, work / "bad_files.csv")
        log(f"      skipped {len(decoded.bad_files)} bad file(s), listed in bad_files.csv:")
        for bad in decoded.bad_files[:20]:
            log(f"        {bad.path}: {bad.problem}")
    manifest = decoded.manifest.validate(check_files=False)

    trained: list[TrainedModel] = []
    rows: list[dict] = []
    notes: list[str] = []
    if manifest.split_unit == "utterance":
        notes.append("split by utterance (the dataset's own protocol): the same speakers are in train and test")
    test_sets: dict[str, tuple[np.ndarray, int, int]] = {}
    evaluations: dict[str, RoundEvaluation] = {}
    gallery: dict = {}  # one test clip's features, clean and spoiled (the first round's)
    for fold, round_manifest in _rounds(manifest, config):
        round_manifest.validate(check_files=False)
        sources = {split: ClipSource(decoded.store, round_manifest.subset(split))
                   for split in ("train", "validation", "test")}
        suite, missing = _build_suite(config, sources["train"], decoded.store, round_manifest)
        if missing:
            notes.append(f"not evaluated (resource not given): {', '.join(missing)}")
        label = f" (fold {fold})" if fold else ""
        log(f"[3/5] training{label}: {len(config.models)} model(s) × {len(config.policies)} polic(ies) × "
            f"{config.seeds} seed(s) on {len(sources['train'])} clips")
        round_trained = []
        for seed_offset in range(config.seeds):
            for model_name in config.models:
                for policy_name in config.policies:
                    with timer("train"):
                        item = _train_one(config, model_name, policy_name, config.seed + seed_offset, fold,
                                          sources, suite, round_manifest, work, timer, log, progress)
                    round_trained.append(item)
        trained += round_trained

        conditions = grid(suite, config.severities)
        log(f"[4/5] evaluating{label}: {len(conditions)} condition(s) × {len(round_trained)} model(s) on "
            f"{len(sources['test'])} test clips")
        with timer("evaluate"):
            result = evaluate_grid({t.key: (get_family(t.model).predictor or keras_predictor)(t.keras_model)
                                    for t in round_trained}, sources["test"],
                                   conditions, config.clip_samples, config.batch_size, config.seed, progress)
        test_sets[fold] = (result.y_true, len(sources["test"]), round_manifest.subset("test").frame["speaker"].nunique())
        evaluations[fold] = evaluation = RoundEvaluation.of(result, round_manifest.subset("test"), config.seed)
        if not gallery:
            with timer("report"):
                gallery = _gallery(config, decoded.store, round_manifest.subset("test"), suite)
        round_rows = []
        for row in result.rows():
            key = row.pop("key")
            model, policy, seed, fold_ = key
            low, high = percentile_interval(evaluation.replicates[(key, row["corruption"], row["severity"])])
            round_rows.append({"model": model, "policy": policy, "seed": seed, "fold": fold_, **row,
                               "ci_low": low, "ci_high": high})
        rows += round_rows
    summaries = _summaries(config, trained, rows)

    log("[5/5] writing the report")
    with timer("report"):
        table_md, plot_problems = _write_report(config, work, manifest, trained, rows, summaries, notes, test_sets,
                                                timer, evaluations, gallery, log)
    _write_record(config, work, manifest, decoded.bad_files, trained, timer, plot_problems)
    log("")
    log(table_md)


def _summaries(config: RunConfig, trained: list[TrainedModel], rows: list[dict]) -> list[dict]:
    """Headline figures per (seed, fold); mCE against the reference's errors averaged over all of them."""
    reference = _reference(config, trained)
    ref, denominators = None, None
    if reference is not None:
        ref = {"model": reference[0], "policy": reference[1]}
        denominators = mce_reference_errors([r for r in rows if (r["model"], r["policy"]) == reference])
    return [{**summary, "seed": seed, "fold": fold}
            for (seed, fold), group in _by_seed_and_fold(rows).items()
            for summary in summarize(group, ("model", "policy"), ref, denominators)]


def _rounds(manifest: Manifest, config: RunConfig) -> list[tuple[str, Manifest]]:
    """One round normally; one per fold for cross-validation (`options.cross_validation`).

    Raises:
        ValueError: cross-validation asked for on a corpus without a ``fold`` column.
    """
    if not config.options.get("cross_validation"):
        return [("", manifest)]
    if "fold" not in manifest.frame.columns:
        raise ValueError(f"cross-validation: corpus {manifest.name!r} has no 'fold' column (ESC-50 has one; "
                         f"a CSV manifest may give one)")
    folds = sorted(manifest.frame["fold"].unique().tolist())
    return [(str(f), manifest.with_folds(f, folds[(i + 1) % len(folds)])) for i, f in enumerate(folds)]


def _build_suite(config: RunConfig, train: ClipSource, store, manifest: Manifest):
    babble = _babble_bank(store, manifest.subset("train"), config.seed)
    resources = corruption_registry.Resources(noise_dir=config.noise_dir, ir_dir=config.ir_dir,
                                              babble_waveforms=babble)
    names = config.corruptions
    suite = corruption_registry.build_suite(names, config.sample_rate, resources, skip_missing=names is None)
    missing = [n for n in (names or corruption_registry.names()) if n not in suite]
    return suite, missing


def _babble_bank(store, train: Manifest, seed: int) -> list[np.ndarray]:
    """Training-split utterances only: babble never contains a test speaker."""
    index = store.indices(train.clip_ids)
    chosen = np.random.default_rng(seed).permutation(index)[:BABBLE_CLIPS]
    return [store.waveform(i) for i in sorted(chosen)]


def _train_one(config, model_name, policy_name, seed, fold, sources, suite, manifest, work, timer, log,
               progress) -> TrainedModel:
    set_global_seed(seed)
    probability = config.options.get("policy_probability", 0.5)
    policy = parse_policy(policy_name, suite, probability)
    family = get_family(model_name)
    model = build_model(model_name, manifest.num_classes, config.sample_rate, config.features,
                        spec_augment=policy.spec_augment, **config.options.get("models", {}).get(model_name, {}))
    pairs_policy = _denoising_pairs(policy, suite, config.sample_rate, probability)
    validation_batches = max(1, int(np.ceil(len(sources["validation"]) / config.batch_size)))
    train_labels = sources["train"].labels
    inputs = TrainingInputs(
        make_train=lambda pairs: training_dataset(sources["train"], config.clip_samples, config.batch_size, seed,
                                                  policy.waveform, pairs=pairs),
        validation=evaluation_dataset(sources["validation"], config.clip_samples, config.batch_size),
        steps_per_epoch=max(1, int(np.ceil(len(sources["train"]) / config.batch_size))),
        class_weight=balanced_class_weights(train_labels, manifest.num_classes),
        num_classes=manifest.num_classes,
        seed=seed,
        make_pairs_train=lambda: training_dataset(sources["train"], config.clip_samples, config.batch_size, seed,
                                                  pairs_policy.waveform, pairs=True),
        make_pairs_validation=lambda: training_dataset(sources["validation"], config.clip_samples, config.batch_size,
                                                       seed, pairs_policy.waveform, pairs=True
                                                       ).take(validation_batches).cache(),
        pairs_policy=pairs_policy.waveform_part,
    )
    count_params = family.count_params or (lambda m: m.count_params())
    tag = "-".join(p for p in (model_name, policy_name.replace("+", "_"), f"seed{seed}", f"fold{fold}" if fold else "") if p)
    initial_params = count_params(model)
    log(f"      {tag}: {'?' if initial_params is None else f'{initial_params:,}'} parameters")
    settings = TrainingSettings(epochs=config.epochs, learning_rate=config.learning_rate, patience=config.patience,
                                verbose=None if progress else 0)
    trainer = family.trainer or fit_classifier
    result = trainer(model, inputs, settings, work / "logs" / tag)
    if family.inference_model is not None:
        model = family.inference_model(model)  # drops training-only outputs (the autoencoder's reconstruction)
    policy_label = policy_name
    if result.metadata.get("denoising_pairs") and policy.waveform is None:
        policy_label = f"{policy_name} (pairs: {result.metadata['denoising_pairs']})"
    log(f"      {tag}: {result.epochs_run} epochs in {result.seconds:.0f} s "
        f"(best epoch {result.best_epoch})")
    with timer("export"):
        metadata = {"model": model_name, "policy": policy_label, "seed": seed,
                    "features": dataclasses.asdict(config.features), "training": result.metadata}
        probe = next(iter(evaluation_dataset(sources["test"], config.clip_samples, 8)))[0].numpy()
        if family.exporter is not None:
            export_dir, difference = family.exporter(model, work / "models" / tag, probe, class_names=manifest.classes,
                                                     sample_rate=config.sample_rate, clip_samples=config.clip_samples,
                                                     extra_metadata=metadata)
        else:
            export_dir = export_model(model, work / "models" / tag, class_names=manifest.classes,
                                      sample_rate=config.sample_rate, clip_samples=config.clip_samples,
                                      extra_metadata=metadata)
            difference = verify_export(export_dir, model, probe)
    return TrainedModel(model_name, policy_label, seed, fold, model, count_params(model), result, export_dir, difference)


def _denoising_pairs(policy: TrainingPolicy, suite, sample_rate: int, probability: float) -> TrainingPolicy:
    """The policy that corrupts a denoising model's (corrupted, clean) training pairs.

    The run's waveform policy when it has one; otherwise (none, specaugment) white noise, since a denoiser
    shown clean inputs learns the identity. Such a model has seen corrupted audio, and its row's policy
    label says so (`_train_one`).
    """
    if policy.waveform is not None:
        return policy
    white_noise = suite.get("white_noise") or corruption_registry.build("white_noise", sample_rate)
    return parse_policy("noise", {"white_noise": white_noise}, probability)


def _reference(config: RunConfig, trained: list[TrainedModel]) -> tuple[str, str] | None:
    """The mCE reference (model, policy): `config.reference_model`, or else the first model, trained clean.

    A denoising model given noisy pairs under policy none (its policy reads ``none (pairs: noise)``) has seen
    corrupted audio, so it is no reference; the next model is taken. None when no candidate trained clean.
    """
    for name in [config.reference_model] if config.reference_model else config.models:
        for item in trained:
            if item.model == name and item.policy == "none":
                return (item.model, item.policy)
    return None


def _by_seed_and_fold(rows: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["seed"], row["fold"]), []).append(row)
    return groups


def _write_bad_files(bad_files: list[BadFile], path: Path) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["clip_id", "path", "problem"])
        for bad in bad_files:
            writer.writerow([bad.clip_id, bad.path, bad.problem])


def _focus_severity(severities) -> int | None:
    """The severity the confusion matrices and the gallery show: 3, or the middle of those evaluated."""
    if not severities:
        return None
    if FOCUS_SEVERITY in severities:
        return FOCUS_SEVERITY
    ordered = sorted(severities)
    return ordered[len(ordered) // 2]


def _gallery_waveforms(config: RunConfig, store, clip_id: str, suite) -> dict[str, np.ndarray]:
    """One test clip, clean and under each corruption at the focus severity, exactly as the models were
    tested on it (`pipeline.spoil_clip`, called eagerly: a tf.data pipeline per corruption costs ~0.3 s of
    tracing each)."""
    waveform = tf.constant(store.waveform(store.indices([clip_id])[0]))
    clip_hash = name_hash(clip_id)
    severity = _focus_severity(config.severities)
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
    return {"clip_id": clip_id, "label": test.frame["label"].iloc[0], "severity": _focus_severity(config.severities),
            "spectrograms": dict(zip(waveforms, spectrograms))}


def _headline_intervals(evaluations: dict[str, RoundEvaluation]) -> dict[tuple[str, str], dict]:
    """95 % speaker-bootstrap intervals of each model × policy's clean and mean spoiled accuracy.

    Replicates are averaged over spoiled conditions, seeds and folds before taking percentiles; seeds share
    the round's speaker draws, so the interval is that of the seed mean.
    """
    clean: dict[tuple, list[np.ndarray]] = {}
    spoiled: dict[tuple, list[np.ndarray]] = {}
    for evaluation in evaluations.values():
        per_model: dict[tuple, list[np.ndarray]] = {}
        for (key, corruption, _), replicates in evaluation.replicates.items():
            if corruption == CLEAN:
                clean.setdefault(key[:2], []).append(replicates)
            else:
                per_model.setdefault(key, []).append(replicates)
        for key, replicates in per_model.items():
            spoiled.setdefault(key[:2], []).append(np.mean(replicates, axis=0))
    return {
        name: {"clean": percentile_interval(np.mean(clean[name], axis=0)),
               "mean_spoiled": percentile_interval(np.mean(spoiled[name], axis=0)) if name in spoiled else None}
        for name in clean
    }


def _confusions(evaluations: dict[str, RoundEvaluation], num_classes: int, severity: int | None
                ) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Per model × policy: confusion counts on the clean test set and at `severity` pooled over corruptions
    (summed over seeds and folds)."""
    corruptions = {c for e in evaluations.values() for (_, c, _) in e.result.predictions if c != CLEAN}
    spoiled_title = f"severity {severity}, all {len(corruptions)} corruptions pooled"
    matrices: dict[tuple, dict[str, np.ndarray]] = {}
    for evaluation in evaluations.values():
        for (key, corruption, level), y_pred in evaluation.result.predictions.items():
            if corruption == CLEAN:
                title = "clean"
            elif level == severity:
                title = spoiled_title
            else:
                continue
            panels = matrices.setdefault(key[:2], {"clean": np.zeros((num_classes, num_classes), np.int64)})
            counts = confusion_matrix(evaluation.result.y_true, y_pred, labels=np.arange(num_classes))
            panels[title] = panels.get(title, 0) + counts
    return matrices


def _history_label(item: TrainedModel) -> str:
    return f"{item.model} / {item.policy} / seed {item.seed}" + (f" / fold {item.fold}" if item.fold else "")


def _write_report(config, work, manifest, trained, rows, summaries, notes, test_sets, timer, evaluations, gallery,
                  log) -> tuple[str, list[str]]:
    write_long_table(rows, work / "table.csv")
    baselines = {fold: majority_baseline(y) for fold, (y, _, _) in test_sets.items()}
    reference = _reference(config, trained)
    intervals = _headline_intervals(evaluations)
    metrics = {
        "corpus": config.corpus, "task": manifest.task, "classes": list(manifest.classes), "seed": config.seed,
        "training_seeds": [config.seed + offset for offset in range(config.seeds)],
        "majority_baseline": baselines,
        "mce_reference": None if reference is None else {"model": reference[0], "policy": reference[1]},
        "bootstrap": {"unit": "test speaker", "resamples": DEFAULT_RESAMPLES, "confidence": 0.95, "seed": config.seed,
                      "interval": "percentile"},
        "intervals": [{"model": model, "policy": policy, **bounds} for (model, policy), bounds in intervals.items()],
        "summaries": summaries,
        "rows": rows,
    }
    write_json(metrics, work / "metrics.json")
    write_json({"/".join(map(str, t.key)).rstrip("/"): t.result.history for t in trained}, work / "history.json")
    model_info: dict[tuple, dict] = {}
    for t in trained:
        info = model_info.setdefault((t.model, t.policy), {"params": t.params, "train_seconds": []})
        info["train_seconds"].append(t.result.seconds)
    y, clips, speakers = next(iter(test_sets.values()))
    baseline_text = ", ".join(f"{b:.3f}" for b in baselines.values())
    seeds_text = (f"{config.seeds} training seeds ({config.seed}..{config.seed + config.seeds - 1}); cells read "
                  f"mean ± sd over seeds" if config.seeds > 1 else "1 training seed")
    head = [
        f"corpus `{config.corpus}`, task `{manifest.task}` ({len(manifest.classes)} classes); "
        f"test set: {clips} clips from {speakers} speakers" + (f" per fold ({len(test_sets)} folds)" if len(test_sets) > 1 else ""),
        f"majority-class baseline of the test set: {baseline_text}",
        f"seed {config.seed}; {seeds_text}; clips of {config.clip_seconds:g} s at {config.sample_rate} Hz",
        f"spoiled conditions: severities {config.severities} of each corruption, identical for every model (seed {config.seed})",
        f"95% CI: percentile bootstrap over test speakers ({DEFAULT_RESAMPLES} resamples of whole speakers)"
        + ("; the interval of the mean over seeds" if config.seeds > 1 else ""),
    ]
    if reference is None:
        head.append("no mCE: no reference model trained with policy none (see --reference-model)")
    else:
        head.append(f"mCE reference: {reference[0]} / {reference[1]}"
                    + (", its errors averaged over the run's seeds and folds"
                       if len({(s["seed"], s["fold"]) for s in summaries}) > 1 else "")
                    + " (1.00 = as robust as the reference; lower is better)")
        excluded = sorted({name for summary in summaries for name in summary.get("mce_excluded", [])})
        if excluded:
            head.append(f"left out of mCE (the reference errs on under {MCE_MIN_REFERENCE_ERROR:.0%} of their clips, "
                        f"so a ratio would be noise): {', '.join(excluded)}")
    head += notes
    table_md = render_markdown(f"Results: {config.corpus} / {manifest.task}", list(dict.fromkeys(head)),
                               summaries, rows, model_info, intervals)
    (work / "table.md").write_text(table_md)

    severity = _focus_severity(config.severities)
    corpus_label = f"{config.corpus} / {manifest.task}"
    features = config.features
    gallery_title = ""
    if gallery:
        gallery_title = (f"What the models were tested on: test clip {gallery['clip_id']} (class {gallery['label']}), "
                         f"clean and under each corruption"
                         + (f" at severity {gallery['severity']}" if gallery["severity"] else "")
                         + f"\n({corpus_label}; the models' own log-mel features)")
    _, plot_problems = write_plots(
        work / "plots", corpus=corpus_label, rows=rows,
        baseline=float(np.mean(list(baselines.values()))) if baselines else None,
        histories={_history_label(t): t.result.history for t in trained},
        confusions=_confusions(evaluations, manifest.num_classes, severity), class_names=list(manifest.classes),
        gallery=gallery.get("spectrograms") if gallery else None, gallery_title=gallery_title,
        hop_seconds=features.hop_length / config.sample_rate,
        mel_frequencies=librosa.mel_frequencies(n_mels=features.n_mels + 2, fmin=features.fmin,
                                                fmax=features.fmax or config.sample_rate / 2)[1:-1])
    for problem in plot_problems:
        log(f"      plot not drawn: {problem}")
    return table_md, plot_problems


def _write_record(config, work, manifest, bad_files, trained, timer, plot_problems) -> None:
    """`record.json`: software, machine, git commit, manifest summary, bad files, seconds per stage, models."""
    models = [{"model": t.model, "policy": t.policy, "seed": t.seed, "fold": t.fold, "params": t.params,
               "train_seconds": round(t.result.seconds, 3), "epochs_run": t.result.epochs_run,
               "best_epoch": t.result.best_epoch, "export": str(t.export_dir.relative_to(work)),
               "export_max_abs_difference": t.export_difference} for t in trained]
    record = build_record(repo=Path(__file__).resolve().parents[1], manifest_summary=manifest.summary(),
                          bad_files=bad_files, stage_seconds=timer.seconds,
                          total_seconds=time.perf_counter() - timer.started, models=models,
                          extra={"stages_note": "train includes export; report includes the gallery and the plots",
                                 "plots": sorted(p.name for p in (work / "plots").glob("*.png")),
                                 "plot_problems": plot_problems})
    write_json(record, work / "record.json")
