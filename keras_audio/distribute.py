"""Training on several devices and machines with `tf.distribute`, so that results do not depend on how many.

Three strategies (`--strategy`, `training.strategy`):

- ``default``: one device of one process (what the suite always did; resumable, see `checkpoints.TrainingCheckpoint`);
- ``mirrored``: `tf.distribute.MirroredStrategy`, every local device of this process;
- ``multi-worker``: `tf.distribute.MultiWorkerMirroredStrategy`, configured by the ``TF_CONFIG`` environment
  variable a cluster scheduler sets on every worker (`worker_from_tf_config`). It must be created when the
  program starts, before any TensorFlow op (`start`; the ``keras-audio`` command does this).

What stays the same whatever the number of workers and devices (up to floating-point reduction order):
`RunConfig.batch_size` is the *global* batch (each of the `replicas` replicas takes `batch_size / replicas`
of it: global = per-replica × replicas), so the steps per epoch, the learning rate, the seeds and the
examples of every global batch are those of one process. Each worker reads only its share of the seeded
training stream: element `k` keeps the seed of its place in the whole stream, worker `i` of `n` takes the
elements `k ≡ i (mod n)` (`pipeline.training_dataset(shard=...)`) and the `n` workers' batches of one step
together are the one-process batch. Gradients are averaged over the global batch (Keras scales each
replica's loss), the optimizer state is mirrored, and the validation losses that drive early stopping and
the learning-rate schedule are reduced over all workers, so every worker stops at the same epoch.

What changes with the number of replicas: the order of floating-point sums (weights agree to ~1e-6, not
bitwise); batch-normalisation statistics, taken per replica over its slice of the batch (Keras'
``synchronized=False`` default); and random layers inside the model (dropout, SpecAugment masks), whose
generators draw per replica. Multi-worker training is not resumable here (`training.run_fit` skips its
checkpoints): a killed multi-worker run trains again from the start.

Keras 3 (checked with 3.15.1 and TensorFlow 2.21) runs `fit` under `MultiWorkerMirroredStrategy` except
for one bug (keras-team/keras#20585): it reduces the scalar logs of each step with
``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar, and the first batch of a fit with
``axis=None`` on the whole (inputs, labels) structure, which the collective cannot reduce. `_KerasMultiWorker`
reduces scalars over replicas (``axis=None``) and structures leaf by leaf, and changes nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Mapping

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclasses.dataclass(frozen=True)
class Worker:
    """This process's place among the workers: `index` 0..count-1 (0 is the chief)."""

    index: int = 0
    count: int = 1

    @property
    def chief(self) -> bool:
        return self.index == 0


def worker_from_tf_config(text: str | None = None) -> Worker:
    """The worker described by ``TF_CONFIG`` (`text`, default the environment variable; absent: one worker).

    ``TF_CONFIG`` is ``{"cluster": {"worker": ["host:port", ...], "chief": [...]?}, "task": {"type": "worker",
    "index": i}}``; a ``chief`` task counts as worker 0 and the workers after it.

    Raises:
        ValueError: ``TF_CONFIG`` is not JSON or does not name this task in its cluster.
    """
    text = os.environ.get("TF_CONFIG") if text is None else text
    if not text or not text.strip():
        return Worker()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error})") from None
    if (
        not isinstance(config, Mapping)
        or not isinstance(config.get("cluster"), Mapping)
        or not isinstance(config.get("task"), Mapping)
    ):
        raise ValueError(f"TF_CONFIG must hold a 'cluster' and a 'task' object, got {text[:200]!r}")
    cluster, task = config["cluster"], config["task"]
    chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in ("chief", "worker") or isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"TF_CONFIG task must be {{'type': 'chief' or 'worker', 'index': int}}, got {task!r}")
    members = chiefs if kind == "chief" else workers
    if not 0 <= index < len(members):
        raise ValueError(f"TF_CONFIG task {kind} {index} is not in its cluster ({len(members)} {kind}(s) listed)")
    return Worker(index + (len(chiefs) if kind == "worker" else 0), len(chiefs) + len(workers))


