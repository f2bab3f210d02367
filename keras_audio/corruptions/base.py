"""The pattern every corruption follows: sample parameters from a seed, then apply them.

A corruption is a small class around pure TensorFlow functions:

- ``severities``: for each parameter, its five values (severity 1..5), documented in the catalogue
  (docs/corruptions.md);
- ``sample(seed, severity)``: the parameters for one clip, drawn with stateless ops from a `[2]` int seed
  (the severity row, plus whatever is random: a noise excerpt's offset, a direction, ...);
- ``apply(waveform, params)``: the corruption itself, deterministic given its inputs.

Both run in graph mode inside `tf.data.map`. Since every random draw comes from the seed, a clip's spoiled
version depends only on `(run seed, clip id, corruption, severity)` — not on batch size, order or
parallelism — and the spoiled test set is the same for every model and run.

A corruption acts on a recording at its own length: a clip shorter than the model's window is spoiled first
and zero-padded after (`pipeline.spoil_clip`), so noise, reverberation or quantisation never fill padding
that no microphone recorded.

Evaluation spoils whole batches: `corrupt_batch(waveforms [batch, samples], seeds [batch, 2], severity,
lengths [batch])` gives row `i` equal to `fit_length(corruption(waveforms[i, :lengths[i]], seeds[i],
severity), samples)`: each clip spoiled at its own length, the samples past it left at zero. The base class
does that one clip at a time (`tf.map_fn`), so every corruption has it; the cheap families, where the cost
of dispatching a dozen ops per clip dominates, override `sample_batch` / `apply_batch` with vectorised
draws (`batch_uniform` and friends run TensorFlow's stateless generator for a batch of seeds at once and
give the very same numbers), broadcasting, and sums that add a clip's samples in the order the per-clip
code does (`energy`, `batch_energy`), so a row's zeros past its length change no bit.

Level, the same rule everywhere: a corruption changes the clip's level only where the change *is* the
corruption (gain) or follows from its physics — additive noise adds its own power (the SNR is exact against
the clean clip), a filter has unity gain in its passband and removes what lies outside it, clipping lowers
the peaks, lost packets are silent. Where a level change would be an arbitrary by-product of the
implementation (the scale of an impulse response), the output is rescaled to the input's RMS.

Severities run from 1 (mild) to 5 (strong), monotone in harm, and are bounded so that a listener would still
give a clip the same label at severity 5: the flagship task is speaker gender, so anything that moves pitch
or formants (speed, pitch shift) stops at about 3 semitones (20 %). Each class's `touches` names the cue it
alters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

NUM_SEVERITIES = 5


class MissingResource(ValueError):
    """A corruption needs a resource (noise recordings, impulse responses, training clips) not given,
    or given too little of it (`registry.build_suite(skip_missing=True)` leaves such corruptions out)."""


class Corruption:
    """Base class for waveform corruptions.

    Subclasses set the class attributes and implement `apply`; most also extend `sample`.

    Attributes:
        name: registry name (``white_noise``).
        description: one line for the catalogue table.
        touches: the acoustic cue it alters (``level``, ``pitch``, ``spectral envelope``, ...), so a
            reader can tell which corruptions attack the cue a task depends on.
        severities: parameter name -> five values, severity 1 (mild) to 5 (strong).
        changes_length: True when the output length differs from the input's (speed, time stretch).
        two_sided: parameters applied up or down with equal odds (drawn from the seed); the table shows them
            as ``±value``.
        requires: the `registry.Resources` fields the constructor takes as keyword arguments
            (``("noise_dir",)``); `registry.build` passes them.

    Args:
        sample_rate: the waveform rate in Hz.
    """

    name: str = ""
    description: str = ""
    touches: str = ""
    severities: Mapping[str, tuple[float, ...]] = {}
    changes_length: bool = False
    requires: tuple[str, ...] = ()
    two_sided: tuple[str, ...] = ()

    def __init__(self, sample_rate: int):
        if sample_rate <= 0:
            raise ValueError(f"{type(self).__name__}: sample_rate must be positive, got {sample_rate}")
        for key, values in self.severities.items():
            if len(values) != NUM_SEVERITIES:
                raise ValueError(f"{type(self).__name__}.severities[{key!r}] needs 5 values, got {values}")
        self.sample_rate = int(sample_rate)

    def severity_params(self, severity) -> dict[str, tf.Tensor]:
        """The severity row as float32 scalars; `severity` is an int (or int tensor) in 1..5.

        A Python int (evaluation) gives constants; a tensor (a training policy's random severity) gathers.
        """
        if isinstance(severity, (int, np.integer)):
            if not 1 <= severity <= NUM_SEVERITIES:
                raise ValueError(f"{self.name}: severity must be in 1..{NUM_SEVERITIES}, got {severity}")
            return {key: tf.constant(values[severity - 1], tf.float32) for key, values in self.severities.items()}
        index = tf.cast(severity, tf.int32) - 1
        return {key: tf.gather(tf.constant(values, tf.float32), index) for key, values in self.severities.items()}

    def sample(self, seed: tf.Tensor, severity) -> dict[str, tf.Tensor]:
        """Parameters for one clip. The base class returns the severity row; override to add draws."""
        del seed
        return self.severity_params(severity)

    def apply(self, waveform: tf.Tensor, params: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Corrupt a `[samples]` float32 waveform with `params`; returns `[samples']` float32."""
        raise NotImplementedError

    def __call__(self, waveform: tf.Tensor, seed: tf.Tensor, severity) -> tf.Tensor:
        """`apply(waveform, sample(seed, severity))` for a `[samples]` waveform and a `[2]` int seed."""
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        if waveform.shape.rank is not None and waveform.shape.rank != 1:
            # A [1, samples] batch would read as one sample long: noise became a constant offset.
            raise ValueError(f"{self.name}: expects one clip of shape [samples], got shape {waveform.shape}")
        return self.apply(waveform, self.sample(tf.cast(seed, tf.int64), severity))

    # ------------------------------------------------------------------------------ a batch at a time
    def sample_batch(self, seeds: tf.Tensor, severity) -> dict[str, tf.Tensor]:
        """Parameters for a batch, from `[batch, 2]` int64 seeds.

        Each value is either `[batch, ...]` (row `i` is what `sample(seeds[i], severity)` gives) or a scalar
        shared by the whole batch (a severity setting). The base class returns the severity row when
        `sample` is not overridden and otherwise calls `sample` once per example (`tf.map_fn`); subclasses
        whose draws are simple override it with `batch_uniform` and friends.
        """
        if type(self).sample is Corruption.sample:
            return self.severity_params(severity)
        # One traced call only for the structure and dtypes of the parameters (pruned from the graph).
        spec = tf.nest.map_structure(
            lambda value: tf.TensorSpec(value.shape, value.dtype), self.sample(tf.zeros([2], tf.int64), severity)
        )
        return tf.map_fn(lambda seed: self.sample(seed, severity), seeds, fn_output_signature=spec)

    def apply_batch(self, waveforms: tf.Tensor, params: Mapping[str, tf.Tensor], lengths: tf.Tensor) -> tf.Tensor:
        """Corrupt `[batch, samples]` float32 waveforms with `params` from `sample_batch`, each at its length.

        Args:
            waveforms: `[batch, samples]`, row `i` a recording of `lengths[i]` samples followed by zeros.
            params: from `sample_batch`.
            lengths: `[batch]` int32, each in `0..samples`.

        Returns `[batch, samples]`: row `i` is `fit_length(apply(waveforms[i, :lengths[i]], params_i), samples)`.
        The base class calls `apply` once per example (`tf.map_fn`, scalars broadcast to every example).
        """
        count, length = tf.shape(waveforms)[0], tf.shape(waveforms)[1]
        params = {key: tf.fill([count], value) if value.shape.rank == 0 else value for key, value in params.items()}
        return tf.map_fn(
            lambda example: fit_length(self.apply(example[0][: example[2]], example[1]), length),
            (waveforms, params, lengths),
            fn_output_signature=tf.TensorSpec(waveforms.shape[1:], tf.float32),
        )

    def corrupt_batch(self, waveforms: tf.Tensor, seeds: tf.Tensor, severity, lengths=None) -> tf.Tensor:
        """`apply_batch(waveforms, sample_batch(seeds, severity), lengths)`: the batched `__call__`.

        Args:
            waveforms: `[batch, samples]` float32; row `i` holds a recording in its first `lengths[i]` samples
                (what lies past them is ignored).
            seeds: `[batch, 2]` int seeds, one per example (`clip_seeds` for evaluation).
            severity: 1..5.
            lengths: `[batch]` ints in `0..samples`, each clip's own length; None: every row is a whole clip.

        Returns:
            `[batch, samples]` float32; row `i` equals `fit_length(self(waveforms[i, :lengths[i]], seeds[i],
            severity), samples)` whatever the batch size (tests/corruptions/test_batched.py holds every
            corruption to it): a clip is spoiled at its own length and the samples past it stay zero.
        """
        waveforms = tf.convert_to_tensor(waveforms, tf.float32)
        seeds = tf.cast(seeds, tf.int64)
        if waveforms.shape.rank is not None and waveforms.shape.rank != 2:
            raise ValueError(
                f"{self.name}: corrupt_batch expects waveforms of shape [batch, samples], got shape {waveforms.shape}"
            )
        if seeds.shape.rank is not None and (seeds.shape.rank != 2 or seeds.shape[-1] not in (None, 2)):
            raise ValueError(f"{self.name}: corrupt_batch expects seeds of shape [batch, 2], got shape {seeds.shape}")
        length = tf.shape(waveforms)[1]
        if lengths is None:
            lengths = tf.fill([tf.shape(waveforms)[0]], length)
        else:
            lengths = tf.cast(lengths, tf.int32)
            if lengths.shape.rank is not None and lengths.shape.rank != 1:
                raise ValueError(
                    f"{self.name}: corrupt_batch expects lengths of shape [batch], got shape {lengths.shape}"
                )
            lengths = tf.clip_by_value(lengths, 0, length)
            waveforms = tf.where(valid_samples(lengths, length), waveforms, 0.0)  # nothing past a clip's end
        if type(self).sample_batch is Corruption.sample_batch and type(self).apply_batch is Corruption.apply_batch:
            # Nothing vectorised: one loop over the clips running `__call__` itself (cheaper to trace than
            # the two loops of the default `sample_batch` and `apply_batch`).
            spoiled = tf.map_fn(
                lambda example: fit_length(self(example[0][: example[2]], example[1], severity), length),
                (waveforms, seeds, lengths),
                fn_output_signature=tf.TensorSpec(waveforms.shape[1:], tf.float32),
            )
        else:
            spoiled = self.apply_batch(waveforms, self.sample_batch(seeds, severity), lengths)
        return tf.ensure_shape(spoiled, waveforms.shape)

    @classmethod
    def table_row(cls) -> dict[str, str]:
        """This corruption's line in the catalogue's severity table."""
        settings = [
            ", ".join(
                f"{key}={'±' if key in cls.two_sided else ''}{_fmt(values[s])}"
                for key, values in cls.severities.items()
            )
            for s in range(NUM_SEVERITIES)
        ]
        return {
            "name": cls.name,
            "description": cls.description,
            "touches": cls.touches,
            **{str(s + 1): settings[s] for s in range(NUM_SEVERITIES)},
        }


def _fmt(value: float) -> str:
    return f"{value:g}"


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


def fit_length(waveform: tf.Tensor, length) -> tf.Tensor:
    """Crop (keep the start) or zero-pad (at the end) a `[samples]` waveform to `length` samples."""
    waveform = waveform[:length]
    return tf.pad(waveform, [[0, length - tf.shape(waveform)[0]]])


def valid_samples(lengths: tf.Tensor, samples) -> tf.Tensor:
    """`[batch, samples]` bool: True where a sample lies inside its row's clip (`index < lengths[row]`)."""
    return tf.range(samples)[None, :] < tf.cast(lengths, tf.int32)[:, None]


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


def _uint32(value) -> tf.Tensor:
    return tf.constant(value, tf.uint32)


_MASK32 = (1 << 32) - 1


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


def rms(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=keepdims))


