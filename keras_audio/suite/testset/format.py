"""The published test set's on-disk format: its file names, layout version and manifest columns, the settings
(`TestSetSettings`, `testset.json`), a loaded and checked set (`load_testset`, `PublishedTestSet`), its audio read
back condition by condition (`read_conditions`), the file name of each clip (`file_stems`), the errors a bad set
raises, and the small checks the writer and the scoring share.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from keras_audio.grid import CLEAN
from keras_audio.hashing import file_sha256
from keras_audio.manifest import Manifest

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
        audio_format: ``flac`` or ``wav`` (see the `keras_audio.suite.testset` docstring).
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


def _some(items, count: int = _SHOWN) -> str:
    items = [str(x) for x in items]
    return ", ".join(items[:count]) + (f", ... ({len(items) - count} more)" if len(items) > count else "")


def _check_positive(**values) -> None:
    for key, value in values.items():
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
