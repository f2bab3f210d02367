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
draws (`seeds.batch_uniform` and friends run TensorFlow's stateless generator for a batch of seeds at once and
give the very same numbers), broadcasting, and sums that add a clip's samples in the order the per-clip
code does (`signal_ops.energy`, `batch_energy`), so a row's zeros past its length change no bit.

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

from keras_audio.corruptions.signal_ops import fit_length, valid_samples

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
