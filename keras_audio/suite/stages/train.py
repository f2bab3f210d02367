"""The train stage: corpus -> exported models, one per model × policy × seed (× fold).

Writes into the run folder:

- `models/<tag>/`: the export (`saved_model/`, `model.keras`, `metadata.json`; see `export.py`);
- `training.json`: every trained model (key, size, training time, epochs, export folder, the export check's
  largest difference), the training manifest's summary and the bad files left out;
- `history.json`, `logs/`: learning curves and TensorBoard logs.

The evaluate stage reads `training.json` and the exports, nothing else of this stage.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_audio.corruptions import registry as corruption_registry
from keras_audio.corruptions.policy import TrainingPolicy, expand_policies, parse_policy
from keras_audio.distribute import start as start_distribution
from keras_audio.export import export_model, verify_export
from keras_audio.feature_cache import FeatureSource
from keras_audio.manifest import Manifest
from keras_audio.mixup import Mixup
from keras_audio.models import build_model, get_family
from keras_audio.pipeline import evaluation_dataset, training_dataset
from keras_audio.streaming import make_source, resolve_source
from keras_audio.suite.config import RunConfig
from keras_audio.suite.record_fields import from_json, read_json_object, to_json
from keras_audio.suite.records import TrainedModelRecord, TrainingRecord
from keras_audio.suite.results import ModelKey
from keras_audio.suite.stages.data import CorpusClips, build_suite, load_training_clips, rounds, write_bad_files
from keras_audio.suite.tables import write_json
from keras_audio.training import (
    TrainingInputs,
    TrainingResult,
    TrainingSettings,
    balanced_class_weights,
    fit_classifier,
    set_global_seed,
)

TRAINED_FILE = "trained.json"  # in each export folder, written once the model is exported
CHECKPOINTS = "checkpoints"  # per model, a checkpoint after every epoch while it trains (`training.run_fit`)


@dataclasses.dataclass
class TrainedModel:
    key: ModelKey
    params: int | None
    result: TrainingResult
    export_dir: Path
    export_difference: float
    formats: dict = dataclasses.field(default_factory=dict)  # "tflite"/"onnx" -> {file, max_abs_difference} or why not

    def write(self, run_dir: Path) -> None:
        """`models/<tag>/trained.json`: everything but the model, so a resumed run need not train it again."""
        saved = _SavedModel(
            self.record(run_dir).to_json(), self.result.history, self.result.seconds, self.result.metadata
        )
        write_json(to_json(saved), self.export_dir / TRAINED_FILE)

    @classmethod
    def read(cls, run_dir: Path, tag: str) -> TrainedModel | None:
        """The model a killed run trained and exported before (None when it did not finish it).

        Raises:
            RecordError: its `trained.json` lacks a key or holds a value of the wrong type.
        """
        path = run_dir / "models" / tag / TRAINED_FILE
        if not path.is_file():
            return None
        saved = from_json(_SavedModel, read_json_object(path), path)
        record = TrainedModelRecord.from_json(saved.record, path, "record")
        result = TrainingResult(saved.history, saved.seconds, record.epochs_run, record.best_epoch, saved.metadata)
        return cls(
            record.key, record.params, result, run_dir / record.export, record.export_max_abs_difference, record.formats
        )

    def record(self, run_dir: Path) -> TrainedModelRecord:
        """The model's entry in `training.json` and `record.json`."""
        return TrainedModelRecord(
            self.key.model,
            self.key.policy,
            self.key.seed,
            self.key.fold,
            self.params,
            round(self.result.seconds, 3),
            self.result.epochs_run,
            self.result.best_epoch,
            str(self.export_dir.relative_to(run_dir)),
            self.export_difference,
            self.formats,
            pairs=self.key.pairs,
            mixup=self.key.mixup,
        )


@dataclasses.dataclass(frozen=True)
class _SavedModel:
    """`models/<tag>/trained.json`: `TrainedModel.write` writes it, `TrainedModel.read` reads it."""

    record: dict
    history: dict[str, list[float]]
    seconds: float
    metadata: dict


