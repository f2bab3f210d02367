"""One function per corruption, on NumPy arrays or tensors: `white_noise(waveform, severity=3, seed=7)`.

Each function is its class applied once: `white_noise(x, severity=s, seed=k, sample_rate=r)` equals
`WhiteNoise(r)(x, [k, 0], s)`. The result is of the input's kind (a NumPy array gives a float32 NumPy
array, a tensor a float32 tensor, also inside `tf.function` and `tf.data.map`) and depends only on the
waveform, the severity and the seed.

Arguments shared by every function:

- ``waveform``: one clip `[samples]`, or a batch `[batch, samples]` (spoiled as `Corruption.corrupt_batch`
  does: each row at the batch's length, so a length-changing corruption is cropped or zero-padded back).
- ``severity``: 1 (mild) to 5 (strong).
- ``seed``: an int `k` (the seed `[k, 0]`; in a batch, row `i` gets `[k, i]`), a `[2]` int seed, or for a
  batch `[batch, 2]` seeds, one per row.
- ``sample_rate``: the waveform's rate in Hz.

The corruptions that draw from recordings take them as one more keyword (``noise_dir``, ``ir_dir``,
``babble_waveforms``) and read them on every call; for many clips, build the class once instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from keras_audio.corruptions.babble import Babble
from keras_audio.corruptions.background import BackgroundNoise
from keras_audio.corruptions.base import Corruption
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

DEFAULT_SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=64)
def _cached(cls: type[Corruption], sample_rate: int) -> Corruption:
    # Building one can cost more than applying it (a 20-s noise bank, filter taps); it has no state after that.
    return cls(sample_rate)


def _seeds(seed, batch) -> tf.Tensor:
    """`seed` as `[2]` int64 (`batch` None) or `[batch, 2]` int64."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if batch is None:
            return tf.constant([int(seed), 0], tf.int64)
        return tf.stack([tf.fill([batch], tf.constant(int(seed), tf.int64)), tf.range(batch, dtype=tf.int64)], 1)
    seeds = tf.cast(seed, tf.int64)
    if seeds.shape.rank == 1 and seeds.shape[0] == 2:
        if batch is None:
            return seeds
        return tf.stack([tf.fill([batch], seeds[0]), seeds[1] + tf.range(batch, dtype=tf.int64)], 1)
    if batch is not None and seeds.shape.rank == 2 and seeds.shape[1] == 2:
        return seeds
    wanted = "an int or a [2] seed" if batch is None else "an int, a [2] seed or [batch, 2] seeds"
    raise ValueError(f"seed must be {wanted}, got shape {seeds.shape}")


def _corrupt(cls: type[Corruption], waveform, severity, seed, sample_rate: int, **resources) -> tf.Tensor | np.ndarray:
    corruption = cls(sample_rate, **resources) if resources else _cached(cls, int(sample_rate))
    as_tensor = tf.is_tensor(waveform)
    x = tf.convert_to_tensor(waveform, tf.float32)
    if x.shape.rank == 1:
        spoiled = corruption(x, _seeds(seed, None), severity)
    elif x.shape.rank == 2:
        spoiled = corruption.corrupt_batch(x, _seeds(seed, tf.shape(x)[0]), severity)
    else:
        raise ValueError(f"{cls.name}: waveform must be [samples] or [batch, samples], got shape {x.shape}")
    if as_tensor or not tf.executing_eagerly():
        return spoiled
    return spoiled.numpy()


