"""Manifest: the table of clips that every corpus recipe produces and everything downstream reads.

One row per clip. Required columns:

- ``clip_id``: unique, stable string (it seeds the clip's spoiled version, so it must not depend on order);
- ``path``: the audio file (absolute, or relative to ``Manifest.root``);
- ``label``: the class name for the manifest's task;
- ``speaker``: who produced the clip (or the source recording id for non-speech corpora); splits are
  disjoint on this column;
- ``split``: ``train``, ``validation`` or ``test``.

Optional columns: ``fold`` (cross-validation fold), ``group`` (a stratum such as sex or dialect region),
``offset`` and ``duration`` in seconds (a segment of a longer file), and anything a recipe wants to keep.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
REQUIRED_COLUMNS = ("clip_id", "path", "label", "speaker", "split")


def problem_list(problems: Sequence[str], limit: int = 50) -> str:
    """The problems one per line (``\n  - ...``), the first `limit` of them and a count of the rest."""
    shown = "\n  - ".join(problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"\n  - {shown}{more}"


class ManifestError(ValueError):
    """A manifest that cannot be used: each problem is listed in the message."""

    def __init__(self, problems: Sequence[str], name: str = "manifest"):
        self.problems = list(problems)
        super().__init__(f"{name}: {len(self.problems)} problem(s):{problem_list(self.problems)}")


class SplitLeakError(ManifestError):
    """A speaker (or source clip) appears on two sides of a split."""


@dataclasses.dataclass
class Manifest:
    """A validated table of clips for one task.

    Args:
        frame: the rows, with at least `REQUIRED_COLUMNS`.
        classes: class names in label-id order; defaults to the sorted unique labels.
        name: the corpus name, used in messages and reports.
        task: the task the labels belong to (``gender``, ``digit``, ...).
        root: the folder relative paths are resolved against.
    """

    frame: pd.DataFrame
    classes: tuple[str, ...] = ()
    name: str = "corpus"
    task: str = "label"
    root: str | None = None

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ManifestError([f"missing column(s) {missing}"], self.name)
        self.frame = self.frame.reset_index(drop=True).copy()
        blank = [
            f"column {column!r} is empty on row(s) {rows[:10]}"
            for column in REQUIRED_COLUMNS
            if (rows := [i for i, value in enumerate(self.frame[column]) if pd.isna(value) or not str(value).strip()])
        ]
        if blank:
            raise ManifestError(blank, self.name)
        for column in REQUIRED_COLUMNS:
            self.frame[column] = self.frame[column].astype(str)
        if not self.classes:
            self.classes = tuple(sorted(self.frame["label"].unique()))
        else:
            self.classes = tuple(self.classes)

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.frame)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def label_ids(self) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.classes)}
        return self.frame["label"].map(index).to_numpy(dtype=np.int32)

    @property
    def split_unit(self) -> str:
        """``speaker`` (no speaker on two sides) or ``utterance``.

        ``utterance`` marks a dataset's own published protocol that puts speakers on several sides (FSDD's
        digit split); a recipe sets it in a ``split_unit`` column, and the report says so.
        """
        if "split_unit" in self.frame.columns and set(self.frame["split_unit"].astype(str)) == {"utterance"}:
            return "utterance"
        return "speaker"

    @property
    def clip_ids(self) -> list[str]:
        return self.frame["clip_id"].tolist()

    def paths(self) -> list[Path]:
        """Absolute paths of every clip, in row order."""
        root = Path(self.root) if self.root else None
        return [Path(p) if Path(p).is_absolute() or root is None else root / p for p in self.frame["path"]]

    def replace(self, frame: pd.DataFrame) -> Manifest:
        """The same manifest (classes, name, task, root) over other rows."""
        return Manifest(frame, classes=self.classes, name=self.name, task=self.task, root=self.root)

    def subset(self, split: str) -> Manifest:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.replace(self.frame[self.frame["split"] == split])

    def with_folds(self, test_fold, validation_fold) -> Manifest:
        """Reassign splits for one round of cross-validation over the ``fold`` column.

        Rows of `test_fold` become test, rows of `validation_fold` validation, every other fold train.
        """
        if "fold" not in self.frame.columns:
            raise ValueError(f"{self.name}: manifest has no 'fold' column for cross-validation")
        folds = set(self.frame["fold"].tolist())
        for fold in (test_fold, validation_fold):
            if fold not in folds:
                raise ValueError(f"{self.name}: fold {fold!r} not among {sorted(folds)}")
        if test_fold == validation_fold:
            raise ValueError(f"test and validation fold must differ, both are {test_fold!r}")
        frame = self.frame.copy()
        frame["split"] = "train"
        frame.loc[frame["fold"] == test_fold, "split"] = "test"
        frame.loc[frame["fold"] == validation_fold, "split"] = "validation"
        return self.replace(frame)

    def drop_clips(self, clip_ids: Iterable[str]) -> Manifest:
        drop = set(clip_ids)
        return self.replace(self.frame[~self.frame["clip_id"].isin(drop)])

    # ------------------------------------------------------------- validation
    def validate(self, check_files: bool = True, splits: Sequence[str] = ("train", "test")) -> Manifest:
        """Check the manifest once, listing every problem, and return it.

        Args:
            check_files: check that every file exists.
            splits: the splits that must hold clips: train and test for a corpus to train on, only those scored
                for a corpus under test (none but a non-empty manifest for every clip of an evaluation-only one).

        Raises:
            ManifestError: duplicate clip ids, unknown labels or splits, empty splits, missing files.
            SplitLeakError: a speaker on two sides of the split.
        """
        problems = []
        duplicated = self.frame["clip_id"][self.frame["clip_id"].duplicated()].unique()
        if len(duplicated):
            problems.append(f"duplicate clip_id(s): {sorted(duplicated)[:10]}")
        unknown_labels = sorted(set(self.frame["label"]) - set(self.classes))
        if unknown_labels:
            problems.append(f"label(s) not among classes {list(self.classes)}: {unknown_labels}")
        unknown_splits = sorted(set(self.frame["split"]) - set(SPLITS))
        if unknown_splits:
            problems.append(f"split value(s) not in {SPLITS}: {unknown_splits}")
        for split in splits:
            if not (self.frame["split"] == split).any():
                problems.append(f"the {split!r} split is empty")
        if not len(self.frame):
            problems.append("no clips")
        if check_files:
            for path in self.paths():
                if not path.is_file():
                    problems.append(f"{path}: file not found")
        if problems:
            raise ManifestError(problems, self.name)
        if self.split_unit == "speaker":
            self.check_disjoint("speaker")
        return self

    def check_disjoint(self, column: str = "speaker") -> None:
        """Refuse a manifest in which a value of `column` appears in more than one split."""
        sides = self.frame.groupby(column)["split"].nunique()
        leaked = sides[sides > 1].index.tolist()
        if leaked:
            splits_of = {
                value: sorted(self.frame.loc[self.frame[column] == value, "split"].unique()) for value in leaked
            }
            details = [f"{column} {value!r} is in splits {splits_of[value]}" for value in leaked]
            raise SplitLeakError(details, f"{self.name}: split leak on {column!r}")

    def summary(self) -> dict:
        """Counts per split and label, and speakers per split: written into every run record."""
        counts = self.frame.groupby(["split", "label"]).size()
        return {
            "corpus": self.name,
            "task": self.task,
            "split_unit": self.split_unit,
            "classes": list(self.classes),
            "clips": int(len(self.frame)),
            "speakers": int(self.frame["speaker"].nunique()),
            "per_split": {
                split: {
                    "clips": int((self.frame["split"] == split).sum()),
                    "speakers": int(self.frame.loc[self.frame["split"] == split, "speaker"].nunique()),
                    "labels": {label: int(n) for (s, label), n in counts.items() if s == split},
                }
                for split in SPLITS
            },
        }

    # ------------------------------------------------------------- round trip
    def to_csv(self, path: str | Path) -> None:
        """Write the rows as CSV and the rest (classes, name, task, root) as a JSON sidecar."""
        path = Path(path)
        self.frame.to_csv(path, index=False)
        meta = {"classes": list(self.classes), "name": self.name, "task": self.task, "root": self.root}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def from_csv(cls, path: str | Path, **overrides) -> Manifest:
        """Read a manifest written by `to_csv`, or any CSV with the required columns.

        Without a JSON sidecar, the root defaults to the CSV's folder and classes to the sorted labels.
        """
        path = Path(path)
        columns = pd.read_csv(path, nrows=0).columns
        # Keep "NA", "None", "null" as they are in the named columns: a speaker called NA is a speaker, and a
        # missing one would slip past the leak check. Other columns read "" and "nan" (what to_csv writes) as NaN.
        frame = pd.read_csv(
            path,
            dtype={column: str for column in REQUIRED_COLUMNS},
            keep_default_na=False,
            na_values={c: ["", "nan", "NaN"] for c in columns if c not in REQUIRED_COLUMNS},
        )
        meta = {"root": str(path.parent.resolve()), "name": path.stem}
        sidecar = path.with_suffix(".json")
        if sidecar.is_file():
            meta.update(json.loads(sidecar.read_text()))
            if meta.get("root") and not Path(meta["root"]).is_dir():
                meta["root"] = str(path.parent.resolve())  # the corpus folder was moved with its manifest
        meta.update(overrides)
        return cls(
            frame,
            classes=tuple(meta.get("classes") or ()),
            name=meta["name"],
            task=meta.get("task", "label"),
            root=meta.get("root"),
        )


def speaker_disjoint_split(
    frame: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    stratify: Sequence[str] = ("label",),
    speaker_column: str = "speaker",
) -> pd.Series:
    """Assign whole speakers to splits, stratified, reproducibly from `seed`.

    Speakers are grouped by the values of `stratify` (taken per speaker: the most common value of each
    column among the speaker's clips), shuffled within each stratum, and dealt out so that each split
    gets its fraction of every stratum's speakers (largest remainders first, at least one speaker in
    each split with a positive fraction when the stratum has enough speakers).

    Args:
        frame: rows with `speaker_column` and the `stratify` columns.
        fractions: split name -> fraction of speakers; must sum to 1.
        seed: the split's seed.
        stratify: columns whose per-speaker values define the strata.

    Returns:
        The split name of each row, aligned with `frame.index`.
    """
    total = sum(fractions.values())
    if not np.isclose(total, 1.0) or any(f < 0 for f in fractions.values()):
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    unknown = [s for s in fractions if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split name(s) {unknown}; expected {SPLITS}")
    per_speaker = (
        frame.groupby(speaker_column)[list(stratify)].agg(lambda s: s.mode().iloc[0])
        if stratify
        else (pd.DataFrame(index=sorted(frame[speaker_column].unique())))
    )
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    if stratify:
        by = list(stratify) if len(stratify) > 1 else stratify[0]  # a one-item list makes pandas warn
        strata = per_speaker.groupby(by).groups
    else:
        strata = {(): per_speaker.index}
    names = list(fractions)
    for key in sorted(strata, key=str):
        speakers = sorted(strata[key])
        rng.shuffle(speakers)
        counts = _allocate(len(speakers), [fractions[n] for n in names])
        start = 0
        for name, count in zip(names, counts):
            for speaker in speakers[start : start + count]:
                assignment[speaker] = name
            start += count
    return frame[speaker_column].map(assignment)


def _allocate(n: int, fractions: Sequence[float]) -> list[int]:
    """Split `n` items by `fractions` with the largest-remainder method, keeping each positive share >= 1
    while there are enough items."""
    exact = np.asarray(fractions, dtype=float) * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    positive = [i for i, f in enumerate(fractions) if f > 0]
    if n >= len(positive):
        for i in positive:
            if counts[i] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[i] += 1
    return counts.tolist()


def align_classes(
    manifest: Manifest, model_classes: Sequence[str], class_map: dict[str, str] | None = None, model: str = "the model"
) -> Manifest:
    """A corpus's manifest relabelled into a model's classes, matched by name.

    Args:
        class_map: corpus class name -> model class name, for corpora that name them differently.

    Returns:
        the manifest with `classes` in the model's order (label ids are then the model's output indices).

    Raises:
        ValueError: a corpus class (after mapping) that the model does not have, naming both class lists,
            or a mapped name that is not a class of the corpus.
    """
    class_map = dict(class_map or {})
    unknown_keys = sorted(set(class_map) - set(manifest.classes))
    if unknown_keys:
        raise ValueError(
            f"--class-map names {unknown_keys}, which are not classes of {manifest.name} {list(manifest.classes)}"
        )
    missing = [
        c + (f" (mapped to {class_map[c]})" if c in class_map else "")
        for c in manifest.classes
        if class_map.get(c, c) not in model_classes
    ]
    if missing:
        raise ValueError(
            f"{manifest.name} has class(es) {missing} that {model} does not know (its classes: "
            f"{list(model_classes)}); map them with --class-map CORPUS_CLASS=MODEL_CLASS"
        )
    frame = manifest.frame.copy()
    frame["label"] = frame["label"].map(lambda label: class_map.get(label, label))
    return Manifest(frame, classes=tuple(model_classes), name=manifest.name, task=manifest.task, root=manifest.root)
