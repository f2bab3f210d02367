"""Additive noise at a calibrated SNR: white, pink and brown.

The SNR is measured on RMS over the whole clip: `20·log10(rms(x) / rms(noise added))` equals the target.
Severities 30, 20, 10, 5, 0 dB: at 0 dB speech is still clearly a voice of a recognisable gender.
The noise is a random excerpt of a fixed pre-generated 20-s bank (part of the corruption's definition).
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.banks import ClipBank, noise_bank
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.signal_ops import mix_at_snr, mix_at_snr_batch

SNR_DB = (30.0, 20.0, 10.0, 5.0, 0.0)
BANK_SECONDS = 20.0


class AdditiveNoise(Corruption):
    """Noise drawn from a `ClipBank` (subclasses set `self.bank`): a random excerpt per clip, mixed in at an SNR
    (`snr_db` 30, 20, 10, 5, 0 dB, measured on RMS over the clip)."""

    severities = {"snr_db": SNR_DB}
    bank: ClipBank

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["noise_seed"] = tf.cast(seed, tf.int64)
        return params

    def apply(self, waveform, params):
        noise = self.bank.excerpt(tf.shape(waveform)[0], params["noise_seed"])
        return mix_at_snr(waveform, noise, params["snr_db"])

    def sample_batch(self, seeds, severity):
        params = self.severity_params(severity)
        params["noise_seed"] = seeds
        return params

    def apply_batch(self, waveforms, params, lengths):
        noises = self.bank.excerpts(lengths, params["noise_seed"], tf.shape(waveforms)[1])
        return mix_at_snr_batch(waveforms, noises, params["snr_db"])


class ColouredNoise(AdditiveNoise):
    """Gaussian noise with a power spectrum ∝ 1/f^k (white k=0, pink k=1, brown k=2) at an SNR.

    Args:
        sample_rate: the waveform rate in Hz.
        colour: ``white``, ``pink`` or ``brown``.
        seed: seed of the pre-generated noise bank (fixed: the bank is part of the corruption's definition).
    """

    touches = "level of the noise floor (all frequencies)"

    def __init__(self, sample_rate: int, colour: str = "white", seed: int = 1234):
        super().__init__(sample_rate)
        self.colour = colour
        self.bank = ClipBank([noise_bank(colour, BANK_SECONDS, sample_rate, seed)], f"{colour} noise")


class WhiteNoise(ColouredNoise):
    name = "white_noise"
    description = "white Gaussian noise at an SNR"

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate, "white")


class PinkNoise(ColouredNoise):
    name = "pink_noise"
    description = "pink (1/f) noise at an SNR"
    touches = "level of the noise floor, mostly low frequencies"

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate, "pink")


class BrownNoise(ColouredNoise):
    name = "brown_noise"
    description = "brown (1/f²) noise at an SNR"
    touches = "low-frequency rumble, where F0 and the first formant lie"

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate, "brown")
