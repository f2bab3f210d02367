"""Emotional speech named by code, RAVDESS style: emotion (default) or speaker gender, actor-disjoint splits.

File names are seven two-digit codes, ``MM-VV-EE-II-SS-RR-AA.wav``: modality (01 audio-video, 02 video, 03
audio), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong), statement (01/02), repetition
(01/02), actor (01-24; odd numbers are male, even female). Files usually sit in ``Actor_NN/`` folders (which
must then agree with the actor code); any depth is accepted. Song files have no disgust or surprised.

Splits: whole actors, 70/15/15 % drawn from the seed and stratified by sex (24 actors: 16/4/4). Option
``vocal_channel="speech"`` or ``"song"`` keeps one channel (default: both).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from keras_audio.corpora._common import (
    SEX_CLASSES,
    audio_files,
    choose_task,
    finish,
    fractions,
    require_classes,
    split_speakers,
    warn_ignored,
)
from keras_audio.manifest import Manifest

TASKS = ("emotion", "gender")
NAME = "ravdess"
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
CHANNELS = ("speech", "song")
_CODE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_FOLDER = re.compile(r"^actor_?(\d+)$", re.IGNORECASE)


def load(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    vocal_channel: str | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Manifest:
    """Build a RAVDESS-style manifest.

    Args:
        data_dir: the folder holding the coded files (at any depth, usually ``Actor_NN/``).
        task: ``emotion`` (default) or ``gender``.
        seed: seeds the actor split.
        vocal_channel: ``speech``, ``song`` or None (both).
        validation_fraction, test_fraction: fractions of actors.

    Raises:
        ValueError: no coded files, codes out of range, a file in another actor's folder, the same clip twice.
    """
    task = choose_task(task, TASKS, NAME)
    if vocal_channel not in (None, *CHANNELS):
        raise ValueError(f"{NAME}: vocal_channel must be one of {CHANNELS} or None, got {vocal_channel!r}")
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"{NAME}: {root} is not a folder")
    rows, ignored, problems = [], [], []
    for file in audio_files(root):
        match = _CODE.match(file.stem)
        if not match:
            ignored.append(file)
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = (int(c) for c in match.groups())
        where = file.relative_to(root).as_posix()
        checks = [
            ("modality", modality, 3),
            ("vocal channel", channel, 2),
            ("emotion", emotion, 8),
            ("intensity", intensity, 2),
            ("statement", statement, 2),
            ("repetition", repetition, 2),
        ]
        bad = [f"{field} {value:02d} not in 01..{top:02d}" for field, value, top in checks if not 1 <= value <= top]
        if actor < 1:
            bad.append("actor 00")
        folder = _ACTOR_FOLDER.match(file.parent.name)
        if folder and int(folder.group(1)) != actor:
            bad.append(f"actor code {actor:02d} but folder {file.parent.name}")
        if bad:
            problems.append(f"{where}: " + "; ".join(bad))
            continue
        rows.append(
            {
                "clip_id": f"{NAME}/{file.stem}",
                "path": where,
                "speaker": f"actor_{actor:02d}",
                "sex": "male" if actor % 2 else "female",
                "emotion": EMOTIONS[emotion - 1],
                "intensity": ("normal", "strong")[intensity - 1],
                "vocal_channel": CHANNELS[channel - 1],
                "statement": statement,
                "repetition": repetition,
            }
        )
    if problems:
        raise ValueError(f"{NAME}: {len(problems)} file(s) with bad codes:\n  - " + "\n  - ".join(problems[:20]))
    warn_ignored(NAME, root, ignored, "audio files not named MM-VV-EE-II-SS-RR-AA")
    if not rows:
        raise ValueError(f"{NAME}: no files named MM-VV-EE-II-SS-RR-AA.wav under {root}")
    frame = pd.DataFrame(rows)
    twice = frame[frame["clip_id"].duplicated(keep=False)]
    if len(twice):
        raise ValueError(f"{NAME}: the same clip in several places (keep one copy): {sorted(twice['path'])[:10]}")
    if vocal_channel is not None:
        frame = frame[frame["vocal_channel"] == vocal_channel]
    frame["label"] = frame["emotion"] if task == "emotion" else frame["sex"]
    require_classes(frame, task, NAME)
    frame["split"] = split_speakers(frame, fractions(validation_fraction, test_fraction), seed, stratify=("sex",))
    classes = EMOTIONS if task == "emotion" else SEX_CLASSES
    classes = tuple(c for c in classes if c in set(frame["label"]))
    return finish(Manifest(frame, classes=classes, name=NAME, task=task, root=str(root.resolve())))
