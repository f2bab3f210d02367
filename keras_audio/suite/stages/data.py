"""What every stage starts from: a corpus's validated manifest, its decoded clips, its rounds and its suite.

The train and evaluate stages both call `load_clips`; the second call is a decode-cache hit, so a stage run
alone costs no more than its part of the whole run.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from keras_audio import corpora
from keras_audio.cache import BadFile, WaveformStore, load_waveforms
from keras_audio.corpora.combined import combine
from keras_audio.corruptions import registry as corruption_registry
from keras_audio.manifest import Manifest
from keras_audio.suite.config import RunConfig
from keras_audio.suite.plan import PlanReport, check_folders, check_plan

BABBLE_CLIPS = 64  # training utterances the babble corruption mixes from


@dataclasses.dataclass
class CorpusClips:
    """A corpus's manifest (bad files left out) and its decoded clips at the run's rate."""

    manifest: Manifest
    store: WaveformStore
    bad_files: list[BadFile]
    cache_hit: bool
    seconds: float


def load_clips(
    config: RunConfig,
    corpus: str,
    data_dir: str | None,
    task: str | None,
    timer,
    log: Callable,
    progress: bool,
    corpus_options: dict | None = None,
    label: str = "corpus",
    before_decode: Callable[[Manifest], None] | None = None,
    splits: Sequence[str] = ("train", "test"),
) -> CorpusClips:
    """Build the manifest of `corpus` and decode it (or read the decode cache), logging what it did.

    Args:
        before_decode: called with the manifest before anything is decoded (the training corpus's plan check).
        splits: the splits that must hold clips (`Manifest.validate`).
    """
    with timer("corpus"):
        manifest = corpora.load_corpus(corpus, data_dir, task, config.seed, progress=progress, **(corpus_options or {}))
    if before_decode is not None:
        before_decode(manifest)
    log(
        f"      {len(manifest)} clips, {manifest.frame['speaker'].nunique()} speakers, task {manifest.task}, "
        f"classes {list(manifest.classes)}"
    )
    return decode_clips(config, manifest, timer, log, progress, label, splits)


def decode_clips(
    config: RunConfig,
    manifest: Manifest,
    timer,
    log: Callable,
    progress: bool,
    label: str = "corpus",
    splits: Sequence[str] = ("train", "test"),
) -> CorpusClips:
    """Decode `manifest` at the run's rate (or read the decode cache), listing the bad files left out."""
    log(f"      decoding at {config.sample_rate} Hz (cache: {config.cache_dir})")
    with timer("decode"):
        decoded = load_waveforms(
            manifest,
            config.sample_rate,
            config.cache_dir,
            skip_bad=config.skip_bad,
            min_samples=config.features.n_fft,
            progress=progress,
        )
    log(f"      {'cache hit' if decoded.cache_hit else 'decoded'} in {decoded.seconds:.1f} s")
    if decoded.bad_files:
        log(f"      skipped {len(decoded.bad_files)} bad file(s) of {label}:")
        for bad in decoded.bad_files[:20]:
            log(f"        {bad.path}: {bad.problem}")
    return CorpusClips(
        decoded.manifest.validate(check_files=False, splits=splits),
        decoded.store,
        decoded.bad_files,
        decoded.cache_hit,
        decoded.seconds,
    )


def load_training_clips(
    config: RunConfig, timer, log: Callable, progress: bool, before_decode: Callable[[Manifest], None] | None = None
) -> tuple[CorpusClips, PlanReport]:
    """The run's training corpus, checked (`plan.check_plan`, every round, before decoding and again without
    the bad files): `config.corpus`, or the corpora of `data.corpora` joined into one (`corpora.combined`:
    labels matched by name, each corpus's split kept, decoded together). `before_decode` is called with its
    manifest after that check, before decoding (the run's test corpora are checked there).

    Returns:
        the clips and the plan check's warnings and notes (for the report).
    """
    report = PlanReport()

    def check(manifest: Manifest, settings=None) -> None:
        check_folders(config)  # after loading: the generated corpus writes its noise folder on its first load
        for fold, round_manifest in rounds(manifest, config):
            report.extend(check_plan(round_manifest, settings or config.plan, where=f"fold {fold}: " if fold else ""))
        if before_decode is not None and settings is None:
            before_decode(manifest)

    specs = config.data.corpora
    if not specs:
        clips = load_clips(
            config,
            config.corpus,
            config.data_dir,
            config.task,
            timer,
            log,
            progress,
            config.data.corpus_options,
            before_decode=check,
        )
        if clips.bad_files:  # the splits without the bad files must still hold every class
            check(clips.manifest, dataclasses.replace(config.plan, content_hash=False))
        return clips, report
    manifests = []
    with timer("corpus"):
        for spec in specs:
            manifest = corpora.load_corpus(
                spec.corpus, spec.data_dir, spec.task or config.task, config.seed, progress=progress, **spec.options
            )
            log(
                f"      {spec.corpus}: {len(manifest)} clips, {manifest.frame['speaker'].nunique()} speakers, "
                f"classes {list(manifest.classes)}"
            )
            manifests.append(manifest)
        manifest = combine(manifests, [spec.name or spec.corpus for spec in specs])
    check(manifest)
    log(
        f"      together: {len(manifest)} clips, task {manifest.task}, classes {list(manifest.classes)}; the training "
        f"stream draws from the {len(specs)} corpora equally"
    )
    clips = decode_clips(config, manifest, timer, log, progress, manifest.name)
    if clips.bad_files:
        check(clips.manifest, dataclasses.replace(config.plan, content_hash=False))
    return clips, report


def write_bad_files(bad_files: list[BadFile], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["clip_id", "path", "problem"])
        for bad in bad_files:
            writer.writerow([bad.clip_id, bad.path, bad.problem])


def rounds(manifest: Manifest, config: RunConfig) -> list[tuple[str, Manifest]]:
    """One round normally; one per fold for cross-validation (`data.cross_validation`).

    Raises:
        ValueError: cross-validation asked for on a corpus without a ``fold`` column.
    """
    if not config.data.cross_validation:
        return [("", manifest)]
    if "fold" not in manifest.frame.columns:
        raise ValueError(
            f"cross-validation: corpus {manifest.name!r} has no 'fold' column (ESC-50 has one; "
            f"a CSV manifest may give one)"
        )
    folds = sorted(manifest.frame["fold"].unique().tolist())
    return [(str(f), manifest.with_folds(f, folds[(i + 1) % len(folds)])) for i, f in enumerate(folds)]


def build_suite(config: RunConfig, store: WaveformStore, train: Manifest | None) -> tuple[dict, list[str]]:
    """The run's corruptions, and the names left out for a missing resource.

    Babble mixes training-split utterances of the corpus under test (`train`), never a test speaker; with no
    training split (a whole corpus under test) babble is left out.
    """
    babble = babble_bank(store, train, config.seed) if train is not None and len(train) else None
    resources = corruption_registry.Resources(noise_dir=config.noise_dir, ir_dir=config.ir_dir, babble_waveforms=babble)
    names = config.corruptions
    suite = corruption_registry.build_suite(names, config.sample_rate, resources, skip_missing=names is None)
    missing = [n for n in (names or corruption_registry.names()) if n not in suite]
    return suite, missing


def babble_bank(store: WaveformStore, train: Manifest, seed: int) -> list[np.ndarray]:
    """Training-split utterances only: babble never contains a test speaker."""
    index = store.indices(train.clip_ids)
    chosen = np.random.default_rng(seed).permutation(index)[:BABBLE_CLIPS]
    return [store.waveform(i) for i in sorted(chosen)]
