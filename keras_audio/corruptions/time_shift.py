"""Time shift: the clip moved later or earlier by a fixed time, the gap filled with silence.

Zero fill rather than a circular roll: a roll splices the clip's end onto its start, a click no recording
has. The part moved past the edge is lost (up to 0.5 s: a sixth of a 3-s clip). Tests whether a model
relies on where in the window the speech lies.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import batch_random_sign, random_sign
from keras_audio.corruptions.signal_ops import valid_samples


class TimeShift(Corruption):
    """Shift by `±shift_ms` (sign from the seed: + later, - earlier), zero-filled, length kept."""

    name = "time_shift"
    description = "shifted later or earlier (at random) with silence filling the gap"
    touches = "position of the speech in the window; the shifted-out end is lost"
    two_sided = ("shift_ms",)
    severities = {"shift_ms": (100.0, 200.0, 300.0, 400.0, 500.0)}

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["shift_ms"] = random_sign(seed) * params["shift_ms"]
        return params

    def apply(self, waveform, params):
        length = tf.shape(waveform)[0]
        shift = tf.cast(tf.round(params["shift_ms"] * (self.sample_rate / 1000.0)), tf.int32)
        shift = tf.clip_by_value(shift, -length, length)
        later, earlier = tf.maximum(shift, 0), tf.maximum(-shift, 0)
        kept = waveform[earlier : length - later]
        return tf.concat([tf.zeros([later]), kept, tf.zeros([earlier])], axis=0)

    def sample_batch(self, seeds, severity):
        params = self.severity_params(severity)  # shift_ms: the magnitude, shared
        params["later"] = batch_random_sign(seeds) > 0.0
        return params

    def apply_batch(self, waveforms, params, lengths):
        length = tf.shape(waveforms)[1]
        # round(-x) = -round(x) (half to even), so both directions move by the same number of samples.
        shift = tf.cast(tf.round(params["shift_ms"] * (self.sample_rate / 1000.0)), tf.int32)
        shift = tf.clip_by_value(shift, 0, length)
        later = tf.pad(waveforms[:, : length - shift], [[0, 0], [shift, 0]])
        earlier = tf.pad(waveforms[:, shift:], [[0, 0], [0, shift]])
        # What moves past a clip's own end is lost, as in `apply`.
        return tf.where(valid_samples(lengths, length), tf.where(params["later"][:, None], later, earlier), 0.0)
