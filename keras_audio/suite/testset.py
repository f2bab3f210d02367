"""A published spoiled test set: every condition's clips as audio files, a manifest, and scoring against it.

`export_testset` writes the test clips exactly as evaluation feeds them to a model (the centre of a longer clip,
spoiled at its own length with the clip's seeded corruption, then zero-padded to the clip length:
`pipeline.evaluation_dataset`, the very path `grid.evaluate_grid` runs), for the clean condition and every
corruption × severity. Anyone can then predict from the files with any framework and `score_predictions` turns a
predictions CSV into the suite's `grid.GridResult`, so the tables are computed by the same code as the suite's own.

Layout of a test set folder::

    README.md       the recipe (corpus, seed, sample rate, clip length, conditions) and how to score
    testset.json    the settings, machine-readable (`TestSetSettings`), with the manifest's sha256
    manifest.csv    one row per file: clip, condition, severity, seed, label, speaker, path, sha256,
                    sample_rate, samples, scale
    audio/<condition>/<severity>/<clip>.flac   (clean is condition "clean", severity 0)

Formats. Spoiled clips are float32 and can exceed [-1, 1] (additive noise, gain), which integer PCM cannot
hold. Two formats, both reproducible sample for sample:

- ``flac`` (default, small): 24-bit FLAC of `waveform / scale`, where `scale` is the smallest power of two
  (1, 2, 4, ...) that fits the clip's peak. The value of a sample is `int24 / 2**23 * scale`: what any FLAC
  reader returns as float, times the manifest's `scale` column (1 for most clips). A power of two makes both
  steps exact in float32, so the files define the test set exactly; they differ from the float clips the
  suite evaluates by at most `scale / 2**24` per sample (24-bit rounding), which can flip a prediction that
  sits on a tie.
- ``wav``: 32-bit float WAV (`scale` is always 1): the evaluation clips bit for bit, larger files. Predictions
  from these files reproduce the suite's own `evaluate` table exactly.

`verify_testset` regenerates every clip from the decoded corpus and checks the files against it, sample for
sample after the same quantisation (the check behind "exported and regenerated test sets match"). File
bytes (the `sha256` column) guard a copy against damage; they are stable on one machine, but another FLAC
encoder version may write other bytes for the same samples, so a regenerated set is compared by samples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from tqdm.auto import tqdm

from keras_audio import __version__
from keras_audio.cache import WaveformStore
from keras_audio.corruptions.base import NUM_SEVERITIES, Corruption
from keras_audio.grid import CLEAN, GridResult, grid
from keras_audio.hashing import file_sha256
from keras_audio.manifest import Manifest
from keras_audio.pipeline import ClipSource, evaluation_dataset

FORMAT_VERSION = 2  # 2: testset.json pins manifest.csv by its sha256
SETTINGS_FILE = "testset.json"
MANIFEST_FILE = "manifest.csv"
README_FILE = "README.md"
AUDIO_DIR = "audio"
MANIFEST_COLUMNS = (
    "clip",
    "condition",
    "severity",
    "seed",
    "label",
    "speaker",
    "path",
    "sha256",
    "sample_rate",
    "samples",
    "scale",
)
ANSWER_COLUMNS = ("clip", "condition", "severity", "predicted")  # what every answer file (predictions CSV) has
PROBABILITY_PREFIX = "prob_"  # optional probability columns: prob_<class name>
PROBABILITY_TOLERANCE = 0.01  # how far a row's probabilities may sum from 1 (rounding to a few decimals)
# format -> (soundfile format, subtype, file extension)
AUDIO_FORMATS = {"flac": ("FLAC", "PCM_24", ".flac"), "wav": ("WAV", "FLOAT", ".wav")}
PCM_24_FULL_SCALE = 2**23
_SHOWN = 5  # problems named in an error message before "..."
_AUDIO_SUFFIX = re.compile(r"\.(wav|wave|flac|mp3|ogg|oga|opus|m4a|aac|aif|aiff|au|sph|nist|webm|wma)$", re.IGNORECASE)


class TestSetError(ValueError):
    """A test set folder, or a predictions file, that cannot be used (the message names the file)."""

    __test__ = False  # not a pytest test class


class TestSetMismatchError(RuntimeError):
    """Regenerated clips differ from a test set's files."""

    __test__ = False


