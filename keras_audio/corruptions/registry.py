"""Names every corruption and builds them, with the resources some of them need.

Waveform corruptions are registered here by name; spectrogram-level masks (SpecAugment) are layers inside
the model and are switched on by a training policy instead (see `policy.py`). `markdown_table()` renders
the catalogue's table of every corruption and its five severities from the classes themselves. `FAMILIES`
groups the corruptions into families (`families()`, `family_of(name)`), which the held-out protocol leaves out
of training one at a time (policy ``suite-minus:FAMILY``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from keras_audio.corruptions.babble import Babble
from keras_audio.corruptions.background import BackgroundNoise
from keras_audio.corruptions.base import NUM_SEVERITIES, Corruption, MissingResource
from keras_audio.corruptions.clipping import Clipping
from keras_audio.corruptions.codec import Mp3
from keras_audio.corruptions.eq import RandomEQ
from keras_audio.corruptions.filters import LowPass, Telephone
from keras_audio.corruptions.gain import Gain
from keras_audio.corruptions.noise import BrownNoise, PinkNoise, WhiteNoise
from keras_audio.corruptions.packet_loss import PacketLoss
from keras_audio.corruptions.pitch_shift import PitchShift
from keras_audio.corruptions.quantization import BitDepth, MuLaw
from keras_audio.corruptions.reverb import ImpulseResponseReverb, SyntheticReverb
from keras_audio.corruptions.speed import SpeedChange
from keras_audio.corruptions.time_shift import TimeShift
from keras_audio.corruptions.time_stretch import TimeStretch


@dataclasses.dataclass
class Resources:
    """What data-driven corruptions draw from.

    Attributes:
        noise_dir: a folder of background-noise recordings (any format `audio.read_audio` reads).
        ir_dir: a folder of room impulse responses.
        babble_waveforms: training-split utterances at the run's sample rate, for babble noise. Never test
            speakers: whoever builds the list (the pipeline) must take it from the training split only.
    """

    noise_dir: str | None = None
    ir_dir: str | None = None
    babble_waveforms: list[np.ndarray] | None = None

    def __post_init__(self):
        # An empty list is a missing resource too: babble cannot be built from nothing.
        if self.babble_waveforms is not None and len(self.babble_waveforms) == 0:
            self.babble_waveforms = None


_REGISTRY: dict[str, type[Corruption]] = {}


def register(cls: type[Corruption]) -> type[Corruption]:
    """Class decorator (or call) adding a corruption under its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"corruption name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (
    WhiteNoise,
    PinkNoise,
    BrownNoise,
    BackgroundNoise,
    Babble,
    Gain,
    Clipping,
    BitDepth,
    MuLaw,
    SpeedChange,
    TimeStretch,
    PitchShift,
    LowPass,
    Telephone,
    SyntheticReverb,
    ImpulseResponseReverb,
    PacketLoss,
    TimeShift,
    RandomEQ,
    Mp3,
):
    register(_cls)


# Corruption families: what the held-out protocol leaves out of training together (policy `suite-minus:FAMILY`).
# Every registered corruption belongs to exactly one family (tests/corruptions/test_registry.py fails
# otherwise): a new corruption is added to one tuple here. A family groups corruptions that attack the same
# cue by the same physics, so that training on one member would teach the model the held-out ones:
#   noise         additive signals at an SNR: a noise floor or competing voices;
#   band          linear filtering that reshapes the spectral envelope: band limits and a random EQ
#                 (microphone colouring); the telephone's 8-bit μ-law is secondary to its band-pass;
#   pitch_tempo   resampling and the phase vocoder: F0, formants and duration moved;
#   room          convolution with a room's impulse response, synthetic or recorded;
#   codec         the digital coding chain: PCM bit depth, μ-law companding (G.711), an MP3 round trip, and
#                 hard clipping (an overloaded converter: a per-sample nonlinearity like quantisation);
#   gaps          the timing of the signal: lost packets, a shifted window (silence filled in);
#   level         the overall level only (the front-end's per-example standardisation undoes most of it).
FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("white_noise", "pink_noise", "brown_noise", "background_noise", "babble"),
    "band": ("lowpass", "telephone", "eq"),
    "pitch_tempo": ("speed", "time_stretch", "pitch_shift"),
    "room": ("reverb", "ir_reverb"),
    "codec": ("bit_depth", "mu_law", "mp3", "clipping"),
    "gaps": ("packet_loss", "time_shift"),
    "level": ("gain",),
}


