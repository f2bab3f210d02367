"""Clipping: every sample beyond a fraction of the clip's peak is cut to that level (hard clipping).

The threshold is relative to the clip's own peak, so the harm does not depend on the recording level.
At a tenth of the peak (severity 5) about a quarter of a speech clip's samples are cut; speech stays
intelligible (even infinitely clipped speech is) and periodic, so F0 survives, but harmonics and
intermodulation products are added across the spectrum.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.signal_ops import peak


class Clipping(Corruption):
    """Hard clipping at `fraction × max|x|`."""

    name = "clipping"
    description = "hard clipping at a fraction of the clip's peak"
    touches = "waveform shape: adds harmonics and intermodulation; F0 and level of the peaks"
    severities = {"fraction": (0.6, 0.4, 0.25, 0.15, 0.1)}

    def apply(self, waveform, params):
        threshold = params["fraction"] * peak(waveform, keepdims=True)
        return tf.clip_by_value(waveform, -threshold, threshold)

    def apply_batch(self, waveforms, params, lengths):
        return self.apply(waveforms, params)  # per row: the peak is each row's; zeros stay zero
