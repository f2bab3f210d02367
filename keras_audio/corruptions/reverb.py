"""Reverberation: a synthetic room with a given RT60, and convolution with recorded impulse responses.

Both convolve the whole clip with an impulse response through the FFT (`fft_ops.fft_convolve`), keep the
clip's length (the tail that rings past the end is cut) and rescale the result to the input's RMS: the
level of a convolution depends only on how an impulse response happens to be scaled, so it is not part of
the corruption (see the level rule in `base.py`).

Synthetic: the impulse response is a direct path (a unit impulse) followed by exponentially decaying white
noise whose energy falls 60 dB in RT60 seconds; the noise is an excerpt of a fixed bank picked with the
clip's seed and the tail is `RT60` long (so it ends 60 dB down). The tail's energy is `RT60 / 0.5 s` times
the direct path's: for a given room size and talker distance the reverberant energy grows in proportion to
RT60 (Sabine), and at 0.5 s the talker is at the critical distance. So the direct-to-reverberant ratio
goes from +4 dB (RT60 0.2 s, a furnished office) to -3.8 dB (1.2 s, a lecture hall). Reverberation smears
onsets and fills gaps but leaves F0 audible.

Recorded: each clip gets one impulse response from `ir_dir`, picked with its seed. Files may be mono or
stereo (downmixed) at any rate (resampled); each is trimmed to start at its strongest sample (the direct
path, so the wet signal stays aligned with the dry one), cut at `max_ir_seconds` and scaled to unit
energy. Severity sets the wet share of a dry/wet mix: `(1 - wet)·dry + wet·reverberant`.
"""

from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

from keras_audio.corruptions.banks import ClipBank, load_folder, noise_bank
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.fft_ops import fft_convolve
from keras_audio.corruptions.signal_ops import rescale_to_rms

DECAY_60DB = math.log(1000.0)  # amplitude envelope exp(-DECAY_60DB · t / RT60) is -60 dB at t = RT60


def reverberate(waveform: tf.Tensor, impulse_response: tf.Tensor) -> tf.Tensor:
    """Convolve, keep the input's length and RMS."""
    wet = fft_convolve(waveform, impulse_response)[: tf.shape(waveform)[0]]
    return rescale_to_rms(wet, waveform)


class SyntheticReverb(Corruption):
    """Convolution with exponentially decaying noise of a given RT60 (plus a direct path).

    Args:
        sample_rate: the waveform rate in Hz.
        critical_rt60_s: the RT60 at which the tail carries as much energy as the direct path; the tail's
            energy is `rt60 / critical_rt60_s` times the direct path's.
        seed: seed of the noise bank the tails are cut from (part of the corruption's definition).
    """

    name = "reverb"
    description = "synthetic room: decaying-noise impulse response with a given RT60 (tail energy ∝ RT60)"
    touches = "temporal envelope (smears onsets, fills pauses) and spectral detail; F0 kept"
    severities = {"rt60_s": (0.2, 0.4, 0.6, 0.9, 1.2)}

    def __init__(self, sample_rate: int, critical_rt60_s: float = 0.5, seed: int = 4321):
        super().__init__(sample_rate)
        if critical_rt60_s <= 0:
            raise ValueError(f"reverb: critical_rt60_s must be positive, got {critical_rt60_s}")
        self.critical_rt60_s = float(critical_rt60_s)
        seconds = max(self.severities["rt60_s"]) + 1.0
        self.bank = ClipBank([noise_bank("white", seconds, self.sample_rate, seed)], "reverb noise")

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["noise_seed"] = tf.cast(seed, tf.int64)
        return params

    def impulse_response(self, params) -> tf.Tensor:
        """The `[ceil(RT60 · rate)]` impulse response for `params` (direct path at index 0)."""
        rt60 = params["rt60_s"]
        length = tf.maximum(tf.cast(tf.math.ceil(rt60 * self.sample_rate), tf.int32), 2)
        time = tf.cast(tf.range(length), tf.float32) / float(self.sample_rate)
        envelope = tf.exp(-DECAY_60DB * time / rt60)
        tail = self.bank.excerpt(length, params["noise_seed"]) * envelope
        tail = tf.concat([[0.0], tail[1:]], axis=0)
        tail_energy = rt60 / self.critical_rt60_s
        tail = tail * tf.sqrt(tail_energy / (2.0 * tf.nn.l2_loss(tail)))
        return tf.concat([[1.0], tail[1:]], axis=0)

    def apply(self, waveform, params):
        return reverberate(waveform, self.impulse_response(params))


class ImpulseResponseReverb(Corruption):
    """Convolution with a recorded room impulse response from `ir_dir`, mixed wet/dry.

    Args:
        sample_rate: the waveform rate in Hz; impulse responses are resampled to it.
        ir_dir: a folder of impulse responses (searched recursively).
        max_ir_seconds: impulse responses are cut at this length after trimming.

    Raises:
        ValueError: `ir_dir` is missing or holds no audio file (the message names it).
        keras_audio.audio.AudioError: a file cannot be read (naming it).
    """

    name = "ir_reverb"
    description = "convolution with a recorded room impulse response, wet/dry mix"
    touches = "temporal envelope and spectral colouring of the room; F0 kept"
    severities = {"wet": (0.2, 0.4, 0.6, 0.8, 1.0)}
    requires = ("ir_dir",)

    def __init__(self, sample_rate: int, ir_dir: str | os.PathLike, max_ir_seconds: float = 2.0):
        super().__init__(sample_rate)
        if max_ir_seconds <= 0:
            raise ValueError(f"ir_reverb: max_ir_seconds must be positive, got {max_ir_seconds}")
        waveforms, self.files = load_folder(ir_dir, self.sample_rate, "ir_dir")
        limit = max(int(max_ir_seconds * self.sample_rate), 1)
        responses = []
        for waveform in waveforms:
            response = waveform[int(np.argmax(np.abs(waveform))) :][:limit].astype(np.float64)
            responses.append(response / np.sqrt(np.sum(response**2)))
        self.responses = ClipBank(responses, f"ir_dir {str(ir_dir)!r}")
        self.num_responses = len(responses)

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["index"] = tf.random.stateless_uniform([], seed, 0, self.num_responses, dtype=tf.int32)
        return params

    def impulse_response(self, params) -> tf.Tensor:
        """The trimmed, unit-energy impulse response `params["index"]` (its own length: FFTs stay short)."""
        start = tf.gather(self.responses.starts, params["index"])
        return tf.slice(
            self.responses.samples,
            tf.reshape(start, [1]),
            tf.reshape(tf.gather(self.responses.lengths, params["index"]), [1]),
        )

    def apply(self, waveform, params):
        wet = reverberate(waveform, self.impulse_response(params))
        mixed = (1.0 - params["wet"]) * waveform + params["wet"] * wet
        return rescale_to_rms(mixed, waveform)