@dataclasses.dataclass(frozen=True)
class TestSetSettings:
    """The recipe of a test set, as written to `testset.json`.

    Attributes:
        corpus: the corpus name (the manifest's).
        task: the task the labels belong to.
        classes: class names in label-id order.
        seed: the run seed the spoiled versions derive from.
        sample_rate: Hz.
        clip_samples: the length of every file.
        severities: the severities of every corruption.
        corruptions: corruption names in grid order.
        audio_format: ``flac`` or ``wav`` (see the module docstring).
        recipe: free-form extra facts given by the exporter (corpus path, command line, resources).
        format_version: the layout version.
        software: versions of the packages the clips depend on.
        manifest_sha256: the hash of `manifest.csv` as written: the labels, clips and file hashes scored
            against are pinned, so a hand-edited manifest is refused rather than scored.
    """

    __test__ = False

    corpus: str
    task: str
    classes: tuple[str, ...]
    seed: int
    sample_rate: int
    clip_samples: int
    severities: tuple[int, ...]
    corruptions: tuple[str, ...]
    audio_format: str
    recipe: dict = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    software: dict = dataclasses.field(default_factory=dict)
    manifest_sha256: str = ""

    @property
    def conditions(self) -> list[tuple[str, int]]:
        """`(condition, severity)` pairs in grid order: clean (severity 0) first."""
        return [(CLEAN, 0)] + [(name, s) for name in self.corruptions for s in self.severities]

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "conditions": [list(c) for c in self.conditions]}

    @classmethod
    def from_json(cls, data: Mapping) -> TestSetSettings:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        for key in ("classes", "severities", "corruptions"):
            values[key] = tuple(values[key])
        return cls(**values)


@dataclasses.dataclass
class PublishedTestSet:
    """A test set folder, loaded and checked (`load_testset`).

    Attributes:
        directory: the folder.
        frame: `manifest.csv`'s rows, matched by (clip, condition, severity) and ordered by condition in grid
            order, clips in the clean condition's order in each.
        settings: `testset.json`.
    """

    __test__ = False

    directory: Path
    frame: pd.DataFrame
    settings: TestSetSettings

    @property
    def classes(self) -> tuple[str, ...]:
        return self.settings.classes

    @property
    def conditions(self) -> list[tuple[str, int]]:
        return self.settings.conditions

    def clean(self) -> pd.DataFrame:
        """The clean rows: one per clip, in test order."""
        return self.frame[self.frame["condition"] == CLEAN].reset_index(drop=True)

    @property
    def clip_ids(self) -> list[str]:
        return self.clean()["clip"].tolist()

    @property
    def y_true(self) -> np.ndarray:
        """Label ids in clip order (the `GridResult.y_true` of every score)."""
        index = {name: i for i, name in enumerate(self.classes)}
        return self.clean()["label"].map(index).to_numpy(dtype=np.int32)

    def rows(self, condition: str, severity: int) -> pd.DataFrame:
        """The manifest rows of one condition, in clip order."""
        frame = self.frame
        return frame[(frame["condition"] == condition) & (frame["severity"] == severity)].reset_index(drop=True)

    def clip_manifest(self) -> Manifest:
        """The clips as a `Manifest` (paths are the clean files; split ``test``), e.g. for a speaker bootstrap."""
        clean = self.clean()
        frame = pd.DataFrame(
            {
                "clip_id": clean["clip"],
                "path": clean["path"],
                "label": clean["label"],
                "speaker": clean["speaker"],
                "split": "test",
            }
        )
        return Manifest(
            frame, classes=self.classes, name=self.settings.corpus, task=self.settings.task, root=str(self.directory)
        )


@dataclasses.dataclass(frozen=True)
class ConditionClips:
    """One condition's clips as read from the files.

    Attributes:
        condition: ``clean`` or a corruption name.
        severity: 0 for clean, else 1..5.
        clips: clip ids, in test order.
        waveforms: `[clips, clip_samples]` float32.
    """

    condition: str
    severity: int
    clips: list[str]
    waveforms: np.ndarray


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


