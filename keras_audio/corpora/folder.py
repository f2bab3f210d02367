"""Any other corpus: one folder per class (`load_folder`), or a CSV manifest (`load_csv`).

Folder per class: ``root/<label>/**/<audio file>`` (any suffix in `keras_audio.audio.AUDIO_SUFFIXES`; other files are
reported, not read). The label is the top folder's name. Nothing is left out unseen: an entry with an audio
suffix that is no regular file (a dangling symbolic link, a FIFO) is a row, so the decode stage lists it as a
bad file (``--skip-bad`` leaves it out); folders not read as audio (a symbolic link to a folder, which is not
followed; a folder that cannot be read; a folder named like an audio file) are listed in a `CorpusWarning`.
A class needs at least 3 speakers (files, without `speaker_regex`) for the drawn split to give it a
train, validation and test share; with fewer it misses a split, and the run's plan check
(`keras_audio.suite.plan.check_plan`) refuses it by name unless told to accept it. Speakers: a file
name says nothing about its speaker in general, so **each file is its own speaker** unless `speaker_regex`
extracts one from the path relative to the label folder (e.g. ``r"^([^_]+)_nohash_"`` for Speech Commands,
``r"^([^/]+)/"`` for ``root/<label>/<speaker>/*.wav``). With each file its own speaker the split check only
guards against the same file on two sides; if several files share a voice, results are optimistic, and a
warning says so.

CSV manifest: columns ``path,label[,speaker,split]`` (plus optional ``clip_id``, ``fold``, ``offset``,
``duration`` and anything else, kept as is). A row whose file is missing is not refused here: the decode
stage lists it with the other bad files (so ``--skip-bad`` can leave it out). Point `data_dir` at the CSV file
itself (paths are relative to its folder), or at a folder and pass ``manifest=PATH`` (the CSV path is taken
relative to that folder when not absolute, and so are the audio paths). ``task`` names the label column (default
``label``), so one CSV can hold several labellings. Split values ``train``/``validation``/``test`` (also
``val``, ``valid``, ``dev``, ``training``, ``testing``). Without a speaker column each file is its own speaker;
without a split column the recipe draws a seeded split (70/15/15 %) of whole speakers, stratified by label.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from keras_audio.audio import AUDIO_SUFFIXES
from keras_audio.corpora._common import (
    CorpusWarning,
    finish,
    fractions,
    listing,
    require_classes,
    split_speakers,
    warn_ignored,
    warn_unlisted,
)
from keras_audio.manifest import SPLITS, Manifest

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}


def load_folder(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    speaker_regex: str | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Manifest:
    """Build a manifest from ``root/<label>/...`` audio files.

    Args:
        data_dir: the root whose sub-folders are the classes.
        task: the name of the labelling (default ``label``); recorded, not interpreted.
        seed: seeds the split.
        speaker_regex: a regular expression searched in each file's path relative to its label folder;
            its group ``speaker`` (or first group, or whole match) is the speaker.
        validation_fraction, test_fraction: fractions of speakers.

    Raises:
        ValueError: fewer than two class folders with audio, a file the regex does not match.
    """
    root = Path(data_dir)
    name = root.name or "folder"
    task = task or "label"
    if not root.is_dir():
        raise ValueError(f"folder: {root} is not a folder")
    pattern = re.compile(speaker_regex) if speaker_regex else None
    rows, problems, ignored, unlisted = [], [], [], []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            ignored.append(entry)
            continue
        entries, not_listed = listing(entry)
        unlisted += not_listed
        files = [p for p in entries if p.suffix.lower() in AUDIO_SUFFIXES]
        if not files:
            ignored.append(entry)
            continue
        kept = set(files)
        ignored += [p for p in entries if p not in kept]
        for file in files:
            inner = file.relative_to(entry).as_posix()
            clip_id = file.relative_to(root).as_posix()
            speaker = clip_id
            if pattern is not None:
                speaker = _speaker(pattern, inner)
                if speaker is None:
                    problems.append(f"{clip_id}: speaker_regex {speaker_regex!r} does not match {inner!r}")
            rows.append({"clip_id": clip_id, "path": clip_id, "label": entry.name, "speaker": speaker})
    if problems:
        raise ValueError(f"{name}: {len(problems)} file(s) without a speaker:\n  - " + "\n  - ".join(problems[:20]))
    warn_ignored(
        name, root, ignored, "entries (files at the top level, folders without audio, files that are not audio)"
    )
    warn_unlisted(name, root, unlisted)
    if not rows:
        raise ValueError(f"{name}: no audio ({'/'.join(AUDIO_SUFFIXES)}) in class folders under {root}")
    frame = pd.DataFrame(rows)
    require_classes(frame, task, name)
    if pattern is None:
        _warn_own_speaker(name)
    frame["split"] = split_speakers(frame, fractions(validation_fraction, test_fraction), seed, stratify=("label",))
    return finish(Manifest(frame, name=name, task=task, root=str(root.resolve())), check_files=False)


def load_csv(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    manifest: str | Path | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Manifest:
    """Build a manifest from a CSV of clips.

    Args:
        data_dir: the CSV file, or the folder its audio paths are relative to (then pass `manifest`).
        task: the label column (default ``label``).
        seed: seeds the split when the CSV has none.
        manifest: the CSV, when `data_dir` is a folder (default ``manifest.csv`` in it).
        validation_fraction, test_fraction: fractions of speakers for a drawn split.

    Raises:
        ValueError: no CSV, missing columns, empty values, unknown split names, a split on some rows only.
    """
    data_dir = Path(data_dir)
    if data_dir.is_file():
        csv, root = data_dir, data_dir.parent
    elif data_dir.is_dir():
        csv = Path(manifest) if manifest is not None else Path("manifest.csv")
        csv = csv if csv.is_absolute() else data_dir / csv
        root = data_dir
    else:
        raise ValueError(f"csv: {data_dir} is neither a CSV file nor a folder")
    if not csv.is_file():
        raise ValueError(f"csv: manifest {csv} not found; pass data_dir=<the CSV> or manifest=PATH")
    name = csv.stem
    label_column = task or "label"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False, skipinitialspace=True)
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in ("path", label_column) if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: {csv} lacks column(s) {missing}; it has {list(table.columns)}")
    problems = []
    for column in ("path", label_column, "speaker", "clip_id"):
        if column in table.columns:
            empty = [i + 2 for i in range(len(table)) if not table[column].iloc[i].strip()]  # +2: header, 1-based
            if empty:
                problems.append(f"column {column!r} is empty on line(s) {empty[:10]}")
    frame = table.copy()
    for column in {label_column, "speaker", "clip_id"} & set(frame.columns):
        frame[column] = frame[column].str.strip()  # "dog " is the class "dog", not a third one
    frame["label"] = frame[label_column]  # the chosen column wins over a column named "label"
    if "clip_id" not in frame.columns:
        frame["clip_id"] = frame["path"]
    own_speaker = "speaker" not in frame.columns
    if own_speaker:
        frame["speaker"] = frame["clip_id"]
    for column in ("offset", "duration", "fold"):
        if column in frame.columns:
            given = frame[column].str.strip()
            values = pd.to_numeric(given.replace("", float("nan")), errors="coerce")
            # A typo ("O.5") must not become NaN, which reads as "not given" (the whole file).
            wrong = [
                i + 2
                for i in range(len(values))
                if given.iloc[i] and not (np.isfinite(values.iloc[i]) and values.iloc[i] >= 0)
            ]
            if wrong:
                problems.append(f"column {column!r} is not a finite number >= 0 on line(s) {wrong[:10]}")
            frame[column] = values
    if "split" in frame.columns:
        given = frame["split"].str.strip().str.lower()
        unknown = sorted(set(given[given != ""]) - set(_SPLIT_ALIASES))
        if unknown:
            problems.append(f"split value(s) {unknown} are not {SPLITS} (or val, valid, dev, training, testing)")
        if (given == "").any() and (given != "").any():
            lines = [i + 2 for i in range(len(given)) if given.iloc[i] == ""]
            problems.append(f"split is given on some rows but empty on line(s) {lines[:10]}")
        frame["split"] = given.map(_SPLIT_ALIASES)
        drawn = bool((given == "").all())
    else:
        drawn = True
    if problems:
        raise ValueError(f"{name}: {csv}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    require_classes(frame, label_column, name)
    if own_speaker:
        _warn_own_speaker(name)
    if drawn:
        frame["split"] = split_speakers(frame, fractions(validation_fraction, test_fraction), seed, stratify=("label",))
    return finish(Manifest(frame, name=name, task=label_column, root=str(root.resolve())), check_files=False)


def _speaker(pattern: re.Pattern, text: str) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    if "speaker" in pattern.groupindex:
        return match.group("speaker")
    return match.group(1) if pattern.groups else match.group(0)


def _warn_own_speaker(name: str) -> None:
    warnings.warn(
        f"{name}: no speaker information, so each file counts as its own speaker; the split keeps files "
        "apart, not voices (if several files share a voice, scores are optimistic)",
        CorpusWarning,
        stacklevel=3,
    )