# The default run's grid (`keras-audio run` without --corruptions, --severities or --full-grid), at severities
# QUICK_SEVERITIES: one or two corruptions of every family, none needing recorded resources, the costliest per
# clip (mp3's encoder, the phase vocoder's time stretch) left to the full grid, so a newcomer's first run
# spoils with every kind of damage in a few minutes.
QUICK_GRID = ("white_noise", "babble", "lowpass", "speed", "pitch_shift", "reverb", "mu_law", "packet_loss", "gain")
QUICK_SEVERITIES = (1, 3, 5)


def names() -> list[str]:
    """Every registered corruption, in registration order."""
    return list(_REGISTRY)


def families() -> dict[str, tuple[str, ...]]:
    """Family -> its registered corruptions (registration order), families in `FAMILIES` order.

    A name of `FAMILIES` that is not registered is left out; a family with no registered corruption too.
    """
    grouped = {family: tuple(n for n in _REGISTRY if n in members) for family, members in FAMILIES.items()}
    return {family: members for family, members in grouped.items() if members}


def family_of(name: str) -> str:
    """The family of the corruption `name`.

    Raises:
        ValueError: `name` is not registered, or no family lists it (add it to `FAMILIES`).
    """
    corruption_class(name)
    for family, members in FAMILIES.items():
        if name in members:
            return family
    raise ValueError(
        f"corruption {name!r} has no family: add it to one of {', '.join(FAMILIES)} in "
        f"keras_audio/corruptions/registry.py FAMILIES"
    )


def needs_resources(name: str) -> tuple[str, ...]:
    """Which `Resources` fields the corruption `name` needs (empty if none)."""
    return tuple(corruption_class(name).requires)


def corruption_class(name: str) -> type[Corruption]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(_REGISTRY)}") from None


def build(name: str, sample_rate: int, resources: Resources | None = None) -> Corruption:
    """Construct the corruption `name` for `sample_rate`.

    Raises:
        ValueError: unknown name.
        MissingResource: it needs a resource that `resources` does not hold.
    """
    cls = corruption_class(name)
    requires = cls.requires
    resources = resources or Resources()
    missing = [r for r in requires if getattr(resources, r) is None]
    if missing:
        raise MissingResource(f"corruption {name!r} needs {', '.join(missing)}")
    if requires:
        return cls(sample_rate, **{r: getattr(resources, r) for r in requires})
    return cls(sample_rate)


def build_suite(
    names_: Iterable[str] | None, sample_rate: int, resources: Resources | None = None, skip_missing: bool = False
) -> dict[str, Corruption]:
    """Build several corruptions by name (None: all registered).

    Args:
        skip_missing: leave out corruptions whose resources are missing instead of raising; the caller
            should report which were left out (`build_suite` cannot print for it).
    """
    suite = {}
    for name in names() if names_ is None else names_:
        try:
            suite[name] = build(name, sample_rate, resources)
        except MissingResource:  # also raised by a constructor given too little (babble: too few clips)
            if not skip_missing:
                raise
    return suite


def severity_table() -> list[dict[str, str]]:
    """One row per corruption with its five settings (the catalogue, docs/corruptions.md, is generated from this)."""
    return [cls.table_row() for cls in _REGISTRY.values()]


SPEC_AUGMENT_NOTE = (
    "SpecAugment (`spec_augment.SpecAugment`) is not a waveform corruption: it masks the log-mel inside the "
    "model, in training only, when the policy includes `specaugment` (2 frequency masks of up to 8 mel bins, "
    "2 time masks of up to 25 frames, filled with the example's mean)."
)


def markdown_table() -> str:
    """The catalogue's table of every registered corruption: name, what it does, cue touched, severity 1..5."""
    header = ["name", "what", "cue touched"] + [f"severity {s + 1}" for s in range(NUM_SEVERITIES)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in severity_table():
        cells = [f"`{row['name']}`", row["description"], row["touches"]] + [
            row[str(s + 1)] for s in range(NUM_SEVERITIES)
        ]
        needs = needs_resources(row["name"])
        if needs:
            cells[1] += f" (needs `{'`, `'.join(needs)}`)"
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n\n" + SPEC_AUGMENT_NOTE + "\n"