@dataclasses.dataclass
class ScoreResult:
    """Scored predictions of one or more models on a test set.

    Attributes:
        testset: the test set scored against.
        grid: `y_true` in clip order and `(model, condition, severity) -> predicted label ids`.
        models: the model names, in the order the predictions file first names them.
        probabilities: `(model, condition, severity) -> [clips, classes]`, when the file has probability columns.
    """

    testset: PublishedTestSet
    grid: GridResult
    models: tuple[str, ...]
    probabilities: dict[tuple[str, str, int], np.ndarray]

    def rows(self) -> list[dict]:
        """One row per model × condition: model, corruption, severity, accuracy, balanced_accuracy, n."""
        return [{"model": row.pop("key"), **row} for row in self.grid.rows()]


# ------------------------------------------------------------------------------------------------- export
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


# ------------------------------------------------------------------------------------------------- reading
def load_testset(directory: str | os.PathLike) -> PublishedTestSet:
    """Read and check a test set folder's settings and manifest (the audio is read by `read_conditions`).

    Raises:
        TestSetError: a missing or malformed file, a manifest changed since export (its sha256 is pinned in
            `testset.json`), or one that does not match the settings.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TestSetError(f"{directory}: not a folder (expected a test set written by export-testset)")
    for name in (SETTINGS_FILE, MANIFEST_FILE):
        if not (directory / name).is_file():
            raise TestSetError(f"{directory}: {name} is missing; not a test set written by export-testset")
    try:
        settings = TestSetSettings.from_json(json.loads((directory / SETTINGS_FILE).read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise TestSetError(f"{directory / SETTINGS_FILE}: unreadable settings ({error})") from None
    if settings.format_version != FORMAT_VERSION:
        older = (
            " (written without the manifest's hash, so edits to it cannot be told: export it again)"
            if settings.format_version == 1
            else ""
        )
        raise TestSetError(
            f"{directory / SETTINGS_FILE}: format_version {settings.format_version!r}, this "
            f"version of keras_audio reads {FORMAT_VERSION}{older}"
        )
    if settings.audio_format not in AUDIO_FORMATS:
        raise TestSetError(f"{directory / SETTINGS_FILE}: unknown audio_format {settings.audio_format!r}")
    path = directory / MANIFEST_FILE
    if file_sha256(path) != settings.manifest_sha256:
        raise TestSetError(
            f"{path}: its sha256 differs from the one {SETTINGS_FILE} pins (manifest_sha256): the "
            f"manifest was changed after export (a label, a clip, a file hash); restore it or export "
            f"the test set again"
        )
    try:
        frame = pd.read_csv(
            path,
            dtype={"clip": str, "condition": str, "label": str, "speaker": str, "path": str, "sha256": str},
            keep_default_na=False,
        )
        missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
        if missing:
            raise TestSetError(f"{path}: missing column(s) {missing}")
        frame = frame[list(MANIFEST_COLUMNS)].astype(
            {"severity": int, "seed": int, "sample_rate": int, "samples": int, "scale": float}
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        if isinstance(error, TestSetError):
            raise
        raise TestSetError(f"{path}: unreadable manifest ({str(error).strip()})") from None
    clean = frame[frame["condition"] == CLEAN]
    found = list(dict.fromkeys(zip(frame["condition"], frame["severity"])))
    if found != settings.conditions:
        raise TestSetError(f"{path}: conditions {found} differ from {SETTINGS_FILE}'s {settings.conditions}")
    clips = clean["clip"].tolist()
    if len(set(clips)) != len(clips):
        raise TestSetError(f"{path}: clip(s) listed twice: {_some(clean['clip'][clean['clip'].duplicated()])}")
    # Rows are matched by (clip, condition, severity): each condition holds every clean clip once, with its
    # label and speaker; the frame is then ordered condition by condition, clips in the clean order.
    position = {clip: i for i, clip in enumerate(clips)}
    parts = []
    for condition, severity in settings.conditions:
        rows = frame[(frame["condition"] == condition) & (frame["severity"] == severity)]
        listed = rows["clip"].tolist()
        if len(set(listed)) != len(listed) or set(listed) != set(clips):
            absent, extra = [c for c in clips if c not in set(listed)], sorted(set(listed) - set(clips))
            twice = sorted({c for c in listed if listed.count(c) > 1})
            raise TestSetError(
                f"{path}: condition {condition} {severity} does not hold the clean clips once each "
                f"(missing: {_some(absent) or 'none'}; not clean clips: {_some(extra) or 'none'}; "
                f"twice: {_some(twice) or 'none'})"
            )
        parts.append(rows.iloc[np.argsort(rows["clip"].map(position).to_numpy(), kind="stable")])
    frame = pd.concat(parts, ignore_index=True)
    reference = frame[frame["condition"] == CLEAN].set_index("clip")
    for column in ("label", "speaker"):
        differ = frame[frame[column].to_numpy() != reference.loc[frame["clip"], column].to_numpy()]
        if len(differ):
            where = dict.fromkeys(f"{c} {s}" for c, s in zip(differ["condition"], differ["severity"]))
            raise TestSetError(
                f"{path}: clip(s) {_some(differ['clip'].unique())} have another {column} under "
                f"{_some(where)} than clean"
            )
    unknown = sorted(set(frame["label"]) - set(settings.classes))
    if unknown:
        raise TestSetError(f"{path}: label(s) {unknown[:_SHOWN]} are not among the classes {list(settings.classes)}")
    return PublishedTestSet(directory, frame, settings)


def read_conditions(
    testset: PublishedTestSet | str | os.PathLike, *, check_hashes: bool = False
) -> Iterator[ConditionClips]:
    """Each condition's waveforms as stored in the files, in grid order, clips in test order.

    This is what a model outside the suite should be fed: `[clips, clip_samples]` float32 at the set's rate
    (the ``flac`` scale is applied).
    """
    testset = testset if isinstance(testset, PublishedTestSet) else load_testset(testset)
    for condition, severity in testset.conditions:
        yield _read_condition(testset, condition, severity, check_hashes)


def predict_testset(
    testset: PublishedTestSet | str | os.PathLike,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    model: str | None = None,
    batch_size: int = 64,
    probabilities: bool = True,
) -> pd.DataFrame:
    """Run `predict` on every file of a test set: a predictions frame for `score_predictions`.

    Args:
        testset: the set (or its folder).
        predict: waveforms `[batch, clip_samples]` float32 -> probabilities `[batch, classes]` in the order
            of the set's classes (`loader.load_predictor(path).predict` for any export, a Keras model's
            `predict`...).
        model: a `model` column's value; None leaves the column out.
        batch_size: clips per call, in test order.
        probabilities: add the `prob_<class>` columns.

    Returns:
        Columns `[model,] clip, condition, severity, predicted[, prob_<class>...]`; write it with
        `frame.to_csv(path, index=False)`.
    """
    testset = testset if isinstance(testset, PublishedTestSet) else load_testset(testset)
    _check_positive(batch_size=batch_size)
    classes = np.asarray(testset.classes, dtype=object)
    parts = []
    for clips in read_conditions(testset):
        outputs = np.concatenate(
            [
                np.asarray(predict(clips.waveforms[start : start + batch_size]))
                for start in range(0, len(clips.clips), batch_size)
            ]
        )
        if outputs.shape != (len(clips.clips), len(classes)):
            raise ValueError(
                f"predict returned shape {outputs.shape}, expected {(len(clips.clips), len(classes))} "
                f"(clips, classes {list(classes)})"
            )
        part = pd.DataFrame(
            {
                "clip": clips.clips,
                "condition": clips.condition,
                "severity": clips.severity,
                "predicted": classes[np.argmax(outputs, axis=-1)],
            }
        )
        if probabilities:
            for j, name in enumerate(classes):
                part[PROBABILITY_PREFIX + name] = outputs[:, j]
        if model is not None:
            part.insert(0, "model", model)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------------------------- scoring
def score_predictions(
    testset_dir: PublishedTestSet | str | os.PathLike,
    predictions_csv: str | os.PathLike | pd.DataFrame,
    *,
    default_model: str | None = None,
) -> ScoreResult:
    """Score predictions made by any framework against a test set.

    The CSV has one row per file predicted: columns `clip, condition, severity, predicted` (a class name;
    ``clean`` has severity 0), optionally `model` (several models in one file) and `prob_<class>` for every
    class. Every (clip, condition, severity) of the set must be predicted exactly once per model.

    Args:
        testset_dir: the test set (or its folder).
        predictions_csv: the file (or a frame as `predict_testset` returns).
        default_model: the model name when there is no `model` column (default: the file's stem).

    Raises:
        TestSetError: missing columns, a severity that is not an integer, unknown labels or probability
            columns, or rows missing, extra or given twice (the message names a few).
    """
    testset = testset_dir if isinstance(testset_dir, PublishedTestSet) else load_testset(testset_dir)
    if isinstance(predictions_csv, pd.DataFrame):
        name, frame = "predictions", predictions_csv.astype(str)
    else:
        name, frame = str(predictions_csv), _read_predictions(Path(predictions_csv))
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [c for c in ANSWER_COLUMNS if c not in frame.columns]
    if missing:
        raise TestSetError(
            f"{name}: missing column(s) {missing}; expected {list(ANSWER_COLUMNS)} "
            f"[+ model, {PROBABILITY_PREFIX}<class>...]"
        )
    if len(frame) == 0:
        raise TestSetError(f"{name}: holds no predictions")
    classes = testset.classes
    probability_columns = [c for c in frame.columns if c.startswith(PROBABILITY_PREFIX)]
    unknown_columns = [c for c in probability_columns if c[len(PROBABILITY_PREFIX) :] not in classes]
    if unknown_columns:
        raise TestSetError(
            f"{name}: probability column(s) {unknown_columns[:_SHOWN]} name no class of the test set {list(classes)}"
        )
    if probability_columns and len(probability_columns) != len(classes):
        absent = [PROBABILITY_PREFIX + c for c in classes if PROBABILITY_PREFIX + c not in probability_columns]
        raise TestSetError(f"{name}: probability column(s) {absent} missing (give one per class or none)")

    if probability_columns:
        _check_probabilities(frame[[PROBABILITY_PREFIX + c for c in classes]], name)

    severity = pd.to_numeric(frame["severity"].str.strip(), errors="coerce")
    bad = frame.index[severity.isna() | (severity != severity.round())]
    if len(bad):
        raise TestSetError(
            f"{name}: severity is not an integer on row(s) "
            f"{_some(f'{i + 2} ({value!r})' for i, value in zip(bad, frame['severity'].iloc[bad]))}"
        )
    frame = frame.assign(severity=severity.astype(int))
    unknown = sorted(set(frame["predicted"]) - set(classes))
    if unknown:
        raise TestSetError(
            f"{name}: unknown label(s) {_some(map(repr, unknown))} in column 'predicted'; the test "
            f"set's classes: {list(classes)}"
        )
    named = "model" in frame.columns
    if named:
        if (frame["model"].str.strip() == "").any():
            raise TestSetError(
                f"{name}: column 'model' is empty on row(s) "
                f"{_some(i + 2 for i in frame.index[frame['model'].str.strip() == ''])}"
            )
        models = list(dict.fromkeys(frame["model"]))
    else:
        models = [default_model or (Path(name).stem if name != "predictions" else "model")]
        frame = frame.assign(model=models[0])

    clip_position = {clip: i for i, clip in enumerate(testset.clip_ids)}
    condition_position = {condition: j for j, condition in enumerate(testset.conditions)}
    n_clips, n_conditions = len(clip_position), len(condition_position)
    label_id = {label: i for i, label in enumerate(classes)}
    problems = []
    arrays, probabilities = {}, {}
    for model in models:
        rows = frame[frame["model"] == model]
        i = rows["clip"].map(clip_position)
        j = pd.Series(
            [condition_position.get(key, -1) for key in zip(rows["condition"], rows["severity"])], index=rows.index
        )
        known = i.notna() & (j >= 0)
        where = f"model {model!r}: " if named else ""
        if not known.all():
            extra = rows[~known]
            problems.append(
                f"{where}{len(extra)} row(s) name no file of the test set, e.g. "
                f"{_some(_key(r) for r in extra.itertuples())}"
            )
        rows, i, j = rows[known], i[known].astype(int), j[known]
        flat = (j * n_clips + i).to_numpy()
        counts = np.bincount(flat, minlength=n_clips * n_conditions)
        if (counts > 1).any():
            twice = rows[pd.Series(flat, index=rows.index).duplicated(keep="first")]
            problems.append(
                f"{where}{len(twice)} file(s) predicted more than once, e.g. "
                f"{_some(_key(r) for r in twice.itertuples())}"
            )
        if (counts == 0).any():
            absent = np.flatnonzero(counts == 0)
            problems.append(
                f"{where}{len(absent)} file(s) not predicted, e.g. "
                f"{_some(_flat_key(k, testset, n_clips) for k in absent)}"
            )
        if problems:
            continue
        predicted = np.empty(n_clips * n_conditions, np.int64)
        predicted[flat] = rows["predicted"].map(label_id).to_numpy()
        if probability_columns:
            values = rows[[PROBABILITY_PREFIX + c for c in classes]].apply(pd.to_numeric, errors="coerce").to_numpy()
            table = np.empty((n_clips * n_conditions, len(classes)), np.float64)
            table[flat] = values
        for (condition, severity), j_ in condition_position.items():
            arrays[(model, condition, severity)] = predicted[j_ * n_clips : (j_ + 1) * n_clips]
            if probability_columns:
                probabilities[(model, condition, severity)] = table[j_ * n_clips : (j_ + 1) * n_clips]
    if problems:
        raise TestSetError(f"{name}: " + "; ".join(problems))
    return ScoreResult(testset, GridResult(testset.y_true, arrays), tuple(models), probabilities)


# ------------------------------------------------------------------------------------------------- helpers
def _check_probabilities(columns: pd.DataFrame, name: str) -> None:
    """Refuse probabilities that are not numbers in [0, 1] summing to 1 (within `PROBABILITY_TOLERANCE`: files
    rounded to a few decimals pass; logits, percentages and scores do not), naming the first bad line."""
    values = columns.apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce")).to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise TestSetError(
            f"{name}: line {row + 2}: {columns.columns[column]} is {columns.iat[row, column]!r}; "
            f"probabilities must be numbers in [0, 1] ({int(bad.any(axis=1).sum())} row(s) like it)"
        )
    off = np.abs(values.sum(axis=1) - 1) > PROBABILITY_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise TestSetError(
            f"{name}: line {row + 2}: the probabilities sum to {values[row].sum():.6g}, not 1 (within "
            f"{PROBABILITY_TOLERANCE:g}; {int(off.sum())} row(s) like it)"
        )


def file_stems(clip_ids: Sequence[str]) -> list[str]:
    """A safe, unique file name stem per clip id (``timit/train/dr1/fcjf0/sa1`` -> ``timit__train__dr1__...``).

    An audio suffix ending the id (``a.wav``, ``b.flac``) is dropped: the file gets the set's own
    (``a.flac``, not ``a.wav.flac``), and ``a.wav`` read as a WAV name would lie about a FLAC file.

    Characters other than letters, digits, ``.``, ``-`` and ``_`` become ``_``; where two ids would give the
    same name (compared case-insensitively, for case-insensitive file systems) a hash of the id is appended.
    """
    stems = [
        re.sub(r"[^A-Za-z0-9._-]", "_", _AUDIO_SUFFIX.sub("", clip).replace("/", "__")).lstrip(".")[:120] or "clip"
        for clip in clip_ids
    ]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    return [
        f"{stem}-{hashlib.sha256(clip.encode()).hexdigest()[:10]}" if counts[stem.lower()] > 1 else stem
        for stem, clip in zip(stems, clip_ids)
    ]


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


def _read_condition(testset: PublishedTestSet, condition: str, severity: int, check_hashes: bool) -> ConditionClips:
    rows = testset.rows(condition, severity)
    settings = testset.settings
    waveforms = np.empty((len(rows), settings.clip_samples), np.float32)
    for i, row in enumerate(rows.itertuples()):
        path = testset.directory / row.path
        # soundfile directly, not audio.read_audio: these files are ours, and read_audio refuses an
        # all-silent clip, which a centre crop (or lost packets) can legitimately be.
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise TestSetError(f"{path}: unreadable ({error})") from None
        if rate != settings.sample_rate or data.shape != (settings.clip_samples,):
            raise TestSetError(
                f"{path}: {data.shape} samples at {rate} Hz, the manifest says "
                f"({settings.clip_samples},) mono at {settings.sample_rate} Hz"
            )
        if check_hashes and file_sha256(path) != row.sha256:
            raise TestSetError(f"{path}: sha256 differs from the manifest (the file is damaged or was changed)")
        waveforms[i] = data * np.float32(row.scale)
    return ConditionClips(condition, severity, rows["clip"].tolist(), waveforms)


def _read_predictions(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise TestSetError(f"{path}: predictions file not found")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise TestSetError(f"{path}: not a readable CSV ({str(error).strip()})") from None


def _key(row) -> str:
    return f"({row.clip}, {row.condition}, {row.severity})"


def _flat_key(k: int, testset: PublishedTestSet, n_clips: int) -> str:
    condition, severity = testset.conditions[k // n_clips]
    return f"({testset.clip_ids[k % n_clips]}, {condition}, {severity})"


def _some(items, count: int = _SHOWN) -> str:
    items = [str(x) for x in items]
    return ", ".join(items[:count]) + (f", ... ({len(items) - count} more)" if len(items) > count else "")


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


def _check_positive(**values) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


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


def _readme(settings: TestSetSettings, manifest: Manifest, suite: Mapping[str, Corruption]) -> str:
    frame = manifest.frame
    counts = frame["label"].value_counts()
    classes = ", ".join(f"{name} ({int(counts.get(name, 0))})" for name in settings.classes)
    seconds = settings.clip_samples / settings.sample_rate
    header = "| corruption | " + " | ".join(f"severity {s}" for s in settings.severities) + " |"
    lines = [header, "|" + "---|" * (1 + len(settings.severities))]
    for name, corruption in suite.items():
        row = type(corruption).table_row()
        lines.append(f"| {name} | " + " | ".join(row[str(s)] for s in settings.severities) + " |")
    fmt = settings.audio_format
    storage = (
        "24-bit FLAC of `waveform / scale`, `scale` (a manifest column) the smallest power of two that\n"
        "  fits the clip's peak (spoiled clips can exceed [-1, 1]): read a file as float (`int / 2**23`, what\n"
        "  any FLAC reader returns) and multiply by `scale` (1 for most clips). The samples differ from the\n"
        "  float clips the suite evaluates by at most `scale / 2**24` (24-bit rounding); export with\n"
        '  `audio_format="wav"` for 32-bit float files that hold them bit for bit.'
        if fmt == "flac"
        else "32-bit float WAV: the clips the suite evaluates, bit for bit (`scale` is always 1)."
    )
    recipe = "".join(f"- {key}: `{value}`\n" for key, value in settings.recipe.items())
    version = settings.software.get("keras_audio", "")
    crop = f"{settings.clip_samples} samples ({seconds:g} s at {settings.sample_rate} Hz, mono"
    speakers = frame["speaker"].nunique()
    conditions = (
        f"clean + {len(settings.corruptions)} corruption(s) × severities {list(settings.severities)} = "
        f"{len(settings.conditions)} conditions, {len(settings.conditions) * len(frame)} files"
    )
    return f"""# Spoiled test set: {settings.corpus} ({settings.task})

Written by keras_audio {version}. Every file is a test clip exactly as the suite's evaluation feeds it
to a model: the centre {crop}) of each recording; for a spoiled condition, the corruption at
that severity, with its parameters drawn from a seed derived from (seed, clip id, corruption, severity),
applied to that recording at its own length; then a shorter clip zero-padded at both ends (the padding is
never spoiled; a speed or tempo change that lengthens a clip is centre-cropped).

