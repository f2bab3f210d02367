"""Gain: the clip made louder or quieter by an exact number of decibels.

A pure multiply: nothing is clipped, so +20 dB on a loud clip leaves samples beyond ±1 (clipping is its
own corruption). Up or down with equal odds, from the clip's seed. Level is a weak cue for gender, and a
model that standardises its log-mel per example (as this suite's front-end does) should be immune; gain
tests exactly that.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import batch_random_sign, random_sign


class Gain(Corruption):
    """Multiply the clip by `10 ** (±gain_db / 20)`; the sign is drawn from the seed."""

    name = "gain"
    description = "louder or quieter by a fixed number of dB (up or down at random), no clipping"
    touches = "level only"
    two_sided = ("gain_db",)
    severities = {"gain_db": (3.0, 6.0, 10.0, 15.0, 20.0)}

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["gain_db"] = random_sign(seed) * params["gain_db"]
        return params

    def apply(self, waveform, params):
        return waveform * tf.pow(10.0, params["gain_db"] / 20.0)

    def sample_batch(self, seeds, severity):
        params = self.severity_params(severity)
        up = batch_random_sign(seeds) > 0.0
        # The two factors as `apply` computes them, on scalars: `tf.pow` on a vector may differ in the last bit.
        params["factor"] = tf.where(up, tf.pow(10.0, params["gain_db"] / 20.0), tf.pow(10.0, -params["gain_db"] / 20.0))
        params["gain_db"] = tf.where(up, params["gain_db"], -params["gain_db"])
        return params

    def apply_batch(self, waveforms, params, lengths):
        return waveforms * params["factor"][:, None]  # zeros past a clip's length stay zero
