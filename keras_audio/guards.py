"""Guards against non-finite numbers reaching a table.

`np.argmax` of a row of NaN is 0, so a model that answers NaN scores a vote for class 0, and a test set
whose first class is the majority reports a perfect accuracy. Evaluation checks the probabilities of every
batch before taking the argmax (`check_finite_probabilities`) and refuses them, naming the clips.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SHOWN_CLIPS = 10


class NonFinitePredictionError(ValueError):
    """A model answered NaN or infinity for some clips.

    Attributes:
        what: the model and condition (as the caller named them).
        clip_ids: every clip whose probabilities are not finite.
    """

    def __init__(self, what: str, clip_ids: Sequence[str], total: int):
        self.what = what
        self.clip_ids = list(clip_ids)
        shown = ", ".join(self.clip_ids[:SHOWN_CLIPS])
        more = f" and {len(self.clip_ids) - SHOWN_CLIPS} more" if len(self.clip_ids) > SHOWN_CLIPS else ""
        super().__init__(
            f"{what}: non-finite (NaN or infinite) probabilities for {len(self.clip_ids)} of {total} "
            f"clip(s): {shown}{more}; they would be scored as votes for class 0, so nothing is "
            f"reported (check these files for huge or broken samples, or the model for NaN weights)"
        )


def non_finite_rows(probabilities: np.ndarray) -> np.ndarray:
    """Indices of the rows of `[clips, classes]` `probabilities` holding a NaN or an infinity."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [clips, classes], got shape {probabilities.shape}")
    return np.flatnonzero(~np.all(np.isfinite(probabilities), axis=1))


def check_finite_probabilities(probabilities: np.ndarray, clip_ids: Sequence[str], what: str) -> np.ndarray:
    """Return `probabilities` if every value is finite; otherwise refuse, naming the clips.

    Args:
        probabilities: `[clips, classes]`, one row per clip of `clip_ids`.
        clip_ids: the clips, in row order.
        what: the model and condition, for the message (``"conv1d/none/seed0 on white_noise severity 3"``).

    Raises:
        NonFinitePredictionError: some row holds a NaN or an infinity.
        ValueError: `probabilities` is not 2-D, or has another number of rows than `clip_ids`.
    """
    bad = non_finite_rows(probabilities)
    if len(probabilities) != len(clip_ids):
        raise ValueError(f"{what}: {len(probabilities)} rows of probabilities for {len(clip_ids)} clip ids")
    if len(bad):
        raise NonFinitePredictionError(what, [str(clip_ids[i]) for i in bad], len(clip_ids))
    return probabilities