def peak(x: tf.Tensor, axis=-1, keepdims: bool = False) -> tf.Tensor:
    return tf.reduce_max(tf.abs(x), axis=axis, keepdims=keepdims)


def random_sign(seed: tf.Tensor) -> tf.Tensor:
    """+1.0 or -1.0 with equal odds (for corruptions that go either way: gain, speed, pitch)."""
    return tf.where(tf.random.stateless_uniform([], seed) < 0.5, 1.0, -1.0)


def rescale_to_rms(x: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """A `[samples]` `x` scaled to the RMS of the `[samples]` `reference` (silence stays silence)."""
    x_power = tf.nn.l2_loss(x) / tf.cast(tf.size(x), tf.float32)
    reference_power = tf.nn.l2_loss(reference) / tf.cast(tf.size(reference), tf.float32)
    return x * tf.sqrt(tf.math.divide_no_nan(reference_power, x_power))


def energy(x: tf.Tensor) -> tf.Tensor:
    """Half the sum of squares of a `[samples]` clip (`tf.nn.l2_loss`), added sample after sample.

    A sequential sum (`unsorted_segment_sum` adds in input order), not a tree or SIMD reduction, whose
    rounding depends on the length: `batch_energy` then gives the same bits for the clip inside a longer,
    zero-padded row, since adding zeros at the end changes nothing.
    """
    return tf.math.unsorted_segment_sum(tf.square(x) * 0.5, tf.zeros(tf.shape(x), tf.int32), 1)[0]


def batch_energy(x: tf.Tensor) -> tf.Tensor:
    """`energy` of each row of `[batch, samples]`: `[batch]`, row `i` equal to `energy(x[i, :n])` for any `n`
    past which the row is zero."""
    rows = tf.shape(x)[0]
    segments = tf.broadcast_to(tf.range(rows)[:, None], tf.shape(x))
    return tf.math.unsorted_segment_sum(tf.square(x) * 0.5, segments, rows)


def mix_at_snr(signal: tf.Tensor, noise: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`signal + g * noise` with `g` chosen so that RMS(signal) / RMS(g * noise) is `snr_db` exactly.

    Both are `[samples]` of the same length. A silent signal gets no noise (the SNR is undefined; adding
    none keeps silence silent and finite).
    """
    gain = tf.sqrt(tf.math.divide_no_nan(energy(signal), energy(noise)))
    return signal + (gain * tf.pow(10.0, -snr_db / 20.0)) * noise


def mix_at_snr_batch(signals: tf.Tensor, noises: tf.Tensor, snr_db: tf.Tensor) -> tf.Tensor:
    """`mix_at_snr` row by row for `[batch, samples]` signals and noises; `snr_db` a scalar (a severity).

    A row of a clip shorter than `samples` holds zeros past its length in both, and stays zero there.
    """
    gain = tf.sqrt(tf.math.divide_no_nan(batch_energy(signals), batch_energy(noises)))
    return signals + (gain * tf.pow(10.0, -snr_db / 20.0))[:, None] * noises


LOWEST_AUDIBLE_HZ = 20.0


def noise_bank(kind: str, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Pre-generated unit-RMS noise, cropped at random per clip (`banks.ClipBank`).

    Cropping a bank costs a slice; drawing `tf.random.normal` per clip doubled the pipeline's cost when
    measured. Coloured noise is white noise shaped in the frequency domain: power ∝ 1/f (pink) or 1/f²
    (brown). Everything below 20 Hz is removed: brown noise would otherwise put most of its power into
    inaudible drift, and an SNR should count noise a listener hears.
    """
    exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}.get(kind)
    if exponent is None:
        raise ValueError(f"noise kind must be 'white', 'pink' or 'brown', got {kind!r}")
    n = int(seconds * sample_rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1.0 / sample_rate)
    scale = np.zeros_like(frequencies)
    audible = frequencies >= LOWEST_AUDIBLE_HZ
    scale[audible] = frequencies[audible] ** -exponent  # amplitude ∝ f^-exponent
    shaped = np.fft.irfft(spectrum * scale, n)
    return (shaped / np.sqrt(np.mean(shaped**2))).astype(np.float32)
