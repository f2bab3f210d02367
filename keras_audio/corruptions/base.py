"""The pattern every corruption follows: sample parameters from a seed, then apply them.

A corruption is a small class around pure TensorFlow functions:

- ``severities``: for each parameter, its five values (severity 1..5), documented in the README table;
- ``sample(seed, severity)``: the parameters for one clip, drawn with stateless ops from a `[2]` int seed
  (the severity row, plus whatever is random: a noise excerpt's offset, a direction, ...);
- ``apply(waveform, params)``: the corruption itself, deterministic given its inputs.

Both run in graph mode inside `tf.data.map`. Since every random draw comes from the seed, a clip's spoiled
version depends only on `(run seed, clip id, corruption, severity)` — not on batch size, order or
parallelism — and the spoiled test set is the same for every model and run.

Level, the same rule everywhere: a corruption changes the clip's level only where the change *is* the
corruption (gain) or follows from its physics — additive noise adds its own power (the SNR is exact against
the clean clip), a filter has unity gain in its passband and removes what lies outside it, clipping lowers
the peaks, lost packets are silent. Where a level change would be an arbitrary by-product of the
implementation (the scale of an impulse response), the output is rescaled to the input's RMS.

Severities run from 1 (mild) to 5 (strong), monotone in harm, and are bounded so that a listener would still
give a clip the same label at severity 5: the flagship task is speaker gender, so anything that moves pitch
or formants (speed, pitch shift) stops at about 3 semitones (20 %). Each class's `touches` names the cue it
alters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

NUM_SEVERITIES = 5


class MissingResource(ValueError):
    """A corruption needs a resource (noise recordings, impulse responses, training clips) not given,
    or given too little of it (`registry.build_suite(skip_missing=True)` leaves such corruptions out)."""


class Corruption:
    """Base class for waveform corruptions.

    Subclasses set the class attributes and implement `apply`; most also extend `sample`.

    Attributes:
        name: registry name (``white_noise``).
        description: one line for the README table.
        touches: the acoustic cue it alters (``level``, ``pitch``, ``spectral envelope``, ...), so a
            reader can tell which corruptions attack the cue a task depends on.
        severities: parameter name -> five values, severity 1 (mild) to 5 (strong).
        changes_length: True when the output length differs from the input's (speed, time stretch).
        two_sided: parameters applied up or down with equal odds (drawn from the seed); the table shows them
            as ``±value``.
        requires: the `registry.Resources` fields the constructor takes as keyword arguments
            (``("noise_dir",)``); `registry.build` passes them.

    Args:
        sample_rate: the waveform rate in Hz.
    """

    name: str = ""
    description: str = ""
    touches: str = ""
    severities: Mapping[str, tuple[float, ...]] = {}
    changes_length: bool = False
    requires: tuple[str, ...] = ()
    two_sided: tuple[str, ...] = ()

    def __init__(self, sample_rate: int):
        if sample_rate <= 0:
            raise ValueError(f"{type(self).__name__}: sample_rate must be positive, got {sample_rate}")
        for key, values in self.severities.items():
            if len(values) != NUM_SEVERITIES:
                raise ValueError(f"{type(self).__name__}.severities[{key!r}] needs 5 values, got {values}")
        self.sample_rate = int(sample_rate)

    def severity_params(self, severity) -> dict[str, tf.Tensor]:
        """The severity row as float32 scalars; `severity` is an int (or int tensor) in 1..5.

        A Python int (evaluation) gives constants; a tensor (a training policy's random severity) gathers.
        """
        if isinstance(severity, (int, np.integer)):
            if not 1 <= severity <= NUM_SEVERITIES:
                raise ValueError(f"{self.name}: severity must be in 1..{NUM_SEVERITIES}, got {severity}")
            return {key: tf.constant(values[severity - 1], tf.float32) for key, values in self.severities.items()}
        index = tf.cast(severity, tf.int32) - 1
        return {
            key: tf.gather(tf.constant(values, tf.float32), index) for key, values in self.severities.items()
        }

    def sample(self, seed: tf.Tensor, severity) -> dict[str, tf.Tensor]:
        """Parameters for one clip. The base class returns the severity row; override to add draws."""
        del seed
        return self.severity_params(severity)

    def apply(self, waveform: tf.Tensor, params: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Corrupt a `[samples]` float32 waveform with `params`; returns `[samples']` float32."""
        raise NotImplementedError

    def __call__(self, waveform: tf.Tensor, seed: tf.Tensor, severity) -> tf.Tensor:
        """`apply(waveform, sample(seed, severity))` for a `[samples]` waveform and a `[2]` int seed."""
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        if waveform.shape.rank is not None and waveform.shape.rank != 1:
            # A [1, samples] batch would read as one sample long: noise became a constant offset.
            raise ValueError(f"{self.name}: expects one clip of shape [samples], got shape {waveform.shape}")
        return self.apply(waveform, self.sample(tf.cast(seed, tf.int64), severity))

    @classmethod
    def table_row(cls) -> dict[str, str]:
        """This corruption's line in the README severity table."""
        settings = [
            ", ".join(f"{key}={'±' if key in cls.two_sided else ''}{_fmt(values[s])}"
                      for key, values in cls.severities.items())
            for s in range(NUM_SEVERITIES)
        ]
        return {"name": cls.name, "description": cls.description, "touches": cls.touches,
                **{str(s + 1): settings[s] for s in range(NUM_SEVERITIES)}}


def _fmt(value: float) -> str:
    return f"{value:g}"


def split_seed(seed: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` independent `[2]` seeds from one (for a corruption that draws several things)."""
    return list(tf.unstack(tf.random.experimental.stateless_split(seed, count)))


def name_hash(name: str) -> int:
    """A stable 31-bit integer for a string (Python's `hash` is salted per process)."""
    value = 0
    for byte in name.encode():
        value = (value * 131 + byte) % 2147483629
    return value


def clip_seed(base_seed: int, clip_hash: tf.Tensor, corruption: str, severity: int) -> tf.Tensor:
    """The stateless seed of one clip's spoiled version for evaluation.

    Args:
        base_seed: the run seed.
        clip_hash: the clip id hashed to an int64 scalar (`tf.strings.to_hash_bucket_fast`).
        corruption: the corruption's name.
        severity: 1..5.
    """
    seed = tf.constant([int(base_seed) % 2147483647, name_hash(corruption)], tf.int64)
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(clip_hash, tf.int64))
    return tf.random.experimental.stateless_fold_in(seed, severity)


def rms(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=keepdims))


def peak(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.reduce_max(tf.abs(x), axis=axis, keepdims=keepdims)


def random_sign(seed: tf.Tensor) -> tf.Tensor:
    """+1.0 or -1.0 with equal odds (for corruptions that go either way: gain, speed, pitch)."""
    return tf.where(tf.random.stateless_uniform([], seed) < 0.5, 1.0, -1.0)


def rescale_to_rms(x: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """A `[samples]` `x` scaled to the RMS of the `[samples]` `reference` (silence stays silence)."""
    x_power = tf.nn.l2_loss(x) / tf.cast(tf.size(x), tf.float32)
    reference_power = tf.nn.l2_loss(reference) / tf.cast(tf.size(reference), tf.float32)
    return x * tf.sqrt(tf.math.divide_no_nan(reference_power, x_power))


def mix_at_snr(signal: tf.Tensor, noise: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`signal + g * noise` with `g` chosen so that RMS(signal) / RMS(g * noise) is `snr_db` exactly.

    Both are `[samples]` of the same length. A silent signal gets no noise (the SNR is undefined; adding
    none keeps silence silent and finite). `tf.nn.l2_loss` (half the sum of squares, one fused pass) makes
    this three times cheaper than two `rms` calls.
    """
    gain = tf.sqrt(tf.math.divide_no_nan(tf.nn.l2_loss(signal), tf.nn.l2_loss(noise)))
    return signal + (gain * tf.pow(10.0, -snr_db / 20.0)) * noise


LOWEST_AUDIBLE_HZ = 20.0


def noise_bank(kind: str, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Pre-generated unit-RMS noise, cropped at random per clip (`banks.ClipBank`).

    Cropping a bank costs a slice; drawing `tf.random.normal` per clip doubled the pipeline's cost when
    measured. Coloured noise is white noise shaped in the frequency domain: power ∝ 1/f (pink) or 1/f²
    (brown). Everything below 20 Hz is removed: brown noise would otherwise put most of its power into
    inaudible drift, and an SNR should count noise a listener hears.
    """
    exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}.get(kind)
    if exponent is None:
        raise ValueError(f"noise kind must be 'white', 'pink' or 'brown', got {kind!r}")
    n = int(seconds * sample_rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1.0 / sample_rate)
    scale = np.zeros_like(frequencies)
    audible = frequencies >= LOWEST_AUDIBLE_HZ
    scale[audible] = frequencies[audible] ** -exponent  # amplitude ∝ f^-exponent
    shaped = np.fft.irfft(spectrum * scale, n)
    return (shaped / np.sqrt(np.mean(shaped ** 2))).astype(np.float32)
