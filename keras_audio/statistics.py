"""How sure are the numbers: bootstrap intervals over test speakers, and the spread over training seeds.

Clips of one speaker are not independent (same voice, same microphone), so resampling clips understates the
uncertainty of an accuracy. `SpeakerBootstrap` resamples whole speakers with replacement and recomputes the
accuracy on every clip of the drawn speakers; the 95 % interval is the 2.5 and 97.5 percentiles of those
replicates (the percentile bootstrap).

The draws are made once per test set and shared by every model and condition, so replicates of different
conditions can be averaged replicate by replicate: the interval of a mean over conditions (the mean spoiled
accuracy), over training seeds or over folds is the percentile interval of the averaged replicates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


class SpeakerBootstrap:
    """Resamples of the test speakers, drawn once from a seed.

    Args:
        speakers: the speaker of each test clip, in the order of the labels and predictions.
        num_resamples: how many resamples to draw.
        seed: the draws' seed.

    Attributes:
        speaker_names: the distinct speakers (sorted); `draws` index into it.
        clip_speaker: per clip, its speaker's index into `speaker_names`.
        draws: `[num_resamples, num_speakers]` speaker indices drawn with replacement.
    """

    def __init__(self, speakers: Sequence, num_resamples: int = DEFAULT_RESAMPLES, seed: int = 0):
        speakers = np.asarray(speakers).astype(str)
        if speakers.ndim != 1 or len(speakers) == 0:
            raise ValueError(f"SpeakerBootstrap: speakers must be a non-empty 1-D sequence, got shape {speakers.shape}")
        if not isinstance(num_resamples, (int, np.integer)) or num_resamples < 1:
            raise ValueError(f"SpeakerBootstrap: num_resamples must be a positive int, got {num_resamples!r}")
        self.speaker_names, self.clip_speaker = np.unique(speakers, return_inverse=True)
        self.clips_per_speaker = np.bincount(self.clip_speaker, minlength=len(self.speaker_names))
        rng = np.random.default_rng(seed)
        self.draws = rng.integers(0, len(self.speaker_names), size=(num_resamples, len(self.speaker_names)))

    @property
    def num_resamples(self) -> int:
        return int(self.draws.shape[0])

    @property
    def num_clips(self) -> int:
        return int(len(self.clip_speaker))

    def indices(self, resample: int) -> np.ndarray:
        """The clip indices of one resample: every clip of each drawn speaker, once per draw."""
        members = [np.flatnonzero(self.clip_speaker == s) for s in self.draws[resample]]
        return np.concatenate(members)

    def accuracy_replicates(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The accuracy on each resample, `[num_resamples]` (computed from per-speaker counts)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_true.shape != (self.num_clips,) or y_pred.shape != (self.num_clips,):
            raise ValueError(
                f"SpeakerBootstrap: expected {self.num_clips} labels and predictions, got "
                f"{y_true.shape} and {y_pred.shape}"
            )
        correct = np.bincount(
            self.clip_speaker, weights=(y_true == y_pred).astype(float), minlength=len(self.speaker_names)
        )
        return correct[self.draws].sum(axis=1) / self.clips_per_speaker[self.draws].sum(axis=1)

    def accuracy_interval(
        self, y_true: np.ndarray, y_pred: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
    ) -> tuple[float, float]:
        """The percentile interval of the accuracy over speaker resamples."""
        return percentile_interval(self.accuracy_replicates(y_true, y_pred), confidence)


def percentile_interval(replicates: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """`(low, high)`: the central `confidence` share of the bootstrap replicates."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    replicates = np.asarray(replicates, dtype=float)
    if replicates.size == 0:
        raise ValueError("percentile_interval: no replicates")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def per_seed_values(
    rows: Sequence[Mapping], key_fields: Sequence[str], value: str = "accuracy"
) -> dict[tuple, list[float]]:
    """Per key, one value per training seed: the mean of `value` over the key's rows of that seed.

    Rows of one seed that differ in other fields (severities, folds) are averaged first, so that the spread of
    the returned lists is the spread over seeds only.

    Args:
        rows: long-table rows with `key_fields`, ``seed`` and `value`.
        key_fields: the fields that identify a result (e.g. model, policy, corruption).
        value: the field to average.

    Returns:
        key -> one value per seed (keys and seeds in the order they first appear).
    """
    groups: dict[tuple, dict] = {}
    for row in rows:
        seeds = groups.setdefault(tuple(row[f] for f in key_fields), {})
        seeds.setdefault(row["seed"], []).append(float(row[value]))
    return {key: [float(np.mean(v)) for v in seeds.values()] for key, seeds in groups.items()}


def seed_spread(values: Sequence[float]) -> float | None:
    """The sample standard deviation over training seeds; None with fewer than two values (no spread known)."""
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1))
