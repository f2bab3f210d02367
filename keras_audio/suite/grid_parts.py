"""The corruption grid split by condition across worker processes, and the parts merged into one result.

Worker `i` of `n` (``TF_CONFIG``, `distribute.worker_from_tf_config`) evaluates the conditions `i, i + n, ...`
of the grid (round robin, so a corruption's severities, which cost alike, spread over the workers); worker
0 also scores the whole clips. Each writes its part (every probability it computed) into a folder all
workers share, waits for the others' parts and merges them: every worker then holds the whole `GridResult`,
in the order one process gives (condition by condition, every model on each, then the whole clips), with
the numbers of one process, since each condition's spoiled clips and each model are the same wherever they
are computed. A part is written under a temporary name and renamed, so a part that is there is complete.

Parts live in ``<shared>/grid-<fingerprint>/``: the fingerprint hashes the run name, the test set, its clips,
the conditions, the models and the seed, so parts of another run or grid are never mixed in.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from keras_audio.distribute import Worker, worker_from_tf_config
from keras_audio.grid import UTTERANCE, Condition, GridResult
from keras_audio.hashing import description_digest

POLL_SECONDS = 0.2
DEFAULT_TIMEOUT_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class GridSplit:
    """How this process shares the grid: with no folder, or one worker, it evaluates everything alone.

    Attributes:
        worker: this process among the workers.
        folder: the folder every worker reads and writes; None: no split.
        timeout: seconds to wait for the other workers' parts.
        run_name: the run every worker works on (part of the fingerprint).
    """

    worker: Worker = Worker()
    folder: Path | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    run_name: str = ""

    @property
    def active(self) -> bool:
        return self.folder is not None and self.worker.count > 1

    def share(self, conditions: Sequence[Condition]) -> list[Condition]:
        """This worker's conditions: every `count`-th, from its index."""
        return list(conditions[self.worker.index :: self.worker.count]) if self.active else list(conditions)

    @property
    def scores_whole_clips(self) -> bool:
        return not self.active or self.worker.chief

    def merge(
        self, result: GridResult, keys: Sequence[Hashable], conditions: Sequence[Condition], fingerprint: str
    ) -> GridResult:
        """Write this worker's part of `result`, wait for every part, return the whole grid (one process's order).

        Raises:
            RuntimeError: a part did not come within `timeout` seconds (naming the folder and the workers).
            ValueError: a part lacks a condition it should hold.
        """
        if not self.active:
            return result
        folder = Path(self.folder) / f"grid-{fingerprint}"
        position = {key: i for i, key in enumerate(keys)}
        entries = list(result.probabilities)
        _write_part(
            folder / _part_name(self.worker.index, self.worker.count),
            [[position[key], name, int(severity)] for key, name, severity in entries],
            [result.probabilities[e] for e in entries],
        )
        found: dict[tuple[int, str, int], np.ndarray] = {}
        for index in range(self.worker.count):
            found.update(_read_part(_wait_for(folder, index, self.worker.count, self.timeout)))
        probabilities: dict[tuple[Hashable, str, int], np.ndarray] = {}
        order = [(c.name, c.severity) for c in conditions] + [(UTTERANCE, 0)]
        for name, severity in order:
            for key in keys:
                entry = (position[key], name, severity)
                if entry in found:
                    probabilities[(key, name, severity)] = found[entry]
                elif name != UTTERANCE:
                    raise ValueError(f"{folder}: no worker's part holds model {key}, {name} severity {severity}")
        predictions = {key: np.argmax(p, axis=-1) for key, p in probabilities.items()}
        return GridResult(result.y_true, predictions, probabilities)


def grid_split(
    shared_dir: str | os.PathLike | None, run_name: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> GridSplit:
    """The split of this process (``TF_CONFIG``) when `shared_dir` is given; else no split.

    Raises:
        ValueError: a split across several workers without a run name (every worker must name the same run).
    """
    if shared_dir is None:
        return GridSplit()
    worker = worker_from_tf_config()
    if worker.count > 1 and not run_name:
        raise ValueError(
            "the evaluation split across workers (evaluation.shared_dir) needs a run name, the same on "
            "every worker (--run-name)"
        )
    return GridSplit(worker, Path(shared_dir), float(timeout), run_name or "")


def fingerprint(
    run_name: str,
    test_set: str,
    clip_ids: Sequence[str],
    conditions: Sequence[Condition],
    keys: Sequence[Hashable],
    seed: int,
    clip_samples: int | Sequence[int],
) -> str:
    """A name for one grid of one run: what every worker must agree on for their parts to merge
    (`clip_samples`: the clip length, or each model's)."""
    description = {
        "run": run_name,
        "test_set": test_set,
        "clips": list(clip_ids),
        "conditions": [[c.name, c.severity] for c in conditions],
        "models": [str(k) for k in keys],
        "seed": seed,
        "clip_samples": clip_samples,
    }
    return description_digest(description)


def _part_name(index: int, count: int) -> str:
    return f"part-{index:04d}-of-{count:04d}.npz"


def _write_part(path: Path, entries: list, arrays: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}.npz")
    np.savez(
        temporary,
        entries=np.array(json.dumps(entries)),
        **{f"p{i}": np.asarray(a, np.float32) for i, a in enumerate(arrays)},
    )
    os.replace(temporary, path)  # atomic: a part that is there is complete


def _read_part(path: Path) -> dict[tuple[int, str, int], np.ndarray]:
    with np.load(path) as data:
        entries = json.loads(str(data["entries"]))
        return {(int(m), str(name), int(severity)): data[f"p{i}"] for i, (m, name, severity) in enumerate(entries)}


def _wait_for(folder: Path, index: int, count: int, timeout: float) -> Path:
    path = folder / _part_name(index, count)
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() > deadline:
            present = sorted(p.name for p in folder.glob("part-*.npz"))
            raise RuntimeError(
                f"evaluation split: worker {index} of {count} wrote no part in {folder} within "
                f"{timeout:g} s (present: {', '.join(present) or 'none'})"
            )
        time.sleep(POLL_SECONDS)
    return path
