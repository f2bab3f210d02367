"""ESC-50 (and its ESC-10 subset): 2,000 five-second environmental sound clips in 50 classes, 44.1 kHz.

Layout: ``audio/{fold}-{clip}-{take}-{target}.wav`` (``.ogg`` or ``.flac`` copies are found by stem) and
``meta/esc50.csv`` with columns ``filename,fold,target,category,esc10,src_file,take``. The label is
``category``; ``esc10=True`` keeps the ESC-10 subset (10 classes, 400 clips).

Protocol: 5-fold cross-validation over the published folds, which the manifest carries as ``fold``; an
experiment loops over them with `Manifest.with_folds(test_fold, validation_fold)`. The default split of a
single run is test fold 1, validation fold 2, training folds 3-5 (options `test_fold`, `validation_fold`).

Several clips are cut from one source recording (``src_file``); it is the manifest's ``speaker``, so no
recording is ever on two sides. The recipe checks that every source recording lies in one fold, which makes
every cross-validation round leak-free, not just the default one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from keras_audio.audio import AUDIO_SUFFIXES
from keras_audio.corpora._common import choose_task, finish, require_classes, warn_ignored
from keras_audio.manifest import Manifest, SplitLeakError

TASKS = ("category",)
NAME = "esc50"
FOLDS = (1, 2, 3, 4, 5)
_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
_FILENAME = re.compile(r"^(\d+)-([^-]+)-([A-Za-z]+)-(\d+)$")


def load(
    data_dir: str | Path,
    task: str | None = None,
    seed: int = 0,
    *,
    esc10: bool = False,
    test_fold: int = 1,
    validation_fold: int = 2,
) -> Manifest:
    """Build the ESC-50 manifest.

    Args:
        data_dir: the corpus root (holding ``audio/`` and ``meta/``), or a folder with one
            ``ESC-50-master/`` (the GitHub archive) inside.
        task: ``category`` (the only one).
        seed: unused (the folds are fixed by the dataset); kept for the recipe signature.
        esc10: keep only the ESC-10 subset.
        test_fold: the fold of the default test split.
        validation_fold: the fold of the default validation split.

    Raises:
        ValueError: missing CSV or columns, file names that contradict the CSV, unknown folds.
        SplitLeakError: a source recording in more than one fold.
    """
    del seed
    task = choose_task(task, TASKS, NAME)
    for name, fold in (("test_fold", test_fold), ("validation_fold", validation_fold)):
        if fold not in FOLDS:
            raise ValueError(f"{NAME}: {name} must be one of {FOLDS}, got {fold!r}")
    if test_fold == validation_fold:
        raise ValueError(f"{NAME}: test_fold and validation_fold must differ, both are {test_fold}")
    root = _find_root(Path(data_dir))
    csv = root / "meta" / "esc50.csv"
    table = pd.read_csv(csv, dtype={"filename": str, "category": str, "src_file": str, "take": str})
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{NAME}: {csv} lacks column(s) {missing}; expected {list(_COLUMNS)}")
    table["esc10"] = table["esc10"].map(_truthy)
    _check_names(table, csv)
    audio = root / "audio"
    files = sorted(p for p in audio.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if audio.is_dir() else []
    # A clip may have been converted (Ogg, FLAC); of two copies, the one the CSV names is read.
    named = set(table["filename"])
    on_disk: dict[str, Path] = {}
    for path in files:
        if path.stem not in on_disk or path.name in named:
            on_disk[path.stem] = path
    listed = set(table["filename"].map(lambda f: Path(f).stem))
    warn_ignored(
        NAME,
        root,
        [p for p in files if p.stem not in listed or on_disk[p.stem] != p],
        "audio files (not in esc50.csv, or a second copy of a clip)",
    )
    if esc10:
        table = table[table["esc10"]]
    stems = table["filename"].map(lambda f: Path(f).stem)
    frame = pd.DataFrame(
        {
            "clip_id": NAME + "/" + stems,
            "path": [_relative(on_disk.get(stem), root, filename) for stem, filename in zip(stems, table["filename"])],
            "label": table["category"].to_numpy(),
            "speaker": table["src_file"].to_numpy(),
            "fold": table["fold"].astype(int).to_numpy(),
            "target": table["target"].astype(int).to_numpy(),
            "take": table["take"].to_numpy(),
            "esc10": table["esc10"].to_numpy(),
        }
    )
    require_classes(frame, task, NAME)
    check_folds_disjoint(frame, "speaker", NAME)
    frame["split"] = "train"
    frame.loc[frame["fold"] == test_fold, "split"] = "test"
    frame.loc[frame["fold"] == validation_fold, "split"] = "validation"
    order = frame.drop_duplicates("label").sort_values("target")["label"]
    name = "esc10" if esc10 else NAME
    return finish(Manifest(frame, classes=tuple(order), name=name, task=task, root=str(root.resolve())))


def check_folds_disjoint(frame: pd.DataFrame, column: str, corpus: str) -> None:
    """Refuse a frame in which a value of `column` lies in more than one ``fold``."""
    folds = frame.groupby(column)["fold"].nunique()
    leaked = folds[folds > 1].index.tolist()
    if leaked:
        details = [
            f"{column} {v!r} is in folds {sorted(frame.loc[frame[column] == v, 'fold'].unique().tolist())}"
            for v in leaked
        ]
        raise SplitLeakError(details, f"{corpus}: folds leak on {column!r}")


def _find_root(data_dir: Path) -> Path:
    for candidate in (data_dir, data_dir / "ESC-50-master", data_dir / "ESC-50"):
        if (candidate / "meta" / "esc50.csv").is_file():
            return candidate
    raise ValueError(
        f"{NAME}: meta/esc50.csv not found in {data_dir} (nor in ESC-50-master/ inside it); "
        "point --data-dir at the folder holding audio/ and meta/"
    )


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{NAME}: esc10 value {value!r} is not True/False")


def _check_names(table: pd.DataFrame, csv: Path) -> None:
    """The file name repeats fold and target: a disagreement means a damaged or edited CSV."""
    problems = []
    for filename, fold, target in zip(table["filename"], table["fold"], table["target"]):
        match = _FILENAME.match(Path(filename).stem)
        if not match:
            problems.append(f"{filename}: not named {{fold}}-{{clip}}-{{take}}-{{target}}")
        elif int(match.group(1)) != int(fold) or int(match.group(4)) != int(target):
            problems.append(
                f"{filename}: name says fold {match.group(1)}, target {match.group(4)}; "
                f"the CSV says fold {fold}, target {target}"
            )
    folds = sorted(set(int(f) for f in table["fold"]) - set(FOLDS))
    if folds:
        problems.append(f"fold value(s) {folds} not in {FOLDS}")
    if problems:
        raise ValueError(f"{NAME}: {csv}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems[:20]))


def _relative(found: Path | None, root: Path, filename: str) -> str:
    """The clip's file (any listed extension); a missing one keeps the CSV's name for validate() to report."""
    return found.relative_to(root).as_posix() if found is not None else f"audio/{filename}"