## Recipe

- corpus: `{settings.corpus}`, task `{settings.task}`; {len(frame)} clips from {speakers} speakers
- classes (clips): {classes}
- seed: {settings.seed}
- sample rate: {settings.sample_rate} Hz; clip length: {settings.clip_samples} samples ({seconds:g} s)
- conditions: {conditions}
{recipe}
{chr(10).join(lines)}

## Files

- `manifest.csv`: one row per file: clip, condition, severity (0 = clean), seed, label, speaker, path, sha256,
  sample_rate, samples, scale.
- `testset.json`: these settings, machine-readable, with `manifest.csv`'s sha256 (a changed manifest is refused).
- `audio/<condition>/<severity>/<clip>{AUDIO_FORMATS[fmt][2]}`: {storage}

## Scoring

Predict every file with any model and write a CSV with the columns `clip,condition,severity,predicted`
(`predicted` a class name above; optionally a `model` column for several models, and `prob_<class>` columns:
numbers in [0, 1], each row summing to 1), one row per file and model, then:

    keras-audio score --testset DIR --predictions preds.csv

## Reproducing

Regenerate with the same corpus, seed, sample rate, clip length and corruptions, and check every file sample
for sample with `keras_audio.suite.testset.verify_testset` (file bytes may differ with another FLAC encoder; the
samples may not).
"""
