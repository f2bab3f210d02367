"""Training policies: which corruptions a model sees while it trains.

A policy is named in the config by parts joined with ``+`` (case does not matter):

- ``none``: clean training;
- ``noise``: white noise at a random severity (1..5) on a fraction of clips;
- ``suite``: a random corruption of the suite (every corruption built for the run, data-driven ones
  included when their resources were given) at a random severity on a fraction of clips;
- ``specaugment``: time and frequency masks on the log-mel (`spec_augment.SpecAugment`), a layer inside
  the model that is active in training only.

``noise+specaugment`` and ``suite+specaugment`` combine a waveform part with the masks. The waveform part
is a `(waveform, seed) -> waveform` function for `tf.data.map`: every draw (whether to corrupt, which
corruption, which severity, the corruption's own parameters) comes from the per-example seed, and
`tf.switch_case` needs every branch to return the same length, so length-changing corruptions (speed, time
stretch) are cropped or zero-padded back with `fit_length`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import tensorflow as tf

from keras_audio.corruptions.base import Corruption, split_seed

WAVEFORM_PARTS = ("none", "noise", "suite")
DEFAULT_PROBABILITY = 0.5

WaveformPolicy = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class TrainingPolicy:
    """A parsed policy.

    Attributes:
        name: as written in the config (``suite+specaugment``).
        waveform_part: ``none``, ``noise`` or ``suite``.
        waveform: `(waveform [samples], seed [2]) -> waveform [samples]`, or None for clean waveforms.
        spec_augment: whether the model gets SpecAugment masks (active in training only).
    """

    name: str
    waveform_part: str
    waveform: WaveformPolicy | None
    spec_augment: bool


def fit_length(waveform: tf.Tensor, length) -> tf.Tensor:
    """Crop (keep the start) or zero-pad (at the end) a `[samples]` waveform to `length` samples."""
    waveform = waveform[:length]
    return tf.pad(waveform, [[0, length - tf.shape(waveform)[0]]])


def parse_policy(name: str, suite: Mapping[str, Corruption],
                 probability: float = DEFAULT_PROBABILITY) -> TrainingPolicy:
    """Build the policy `name` from the corruptions in `suite`.

    Args:
        name: parts from ``none``, ``noise``, ``suite``, ``specaugment`` joined by ``+``.
        suite: the corruptions ``suite`` draws from; ``noise`` needs ``white_noise`` in it.
        probability: the fraction of training clips a waveform part corrupts.

    Raises:
        ValueError: an unknown part, two waveform parts, or a corruption the part needs is missing.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"policy probability must be in [0, 1], got {probability}")
    waveform_part, spec_augment = policy_parts(name)
    waveform = None
    if waveform_part == "noise":
        if "white_noise" not in suite:
            raise ValueError("policy 'noise' needs the 'white_noise' corruption in the suite")
        waveform = _random_corruption({"white_noise": suite["white_noise"]}, probability)
    elif waveform_part == "suite":
        if not suite:
            raise ValueError("policy 'suite' needs at least one corruption in the suite")
        waveform = _random_corruption(suite, probability)
    return TrainingPolicy(name=name, waveform_part=waveform_part, waveform=waveform, spec_augment=spec_augment)


def policy_parts(name: str) -> tuple[str, bool]:
    """Check a policy name and split it: `(waveform part, spec_augment)`, e.g. ``("suite", True)``.

    Raises:
        ValueError: an unknown part, or two waveform parts.
    """
    parts = [p.strip().lower() for p in name.split("+") if p.strip()]
    unknown = [p for p in parts if p not in WAVEFORM_PARTS + ("specaugment",)]
    if not parts or unknown:
        raise ValueError(f"unknown policy part(s) {unknown or [name]} in {name!r}; "
                         f"use {', '.join(WAVEFORM_PARTS + ('specaugment',))} joined by '+'")
    waveform_parts = [p for p in parts if p in ("noise", "suite")]
    if len(waveform_parts) > 1:
        raise ValueError(f"policy {name!r} has two waveform parts {waveform_parts}; choose one")
    return (waveform_parts[0] if waveform_parts else "none"), "specaugment" in parts


def _random_corruption(suite: Mapping[str, Corruption], probability: float) -> WaveformPolicy:
    corruptions = list(suite.values())

    def apply(waveform: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        gate_seed, choice_seed, severity_seed, corruption_seed = split_seed(seed, 4)
        length = tf.shape(waveform)[0]
        index = tf.random.stateless_uniform([], choice_seed, 0, len(corruptions), dtype=tf.int32)
        severity = tf.random.stateless_uniform([], severity_seed, 1, 6, dtype=tf.int32)
        branches = [
            (lambda c=c: fit_length(c(waveform, corruption_seed, severity), length)) for c in corruptions
        ]
        return tf.cond(
            tf.random.stateless_uniform([], gate_seed) < probability,
            lambda: tf.switch_case(index, branches),
            lambda: waveform,
        )

    return apply
