"""Pitch shift: pitch changes by a number of semitones, duration does not.

As librosa's `pitch_shift`: stretch the clip in time by the pitch factor with the phase vocoder, then
resample it back to its length, which scales every frequency by the factor. F0 and the formants move
together (no formant preservation). This attacks the gender cue head-on, so it is bounded at 3 semitones
(a factor of 1.19, the same as speed's 20 %): a typical male voice (~120 Hz) shifted up 3 semitones is at
~143 Hz, still below the usual female range.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions import resampling
from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import random_sign
from keras_audio.corruptions.vocoder import frame_length_for, stretch


class PitchShift(Corruption):
    """Shift the pitch by `±semitones` (sign from the seed), keeping the length."""

    name = "pitch_shift"
    description = "pitch shift up or down by semitones, duration kept (phase vocoder + resampling)"
    touches = "pitch: F0 and formants move by the shift (the main gender cue)"
    two_sided = ("semitones",)
    severities = {"semitones": (0.5, 1.0, 1.5, 2.0, 3.0)}

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.frame_length = frame_length_for(self.sample_rate)
        self.resample_frame = resampling.frame_length_for(self.sample_rate)

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["semitones"] = random_sign(seed) * params["semitones"]
        return params

    def apply(self, waveform, params):
        length = tf.shape(waveform)[0]
        factor = tf.pow(2.0, params["semitones"] / 12.0)
        stretched_length = tf.maximum(tf.cast(tf.round(tf.cast(length, tf.float32) * factor), tf.int32), 1)
        stretched = stretch(waveform, 1.0 / factor, stretched_length, self.frame_length)
        return resampling.resample(stretched, 1.0 / factor, length, self.resample_frame)
