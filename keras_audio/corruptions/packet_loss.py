"""Packet loss: chunks of the clip zeroed, like lost VoIP packets without concealment.

The clip is cut into 20-ms packets and `round(fraction · packets)` of them, chosen with the clip's seed,
are set to zero (a partial last packet counts as a packet). Up to 40 %: choppy, but every surviving packet
still carries the voice's pitch and timbre.
"""

from __future__ import annotations

import tensorflow as tf

from keras_audio.corruptions.base import Corruption
from keras_audio.corruptions.seeds import batch_uniform

PACKET_SECONDS = 0.02


class PacketLoss(Corruption):
    """Zero `fraction` of the clip's 20-ms packets, positions from the seed."""

    name = "packet_loss"
    description = "a fraction of 20-ms packets zeroed (lost VoIP packets, no concealment)"
    touches = "temporal continuity (gaps); spectrum of the surviving packets kept"
    severities = {"fraction": (0.05, 0.1, 0.2, 0.3, 0.4)}

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        self.packet = max(int(round(PACKET_SECONDS * self.sample_rate)), 1)

    def sample(self, seed, severity):
        params = self.severity_params(severity)
        params["loss_seed"] = tf.cast(seed, tf.int64)
        return params

    def apply(self, waveform, params):
        length = tf.shape(waveform)[0]
        packets = (length + self.packet - 1) // self.packet
        lost = tf.cast(tf.round(params["fraction"] * tf.cast(packets, tf.float32)), tf.int32)
        # A random ranking of the packets (ties by position); the `lost` lowest-ranked are dropped.
        scores = tf.random.stateless_uniform([packets], params["loss_seed"])
        ranks = tf.argsort(tf.argsort(scores, stable=True), stable=True)
        keep = tf.cast(ranks >= lost, waveform.dtype)
        return waveform * tf.repeat(keep, self.packet)[:length]

    def sample_batch(self, seeds, severity):
        params = self.severity_params(severity)
        params["loss_seed"] = seeds
        return params

    def apply_batch(self, waveforms, params, lengths):
        length = tf.shape(waveforms)[1]
        packets = (lengths + self.packet - 1) // self.packet  # each clip's own packets
        lost = tf.cast(tf.round(params["fraction"] * tf.cast(packets, tf.float32)), tf.int32)
        # [batch, most packets]: a clip's first draws are those `apply` makes for it (the generator's stream
        # does not depend on how many are drawn); packets past a clip's end rank last and are never dropped.
        scores = batch_uniform(params["loss_seed"], (length + self.packet - 1) // self.packet)
        scores = tf.where(tf.range(tf.shape(scores)[1])[None, :] < packets[:, None], scores, 2.0)
        ranks = tf.argsort(tf.argsort(scores, axis=-1, stable=True), axis=-1, stable=True)
        keep = tf.cast(ranks >= lost[:, None], waveforms.dtype)
        return waveforms * tf.repeat(keep, self.packet, axis=1)[:, :length]
