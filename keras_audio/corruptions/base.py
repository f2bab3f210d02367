"""The pattern every corruption follows: sample parameters from a seed, then apply them.

A corruption is a small class around pure TensorFlow functions:

- ``severities``: for each parameter, its five values (severity 1..5), documented in the README table;
- ``sample(seed, severity)``: the parameters for one clip, drawn with stateless ops from a `[2]` int seed
  (the severity row, plus whatever is random: a noise excerpt's offset, a direction, ...);
- ``apply(waveform, params)``: the corruption itself, deterministic given its inputs.

Both run in graph mode inside `tf.data.map`. Since every random draw comes from the seed, a clip's spoiled
version depends only on `(run seed, clip id, corruption, severity)` — not on batch size, order or
parallelism — and the spoiled test set is the same for every model and run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

NUM_SEVERITIES = 5


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

    Args:
        sample_rate: the waveform rate in Hz.
    """

    name: str = ""
    description: str = ""
    touches: str = ""
    severities: Mapping[str, tuple[float, ...]] = {}
    changes_length: bool = False

    def __init__(self, sample_rate: int):
        if sample_rate <= 0:
            raise ValueError(f"{type(self).__name__}: sample_rate must be positive, got {sample_rate}")
        for key, values in self.severities.items():
            if len(values) != NUM_SEVERITIES:
                raise ValueError(f"{type(self).__name__}.severities[{key!r}] needs 5 values, got {values}")
        self.sample_rate = int(sample_rate)

    def severity_params(self, severity) -> dict[str, tf.Tensor]:
        """The severity row as float32 scalars; `severity` is an int (or int tensor) in 1..5."""
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
        return self.apply(waveform, self.sample(seed, severity))

    @classmethod
    def table_row(cls) -> dict[str, str]:
        """This corruption's line in the README severity table."""
        settings = [
            ", ".join(f"{key}={_fmt(values[s])}" for key, values in cls.severities.items())
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


def excerpt(bank: tf.Tensor, length: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A random `length`-sample excerpt of a 1-D `bank`, looping the bank when it is shorter."""
    bank_length = tf.shape(bank)[0]
    start = tf.random.stateless_uniform([], seed, 0, bank_length, dtype=tf.int32)
    positions = tf.math.floormod(start + tf.range(length), bank_length)
    return tf.gather(bank, positions)


def mix_at_snr(signal: tf.Tensor, noise: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`signal + g * noise` with `g` chosen so that RMS(signal) / RMS(g * noise) is `snr_db` exactly.

    A silent signal gets no noise (the SNR is undefined; adding none keeps silence silent and finite).
    """
    signal_rms = rms(signal)
    noise_rms = rms(noise)
    gain = tf.math.divide_no_nan(signal_rms, noise_rms * tf.pow(10.0, snr_db / 20.0))
    return signal + gain * noise


def noise_bank(kind: str, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Pre-generated unit-RMS noise, cropped at random per clip.

    Cropping a bank costs a gather; drawing `tf.random.normal` per clip doubled the pipeline's cost when
    measured. Coloured noise is white noise shaped in the frequency domain: power ∝ 1/f (pink) or 1/f² (brown).
    """
    n = int(seconds * sample_rate)
    white = np.random.default_rng(seed).standard_normal(n)
    if kind == "white":
        shaped = white
    else:
        exponent = {"pink": 0.5, "brown": 1.0}.get(kind)
        if exponent is None:
            raise ValueError(f"noise kind must be 'white', 'pink' or 'brown', got {kind!r}")
        spectrum = np.fft.rfft(white)
        frequencies = np.fft.rfftfreq(n, 1.0 / sample_rate)
        scale = np.zeros_like(frequencies)
        scale[1:] = 1.0 / frequencies[1:] ** exponent  # amplitude ∝ f^-exponent; DC removed
        shaped = np.fft.irfft(spectrum * scale, n)
    shaped = shaped - shaped.mean()
    return (shaped / np.sqrt(np.mean(shaped ** 2))).astype(np.float32)
