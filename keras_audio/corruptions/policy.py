"""Training policies: which corruptions a model sees while it trains.

A policy is named in the config by parts joined with ``+`` (case does not matter):

- ``none``: clean training;
- ``noise``: white noise at a random severity (1..5) on a fraction of clips;
- ``suite``: a random corruption of the suite (every corruption built for the run, data-driven ones
  included when their resources were given) at a random severity on a fraction of clips;
- ``suite-minus:FAMILY``: the same without the corruptions of one family of `registry.FAMILIES`
  (``suite-minus:noise``), the held-out protocol: the model is then tested on a family it never trained on;
- ``specaugment``: time and frequency masks on the log-mel (`spec_augment.SpecAugment`), a layer inside
  the model that is active in training only.

``noise+specaugment`` and ``suite+specaugment`` combine a waveform part with the masks.

``heldout`` (also ``heldout+specaugment``) is not a policy but a list of them: `expand_policies` turns it
into ``suite`` plus ``suite-minus:F`` for every family F with a corruption in the run's suite.

The waveform part is a `(waveform, seed) -> waveform` function for `tf.data.map`: every draw (whether to corrupt, which
corruption, which severity, the corruption's own parameters) comes from the per-example seed. It takes the
recording at its own length (the training stream crops a long clip to the window but pads only after the
policy, `pipeline.training_dataset`), so noise never fills padding; a length-changing corruption (speed, time
stretch) returns its own length, and the stream crops or pads the result to the window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import tensorflow as tf

from keras_audio.corruptions import registry
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import split_seed

WAVEFORM_PARTS = ("none", "noise", "suite")
HELD_OUT_PREFIX = "suite-minus:"  # + a family: the suite without that family's corruptions
HELDOUT = "heldout"  # expands into suite + suite-minus:F for every family of the suite (`expand_policies`)
DEFAULT_PROBABILITY = 0.5

WaveformPolicy = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class TrainingPolicy:
    """A parsed policy.

    Attributes:
        name: as written in the config (``suite+specaugment``).
        waveform_part: ``none``, ``noise``, ``suite`` or ``suite-minus:FAMILY``.
        waveform: `(recording [samples], seed [2]) -> waveform [samples']` (`samples'` differs only for a
            length-changing corruption), or None for clean waveforms.
        spec_augment: whether the model gets SpecAugment masks (active in training only).
        held_out: the family left out of training (``suite-minus:FAMILY``), else None.
    """

    name: str
    waveform_part: str
    waveform: WaveformPolicy | None
    spec_augment: bool
    held_out: str | None = None


def parse_policy(
    name: str, suite: Mapping[str, Corruption], probability: float = DEFAULT_PROBABILITY
) -> TrainingPolicy:
    """Build the policy `name` from the corruptions in `suite`.

    Args:
        name: parts from ``none``, ``noise``, ``suite``, ``suite-minus:FAMILY``, ``specaugment`` joined by ``+``.
        suite: the corruptions ``suite`` draws from; ``noise`` needs ``white_noise`` in it.
        probability: the fraction of training clips a waveform part corrupts.

    Raises:
        ValueError: an unknown part or family, two waveform parts, ``heldout`` (expand it first with
            `expand_policies`), a corruption the part needs is missing, or ``suite-minus:F`` where the suite
            has no corruption of F (nothing would be held out) or nothing but F.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"policy probability must be in [0, 1], got {probability}")
    waveform_part, spec_augment = policy_parts(name)
    held_out = held_out_family(name)
    waveform = None
    if waveform_part == HELDOUT:
        raise ValueError(f"policy {name!r} is a list of policies: expand it with expand_policies(names, suite)")
    if held_out is not None:
        members = registry.FAMILIES[held_out]
        if not any(n in suite for n in members):
            raise ValueError(
                f"policy {name!r} holds out family {held_out!r} ({', '.join(members)}), but the suite "
                f"has none of its corruptions (suite: {', '.join(suite) or 'empty'}); nothing would be "
                f"held out"
            )
        rest = {n: c for n, c in suite.items() if n not in members}
        if not rest:
            raise ValueError(
                f"policy {name!r}: the suite ({', '.join(suite)}) has nothing but family {held_out!r}; "
                f"nothing is left to train on"
            )
        waveform = _random_corruption(rest, probability)
    elif waveform_part == "noise":
        if "white_noise" not in suite:
            raise ValueError("policy 'noise' needs the 'white_noise' corruption in the suite")
        waveform = _random_corruption({"white_noise": suite["white_noise"]}, probability)
    elif waveform_part == "suite":
        if not suite:
            raise ValueError("policy 'suite' needs at least one corruption in the suite")
        waveform = _random_corruption(suite, probability)
    return TrainingPolicy(
        name=name, waveform_part=waveform_part, waveform=waveform, spec_augment=spec_augment, held_out=held_out
    )


