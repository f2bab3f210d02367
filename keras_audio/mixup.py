"""Mixup (Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization"): train on convex combinations.

Each example of a batch is mixed with a partner from the same batch (a seeded permutation):
`x = λ·x_i + (1 - λ)·x_partner`, and so are the one-hot targets, with `λ ~ Beta(α, α)` drawn per example.
The model then learns soft targets `[batch, classes]` that sum to 1, and the training loss is the
categorical cross-entropy on them (`training.soft_or_sparse_crossentropy` switches on the targets' rank).

Every draw comes from the batch's stateless seed (the stream seed folded with the batch's index), so a
training stream with mixup is as reproducible as one without. `α = 0` is the identity (λ = 1: the
waveforms unchanged, the targets one-hot). Small α (0.1-0.4, the paper's range for speech) keeps most
mixes close to one example; α = 1 draws λ uniformly.

Mixing waveforms adds them sample by sample: for audio that is two sources heard at once (the loudness of
each in proportion to λ), which is what the paper did for speech commands.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Mixup:
    """Mixup settings for a training stream.

    Attributes:
        alpha: the Beta distribution's parameter, >= 0 (0: off, the identity).
        num_classes: the task's classes (the width of the soft targets), >= 2.
    """

    alpha: float
    num_classes: int

    def __post_init__(self):
        if (
            isinstance(self.alpha, bool)
            or not isinstance(self.alpha, numbers.Real)
            or not math.isfinite(self.alpha)
            or self.alpha < 0
        ):
            raise ValueError(f"mixup: alpha must be a finite number >= 0, got {self.alpha!r}")
        if (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, numbers.Integral)
            or self.num_classes < 2
        ):
            raise ValueError(f"mixup: num_classes must be an int >= 2, got {self.num_classes!r}")


def mixup_weights(seed: tf.Tensor, batch_size, alpha: float) -> tf.Tensor:
    """`[batch_size]` float32 weights `λ ~ Beta(alpha, alpha)` from a `[2]` int seed (all 1 for alpha 0).

    Beta is `G1 / (G1 + G2)` with `G ~ Gamma(alpha)`, computed as `sigmoid(log G1 - log G2)`; each `log G`
    is drawn as `log Gamma(alpha + 1) + log(U) / alpha` (U uniform; the boost of Marsaglia and Tsang), which
    stays exact for small alpha, where gamma draws themselves underflow to the same tiny number and
    would give λ = 0.5 instead of the near-0-or-1 weights Beta(α, α) has.
    """
    if alpha == 0:
        return tf.ones([batch_size], tf.float32)
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    shape = tf.reshape(tf.cast(batch_size, tf.int32), [1])

    def log_gamma(gamma_seed, uniform_seed):
        boosted = tf.random.stateless_gamma(
            shape, gamma_seed, alpha=tf.constant(alpha + 1.0, tf.float64), dtype=tf.float64
        )
        uniform = tf.random.stateless_uniform(shape, uniform_seed, minval=1e-300, maxval=1.0, dtype=tf.float64)
        return tf.math.log(boosted) + tf.math.log(uniform) / alpha

    return tf.cast(tf.sigmoid(log_gamma(seeds[0], seeds[1]) - log_gamma(seeds[2], seeds[3])), tf.float32)


def mixup_partners(seed: tf.Tensor, batch_size) -> tf.Tensor:
    """`[batch_size]` int32: a seeded permutation of the batch (each example's partner)."""
    draws = tf.random.stateless_uniform(tf.reshape(tf.cast(batch_size, tf.int32), [1]), seed)
    return tf.cast(tf.argsort(draws, stable=True), tf.int32)


def mixup_batch(
    waveforms: tf.Tensor, labels: tf.Tensor, num_classes: int, alpha: float, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Mix a batch: `(waveforms [b, n], labels [b] class ids) -> (mixed [b, n], soft targets [b, classes])`.

    Row `i` is `λ_i·waveforms[i] + (1 - λ_i)·waveforms[p_i]`, its target `λ_i·onehot(labels[i]) +
    (1 - λ_i)·onehot(labels[p_i])`, with `λ = mixup_weights(seed_1, b, alpha)` and `p =
    mixup_partners(seed_2, b)` for `seed_1, seed_2` split from `seed`.

    Raises:
        ValueError: alpha or num_classes out of range (see `Mixup`).
    """
    settings = Mixup(alpha, num_classes)
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    if waveforms.shape.rank is not None and waveforms.shape.rank != 2:
        raise ValueError(f"mixup: waveforms must be [batch, samples], got shape {waveforms.shape}")
    targets = tf.one_hot(tf.cast(labels, tf.int32), settings.num_classes, dtype=tf.float32)
    if settings.alpha == 0:
        return waveforms, targets
    weight_seed, partner_seed = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
    batch_size = tf.shape(waveforms)[0]
    weights = mixup_weights(weight_seed, batch_size, settings.alpha)[:, None]
    partners = mixup_partners(partner_seed, batch_size)
    mixed = weights * waveforms + (1.0 - weights) * tf.gather(waveforms, partners)
    return mixed, weights * targets + (1.0 - weights) * tf.gather(targets, partners)


def mixup_dataset(batches: tf.data.Dataset, settings: Mixup, seed: tf.Tensor) -> tf.data.Dataset:
    """Mix every `(waveforms [b, n], labels [b])` batch of `batches`; batch `k` draws from `fold_in(seed, k)`."""
    seed = tf.cast(seed, tf.int64)

    def mix(index, batch):
        waveforms, labels = batch
        return mixup_batch(
            waveforms,
            labels,
            settings.num_classes,
            settings.alpha,
            tf.random.experimental.stateless_fold_in(seed, index),
        )

    return batches.enumerate().map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
