"""Random EQ and gain: a spectral tilt and a microphone's colouring, then a level change.

What a different microphone, preamp or room placement does to a recording before any noise is added: the
spectral envelope is tilted (a bright or a dull microphone), a few broad bands are boosted or cut (a
capsule's presence peak, a proximity-effect low shelf, a cheap housing's resonance), and the level differs.

The response, in dB over log-frequency, is the sum of:

- a tilt of `±tilt_db_per_octave` about 1 kHz, flat below 100 Hz and above the Nyquist frequency;
- one shelf (low or high, drawn from the seed) of `±band_db`, its corner log-uniform in the band range,
  a logistic step a third of an octave wide;
- two peaking bands of `±band_db` each, centres log-uniform in the band range, Gaussian in log-frequency
  with a standard deviation of half an octave.

Every sign, corner and centre comes from the seed and not from the severity, so one seed gives the same
shape at every severity, only stronger. The response is zero-phase and applied with the filters' own
kernel design and overlap-add (`filters.filter_waveform`): nothing is delayed.

Level: an EQ's overall level is an arbitrary by-product (a boost somewhere raises it), so the equalised
clip is rescaled to the input's RMS; then the gain part moves it by exactly `±gain_db` (nothing clipped,
as in `gain.py`).

Bounds for gender: at severity 5 the tilt is 4 dB/octave (±12 dB at 125 Hz and 8 kHz) and the bands
12 dB; both change the envelope's slope and add broad resonances, but move no formant and no harmonic, so
a listener keeps the label.
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.filters import filter_waveform
from keras_audio.corruptions.seeds import random_sign, split_seed
from keras_audio.corruptions.signal_ops import rescale_to_rms

PIVOT_HZ = 1000.0  # the tilt's 0 dB point
TILT_FLOOR_HZ = 100.0  # the tilt is flat below (no boost or cut of DC and rumble)
BAND_LOW_HZ = 200.0  # band centres and shelf corners are drawn log-uniform in [BAND_LOW_HZ, band_high]
BAND_HIGH_HZ = 6000.0
PEAK_SIGMA_OCTAVES = 0.5
SHELF_WIDTH_OCTAVES = 1.0 / 3.0
PEAKING_BANDS = 2
KERNEL_SECONDS = 0.016  # kernel half-length: far longer than the narrowest feature needs (a band at 200 Hz)


def eq_response_db(
    frequencies: tf.Tensor,
    tilt_db_per_octave: tf.Tensor,
    shelf_hz: tf.Tensor,
    shelf_db: tf.Tensor,
    shelf_high: tf.Tensor,
    peak_hz: tf.Tensor,
    peak_db: tf.Tensor,
    nyquist_hz: float,
) -> tf.Tensor:
    """The EQ's gain in dB at `frequencies` (Hz, any shape).

    Args:
        tilt_db_per_octave: the tilt's slope (positive: brighter), 0 dB at `PIVOT_HZ`.
        shelf_hz: the shelf's corner in Hz, where it reaches half its gain.
        shelf_db: the shelf's gain (positive: boost) beyond the corner.
        shelf_high: True for a high shelf (boosts or cuts above the corner), False for a low shelf.
        peak_hz: `[k]` peaking band centres in Hz.
        peak_db: `[k]` their gains.
        nyquist_hz: the tilt stops growing here.
    """
    octaves = tf.math.log(tf.clip_by_value(frequencies, TILT_FLOOR_HZ, nyquist_hz) / PIVOT_HZ) / math.log(2.0)
    response = tilt_db_per_octave * octaves
    log_f = tf.math.log(tf.maximum(frequencies, 1.0)) / math.log(2.0)
    step = tf.sigmoid((log_f - tf.math.log(shelf_hz) / math.log(2.0)) * (4.0 / SHELF_WIDTH_OCTAVES))
    response += shelf_db * tf.where(shelf_high, step, 1.0 - step)
    distance = (log_f[..., None] - tf.math.log(peak_hz) / math.log(2.0)) / PEAK_SIGMA_OCTAVES
    return response + tf.reduce_sum(peak_db * tf.exp(-0.5 * tf.square(distance)), axis=-1)


class RandomEQ(Corruption):
    """Tilt, one shelf and two peaking bands (shape from the seed), RMS kept, then a `±gain_db` gain.

    Args:
        sample_rate: the waveform rate in Hz.
    """

    name = "eq"
    description = (
        "random EQ: spectral tilt about 1 kHz, a low or high shelf and two peaking bands "
        "(microphone colouring), level kept, then a random gain"
    )
    touches = "spectral envelope: its slope and broad resonances (no formant or harmonic moves); level"
    two_sided = ("tilt_db_per_octave", "band_db", "gain_db")
    severities = {
        "tilt_db_per_octave": (0.5, 1.0, 2.0, 3.0, 4.0),
        "band_db": (3.0, 5.0, 7.0, 9.0, 12.0),
        "gain_db": (2.0, 4.0, 6.0, 8.0, 10.0),
    }

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.half_length = int(math.ceil(KERNEL_SECONDS * self.sample_rate))
        self.band_high_hz = min(BAND_HIGH_HZ, 0.8 * self.sample_rate / 2.0)

    def sample(self, seed, severity):
        """Signs, the shelf's side and corner, the bands' centres and signs: all from `seed` alone."""
        params = self.severity_params(severity)
        tilt_seed, shelf_seed, side_seed, peak_seed, sign_seed, gain_seed = split_seed(seed, 6)
        low, high = math.log(BAND_LOW_HZ), math.log(max(self.band_high_hz, BAND_LOW_HZ))
        params["tilt_db_per_octave"] = random_sign(tilt_seed) * params["tilt_db_per_octave"]
        shelf_draw = tf.random.stateless_uniform([2], shelf_seed)
        params["shelf_hz"] = tf.exp(low + (high - low) * shelf_draw[0])
        params["shelf_db"] = tf.where(shelf_draw[1] < 0.5, 1.0, -1.0) * params["band_db"]
        params["shelf_high"] = tf.random.stateless_uniform([], side_seed) < 0.5
        params["peak_hz"] = tf.exp(low + (high - low) * tf.random.stateless_uniform([PEAKING_BANDS], peak_seed))
        signs = tf.where(tf.random.stateless_uniform([PEAKING_BANDS], sign_seed) < 0.5, 1.0, -1.0)
        params["peak_db"] = signs * params["band_db"]
        params["gain_db"] = random_sign(gain_seed) * params["gain_db"]
        return params

    def apply(self, waveform, params):
        def response(frequencies):
            decibels = eq_response_db(
                frequencies,
                params["tilt_db_per_octave"],
                params["shelf_hz"],
                params["shelf_db"],
                params["shelf_high"],
                params["peak_hz"],
                params["peak_db"],
                self.sample_rate / 2.0,
            )
            return tf.pow(10.0, decibels / 20.0)

        equalised = filter_waveform(waveform, response, self.half_length, self.sample_rate)
        return rescale_to_rms(equalised, waveform) * tf.pow(10.0, params["gain_db"] / 20.0)