def policy_parts(name: str) -> tuple[str, bool]:
    """Check a policy name and split it: `(waveform part, spec_augment)`, e.g. ``("suite", True)``,
    ``("suite-minus:noise", False)``, or ``("heldout", False)`` for the list `expand_policies` expands.

    Raises:
        ValueError: an unknown part, an unknown family (naming the known ones), or two waveform parts.
    """
    parts = [p.strip().lower() for p in name.split("+") if p.strip()]
    for part in parts:
        if part.startswith(HELD_OUT_PREFIX) and part[len(HELD_OUT_PREFIX) :].strip() not in registry.FAMILIES:
            raise ValueError(
                f"unknown corruption family {part[len(HELD_OUT_PREFIX) :].strip()!r} in policy {name!r}; "
                f"families: {', '.join(registry.FAMILIES)}"
            )
    parts = [HELD_OUT_PREFIX + p[len(HELD_OUT_PREFIX) :].strip() if p.startswith(HELD_OUT_PREFIX) else p for p in parts]
    known = WAVEFORM_PARTS + (HELDOUT, "specaugment")
    unknown = [p for p in parts if p not in known and not p.startswith(HELD_OUT_PREFIX)]
    if not parts or unknown:
        raise ValueError(
            f"unknown policy part(s) {unknown or [name]} in {name!r}; "
            f"use {', '.join(known)} or {HELD_OUT_PREFIX}FAMILY joined by '+'"
        )
    waveform_parts = [p for p in parts if p in ("noise", "suite", HELDOUT) or p.startswith(HELD_OUT_PREFIX)]
    if len(waveform_parts) > 1:
        raise ValueError(f"policy {name!r} has two waveform parts {waveform_parts}; choose one")
    return (waveform_parts[0] if waveform_parts else "none"), "specaugment" in parts


def held_out_family(name: str) -> str | None:
    """The family a policy leaves out of training (``suite-minus:band+specaugment`` -> ``band``), else None.

    Raises:
        ValueError: `name` is not a valid policy (see `policy_parts`).
    """
    waveform_part, _ = policy_parts(name)
    return waveform_part[len(HELD_OUT_PREFIX) :] if waveform_part.startswith(HELD_OUT_PREFIX) else None


def trained_on_policy(name: str) -> str:
    """The policy that trained on everything a held-out policy left out: ``suite-minus:F[+specaugment]`` ->
    ``suite[+specaugment]`` (the comparison of the "trained with / held out" table).

    Raises:
        ValueError: `name` holds nothing out.
    """
    waveform_part, spec_augment = policy_parts(name)
    if not waveform_part.startswith(HELD_OUT_PREFIX):
        raise ValueError(f"policy {name!r} holds no family out (expected {HELD_OUT_PREFIX}FAMILY)")
    return "suite" + ("+specaugment" if spec_augment else "")


def expand_policies(names: Sequence[str], suite: Mapping[str, Corruption]) -> list[str]:
    """The run's policies with ``heldout`` expanded, each checked against `suite` (nothing is traced).

    ``heldout`` becomes ``suite`` and ``suite-minus:F`` for every family F with a corruption in `suite`, in
    `registry.FAMILIES` order (``heldout+specaugment``: each with ``+specaugment``). A policy named twice
    (``suite`` and ``heldout``) is kept once, where it first appears.

    Raises:
        ValueError: a policy `parse_policy` refuses for this suite, or ``heldout`` with corruptions of fewer
            than two families (holding out the only one leaves nothing to train on).
    """
    expanded: list[str] = []
    for name in names:
        waveform_part, spec_augment = policy_parts(name)
        if waveform_part != HELDOUT:
            expanded.append(name)
            continue
        for corruption in suite:
            registry.family_of(corruption)  # a corruption of no family would never be held out: refuse it
        present = [family for family, members in registry.FAMILIES.items() if any(n in suite for n in members)]
        if len(present) < 2:
            raise ValueError(
                f"policy {name!r} needs corruptions of at least two families; the suite "
                f"({', '.join(suite) or 'empty'}) has {present or 'none'}"
            )
        suffix = "+specaugment" if spec_augment else ""
        expanded += ["suite" + suffix] + [f"{HELD_OUT_PREFIX}{family}{suffix}" for family in present]
    expanded = list(dict.fromkeys(expanded))
    for name in expanded:
        parse_policy(name, suite)  # refuse before any model trains (builds closures only)
    return expanded


def _random_corruption(suite: Mapping[str, Corruption], probability: float) -> WaveformPolicy:
    corruptions = list(suite.values())

    def apply(waveform: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        gate_seed, choice_seed, severity_seed, corruption_seed = split_seed(seed, 4)
        index = tf.random.stateless_uniform([], choice_seed, 0, len(corruptions), dtype=tf.int32)
        severity = tf.random.stateless_uniform([], severity_seed, 1, 6, dtype=tf.int32)
        branches = [(lambda c=c: c(waveform, corruption_seed, severity)) for c in corruptions]
        return tf.cond(
            tf.random.stateless_uniform([], gate_seed) < probability,
            lambda: tf.switch_case(index, branches),
            lambda: waveform,
        )

    return apply
