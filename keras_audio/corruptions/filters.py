"""Band-limiting filters: low-pass, and a telephone line (band-pass plus G.711 μ-law).

The response is designed per clip from the parameters (so `apply` stays a pure function of them): 1 in
the passband, 0 in the stopband, a raised-cosine transition half as wide as the edge frequency, so it is
flat in band and zero an octave beyond each edge. That zero-phase response is sampled on a fine grid,
turned into a kernel with one small inverse FFT and cut to `±4 / width` seconds (the energy cut off is
below -65 dB), then applied by overlap-add with block FFTs (`fft_ops.overlap_add_convolve`), which is
cheaper than one FFT over the whole clip. Zero phase: nothing is delayed.

Level: unity gain in the passband, nothing rescaled; the clip loses the energy outside the band.

Bounds for gender: the lowest low-pass cutoff (1 kHz) keeps F0, its first harmonics and the first formant;
the narrowest telephone band (600-2100 Hz) removes F0 itself, but listeners hear the "missing fundamental"
from the harmonic spacing, as on any phone call.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.fft_ops import bin_frequencies, overlap_add_convolve
from keras_audio.corruptions.quantization import mu_law
from keras_audio.corruptions.signal_ops import valid_samples

TRANSITION = 0.5  # transition width as a fraction of the edge frequency
PAD_PERIODS = 4.0  # kernel half-length, in periods of the narrowest transition width


def lowpass_response(frequencies: tf.Tensor, cutoff: tf.Tensor) -> tf.Tensor:
    """1 below `cutoff·(1 - TRANSITION/2)`, 0 above `cutoff·(1 + TRANSITION/2)`, raised cosine between."""
    width = TRANSITION * cutoff
    position = tf.clip_by_value((frequencies - (cutoff - width / 2.0)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + tf.cos(math.pi * position))


def highpass_response(frequencies: tf.Tensor, edge: tf.Tensor) -> tf.Tensor:
    """The complement of `lowpass_response` at `edge`."""
    return 1.0 - lowpass_response(frequencies, edge)


def zero_phase_kernel(response_fn, half_length: int, sample_rate: int) -> tf.Tensor:
    """`[2·half_length + 1]` taps of the zero-phase filter `response_fn(frequencies in Hz) -> gains`.

    The response is sampled at `fft_length // 2 + 1` bins with `fft_length >= 8 · half_length`, so the
    kernel's time aliasing lies far beyond the taps kept; tap `half_length` is time zero.
    """
    fft_length = 1 << int(math.ceil(math.log2(8 * half_length + 8)))
    gains = response_fn(bin_frequencies(fft_length, sample_rate))
    impulse = tf.signal.irfft(tf.complex(gains, 0.0), [fft_length])
    return tf.concat([impulse[fft_length - half_length :], impulse[: half_length + 1]], axis=0)


def filter_waveform(waveform: tf.Tensor, response_fn, half_length: int, sample_rate: int) -> tf.Tensor:
    """Zero-phase filtering of a `[samples]` (or `[batch, samples]`) waveform by `response_fn(Hz) -> gains`."""
    kernel = zero_phase_kernel(response_fn, half_length, sample_rate)
    return overlap_add_convolve(waveform, kernel, 2 * half_length + 1, half_length)


def _half_length(sample_rate: int, narrowest_edge_hz: float) -> int:
    return int(math.ceil(PAD_PERIODS * sample_rate / (TRANSITION * narrowest_edge_hz)))


def _warn_beyond_nyquist(name: str, upper_edges_hz, sample_rate: int) -> None:
    """Say which severities cannot cut as documented at this rate (their stopband starts above Nyquist)."""
    weak = [s + 1 for s, edge in enumerate(upper_edges_hz) if edge * (1 + TRANSITION / 2) > sample_rate / 2]
    if weak:
        warnings.warn(
            f"{name} at {sample_rate} Hz: severities {weak} reach beyond the Nyquist frequency "
            f"({sample_rate / 2:g} Hz), so they remove less than their documented band",
            stacklevel=3,
        )


class LowPass(Corruption):
    """Low-pass filter at `cutoff_hz` (−6 dB point; flat below 0.75×, zero above 1.25× the cutoff)."""

    name = "lowpass"
    description = "low-pass filter (muffled: cheap microphone, a wall between)"
    touches = "high-frequency spectrum: fricatives, upper formants; F0 and F1 kept"
    severities = {"cutoff_hz": (4000.0, 3000.0, 2000.0, 1500.0, 1000.0)}

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.half_length = _half_length(self.sample_rate, min(self.severities["cutoff_hz"]))
        _warn_beyond_nyquist(self.name, self.severities["cutoff_hz"], self.sample_rate)

    def apply(self, waveform, params):
        return filter_waveform(
            waveform, lambda f: lowpass_response(f, params["cutoff_hz"]), self.half_length, self.sample_rate
        )

    def apply_batch(self, waveforms, params, lengths):
        # One kernel (the severity's) for every row; the ringing past a clip's end is cut, as `apply` cuts it.
        return tf.where(valid_samples(lengths, tf.shape(waveforms)[1]), self.apply(waveforms, params), 0.0)


class Telephone(Corruption):
    """A phone line: band-pass `low_hz`-`high_hz`, then μ-law at `codec_bits` (G.711 is 8 bits).

    Severity 1 is the standard narrowband telephone channel (300-3400 Hz); higher severities narrow the
    band like a poor line or cheap handset.

    Args:
        sample_rate: the waveform rate in Hz.
        codec_bits: μ-law bits after the filter; None for the filter alone.
    """

    name = "telephone"
    description = "telephone line: band-pass (300-3400 Hz at severity 1, narrowing) + 8-bit μ-law"
    touches = "spectral envelope: removes F0 itself (kept as harmonics) and everything above the band"
    severities = {"low_hz": (300.0, 350.0, 400.0, 500.0, 600.0), "high_hz": (3400.0, 3000.0, 2700.0, 2400.0, 2100.0)}

    def __init__(self, sample_rate: int, codec_bits: int | None = 8):
        super().__init__(sample_rate)
        if codec_bits is not None and not 2 <= codec_bits <= 16:
            raise ValueError(f"telephone: codec_bits must be in 2..16 or None, got {codec_bits}")
        self.codec_bits = codec_bits
        self.half_length = _half_length(self.sample_rate, min(self.severities["low_hz"]))
        _warn_beyond_nyquist(self.name, self.severities["high_hz"], self.sample_rate)

    def _filter(self, waveform, params):
        def response(f):
            return highpass_response(f, params["low_hz"]) * lowpass_response(f, params["high_hz"])

        return filter_waveform(waveform, response, self.half_length, self.sample_rate)

    def apply(self, waveform, params):
        filtered = self._filter(waveform, params)
        if self.codec_bits is None:
            return filtered
        return mu_law(filtered, np.float32(self.codec_bits))

    def apply_batch(self, waveforms, params, lengths):
        # One kernel (the severity's) for every row, cut at each clip's end, then μ-law row by row.
        valid = valid_samples(lengths, tf.shape(waveforms)[1])
        filtered = tf.where(valid, self._filter(waveforms, params), 0.0)
        return filtered if self.codec_bits is None else mu_law(filtered, np.float32(self.codec_bits))
