"""Spoken digits with known speakers: AudioMNIST (and its variants) and the Free Spoken Digit Dataset.

AudioMNIST (`load_audiomnist`): ``data/NN/{digit}_{NN}_{rep}.wav``, one folder per speaker, with speaker
metadata either as ``audioMNIST_meta.txt`` (the original: JSON keyed by speaker, ``"gender": "male"``) or as a
per-speaker CSV such as AudioMNIST_AZ's ``metadata.txt`` (columns ``SPK ID``, per-digit counts, ``Gender``
M/F). WAV, FLAC or Ogg. Tasks ``digit`` (default) and ``gender``. Splits are always speaker-disjoint, drawn
from the seed: 70/15/15 % of the speakers, stratified by gender (when the metadata gives it).

FSDD (`load_fsdd`): ``recordings/{digit}_{speaker}_{n}.wav`` (8 kHz), optional ``speakers.csv``
(``speaker,gender,...``). Task ``digit`` (default) or ``gender``. ``split="dataset"`` (default) is the
dataset's own protocol: n = 0-4 test, and here n = 5-9 validation, the rest train. **That protocol puts every
speaker on every side**: it measures digit recognition for known voices, not for new ones. The manifest says
so in its ``split_unit`` column (``utterance``) so the run's split check and the report can tell;
``split="speaker"`` gives a speaker-disjoint split instead (with six speakers: 4 train, 1 validation, 1 test).
Gender needs ``split="speaker"`` (a speaker on both sides would leak it) and both genders; the public FSDD's six
speakers are all male.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from keras_audio.audio import AUDIO_SUFFIXES
from keras_audio.corpora._common import (
    SEX_CLASSES,
    SPLIT_UNIT_COLUMN,
    choose_task,
    finish,
    fractions,
    require_classes,
    sex_label,
    split_speakers,
    warn_ignored,
)
from keras_audio.manifest import Manifest

TASKS = ("digit", "gender")
DIGITS = tuple(str(d) for d in range(10))
_AUDIOMNIST_FILE = re.compile(r"^(\d)_(\d+)_(\d+)$")
_FSDD_FILE = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)$")
_METADATA_NAMES = ("audioMNIST_meta.txt", "metadata.txt", "metadata.csv", "speakers.csv")
_SPEAKER_COLUMNS = ("spk id", "spk_id", "speaker", "speaker_id", "speaker id", "spk", "id")
_GENDER_COLUMNS = ("gender", "sex")


# ------------------------------------------------------------------------------------------- AudioMNIST
def load_audiomnist(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    metadata: str | Path | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Manifest:
    """Build an AudioMNIST manifest (speaker-disjoint split, stratified by gender).

    Args:
        data_dir: the corpus root (holding ``data/``) or the ``data/`` folder itself.
        task: ``digit`` (default) or ``gender``.
        seed: seeds the speaker split.
        metadata: the speaker table, if not one of ``audioMNIST_meta.txt``/``metadata.txt``/``metadata.csv``
            in the root or ``data/``.
        validation_fraction, test_fraction: fractions of speakers.

    Raises:
        ValueError: no speaker folders, file names that contradict their folder, a gender task without
            metadata or with speakers missing from it.
    """
    name = "audiomnist"
    task = choose_task(task, TASKS, name)
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"{name}: {root} is not a folder")
    data = root / "data" if (root / "data").is_dir() else root
    rows, ignored, problems = [], [], []
    for speaker_dir in sorted(data.iterdir()):
        if not (speaker_dir.is_dir() and speaker_dir.name.isdigit()):
            if speaker_dir.name not in _METADATA_NAMES and not speaker_dir.name.startswith("."):
                ignored.append(speaker_dir)
            continue
        for file in sorted(speaker_dir.iterdir()):
            match = _AUDIOMNIST_FILE.match(file.stem)
            if not (file.is_file() and file.suffix.lower() in AUDIO_SUFFIXES and match):
                ignored.append(file)
                continue
            digit, speaker, repetition = match.groups()
            if int(speaker) != int(speaker_dir.name):
                problems.append(f"{file}: named for speaker {speaker} but in folder {speaker_dir.name}")
            rows.append(
                {
                    "clip_id": f"{name}/{speaker_dir.name}/{file.stem}",
                    "path": file.relative_to(root).as_posix(),
                    "digit": digit,
                    "speaker": speaker_dir.name,
                    "repetition": int(repetition),
                }
            )
    if problems:
        raise ValueError(f"{name}: {len(problems)} misplaced file(s):\n  - " + "\n  - ".join(problems[:20]))
    if not rows:
        raise ValueError(f"{name}: no clips named {{digit}}_{{speaker}}_{{n}} in speaker folders under {data}")
    warn_ignored(name, root, ignored)
    frame = pd.DataFrame(rows)
    metadata_path = Path(metadata) if metadata is not None else _find_metadata(root, data)
    genders = _read_genders(metadata_path, name) if metadata_path is not None else {}
    frame["sex"] = frame["speaker"].map(lambda s: genders.get(_speaker_key(s), "unknown"))
    if task == "gender":
        if metadata_path is None:
            raise ValueError(
                f"{name}: task 'gender' needs the speaker table ({' or '.join(_METADATA_NAMES[:3])} in "
                f"{root} or {data}); pass metadata=PATH"
            )
        unknown = sorted(frame.loc[frame["sex"] == "unknown", "speaker"].unique())
        if unknown:
            raise ValueError(f"{name}: speaker(s) {unknown} not in {metadata_path}")
    frame["label"] = frame["digit"] if task == "digit" else frame["sex"]
    require_classes(frame, task, name)
    frame["split"] = split_speakers(frame, fractions(validation_fraction, test_fraction), seed, stratify=("sex",))
    classes = DIGITS if task == "digit" else SEX_CLASSES
    classes = tuple(c for c in classes if c in set(frame["label"]))
    return finish(Manifest(frame, classes=classes, name=name, task=task, root=str(root.resolve())))


def _find_metadata(root: Path, data: Path) -> Path | None:
    for folder in (root, data):
        for file_name in _METADATA_NAMES:
            if (folder / file_name).is_file():
                return folder / file_name
    return None


def _speaker_key(speaker: object) -> str:
    """Speaker ids compare as numbers where they are numbers ("01" == "1")."""
    text = str(speaker).strip()
    return str(int(text)) if text.isdigit() else text.lower()


def _read_genders(path: Path, corpus: str) -> dict[str, str]:
    """Speaker key -> ``female``/``male`` from a JSON object keyed by speaker or a CSV with a gender column."""
    if not path.is_file():
        raise ValueError(f"{corpus}: metadata file {path} not found")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{corpus}: {path} is not valid JSON ({error})") from None
        genders = {}
        for speaker, fields in table.items():
            fields = {str(k).lower(): v for k, v in fields.items()} if isinstance(fields, dict) else {}
            value = fields.get("gender", fields.get("sex"))
            if value is None:
                raise ValueError(f"{corpus}: {path}: speaker {speaker!r} has no gender")
            genders[_speaker_key(speaker)] = sex_label(value, f"{path}: speaker {speaker!r}")
        return genders
    frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    columns = {c.strip().lower(): c for c in frame.columns}
    speaker_column = next((columns[c] for c in _SPEAKER_COLUMNS if c in columns), None)
    gender_column = next((columns[c] for c in _GENDER_COLUMNS if c in columns), None)
    if speaker_column is None or gender_column is None:
        raise ValueError(
            f"{corpus}: {path} needs a speaker column (one of {list(_SPEAKER_COLUMNS)}) and a gender "
            f"column ({list(_GENDER_COLUMNS)}); it has {list(frame.columns)}"
        )
    return {
        _speaker_key(s): sex_label(g, f"{path}: speaker {s!r}")
        for s, g in zip(frame[speaker_column], frame[gender_column])
    }


# ------------------------------------------------------------------------------------------------ FSDD
def load_fsdd(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    split: str = "dataset",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Manifest:
    """Build the Free Spoken Digit Dataset manifest.

    Args:
        data_dir: the corpus root (holding ``recordings/``) or the recordings folder itself.
        task: ``digit`` (default) or ``gender``.
        seed: seeds the speaker split when ``split="speaker"``.
        split: ``dataset`` (the published by-utterance split: n 0-4 test, 5-9 validation, rest train; every
            speaker on every side) or ``speaker`` (whole speakers, seeded).
        validation_fraction, test_fraction: fractions of speakers for ``split="speaker"``.

    Raises:
        ValueError: no recordings, an unknown `split`, task ``gender`` with the by-utterance split or without
            ``speakers.csv``.
    """
    name = "fsdd"
    task = choose_task(task, TASKS, name)
    if split not in ("dataset", "speaker"):
        raise ValueError(f"{name}: split must be 'dataset' or 'speaker', got {split!r}")
    if task == "gender" and split == "dataset":
        raise ValueError(
            f"{name}: task 'gender' needs split='speaker': the dataset's own split puts every speaker "
            "on every side, so a model could recognise the voice instead of the gender"
        )
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"{name}: {root} is not a folder")
    recordings = root / "recordings" if (root / "recordings").is_dir() else root
    rows, ignored = [], []
    for file in sorted(recordings.iterdir()):
        match = _FSDD_FILE.match(file.stem)
        if not (file.is_file() and file.suffix.lower() in AUDIO_SUFFIXES and match):
            if file.name not in ("speakers.csv", "recordings") and not file.name.startswith("."):
                ignored.append(file)
            continue
        digit, speaker, index = match.groups()
        rows.append(
            {
                "clip_id": f"{name}/{file.stem}",
                "path": file.relative_to(root).as_posix(),
                "digit": digit,
                "speaker": speaker,
                "index": int(index),
            }
        )
    if not rows:
        raise ValueError(f"{name}: no recordings named {{digit}}_{{speaker}}_{{n}}.wav in {recordings}")
    warn_ignored(name, root, ignored)
    frame = pd.DataFrame(rows)
    speakers_csv = next((p for p in (root / "speakers.csv", recordings / "speakers.csv") if p.is_file()), None)
    genders = _read_genders(speakers_csv, name) if speakers_csv is not None else {}
    frame["sex"] = frame["speaker"].map(lambda s: genders.get(_speaker_key(s), "unknown"))
    if task == "gender":
        unknown = sorted(frame.loc[frame["sex"] == "unknown", "speaker"].unique())
        if speakers_csv is None or unknown:
            raise ValueError(f"{name}: task 'gender' needs speakers.csv listing every speaker; missing: {unknown}")
    frame["label"] = frame["digit"] if task == "digit" else frame["sex"]
    require_classes(frame, task, name)
    if split == "dataset":
        frame["split"] = "train"
        frame.loc[frame["index"] < 10, "split"] = "validation"
        frame.loc[frame["index"] < 5, "split"] = "test"
        frame[SPLIT_UNIT_COLUMN] = "utterance"
    else:
        stratify = ("label",) if task == "gender" else ()
        frame["split"] = split_speakers(frame, fractions(validation_fraction, test_fraction), seed, stratify)
    classes = DIGITS if task == "digit" else SEX_CLASSES
    classes = tuple(c for c in classes if c in set(frame["label"]))
    return finish(Manifest(frame, classes=classes, name=name, task=task, root=str(root.resolve())))
