"""Pieces every corpus recipe shares: task checks, gender spelling, speaker-disjoint splits, validation.

Private to `keras_audio.corpora`; recipes import it, nothing else should.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from keras_audio.audio import AUDIO_SUFFIXES
from keras_audio.manifest import Manifest, speaker_disjoint_split

SEX_CLASSES = ("female", "male")

# Column a recipe sets when its split is *by utterance* (the same speaker on several sides) because that is
# the dataset's own published protocol (FSDD's digit split). Every other manifest is split by speaker.
SPLIT_UNIT_COLUMN = "split_unit"


class CorpusWarning(UserWarning):
    """Something on disk was left out of a manifest on purpose (stray files, unused folders)."""


def choose_task(task: str | None, tasks: Sequence[str], corpus: str) -> str:
    """The recipe's task: `task`, or the first (default) one; ValueError names the known ones."""
    if task is None:
        return tasks[0]
    if task not in tasks:
        raise ValueError(f"{corpus}: unknown task {task!r}; this corpus offers {list(tasks)}")
    return task


def sex_label(value: object, where: str) -> str:
    """``female`` or ``male`` from the spellings corpora use (F, M, female, Male, w, ...)."""
    text = str(value).strip().lower()
    if text in ("f", "female", "w", "woman"):
        return "female"
    if text in ("m", "male", "man"):
        return "male"
    raise ValueError(f"{where}: gender {value!r} is neither female nor male")


def fractions(validation_fraction: float, test_fraction: float, with_test: bool = True) -> dict[str, float]:
    """Split fractions of speakers; `with_test=False` when the corpus brings its own test speakers."""
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    if not with_test:
        return {"train": 1.0 - validation_fraction, "validation": validation_fraction}
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"validation_fraction + test_fraction must leave speakers for training, got "
            f"{validation_fraction} + {test_fraction}"
        )
    return {
        "train": 1.0 - validation_fraction - test_fraction,
        "validation": validation_fraction,
        "test": test_fraction,
    }


def split_speakers(
    frame: pd.DataFrame, split_fractions: dict[str, float], seed: int, stratify: Sequence[str] = ()
) -> pd.Series:
    """Whole speakers to splits, stratified by per-speaker columns, reproducibly from `seed`."""
    return speaker_disjoint_split(frame, split_fractions, seed, stratify=tuple(stratify))


def warn_ignored(corpus: str, root: Path, ignored: Iterable[Path | str], what: str = "entries") -> None:
    """Say which files or folders under `root` a recipe left out, so nothing disappears unseen."""
    ignored = sorted(str(Path(p).relative_to(root)) if Path(p).is_absolute() else str(p) for p in ignored)
    if not ignored:
        return
    shown = ", ".join(ignored[:8]) + (f", ... ({len(ignored) - 8} more)" if len(ignored) > 8 else "")
    warnings.warn(
        f"{corpus}: ignored {len(ignored)} {what} under {root} that are not part of the layout: {shown}",
        CorpusWarning,
        stacklevel=3,
    )


def require_classes(frame: pd.DataFrame, task: str, corpus: str, minimum: int = 2) -> None:
    labels = sorted(frame["label"].unique())
    if len(labels) < minimum:
        raise ValueError(f"{corpus}: task {task!r} needs at least {minimum} classes, the corpus has {labels}")


def finish(manifest: Manifest, check_files: bool = True) -> Manifest:
    """Validate a recipe's manifest and return it (`Manifest.validate` honours its `split_unit`).

    Args:
        check_files: refuse rows whose file is missing. Recipes whose rows may name missing files (a CSV,
            a dangling link in a class folder) pass False: the decode stage lists those as bad files, so
            ``--skip-bad`` can leave them out.

    No split has to hold clips here: which must depends on the use (training needs train and test, checked
    by the plan; a corpus under test only the clips it is scored on), so an evaluation-only corpus loads.
    """
    return manifest.validate(check_files=check_files, splits=())


def warn_unlisted(corpus: str, root: Path, unlisted: Iterable[tuple[Path, str]]) -> None:
    """Say which folders under `root` a recipe did not look into, and why (see `listing`)."""
    unlisted = sorted((str(Path(p).relative_to(root)) if Path(p).is_absolute() else str(p), why) for p, why in unlisted)
    if not unlisted:
        return
    shown = "; ".join(f"{p}: {why}" for p, why in unlisted[:8])
    more = f"; ... ({len(unlisted) - 8} more)" if len(unlisted) > 8 else ""
    warnings.warn(
        f"{corpus}: {len(unlisted)} folder(s) under {root} not read as audio: {shown}{more}",
        CorpusWarning,
        stacklevel=3,
    )


def listing(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Everything under `folder` (recursively, hidden names skipped) that a recipe must account for.

    Returns:
        `(entries, unlisted)`: every entry that is not a folder, sorted: regular files, and also dangling
        symbolic links and special files (FIFOs, sockets), which must not vanish unseen (as rows, the
        decode stage reports them as bad files); and the folders whose contents are not listed or that
        look like files, with the reason: a symbolic link to a folder (not followed, as `Path.rglob` does
        not), a folder that cannot be read, a folder named like an audio file.
    """
    entries: list[Path] = []
    unlisted: list[tuple[Path, str]] = []

    def failed(error: OSError) -> None:
        unlisted.append((Path(error.filename), f"cannot be listed ({error.strerror or error})"))

    for top, folders, files in os.walk(folder, onerror=failed):
        top = Path(top)
        folders[:] = sorted(name for name in folders if not name.startswith("."))  # not walked into
        for name in folders:
            path = top / name
            if path.is_symlink():
                unlisted.append((path, "a symbolic link to a folder (not followed)"))
            elif path.suffix.lower() in AUDIO_SUFFIXES:
                unlisted.append((path, "a folder named like an audio file (its contents are listed as usual)"))
        entries += [top / name for name in files if not name.startswith(".")]
    return sorted(entries), sorted(unlisted)


def visible_files(folder: Path) -> list[Path]:
    """Files under `folder`, recursively, sorted, skipping hidden names."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def audio_files(folder: Path) -> list[Path]:
    """Audio files under `folder`, recursively, sorted, skipping hidden names."""
    return [p for p in visible_files(folder) if p.suffix.lower() in AUDIO_SUFFIXES]


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
