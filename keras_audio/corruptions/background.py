"""Background noise from a folder of real recordings at a calibrated SNR.

Each clip gets a random excerpt of one recording (both picked with the clip's seed), looped when the
recording is shorter than the clip. Benchmarks use the Speech Commands background recordings (dishes, a
running tap, an exercise bike, a cat, white and pink noise); tests generate their own. SNR on RMS over
the whole clip, as for the synthetic noises, with the same severities (30 to 0 dB).
"""

from __future__ import annotations

import os

from keras_audio.corruptions.banks import DEFAULT_MAX_BANK_SECONDS, ClipBank, load_folder
from keras_audio.corruptions.noise import AdditiveNoise


class BackgroundNoise(AdditiveNoise):
    """A random excerpt of a random recording from `noise_dir`, mixed at an SNR.

    Args:
        sample_rate: the waveform rate in Hz; recordings are resampled to it.
        noise_dir: a folder of recordings (searched recursively; any format `audio.read_audio` reads).
        max_seconds: the most audio the bank may hold.

    Raises:
        ValueError: `noise_dir` is missing or holds no audio file (the message names it).
        keras_audio.audio.AudioError: a recording cannot be read (naming the file).
    """

    name = "background_noise"
    description = "real background recordings (random excerpt of a random file, looped if short) at an SNR"
    touches = "noise floor shaped like the recording (broadband or tonal, often low frequencies)"
    requires = ("noise_dir",)

    def __init__(self, sample_rate: int, noise_dir: str | os.PathLike, max_seconds: float = DEFAULT_MAX_BANK_SECONDS):
        super().__init__(sample_rate)
        waveforms, self.files = load_folder(noise_dir, self.sample_rate, "noise_dir", max_seconds)
        self.bank = ClipBank(waveforms, f"noise_dir {str(noise_dir)!r}")
