"""Writing a test set and checking a written one: `export_testset` spoils every test clip through evaluation's
own dataset and writes it as FLAC (24-bit at a power-of-two scale) or float WAV with the manifest, settings and
README; `verify_testset` regenerates the clips from the decoded corpus and compares them with the files sample for
sample after the same quantisation (`VerifyResult`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from tqdm.auto import tqdm

from keras_audio import __version__
from keras_audio.cache import WaveformStore
from keras_audio.corruptions.base import NUM_SEVERITIES, Corruption
from keras_audio.grid import grid
from keras_audio.hashing import file_sha256
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource, evaluation_dataset
from keras_audio.suite.testset.format import (
    AUDIO_DIR,
    AUDIO_FORMATS,
    MANIFEST_COLUMNS,
    MANIFEST_FILE,
    PCM_24_FULL_SCALE,
    README_FILE,
    SETTINGS_FILE,
    TestSetError,
    TestSetMismatchError,
    TestSetSettings,
    _check_positive,
    _read_condition,
    _some,
    file_stems,
    load_testset,
)
from keras_audio.suite.testset.readme import _readme


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """What `verify_testset` checked.

    Attributes:
        files: files compared sample for sample.
        max_quantization_error: the largest difference between a file and the float clip evaluation makes
            (0 for ``wav``; at most `scale / 2**24` for ``flac``).
    """

    files: int
    max_quantization_error: float


def export_testset(
    test_manifest: Manifest,
    store: WaveformStore,
    suite: Mapping[str, Corruption],
    severities: Sequence[int],
    *,
    seed: int,
    sample_rate: int,
    clip_samples: int,
    out_dir: str | os.PathLike,
    progress: bool = True,
    audio_format: str = "flac",
    batch_size: int = 64,
    recipe: Mapping | None = None,
) -> Path:
    """Write the clean and spoiled versions of every test clip, a manifest and a README into `out_dir`.

    Args:
        test_manifest: the test clips, in the order evaluation takes them.
        store: their decoded waveforms at `sample_rate`.
        suite: corruption name -> corruption, as `corruptions.registry.build_suite` builds it for the run.
        severities: the severities of every corruption (1..5).
        seed: the run seed.
        sample_rate: Hz (must be the store's).
        clip_samples: the evaluation length.
        out_dir: the folder to create (it must not exist); written under a temporary name, then renamed.
        progress: show a progress bar.
        audio_format: ``flac`` (24-bit, per-file power-of-two scale) or ``wav`` (32-bit float, exact).
        batch_size: clips spoiled per step (the clips do not depend on it).
        recipe: extra facts for `testset.json` and the README (corpus path, command line, resources).

    Returns:
        `out_dir`.
    """
    fmt = _check_format(audio_format)
    severities = _check_severities(severities)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _check_positive(sample_rate=sample_rate, clip_samples=clip_samples, batch_size=batch_size)
    if store.sample_rate != sample_rate:
        raise ValueError(f"store holds clips at {store.sample_rate} Hz, but sample_rate is {sample_rate}")
    if len(test_manifest) == 0:
        raise ValueError(f"{test_manifest.name}: the test manifest is empty")
    _check_suite(suite)
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists; choose another --out or remove it")
    source = _source(store, test_manifest)
    settings = TestSetSettings(
        corpus=test_manifest.name,
        task=test_manifest.task,
        classes=tuple(test_manifest.classes),
        seed=int(seed),
        sample_rate=int(sample_rate),
        clip_samples=int(clip_samples),
        severities=severities,
        corruptions=tuple(suite),
        audio_format=audio_format,
        recipe=dict(recipe or {}),
        software=_software(),
    )
    stems = file_stems(test_manifest.clip_ids)
    frame = test_manifest.frame
    work = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        rows = []
        for (condition, severity), waveforms in _spoiled(source, suite, settings, batch_size, progress):
            folder = work / AUDIO_DIR / condition / str(severity)
            folder.mkdir(parents=True)
            for i, waveform in enumerate(waveforms):
                relative = f"{AUDIO_DIR}/{condition}/{severity}/{stems[i]}{fmt[2]}"
                scale = _write_clip(
                    work / relative,
                    waveform,
                    sample_rate,
                    audio_format,
                    f"clip {test_manifest.clip_ids[i]!r}, {condition} {severity}",
                )
                rows.append(
                    {
                        "clip": test_manifest.clip_ids[i],
                        "condition": condition,
                        "severity": severity,
                        "seed": int(seed),
                        "label": frame["label"].iat[i],
                        "speaker": frame["speaker"].iat[i],
                        "path": relative,
                        "sha256": file_sha256(work / relative),
                        "sample_rate": int(sample_rate),
                        "samples": int(clip_samples),
                        "scale": scale,
                    }
                )
        pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(work / MANIFEST_FILE, index=False, lineterminator="\n")
        settings = dataclasses.replace(settings, manifest_sha256=file_sha256(work / MANIFEST_FILE))
        (work / SETTINGS_FILE).write_text(json.dumps(settings.to_json(), indent=2) + "\n")
        (work / README_FILE).write_text(_readme(settings, test_manifest, suite))
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir


def verify_testset(
    directory: str | os.PathLike,
    store: WaveformStore,
    suite: Mapping[str, Corruption],
    *,
    batch_size: int = 64,
    check_hashes: bool = True,
    progress: bool = False,
) -> VerifyResult:
    """Regenerate every clip of a test set from the decoded corpus and compare it with the files.

    The regenerated clip is quantised as the set's format stores it (``flac``: 24 bits at the file's scale)
    and must equal the file sample for sample. The seed, clip length, sample rate and conditions come from
    the set's `testset.json`; `store` and `suite` must be built as for the export (same corpus, rate and
    corruption resources: babble mixes training clips chosen with the seed).

    Raises:
        TestSetError: the folder is not a valid test set, a file's sha256 differs from the manifest, or
            `suite` lacks one of its corruptions.
        TestSetMismatchError: some files differ from the regenerated clips (the message names a few).
    """
    testset = load_testset(directory)
    settings = testset.settings
    _check_positive(batch_size=batch_size)
    if store.sample_rate != settings.sample_rate:
        raise ValueError(f"store holds clips at {store.sample_rate} Hz, the test set {settings.sample_rate} Hz")
    missing = [name for name in settings.corruptions if name not in suite]
    if missing:
        raise TestSetError(f"{testset.directory}: the suite lacks corruption(s) {missing} of the test set")
    _check_suite(suite)
    source = _source(store, testset.clip_manifest())
    subset = {name: suite[name] for name in settings.corruptions}
    files, worst, differing = 0, 0.0, []
    for (condition, severity), expected in _spoiled(source, subset, settings, batch_size, progress):
        found = _read_condition(testset, condition, severity, check_hashes)
        for i, row in enumerate(testset.rows(condition, severity).itertuples()):
            scale = _flac_scale(expected[i]) if settings.audio_format == "flac" else 1.0
            stored = _quantize(expected[i], settings.audio_format, scale)
            if scale != row.scale or not np.array_equal(found.waveforms[i], stored):
                differing.append(row.path)
            worst = max(worst, float(np.max(np.abs(found.waveforms[i].astype(np.float64) - expected[i]))))
            files += 1
    if differing:
        raise TestSetMismatchError(
            f"{testset.directory}: {len(differing)} of {files} file(s) differ from the "
            f"regenerated clips: {_some(differing)}"
        )
    return VerifyResult(files, worst)


def _source(store: WaveformStore, manifest: Manifest) -> ClipSource:
    try:
        return ClipSource(store, manifest)
    except KeyError as error:
        raise ValueError(f"{manifest.name}: clip {error.args[0]!r} is not in the decoded store") from None


def _spoiled(
    source: ClipSource, suite: Mapping[str, Corruption], settings: TestSetSettings, batch_size: int, progress: bool
) -> Iterator[tuple[tuple[str, int], np.ndarray]]:
    """Every condition's clips, `[clips, clip_samples]` float32, made by evaluation's own dataset."""
    conditions = grid(suite, settings.severities)
    bar = tqdm(conditions, desc="spoiling test set", unit="condition", disable=not progress)
    for condition in bar:
        bar.set_postfix_str(f"{condition.name} {condition.severity}")
        dataset = evaluation_dataset(
            source, settings.clip_samples, batch_size, condition.corruption, condition.severity, settings.seed
        )
        yield (condition.name, condition.severity), np.concatenate([w.numpy() for w, _ in dataset])


def _flac_scale(waveform: np.ndarray) -> float:
    """The smallest power of two `s >= 1` with `round(|x| / s * 2**23) <= 2**23 - 1` for every sample."""
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    scale = 1.0
    while np.rint(peak / scale * PCM_24_FULL_SCALE) > PCM_24_FULL_SCALE - 1:
        scale *= 2.0
    return scale


def _pcm24(waveform: np.ndarray, scale: float) -> np.ndarray:
    """The 24-bit integers a FLAC file of `waveform / scale` holds (round half to even)."""
    return np.rint(waveform.astype(np.float64) * (PCM_24_FULL_SCALE / scale)).astype(np.int32)


def _quantize(waveform: np.ndarray, audio_format: str, scale: float) -> np.ndarray:
    """`waveform` as the format stores and reads it back (float32)."""
    if audio_format == "wav":
        return waveform.astype(np.float32)
    # Exact: |int| < 2**24 fits float32's mantissa and the scale is a power of two.
    return (_pcm24(waveform, scale).astype(np.float32) * np.float32(scale / PCM_24_FULL_SCALE)).astype(np.float32)


def _write_clip(path: Path, waveform: np.ndarray, sample_rate: int, audio_format: str, what: str) -> float:
    """Write one clip; returns its scale (1.0 for ``wav``)."""
    if not np.all(np.isfinite(waveform)):
        raise ValueError(f"{what}: the spoiled clip holds NaN or infinite samples")
    container, subtype, _ = AUDIO_FORMATS[audio_format]
    if audio_format == "wav":
        soundfile.write(str(path), waveform.astype(np.float32), sample_rate, subtype=subtype, format=container)
        return 1.0
    scale = _flac_scale(waveform)
    # Integers are written as int32 with the 24 bits on top, so libsndfile stores them unchanged (a float
    # write would go through libsndfile's own scaling and clipping).
    soundfile.write(str(path), _pcm24(waveform, scale) << 8, sample_rate, subtype=subtype, format=container)
    return scale


def _check_format(audio_format: str) -> tuple[str, str, str]:
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {list(AUDIO_FORMATS)}, got {audio_format!r}")
    return AUDIO_FORMATS[audio_format]


def _check_severities(severities: Sequence[int]) -> tuple[int, ...]:
    values = tuple(severities)
    if (
        not values
        or len(set(values)) != len(values)
        or not all(isinstance(s, (int, np.integer)) and 1 <= s <= NUM_SEVERITIES for s in values)
    ):
        raise ValueError(f"severities must be distinct integers in 1..{NUM_SEVERITIES}, got {list(values)}")
    return tuple(int(s) for s in values)


def _check_suite(suite: Mapping[str, Corruption]) -> None:
    for key, corruption in suite.items():
        if not isinstance(corruption, Corruption) or key != corruption.name:
            raise ValueError(f"suite entry {key!r} must be the corruption of that name, got {corruption!r}")


def _software() -> dict:
    import tensorflow as tf

    return {
        "keras_audio": __version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
    }
