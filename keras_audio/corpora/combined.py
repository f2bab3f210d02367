"""Several corpora as one training corpus: their manifests joined, labels matched by name, splits kept.

Each corpus keeps its own speaker-disjoint split (a corpus's test speakers stay its test speakers); clip ids
and speakers are prefixed with the corpus name (``audiomnist:01``), so two corpora that both number their
speakers from 1 are not read as sharing them. The `corpus` column lets the training stream draw from the
corpora equally (`pipeline.training_dataset(..., balance_groups=True)`) and the report break results down.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from keras_audio.manifest import Manifest

GROUP_COLUMN = "corpus"


def combine(manifests: Sequence[Manifest], names: Sequence[str] | None = None) -> Manifest:
    """Join `manifests` (one per corpus) into one.

    Args:
        names: each corpus's name in ids and reports (default: each manifest's name); must be distinct.

    Raises:
        ValueError: fewer than two corpora, repeated names, or tasks that differ.
    """
    names = list(names or [m.name for m in manifests])
    if len(manifests) < 2:
        raise ValueError(f"combine: needs at least two corpora, got {len(manifests)}")
    if len(set(names)) != len(names):
        raise ValueError(f"combine: corpus names must differ, got {names} (name them: --corpus NAME=PATH)")
    tasks = {m.task for m in manifests}
    if len(tasks) > 1:
        raise ValueError(f"combine: the corpora label different tasks {sorted(tasks)}; train on one task")
    frames = []
    for name, manifest in zip(names, manifests):
        frame = manifest.frame.copy()
        frame["path"] = [str(p) for p in manifest.paths()]  # absolute: the corpora have different roots
        frame["clip_id"] = name + ":" + frame["clip_id"]
        frame["speaker"] = name + ":" + frame["speaker"]
        frame[GROUP_COLUMN] = name
        frames.append(frame)
    classes = tuple(sorted(set().union(*(m.classes for m in manifests))))
    return Manifest(
        pd.concat(frames, ignore_index=True), classes=classes, name="+".join(names), task=manifests[0].task, root=None
    )