def train_stage(
    config: RunConfig,
    run_dir: Path,
    timer,
    log: Callable[[str], None],
    progress: bool,
    before_decode: Callable[[Manifest], None] | None = None,
) -> CorpusClips:
    """Train every model of `config` on its corpus and export it into `run_dir`; returns the corpus clips.

    `before_decode` gets the checked training manifest before anything is decoded (`load_training_clips`).
    """
    set_global_seed(config.seed)
    log(f"[1/4] corpus: {config.corpus}")
    clips, plan_report = load_training_clips(config, timer, log, progress, before_decode)
    for line in plan_report.warnings:
        log(f"      warning: {line}")
    if clips.bad_files:
        write_bad_files(clips.bad_files, run_dir / "bad_files.csv")
    trained: list[TrainedModel] = []
    for fold, round_manifest in rounds(clips.manifest, config):
        round_manifest.validate(check_files=False)
        # In memory, or streamed from the decode cache above `data.stream_threshold_gb` (`streaming`).
        kind = resolve_source(config.data.source, clips.store, round_manifest, config.data.stream_threshold_gb)
        sources = {
            split: make_source(kind, clips.store, round_manifest.subset(split))
            for split in ("train", "validation", "test")
        }
        suite, _ = build_suite(config, clips.store, round_manifest.subset("train"))
        # `heldout` becomes suite + suite-minus:F per family of the built suite; every policy is checked
        # against the suite here, before any model trains.
        policies = expand_policies(config.policies, suite)
        label = f" (fold {fold})" if fold else ""
        log(
            f"[2/4] training{label}: {len(config.models)} model(s) × {len(policies)} polic(ies) × "
            f"{config.seeds} seed(s) on {len(sources['train'])} clips"
        )
        for seed_offset in range(config.seeds):
            for model_name in config.models:
                for policy_name in policies:
                    with timer("train"):
                        trained.append(
                            _train_one(
                                config,
                                model_name,
                                policy_name,
                                config.seed + seed_offset,
                                fold,
                                sources,
                                suite,
                                round_manifest,
                                run_dir,
                                timer,
                                log,
                                progress,
                            )
                        )
    write_json(
        {
            "/".join(map(str, (t.key.model, t.key.policy, t.key.seed, t.key.fold))).rstrip("/"): t.result.history
            for t in trained
        },
        run_dir / "history.json",
    )
    TrainingRecord(
        config.corpus,
        clips.manifest.task,
        tuple(clips.manifest.classes),
        clips.manifest.summary(),
        clips.manifest.split_unit,
        tuple(dataclasses.asdict(b) for b in clips.bad_files),
        tuple(plan_report.warnings),
        tuple(plan_report.notes),
        tuple(t.record(run_dir) for t in trained),
    ).write(run_dir)
    return clips


def _train_one(
    config: RunConfig,
    model_name: str,
    policy_name: str,
    seed: int,
    fold: str,
    sources,
    suite,
    manifest: Manifest,
    run_dir: Path,
    timer,
    log,
    progress,
) -> TrainedModel:
    tag = ModelKey(model_name, policy_name, seed, fold).tag
    finished = TrainedModel.read(run_dir, tag)
    if finished is not None:  # a resumed run: this model was trained and exported before the run was killed
        log(f"      {tag}: trained and exported before, kept")
        return finished
    set_global_seed(seed)
    probability = config.training.policy_probability
    policy = parse_policy(policy_name, suite, probability)
    family = get_family(model_name)
    # Keras models train under the run's strategy (`distribute`); the others (scikit-learn) alone, on each worker.
    distribution = start_distribution(config.training.strategy if family.exporter is None else "default")
    with distribution.scope():  # mirrored variables when distributed
        model = build_model(
            model_name,
            manifest.num_classes,
            config.sample_rate,
            config.features,
            spec_augment=policy.spec_augment,
            **config.training.model_options.get(model_name, {}),
        )
    pairs_policy = denoising_pairs_policy(policy, suite, config.sample_rate, probability)
    # Mixup needs soft targets: a family trained outside Keras (scikit-learn) is refused by the plan check.
    alpha = config.training.mixup_alpha
    mixup = Mixup(alpha, manifest.num_classes) if alpha else None
    validation_batches = max(1, int(np.ceil(len(sources["validation"]) / config.batch_size)))
    crop = "centre" if family.centre_crops else "random"
    inputs = TrainingInputs(
        make_train=lambda pairs: distribution.training_stream(  # this worker's share, per-replica batches
            lambda batch, shard: training_dataset(
                sources["train"],
                config.clip_samples,
                batch,
                seed,
                policy.waveform,
                pairs=pairs,
                balance_groups=True,
                shard=shard,
                mixup=None if pairs else mixup,
                crop=crop,
            ),
            config.batch_size,
        ),
        validation=evaluation_dataset(sources["validation"], config.clip_samples, config.batch_size),
        steps_per_epoch=max(1, int(np.ceil(len(sources["train"]) / config.batch_size))),
        class_weight=balanced_class_weights(sources["train"].labels, manifest.num_classes),
        num_classes=manifest.num_classes,
        seed=seed,
        make_pairs_train=lambda: distribution.training_stream(
            lambda batch, shard: training_dataset(
                sources["train"],
                config.clip_samples,
                batch,
                seed,
                pairs_policy.waveform,
                pairs=True,
                balance_groups=True,
                shard=shard,
            ),
            config.batch_size,
        ),
        make_pairs_validation=lambda: (
            training_dataset(
                sources["validation"], config.clip_samples, config.batch_size, seed, pairs_policy.waveform, pairs=True
            )
            .take(validation_batches)
            .cache()
        ),
        pairs_policy=pairs_policy.waveform_part,
    )
    clip_features = functools.lru_cache(maxsize=1)(
        lambda encoder: tuple(
            FeatureSource(sources[split], encoder, config.clip_samples) for split in ("train", "validation")
        )
    )
    inputs.training_embeddings = lambda encoder: clip_features(encoder)[0].embeddings
    if policy.waveform is None and mixup is None and crop == "centre":  # one fixed window per clip
        inputs.cached_features = lambda encoder: _feature_inputs(
            inputs, *clip_features(encoder), config, seed, distribution
        )
    count_params = family.count_params or (lambda m: m.count_params())
    initial_params = count_params(model)
    log(f"      {tag}: {'?' if initial_params is None else f'{initial_params:,}'} parameters")
    settings = TrainingSettings(
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        patience=config.patience,
        verbose=None if progress else 0,
        name=tag,
        backup_dir=run_dir / CHECKPOINTS / tag,
        distribution=distribution if distribution.distributed else None,
    )
    trainer = family.trainer or fit_classifier
    with distribution.scope():  # trainers compile (optimizer variables) and build stage models
        result = trainer(model, inputs, settings, run_dir / "logs" / tag)
    if family.inference_model is not None:
        model = family.inference_model(model)  # drops training-only outputs (the autoencoder's reconstruction)
    # The model saw corrupted audio although its policy has no waveform part: the tables must say so.
    pairs = (result.metadata.get("denoising_pairs") or "") if policy.waveform is None else ""
    key = ModelKey(model_name, policy_name, seed, fold, pairs=pairs, mixup=alpha if mixup is not None else 0.0)
    log(f"      {tag}: {result.epochs_run} epochs in {result.seconds:.0f} s (best epoch {result.best_epoch})")
    with timer("export"):
        metadata = {
            "model": model_name,
            "policy": policy_name,
            "seed": seed,
            "fold": fold,
            **({"pairs": pairs} if pairs else {}),
            **({"mixup": alpha} if mixup is not None else {}),
            "corpus": config.corpus,
            "task": manifest.task,  # for the model card
            "features": dataclasses.asdict(config.features),
            "training": result.metadata,
        }
        probe = next(iter(evaluation_dataset(sources["test"], config.clip_samples, 8)))[0].numpy()
        export_kwargs = dict(
            class_names=manifest.classes,
            sample_rate=config.sample_rate,
            clip_samples=config.clip_samples,
            extra_metadata=metadata,
        )
        if family.exporter is not None:
            export_dir, difference = family.exporter(model, run_dir / "models" / tag, probe, **export_kwargs)
        else:
            export_dir = export_model(model, run_dir / "models" / tag, **export_kwargs)
            difference = verify_export(export_dir, model, probe)
        formats = _export_formats(config.training.export_formats, family, model, export_dir, probe, log, tag)
    trained = TrainedModel(key, count_params(model), result, export_dir, difference, formats)
    trained.write(run_dir)  # last: its presence says the model is complete (a resumed run keeps it)
    shutil.rmtree(run_dir / CHECKPOINTS / tag, ignore_errors=True)
    return trained


