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

import numpy as np

from keras_audio import corpora
from keras_audio.cache import BadFile, load_waveforms
from keras_audio.config import RunConfig
from keras_audio.corruptions import registry as corruption_registry
from keras_audio.corruptions.policy import parse_policy
from keras_audio.evaluate import evaluate_grid, grid, keras_predictor, majority_baseline, summarize
from keras_audio.export import export_model, verify_export
from keras_audio.manifest import Manifest
from keras_audio.models import build_model, get_family
from keras_audio.pipeline import ClipSource, evaluation_dataset, training_dataset
from keras_audio.report import render_markdown, write_json, write_long_table
from keras_audio.training import (
    TrainingInputs, TrainingResult, TrainingSettings, balanced_class_weights, fit_classifier, set_global_seed,
)

BABBLE_CLIPS = 64  # training utterances the babble corruption mixes from


class StageTimer:
    """Wall-clock seconds per stage, summed over repeats (written into the run record)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

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


def default_run_name(config: RunConfig) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{config.corpus}-{config.task or 'default'}-seed{config.seed}-{stamp}"


def run_experiment(config: RunConfig, progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Train, spoil, evaluate and report as `config` says; returns the finished run folder."""
    config.validate()
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


def _run(config: RunConfig, work: Path, timer: StageTimer, progress: bool, log: Callable[[str], None]) -> None:
    config.save(work / "config.json")
    set_global_seed(config.seed)

    log(f"[1/5] corpus: {config.corpus}")
    with timer("corpus"):
        manifest = corpora.load_corpus(config.corpus, config.data_dir, config.task, config.seed,
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
    summaries: list[dict] = []
    notes: list[str] = []
    test_sets: dict[str, tuple[np.ndarray, int, int]] = {}
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
            result = evaluate_grid({t.key: keras_predictor(t.keras_model) for t in round_trained}, sources["test"],
                                   conditions, config.clip_samples, config.batch_size, config.seed, progress)
        test_sets[fold] = (result.y_true, len(sources["test"]), round_manifest.subset("test").frame["speaker"].nunique())
        round_rows = []
        for row in result.rows():
            model, policy, seed, fold_ = row.pop("key")
            round_rows.append({"model": model, "policy": policy, "seed": seed, "fold": fold_, **row})
        rows += round_rows
        reference = _reference(config, round_trained)
        for (seed, fold_), group in _by_seed_and_fold(round_rows).items():
            ref = None if reference is None else {"model": reference[0], "policy": reference[1]}
            for summary in summarize(group, ("model", "policy"), ref):
                summaries.append({**summary, "seed": seed, "fold": fold_})

    log("[5/5] writing the report")
    with timer("report"):
        table_md = _write_report(config, work, manifest, trained, rows, summaries, notes, test_sets, timer)
    log("")
    log(table_md)


def _rounds(manifest: Manifest, config: RunConfig) -> list[tuple[str, Manifest]]:
    """One round normally; one per fold for cross-validation (`options.cross_validation`)."""
    if not config.options.get("cross_validation") or "fold" not in manifest.frame.columns:
        return [("", manifest)]
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
    policy = parse_policy(policy_name, suite, config.options.get("policy_probability", 0.5))
    family = get_family(model_name)
    model = build_model(model_name, manifest.num_classes, config.sample_rate, config.features,
                        spec_augment=policy.spec_augment, **config.options.get("models", {}).get(model_name, {}))
    train_labels = sources["train"].labels
    inputs = TrainingInputs(
        make_train=lambda pairs: training_dataset(sources["train"], config.clip_samples, config.batch_size, seed,
                                                  policy.waveform, pairs=pairs),
        validation=evaluation_dataset(sources["validation"], config.clip_samples, config.batch_size),
        steps_per_epoch=max(1, int(np.ceil(len(sources["train"]) / config.batch_size))),
        class_weight=balanced_class_weights(train_labels, manifest.num_classes),
        num_classes=manifest.num_classes,
    )
    tag = "-".join(p for p in (model_name, policy_name.replace("+", "_"), f"seed{seed}", f"fold{fold}" if fold else "") if p)
    log(f"      {tag}: {model.count_params():,} parameters")
    settings = TrainingSettings(epochs=config.epochs, learning_rate=config.learning_rate, patience=config.patience,
                                verbose=None if progress else 0)
    trainer = family.trainer or fit_classifier
    result = trainer(model, inputs, settings, work / "logs" / tag)
    log(f"      {tag}: {result.epochs_run} epochs in {result.seconds:.0f} s "
        f"(best epoch {result.best_epoch})")
    with timer("export"):
        export_dir = export_model(model, work / "models" / tag, class_names=manifest.classes,
                                  sample_rate=config.sample_rate, clip_samples=config.clip_samples,
                                  extra_metadata={"model": model_name, "policy": policy_name, "seed": seed,
                                                  "features": dataclasses.asdict(config.features)})
        probe = next(iter(evaluation_dataset(sources["test"], config.clip_samples, 8)))[0].numpy()
        difference = verify_export(export_dir, model, probe)
    return TrainedModel(model_name, policy_name, seed, fold, model, model.count_params(), result, export_dir, difference)


def _reference(config: RunConfig, trained: list[TrainedModel]) -> tuple[str, str] | None:
    """The mCE reference (model, policy): `config.reference_model` (or the first model) trained clean."""
    name = config.reference_model or config.models[0]
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


def _write_report(config, work, manifest, trained, rows, summaries, notes, test_sets, timer) -> str:
    write_long_table(rows, work / "table.csv")
    baselines = {fold: majority_baseline(y) for fold, (y, _, _) in test_sets.items()}
    reference = _reference(config, trained)
    metrics = {
        "corpus": config.corpus, "task": manifest.task, "classes": list(manifest.classes), "seed": config.seed,
        "majority_baseline": baselines,
        "mce_reference": None if reference is None else {"model": reference[0], "policy": reference[1]},
        "summaries": summaries,
        "rows": rows,
    }
    write_json(metrics, work / "metrics.json")
    write_json({"/".join(map(str, t.key)).rstrip("/"): t.result.history for t in trained}, work / "history.json")
    write_json({"stages_seconds": timer.seconds, "manifest": manifest.summary(),
                "models": [{"model": t.model, "policy": t.policy, "seed": t.seed, "fold": t.fold, "params": t.params,
                            "train_seconds": t.result.seconds, "epochs_run": t.result.epochs_run,
                            "best_epoch": t.result.best_epoch, "export": str(t.export_dir.relative_to(work)),
                            "export_max_abs_difference": t.export_difference} for t in trained]},
               work / "record.json")
    model_info: dict[tuple, dict] = {}
    for t in trained:
        info = model_info.setdefault((t.model, t.policy), {"params": t.params, "train_seconds": []})
        info["train_seconds"].append(t.result.seconds)
    y, clips, speakers = next(iter(test_sets.values()))
    baseline_text = ", ".join(f"{b:.3f}" for b in baselines.values())
    head = [
        f"corpus `{config.corpus}`, task `{manifest.task}` ({len(manifest.classes)} classes); "
        f"test set: {clips} clips from {speakers} speakers" + (f" per fold ({len(test_sets)} folds)" if len(test_sets) > 1 else ""),
        f"majority-class baseline of the test set: {baseline_text}",
        f"seed {config.seed}; {config.seeds} training seed(s); clips of {config.clip_seconds:g} s at {config.sample_rate} Hz",
        f"spoiled conditions: severities {config.severities} of each corruption, identical for every model (seed {config.seed})",
    ]
    if reference is not None:
        head.append(f"mCE reference: {reference[0]} / {reference[1]} (1.00 = as robust as the reference; lower is better)")
    head += notes
    table_md = render_markdown(f"Results: {config.corpus} / {manifest.task}", list(dict.fromkeys(head)),
                               summaries, rows, model_info)
    (work / "table.md").write_text(table_md)
    return table_md
