"""Speed change: tempo and pitch together, like a tape or record played at the wrong speed.

Bounded at 20 % (about 3 semitones): it moves F0 and every formant by the same factor, and F0 is the main
cue for speaker gender (male ~85-155 Hz, female ~165-255 Hz), so larger changes would turn many voices into
the other class for a human listener too.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions import resampling
from keras_audio.corruptions.base import Corruption


class SpeedChange(Corruption):
    """Play the clip `factor` times faster (factor > 1: shorter and higher; < 1: longer and lower).

    Each clip is sped up by `1 + change` or slowed down by `1 / (1 + change)` at random (equal odds). The
    output has `round(samples / factor)` samples (the policy and evaluation crop or pad it back).
    """

    name = "speed"
    description = "speed change by resampling (tempo and pitch together), up or down at random"
    touches = "pitch (F0 and formants scale by the factor) and duration"
    two_sided = ("change",)
    severities = {"change": (0.04, 0.08, 0.12, 0.16, 0.20)}
    changes_length = True

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.resample_frame = resampling.frame_length_for(self.sample_rate)

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        faster = tf.random.stateless_uniform([], seed) < 0.5
        params["factor"] = tf.where(faster, 1.0 + params["change"], 1.0 / (1.0 + params["change"]))
        return params

    def apply(self, waveform, params):
        length = tf.cast(tf.shape(waveform)[0], tf.float32)
        num_samples = tf.maximum(tf.cast(tf.round(length / params["factor"]), tf.int32), 1)
        return resampling.resample(waveform, 1.0 / params["factor"], num_samples, self.resample_frame)