def _feature_inputs(
    inputs: TrainingInputs, train: FeatureSource, validation: FeatureSource, config: RunConfig, seed: int, distribution
) -> TrainingInputs:
    """`inputs` with an encoder's outputs (`train`, `validation`) in place of the waveforms."""
    return dataclasses.replace(
        inputs,
        cached_features=None,
        training_embeddings=None,
        make_pairs_train=None,
        make_pairs_validation=None,
        make_train=lambda pairs: distribution.training_stream(
            lambda batch, shard: training_dataset(train, train.dim, batch, seed, balance_groups=True, shard=shard),
            config.batch_size,
        ),
        validation=evaluation_dataset(validation, validation.dim, config.batch_size),
    )


def _export_formats(formats, family, model, export_dir: Path, probe, log, tag: str) -> dict:
    """TFLite and/or ONNX copies of the model beside the SavedModel, each reloaded and compared on `probe`."""
    if not formats:
        return {}
    from keras_audio.export_formats import FORMAT_ATOL, ONNX_FILE, TFLITE_FILE, export_onnx, export_tflite

    done = {}
    for name in formats:
        if family.exporter is not None:  # not a Keras model (the scikit-learn baselines)
            done[name] = {"skipped": f"{family.name} is not a Keras model; it has no {name} copy"}
            continue
        file, export = {"tflite": (TFLITE_FILE, export_tflite), "onnx": (ONNX_FILE, export_onnx)}[name]
        difference = export(model, export_dir / file, probe)
        done[name] = {"file": file, "max_abs_difference": difference, "tolerance": FORMAT_ATOL}
        log(f"      {tag}: {name} export matches Keras within {difference:.2g}")
    return done


def denoising_pairs_policy(policy: TrainingPolicy, suite, sample_rate: int, probability: float) -> TrainingPolicy:
    """The policy that corrupts a denoising model's (corrupted, clean) training pairs.

    The run's waveform policy when it has one; otherwise (none, specaugment) white noise, since a denoiser
    shown clean inputs learns the identity. Such a model has seen corrupted audio, and its row's policy
    label says so.
    """
    if policy.waveform is not None:
        return policy
    white_noise = suite.get("white_noise") or corruption_registry.build("white_noise", sample_rate)
    return parse_policy("noise", {"white_noise": white_noise}, probability)
