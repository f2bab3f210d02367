"""Time stretch: tempo changes, pitch does not (a phase vocoder, see `vocoder.py`).

Up to 25 % faster or slower. F0 and formants stay where they are, so the gender cue is untouched except for
the vocoder's "phasiness" (smeared transients, a slightly reverberant timbre), which grows with the change.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.vocoder import frame_length_for, stretch


class TimeStretch(Corruption):
    """Play the clip `rate` times faster with its pitch kept (rate `1 + change` or `1 / (1 + change)`).

    The output has `round(samples / rate)` samples.
    """

    name = "time_stretch"
    description = "tempo change without pitch change (phase vocoder), faster or slower at random"
    touches = "duration and rhythm; timbre slightly (vocoder phasiness); F0 kept"
    two_sided = ("change",)
    severities = {"change": (0.05, 0.10, 0.15, 0.20, 0.25)}
    changes_length = True

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.frame_length = frame_length_for(self.sample_rate)

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        faster = tf.random.stateless_uniform([], seed) < 0.5
        params["rate"] = tf.where(faster, 1.0 + params["change"], 1.0 / (1.0 + params["change"]))
        return params

    def apply(self, waveform, params):
        length = tf.cast(tf.shape(waveform)[0], tf.float32)
        num_samples = tf.maximum(tf.cast(tf.round(length / params["rate"]), tf.int32), 1)
        return stretch(waveform, params["rate"], num_samples, self.frame_length)
