"""Spoiled copies of ASR segments, made with the suite's own seeded corruptions.

Names: any registered corruption that keeps the words where the timings say they are, plus the short
aliases ``noise`` (= ``white_noise``) and ``pitch`` (= ``pitch_shift``). Refused: corruptions that change the
length (``speed``, ``time_stretch``: the segment's timings and the length limit would no longer hold) and
``time_shift`` (it pushes the first or last word partly out of the segment).

Seeds: segment `segment_id`'s copy under `corruption` at `severity` draws everything from
`corruptions.seeds.clip_seed(seed, name_hash(segment_id), corruption, severity)`, the derivation the spoiled
test sets use; so the same seed gives identical files, whatever else is prepared alongside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from keras_audio.corruptions import registry
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import clip_seed, name_hash

ALIASES = {"noise": "white_noise", "pitch": "pitch_shift"}
_WORDS_OUT_OF_PLACE = {
    "time_shift": "it shifts the first or last word partly out of the segment",
}
_CHANGES_LENGTH = "it changes the length, so the segment's timings and the length limit would no longer hold"


def unsuitable_reason(name: str) -> str | None:
    """Why the registered corruption `name` cannot spoil an ASR segment, or None if it can."""
    if name in _WORDS_OUT_OF_PLACE:
        return _WORDS_OUT_OF_PLACE[name]
    if registry.corruption_class(name).changes_length:
        return _CHANGES_LENGTH
    return None


def usable_names() -> list[str]:
    """The registered corruptions that can spoil ASR segments, in registry order."""
    return [name for name in registry.names() if unsuitable_reason(name) is None]


def parse_augment(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Corruption names from ``"noise,pitch_shift"`` (or a list of names): aliases resolved, duplicates
    dropped, order kept. ``""``, ``"none"`` and None mean no augmentation.

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or one unfit for ASR segments.
    """
    if spec is None:
        return ()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"augmentation names must be strings, got {part!r}")
        key = part.strip().lower()
        if key in ("", "none"):
            continue
        name = ALIASES.get(key, key)
        if name not in registry.names():
            choices = [f"{alias} (= {target})" for alias, target in ALIASES.items()] + usable_names()
            raise ValueError(f"unknown augmentation {part.strip()!r}; choose from: {', '.join(choices)}")
        reason = unsuitable_reason(name)
        if reason is not None:
            raise ValueError(f"augmentation {part.strip()!r} cannot spoil ASR segments: {reason}")
        if name not in names:
            names.append(name)
    return tuple(names)


def segment_seed(seed: int, segment_id: str, corruption: str, severity: int) -> np.ndarray:
    """The `[2]` int64 stateless seed of one segment's spoiled copy."""
    return clip_seed(seed, name_hash(segment_id), corruption, severity).numpy()


def spoil(waveform: np.ndarray, corruption: Corruption, seed: np.ndarray, severity: int) -> np.ndarray:
    """`corruption` applied to a `[samples]` segment with its `segment_seed`; float32 of the same length.

    Raises:
        ValueError: the corruption returned another length or non-finite samples (a bug, not a user error).
    """
    spoiled = corruption(tf.constant(waveform, tf.float32), tf.constant(seed, tf.int64), severity).numpy()
    if spoiled.shape != waveform.shape or not np.all(np.isfinite(spoiled)):
        raise ValueError(
            f"{corruption.name}: returned shape {spoiled.shape} (expected {waveform.shape}) or non-finite samples"
        )
    return spoiled.astype(np.float32, copy=False)