def white_noise(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """White noise at an SNR (`WhiteNoise`)."""
    return _corrupt(WhiteNoise, waveform, severity, seed, sample_rate)


def pink_noise(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Pink (1/f) noise at an SNR (`PinkNoise`)."""
    return _corrupt(PinkNoise, waveform, severity, seed, sample_rate)


def brown_noise(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Brown (1/f²) noise at an SNR (`BrownNoise`)."""
    return _corrupt(BrownNoise, waveform, severity, seed, sample_rate)


def background_noise(waveform, *, severity, seed, noise_dir: str, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """An excerpt of the recordings in `noise_dir` at an SNR (`BackgroundNoise`)."""
    return _corrupt(BackgroundNoise, waveform, severity, seed, sample_rate, noise_dir=noise_dir)


def babble(waveform, *, severity, seed, babble_waveforms: Sequence[np.ndarray], sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Several talkers from `babble_waveforms` (never the test speakers) at an SNR (`Babble`)."""
    return _corrupt(Babble, waveform, severity, seed, sample_rate, babble_waveforms=babble_waveforms)


def gain(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """A level change up or down (`Gain`)."""
    return _corrupt(Gain, waveform, severity, seed, sample_rate)


def clipping(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Hard clipping of the peaks (`Clipping`)."""
    return _corrupt(Clipping, waveform, severity, seed, sample_rate)


def bit_depth(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """PCM quantisation to fewer bits (`BitDepth`)."""
    return _corrupt(BitDepth, waveform, severity, seed, sample_rate)


def mu_law(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """μ-law companding (`MuLaw`)."""
    return _corrupt(MuLaw, waveform, severity, seed, sample_rate)


def speed(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Faster or slower playback, pitch and tempo together (`SpeedChange`); the length changes."""
    return _corrupt(SpeedChange, waveform, severity, seed, sample_rate)


def time_stretch(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Tempo changed, pitch kept (`TimeStretch`); the length changes."""
    return _corrupt(TimeStretch, waveform, severity, seed, sample_rate)


def pitch_shift(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Pitch moved up or down, tempo kept (`PitchShift`)."""
    return _corrupt(PitchShift, waveform, severity, seed, sample_rate)


def lowpass(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """A low-pass filter (`LowPass`)."""
    return _corrupt(LowPass, waveform, severity, seed, sample_rate)


def telephone(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """A telephone band-pass with 8-bit μ-law (`Telephone`)."""
    return _corrupt(Telephone, waveform, severity, seed, sample_rate)


def reverb(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """A synthetic room's reverberation (`SyntheticReverb`)."""
    return _corrupt(SyntheticReverb, waveform, severity, seed, sample_rate)


def ir_reverb(waveform, *, severity, seed, ir_dir: str, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Convolution with a recorded impulse response from `ir_dir` (`ImpulseResponseReverb`)."""
    return _corrupt(ImpulseResponseReverb, waveform, severity, seed, sample_rate, ir_dir=ir_dir)


def packet_loss(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """Lost packets replaced by silence (`PacketLoss`)."""
    return _corrupt(PacketLoss, waveform, severity, seed, sample_rate)


def time_shift(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """The signal shifted in its window, silence filled in (`TimeShift`)."""
    return _corrupt(TimeShift, waveform, severity, seed, sample_rate)


def eq(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """A random equaliser (`RandomEQ`)."""
    return _corrupt(RandomEQ, waveform, severity, seed, sample_rate)


def mp3(waveform, *, severity, seed, sample_rate: int = DEFAULT_SAMPLE_RATE):
    """An MP3 encode and decode (`Mp3`; needs a libsndfile that writes MP3)."""
    return _corrupt(Mp3, waveform, severity, seed, sample_rate)


# Registry name -> function.
FUNCTIONS = {
    "white_noise": white_noise,
    "pink_noise": pink_noise,
    "brown_noise": brown_noise,
    "background_noise": background_noise,
    "babble": babble,
    "gain": gain,
    "clipping": clipping,
    "bit_depth": bit_depth,
    "mu_law": mu_law,
    "speed": speed,
    "time_stretch": time_stretch,
    "pitch_shift": pitch_shift,
    "lowpass": lowpass,
    "telephone": telephone,
    "reverb": reverb,
    "ir_reverb": ir_reverb,
    "packet_loss": packet_loss,
    "time_shift": time_shift,
    "eq": eq,
    "mp3": mp3,
}

__all__ = [
    "FUNCTIONS",
    "babble",
    "background_noise",
    "bit_depth",
    "brown_noise",
    "clipping",
    "eq",
    "gain",
    "ir_reverb",
    "lowpass",
    "mp3",
    "mu_law",
    "packet_loss",
    "pink_noise",
    "pitch_shift",
    "reverb",
    "speed",
    "telephone",
    "time_shift",
    "time_stretch",
    "white_noise",
]
