"""A frozen encoder's outputs computed once per clip, served as the training stream would serve the clips.

Training a head on a frozen encoder runs the encoder on every clip of every epoch, although its output never
changes. When the stream has nothing random in the waveform (no waveform policy, no mixup) and the window is
fixed (centre crops), each clip's embedding is one fixed vector. `FeatureSource` holds those vectors in the layout
of a `pipeline.ClipSource` (clip `i` is the `dim` samples at `i * dim`), so `pipeline.training_dataset` and
`pipeline.evaluation_dataset` serve them in exactly the order, balance and shards in which they serve the
waveforms: the head sees the same batches either way.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_audio.pipeline import ClipSource, evaluation_dataset

EMBEDDING_BATCH = 256


class FeatureSource(ClipSource):
    """`source`'s clips replaced by `encoder`'s output for each (centre-cropped to `clip_samples`).

    Every attribute a pipeline reads (labels, clip hashes, corpus groups, order) is `source`'s; `samples` holds
    the embeddings one after another, so a "clip" is one embedding of `dim` values.
    """

    def __init__(self, source: ClipSource, encoder: keras.Model, clip_samples: int, batch_size: int = EMBEDDING_BATCH):
        # Not ClipSource.__init__: there is no waveform store behind these clips.
        waveforms = evaluation_dataset(source, clip_samples, batch_size).map(lambda waveform, _: waveform)
        # One traced graph: called eagerly, a recurrent encoder would run its time loop op by op.
        embed = tf.function(
            lambda batch: encoder(batch, training=False),
            input_signature=[tf.TensorSpec([None, clip_samples], tf.float32)],
        )
        outputs = [np.asarray(embed(batch), np.float32) for batch in waveforms]
        embeddings = np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32)
        if embeddings.ndim != 2 or len(embeddings) != len(source):
            raise ValueError(
                f"FeatureSource: the encoder must give one vector per clip, got shape "
                f"{embeddings.shape} for {len(source)} clips"
            )
        if not np.all(np.isfinite(embeddings)):
            raise ValueError(
                "FeatureSource: the encoder gave non-finite values for "
                f"{int(np.sum(~np.isfinite(embeddings).all(axis=1)))} clip(s)"
            )
        self.embeddings = embeddings
        self.dim = int(embeddings.shape[1])
        self.samples = tf.constant(embeddings.reshape(-1))
        self.offsets = np.arange(len(source), dtype=np.int64) * self.dim
        self.lengths = np.full(len(source), self.dim, dtype=np.int64)
        self.labels = source.labels
        self.clip_hashes = source.clip_hashes
        self.clip_ids = source.clip_ids
        self.group_names = source.group_names
        self.groups = source.groups