class _KerasMultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` with a `reduce` that Keras 3's `fit` can call (module docstring)."""

    def reduce(self, reduce_op, value, axis):
        if tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda leaf: self.reduce(reduce_op, leaf, axis), value)
        local = self.experimental_local_results(value)
        if axis is not None and local and getattr(local[0], "shape", None) is not None and local[0].shape.rank == 0:
            axis = None  # a scalar per replica: its mean over the replicas
        return super().reduce(reduce_op, value, axis)


@dataclasses.dataclass
class Distribution:
    """A strategy and what the pipeline needs to feed it.

    Attributes:
        name: one of `STRATEGIES`.
        strategy: the `tf.distribute.Strategy` (the default strategy for ``default``).
        worker: this process among the workers.
    """

    name: str
    strategy: tf.distribute.Strategy
    worker: Worker

    @property
    def distributed(self) -> bool:
        return self.name != "default"

    @property
    def replicas(self) -> int:
        """Replicas over all workers (`num_replicas_in_sync`)."""
        return int(self.strategy.num_replicas_in_sync)

    @property
    def local_replicas(self) -> int:
        return max(1, self.replicas // self.worker.count)

    def scope(self):
        """Build and compile models inside it (their variables are then mirrored)."""
        return self.strategy.scope() if self.distributed else contextlib.nullcontext()

    def per_replica_batch(self, global_batch: int) -> int:
        """`global_batch / replicas`.

        Raises:
            ValueError: the global batch does not split evenly (the steps would then not match one process).
        """
        if global_batch % self.replicas:
            raise ValueError(
                f"batch_size {global_batch} does not split evenly over {self.replicas} replicas "
                f"({self.name}); choose a multiple of {self.replicas}"
            )
        return global_batch // self.replicas

    def training_stream(
        self, make: Callable[[int, tuple[int, int] | None], tf.data.Dataset], global_batch: int
    ) -> tf.data.Dataset:
        """This worker's training dataset: `make(batch_size, shard)` with the per-replica batch and, with several
        workers, `shard=(workers, index)` (`pipeline.training_dataset` takes both)."""
        if not self.distributed:
            return make(global_batch, None)
        shard = (self.worker.count, self.worker.index) if self.worker.count > 1 else None
        return make(self.per_replica_batch(global_batch), shard)

    def skip_steps(self, dataset: tf.data.Dataset, steps: int) -> tf.data.Dataset:
        """`dataset` (a `training_stream`) without its first `steps` global steps."""
        return dataset.skip(steps * (self.local_replicas if self.distributed else 1))

    def fit_data(
        self, train: tf.data.Dataset, validation: tf.data.Dataset | None, class_weight: Mapping[int, float] | None
    ):
        """`(train, validation, class_weight)` for `model.fit` under the strategy.

        The training stream is this worker's already (`training_stream`): it is handed over as is
        (`distribute_datasets_from_function`, one input pipeline per worker), with the class weights as
        sample weights (Keras cannot map a distributed dataset); the validation set is split by elements
        (auto-shard by DATA). The default strategy gets its arguments back.
        """
        if not self.distributed:
            return train, validation, class_weight
        if class_weight:
            table = tf.constant([class_weight.get(c, 1.0) for c in range(max(class_weight) + 1)], tf.float32)
            train = train.map(lambda x, y: (x, y, tf.gather(table, tf.cast(y, tf.int32))))
        distributed = self.strategy.distribute_datasets_from_function(lambda context: train)
        if validation is not None:
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            validation = validation.with_options(options)
        return distributed, validation, None


_STARTED: dict[str, Distribution] = {}


def start(name: str = "default") -> Distribution:
    """The process's distribution for strategy `name`, created on the first call (one strategy per process).

    Call it when the program starts: ``multi-worker`` configures TensorFlow's collective ops, which is only
    possible before the first TensorFlow op.

    Raises:
        ValueError: an unknown name, a bad ``TF_CONFIG``, or another strategy started before in this process.
        RuntimeError: ``multi-worker`` asked for after TensorFlow ran an op.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {name!r}")
    if name == "default":  # not remembered: nothing to configure (models that are not Keras models use it)
        return Distribution(name, tf.distribute.get_strategy(), Worker())
    if _STARTED:
        started = next(iter(_STARTED.values()))
        if started.name != name:
            raise ValueError(
                f"strategy {name!r}: this process already runs strategy {started.name!r} (one strategy per process)"
            )
        return started
    if name == "mirrored":
        distribution = Distribution(name, tf.distribute.MirroredStrategy(), Worker())
    else:
        worker = worker_from_tf_config()
        try:
            strategy = _KerasMultiWorker()
        except RuntimeError as error:
            raise RuntimeError(
                f"strategy multi-worker: {error}: start it before TensorFlow runs anything "
                f"(keras_audio.distribute.start('multi-worker') first; `keras-audio` does)"
            ) from None
        distribution = Distribution(name, strategy, worker)
    _STARTED[name] = distribution
    return distribution
