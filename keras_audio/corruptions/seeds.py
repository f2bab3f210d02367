"""Seeds for spoiling: one clip's stateless seed from (run seed, clip id, corruption, severity), and random
draws for a whole batch of seeds at once that give TensorFlow's own numbers.

Evaluation draws every clip's seed with `clip_seed` (`clip_seeds` for a batch), so a clip's spoiled version
does not depend on batch size, order or parallelism. The `batch_*` draws serve the vectorised corruptions
(`Corruption.sample_batch`): row `i` is exactly what the per-clip `tf.random.stateless_*` op gives for seed `i`.
"""

from __future__ import annotations

import tensorflow as tf


def split_seed(seed: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` independent `[2]` seeds from one (for a corruption that draws several things)."""
    return list(tf.unstack(tf.random.experimental.stateless_split(seed, count)))


def name_hash(name: str) -> int:
    """A stable 31-bit integer for a string (Python's `hash` is salted per process)."""
    value = 0
    for byte in name.encode():
        value = (value * 131 + byte) % 2147483629
    return value


def clip_seed(base_seed: int, clip_hash: tf.Tensor, corruption: str, severity: int) -> tf.Tensor:
    """The stateless seed of one clip's spoiled version for evaluation.

    Args:
        base_seed: the run seed.
        clip_hash: the clip id hashed to an int64 scalar (`tf.strings.to_hash_bucket_fast`).
        corruption: the corruption's name.
        severity: 1..5.
    """
    seed = tf.constant([int(base_seed) % 2147483647, name_hash(corruption)], tf.int64)
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(clip_hash, tf.int64))
    return tf.random.experimental.stateless_fold_in(seed, severity)


def clip_seeds(base_seed, clip_hashes: tf.Tensor, corruption: str, severity) -> tf.Tensor:
    """`clip_seed` for a batch of clips: `[batch, 2]` int64, row `i` equal to
    `tf.cast(clip_seed(base_seed, clip_hashes[i], corruption, severity), tf.int64)`.

    `base_seed` and `severity` may be scalar tensors (int64, int32: a Python int's dtype).
    """
    clip_hashes = tf.cast(clip_hashes, tf.int64)
    seed = tf.stack(
        [
            tf.math.floormod(tf.cast(base_seed, tf.int64), 2147483647),  # Python's % for ints
            tf.constant(name_hash(corruption), tf.int64),
        ]
    )
    # fold_in(seed, data) is [draw from seed, data]; the first seed is a constant, so is its draw.
    first = tf.random.experimental.stateless_fold_in(seed, tf.constant(0, tf.int64))[0]
    folded = tf.stack([tf.fill(tf.shape(clip_hashes), first), clip_hashes], axis=1)
    severity = tf.convert_to_tensor(severity)  # its dtype (int32 for a Python int) is the draw's, as in fold_in
    draw = batch_random_bits(folded, 1 if severity.dtype == tf.int32 else 2)
    if severity.dtype == tf.int32:
        drawn = tf.cast(tf.bitcast(draw[:, 0], tf.int32), tf.int64)
    else:
        drawn = _words_to_int64(draw)[:, 0]
    return tf.stack([drawn, tf.fill(tf.shape(drawn), tf.cast(severity, tf.int64))], axis=1)


# ------------------------------------------------------------------------------------------- batched draws
# TensorFlow's stateless random ops take one seed, so drawing for a batch of clips, each with its own seed,
# would cost an op dispatch per clip (more than the corruption itself for gain or noise). These functions
# give the same numbers for a whole batch at once: they run the generator behind `tf.random.stateless_*` on
# CPU (Philox-4x32-10, keyed from the seed as TensorFlow's `StatelessRandomGetKeyCounter` does) as
# elementwise uint32 ops over the batch. tests/corruptions/test_batched.py checks them bit for bit against
# TensorFlow's own ops, so a change in TensorFlow's generator would fail there, not silently.
_PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)


_PHILOX_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)


_PHILOX_SEED_KEY = (0x3EC8F720, 0x02461E29)


_PHILOX_ROUNDS = 10
_MASK32 = (1 << 32) - 1


def _uint32(value) -> tf.Tensor:
    return tf.constant(value, tf.uint32)


# Plain TensorFlow ops with Python loops over constants: autograph has nothing to convert and, left to
# itself, spends seconds per traced map function wrapping each of their hundreds of op calls.
@tf.autograph.experimental.do_not_convert
def _philox(evens: tf.Tensor, odds: tf.Tensor, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Philox-4x32-10 on counters `(c0, c1, c2, c3)` held as `evens = [c0, c2]`, `odds = [c1, c3]` and a key
    `[k0, k1]`: uint64 tensors `[2, ...]` of 32-bit values (a 32 x 32-bit product fits in 64 bits).

    Written for few graph ops (seven a round, constants made once): tracing and instantiating a `tf.data`
    map costs about a millisecond per op, more than running these on a batch.
    """
    shape = [2] + [1] * (evens.shape.rank - 1)
    multipliers = tf.reshape(tf.constant(_PHILOX_MULTIPLIERS, tf.uint64), shape)
    steps = tf.reshape(
        tf.constant([[r * _PHILOX_KEY_STEPS[0], r * _PHILOX_KEY_STEPS[1]] for r in range(_PHILOX_ROUNDS)], tf.uint64),
        [_PHILOX_ROUNDS] + shape,
    )
    mask, thirty_two, first_axis = tf.constant(_MASK32, tf.uint64), tf.constant(32, tf.uint64), tf.constant([0])
    keys = tf.unstack(tf.bitwise.bitwise_and(key[None] + steps, mask), _PHILOX_ROUNDS)  # the key bumped r times
    xor = tf.bitwise.bitwise_xor
    for round_key in keys:
        product = evens * multipliers  # [M0 · c0, M1 · c2]
        high = tf.bitwise.right_shift(product, thirty_two)
        # c0' = hi(M1 · c2) ^ c1 ^ k0, c2' = hi(M0 · c0) ^ c3 ^ k1, c1' = lo(M1 · c2), c3' = lo(M0 · c0)
        evens, odds = (
            xor(xor(tf.reverse(high, first_axis), odds), round_key),
            tf.reverse(tf.bitwise.bitwise_and(product, mask), first_axis),
        )
    return evens, odds


@tf.autograph.experimental.do_not_convert
def batch_random_bits(seeds: tf.Tensor, words) -> tf.Tensor:
    """`[batch, words]` uint32: the first `words` 32-bit outputs of TensorFlow's stateless generator for
    each `[2]` seed of `seeds [batch, 2]` (the bits `tf.random.stateless_uniform` turns into values)."""
    seeds = tf.transpose(tf.bitcast(tf.cast(seeds, tf.int64), tf.uint64))  # [2, batch]; int32 sign-extends, as TF
    low, high = tf.bitwise.bitwise_and(seeds, _MASK32), tf.bitwise.right_shift(seeds, tf.constant(32, tf.uint64))
    # The key and counter come from one Philox block of counter (seed0 lo, seed0 hi, seed1 lo, seed1 hi).
    scramble = tf.broadcast_to(tf.constant(_PHILOX_SEED_KEY, tf.uint64)[:, None], tf.shape(low))
    mixed_evens, mixed_odds = _philox(low, high, scramble)  # mix = (evens[0], odds[0], evens[1], odds[1])
    key = tf.stack([mixed_evens[0], mixed_odds[0]])[:, :, None]  # [2, batch, 1]
    words = tf.cast(words, tf.int32)
    blocks = tf.cast(tf.range((words + 3) // 4), tf.uint64)[None, :]  # block b: counter (b, 0, mix2, mix3)
    zeros = mixed_evens[1][:, None] * 0 + blocks * 0  # [batch, blocks]
    evens = tf.stack([blocks + zeros, mixed_evens[1][:, None] + zeros])
    odds = tf.stack([zeros, mixed_odds[1][:, None] + zeros])
    evens, odds = _philox(evens, odds, key)
    out = tf.cast(tf.stack([evens[0], odds[0], evens[1], odds[1]], axis=-1), tf.uint32)  # [batch, blocks, 4]
    return tf.reshape(out, [tf.shape(seeds)[1], -1])[:, :words]


def _words_to_int64(bits: tf.Tensor) -> tf.Tensor:
    """`[batch, 2k]` uint32 -> `[batch, k]` int64, low word first (TensorFlow's 64-bit full-range ints)."""
    pairs = tf.cast(tf.reshape(bits, [tf.shape(bits)[0], -1, 2]), tf.uint64)
    joined = tf.bitwise.bitwise_or(pairs[..., 0], tf.bitwise.left_shift(pairs[..., 1], tf.constant(32, tf.uint64)))
    return tf.bitcast(joined, tf.int64)


def batch_uniform(seeds: tf.Tensor, count=None) -> tf.Tensor:
    """Float32 in [0, 1): `[batch]`, row `i` equal to `tf.random.stateless_uniform([], seeds[i])`, or with
    `count`, `[batch, count]` equal to `tf.random.stateless_uniform([count], seeds[i])`."""
    bits = batch_random_bits(seeds, 1 if count is None else count)
    # TensorFlow's conversion: 23 random mantissa bits under the exponent of 1.0, minus 1.
    ones = tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(bits, _uint32(0x7FFFFF)), _uint32(127 << 23))
    values = tf.bitcast(ones, tf.float32) - 1.0
    return values[:, 0] if count is None else values


def batch_uniform_int(seeds: tf.Tensor, minval, maxval) -> tf.Tensor:
    """`[batch]` int32, row `i` equal to `tf.random.stateless_uniform([], seeds[i], minval[i], maxval[i],
    dtype=tf.int32)`; `minval` and `maxval` are scalars or `[batch]`."""
    minval, maxval = tf.cast(minval, tf.int32), tf.cast(maxval, tf.int32)
    bits = batch_random_bits(seeds, 1)[:, 0]
    return minval + tf.cast(tf.math.floormod(bits, tf.cast(maxval - minval, tf.uint32)), tf.int32)


def batch_split_seed(seeds: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`split_seed` for a batch: `count` `[batch, 2]` int64 seeds, the `k`-th row `i` equal to
    `split_seed(seeds[i], count)[k]`."""
    values = tf.reshape(_words_to_int64(batch_random_bits(seeds, 4 * count)), [tf.shape(seeds)[0], count, 2])
    return list(tf.unstack(values, count, axis=1))


def batch_random_sign(seeds: tf.Tensor) -> tf.Tensor:
    """`random_sign` for a batch: `[batch]` of +1.0 / -1.0, row `i` equal to `random_sign(seeds[i])`."""
    return tf.where(batch_uniform(seeds) < 0.5, 1.0, -1.0)


def random_sign(seed: tf.Tensor) -> tf.Tensor:
    """+1.0 or -1.0 with equal odds (for corruptions that go either way: gain, speed, pitch)."""
    return tf.where(tf.random.stateless_uniform([], seed) < 0.5, 1.0, -1.0)
