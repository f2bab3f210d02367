"""Clean and spoiled evaluation over the corruption grid, and the metrics of the tables.

Each condition (clean, or a corruption at a severity) is built once and every model is run on the same
batches, so all models see the identical spoiled test set and the corruption cost is paid once. The
conditions form one `tf.data` stream, spoiled a batch at a time and prepared ahead, so the next batches are
being spoiled on one core while the models run on the current one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from queue import Full, Queue

import numpy as np
import tensorflow as tf
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from tqdm.auto import tqdm

from keras_audio.corruptions.base import Corruption
from keras_audio.guards import check_finite_probabilities
from keras_audio.pipeline import ClipSource, cropped_batches, evaluation_dataset, spoil_batch
from keras_audio.windowing import frame_windows

PredictFunction = Callable[[tf.Tensor], np.ndarray]  # waveforms [batch, samples] -> probabilities [batch, classes]

CLEAN = "clean"
# Clean, scored on the whole clip: the mean of the probabilities of windows of the clip length, half a
# window apart (`windowing.frame_windows`), as `keras-audio predict` answers a file. Not a corruption: it is
# kept out of the grid's rows and summaries and reported beside the centre-crop accuracy.
UTTERANCE = "clean_utterance"
MCE_MIN_REFERENCE_ERROR = 0.01  # mean error per severity below which a corruption is left out of mCE
MAJORITY_TOLERANCE = 1e-9  # a clean accuracy within this of the majority baseline does not beat it
INFERENCE_BATCH_SIZE = 256  # clips per model call in `evaluate_grid`
# Clips per batched corruption call: several calls per inference batch run in parallel (the map's calls),
# where one call on 256 clips ran on one core for the corruptions that loop over clips (resampling, MP3).
SPOIL_BATCH_SIZE = 64
PREPARED_BATCHES = 2  # inference batches spoiled ahead of the models (across condition boundaries)
CROP_CACHE_BYTES = 1 << 30  # the clean crops are kept in memory for every condition up to this size


@dataclasses.dataclass(frozen=True)
class Condition:
    """A test condition: `corruption` None (clean, severity 0) or a corruption at severity 1..5."""

    corruption: Corruption | None
    severity: int = 0

    @property
    def name(self) -> str:
        return CLEAN if self.corruption is None else self.corruption.name


def grid(suite: Mapping[str, Corruption], severities: Sequence[int]) -> list[Condition]:
    """Clean first, then every corruption × severity."""
    return [Condition(None, 0)] + [Condition(c, s) for c in suite.values() for s in severities]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy (mean per-class recall) and the number of clips."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "n": int(len(y_true)),
    }


def majority_baseline(y_true: np.ndarray) -> float:
    """The accuracy of always answering the test set's most frequent class."""
    return float(np.bincount(y_true).max() / len(y_true)) if len(y_true) else float("nan")


class _OnePredictorPerModel(logging.Filter):
    """Drops TensorFlow's "N out of the last N calls ... triggered tf.function retracing" warning for
    `keras_predictor`: each model gets its own compiled function, traced once, and TensorFlow counts the
    traces of all of them together (they share one code object), which looks like retracing in a loop."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("keras_predictor" in message and "triggered tf.function retracing" in message)


tf.get_logger().addFilter(_OnePredictorPerModel())


def keras_predictor(model) -> PredictFunction:
    """A compiled inference function for a Keras model (no `predict` overhead per condition)."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)], reduce_retracing=True)
    def predict(waveforms):
        return model(waveforms, training=False)

    return lambda waveforms: predict(waveforms).numpy()


@dataclasses.dataclass
class GridResult:
    """Predictions of every model under every condition.

    Attributes:
        y_true: test labels in manifest order.
        predictions: `(model key, condition name, severity) -> predicted label ids`.
        probabilities: the same keys -> `[clips, classes]` probabilities the labels were taken from.
    """

    y_true: np.ndarray
    predictions: dict[tuple[Hashable, str, int], np.ndarray]
    probabilities: dict[tuple[Hashable, str, int], np.ndarray] = dataclasses.field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One row per model key × condition with the metrics (model key fields are added by the caller)."""
        return [
            {"key": key, "corruption": corruption, "severity": severity, **classification_metrics(self.y_true, y_pred)}
            for (key, corruption, severity), y_pred in self.predictions.items()
        ]


def evaluate_grid(
    predictors: Mapping[Hashable, PredictFunction],
    source: ClipSource,
    conditions: Sequence[Condition],
    clip_samples: int,
    batch_size: int,
    seed: int,
    progress: bool = True,
    *,
    inference_batch_size: int | None = INFERENCE_BATCH_SIZE,
    prepared_batches: int = PREPARED_BATCHES,
    batched: bool = True,
) -> GridResult:
    """Run every predictor on every condition of the test clips in `source`.

    The clean crops are batched once and kept; every condition spoils them a batch at a time
    (`pipeline.spoil_batch`, clip for clip the per-clip spoiled set) in one stream over all conditions,
    `prepared_batches` ahead of the models: the corruption of the next batch (of this condition or the next)
    overlaps the models' work on this one. Every model runs on each batch as it comes.

    Args:
        batch_size: the inference batch when `inference_batch_size` is None (and always when not `batched`).
        inference_batch_size: clips per model call; the spoiled clips do not depend on it (a model's output
            may, by float rounding inside its kernels). The clips are spoiled in parts of `SPOIL_BATCH_SIZE`
            when it divides the batch (the parts in parallel) and joined again before the models.
        prepared_batches: how many batches are spoiled ahead of the models.
        batched: False runs the per-clip path instead, one condition after the other (the reference).
    """
    size = batch_size if inference_batch_size is None or not batched else inference_batch_size
    if size < 1:
        raise ValueError(f"evaluate_grid: the inference batch size must be >= 1, got {size!r}")
    if prepared_batches < 1:
        raise ValueError(f"evaluate_grid: prepared_batches must be >= 1, got {prepared_batches!r}")
    y_true = np.asarray(source.labels)
    predictions: dict[tuple[Hashable, str, int], np.ndarray] = {}
    probabilities: dict[tuple[Hashable, str, int], np.ndarray] = {}
    outputs: list[dict[Hashable, list[np.ndarray]]] = [{key: [] for key in predictors} for _ in conditions]
    bar = tqdm(total=len(conditions), desc="evaluating", unit="condition", disable=not progress)
    seen = 0
    if batched:
        # Split only into equal parts, so the joined batches are exactly those of `size`.
        spoil_size = SPOIL_BATCH_SIZE if size > SPOIL_BATCH_SIZE and size % SPOIL_BATCH_SIZE == 0 else size
        stream = _rebatched(
            _condition_stream(
                source, conditions, clip_samples, spoil_size, seed, prepared_batches * -(-size // spoil_size)
            ),
            len(source),
            size,
        )
    else:
        stream = (
            (index, waveforms)
            for index, condition in enumerate(conditions)
            for waveforms, _ in evaluation_dataset(
                source, clip_samples, size, condition.corruption, condition.severity, seed, batched=False
            )
        )
    for index, waveforms in stream:
        index = int(index)
        if index >= seen:  # a new condition has started; the ones before it are done
            bar.update(index + 1 - seen)
            bar.set_postfix_str(f"{conditions[index].name} {conditions[index].severity}")
            seen = index + 1
        for key, predict in predictors.items():
            outputs[index][key].append(np.asarray(predict(waveforms), np.float32))
    bar.update(len(conditions) - seen)
    bar.close()
    for condition, condition_outputs in zip(conditions, outputs):
        for key, parts in condition_outputs.items():
            condition_key = (key, condition.name, condition.severity)
            probabilities[condition_key] = np.concatenate(parts)
            # argmax of NaN is 0: a broken model or clip would silently vote for class 0.
            check_finite_probabilities(
                probabilities[condition_key],
                source.clip_ids,
                f"model {key}, {condition.name}" + (f" severity {condition.severity}" if condition.corruption else ""),
            )
            predictions[condition_key] = np.argmax(probabilities[condition_key], axis=-1)
    return GridResult(y_true, predictions, probabilities)


def _condition_stream(
    source: ClipSource,
    conditions: Sequence[Condition],
    clip_samples: int,
    batch_size: int,
    seed: int,
    prepared_batches: int,
) -> Iterator[tuple[int, tf.Tensor]]:
    """`(condition index, waveforms [b, clip_samples])` for every condition in turn, `prepared_batches` ahead.

    A background thread builds and runs the `tf.data` pipelines while the caller runs the models: the spoiling
    (TensorFlow ops) and the tracing of the next corruption's map (Python, which the models' ops leave free
    while they run) overlap the models' work. Consecutive conditions of one corruption (its severities) share
    one map, the severity carried in the element: tracing a corruption and instantiating its map cost about a
    second, more than spoiling a small test set, so they are paid once per corruption, not per condition.
    """
    for condition in conditions:
        if condition.corruption is not None and condition.severity not in (1, 2, 3, 4, 5):
            raise ValueError(f"severity must be in 1..5 for corruption {condition.name!r}, got {condition.severity!r}")
    # The crops are the same for every condition: cut once and kept in memory, unless that would be large
    # (a source streamed from disk is read again for each condition instead).
    crops = cropped_batches(source, clip_samples, batch_size)
    if len(source) * clip_samples * 4 <= CROP_CACHE_BYTES:
        crops = crops.cache()
    batches = -(-len(source) // batch_size)

    def parts() -> Iterator[tf.data.Dataset]:
        for corruption, members in itertools.groupby(enumerate(conditions), key=lambda item: item[1].corruption):
            members = list(members)
            tags = tf.data.Dataset.from_tensor_slices(
                (
                    np.repeat([index for index, _ in members], batches).astype(np.int32),
                    np.repeat([condition.severity for _, condition in members], batches).astype(np.int32),
                )
            )
            part = tf.data.Dataset.zip((crops.repeat(len(members)), tags))
            yield part.map(
                _spoiler(corruption, seed), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            ).prefetch(1)

    return _in_background((element for part in parts() for element in part), prepared_batches)


def _rebatched(stream: Iterator[tuple[int, tf.Tensor]], clips: int, size: int) -> Iterator[tuple[int, tf.Tensor]]:
    """`(condition index, waveforms)` sub-batches of a condition of `clips` clips joined into batches of `size`
    (the condition's last one smaller): the models get the batches they would get unsplit."""
    pending: list[tf.Tensor] = []
    pending_index, pending_clips, seen = None, 0, 0
    for index, waveforms in stream:
        index = int(index)
        if index != pending_index:
            pending_index, seen = index, 0
        pending.append(waveforms)
        pending_clips += int(waveforms.shape[0])
        seen += int(waveforms.shape[0])
        if pending_clips >= size or seen == clips:
            yield index, pending[0] if len(pending) == 1 else tf.concat(pending, axis=0)
            pending, pending_clips = [], 0
    if pending:
        raise RuntimeError("evaluate_grid: a condition's stream ended part-way through a batch")


_DONE = object()


def _in_background(elements: Iterator, buffer: int) -> Iterator:
    """Run the iterator `elements` in a thread, up to `buffer` items ahead; its errors are raised here."""
    queue: Queue = Queue(maxsize=buffer)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce():
        try:
            for element in elements:
                if not put(element):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Failure(error))

    thread = threading.Thread(target=produce, name="evaluate_grid conditions", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


@dataclasses.dataclass
class _Failure:
    error: BaseException


def _spoiler(corruption: Corruption | None, seed: int) -> Callable:
    """The map of one corruption's conditions: `((recordings, lengths, labels, clip hashes), (index, severity))`
    -> `(index, spoiled waveforms)`."""

    def spoil(crops, tag):
        (recordings, lengths, _, clip_hashes), (index, severity) = crops, tag
        return index, spoil_batch(recordings, lengths, clip_hashes, corruption, severity, seed)

    return spoil


def utterance_probabilities(
    predictors: Mapping[Hashable, PredictFunction],
    source: ClipSource,
    clip_samples: int,
    batch_size: int,
    clips_per_chunk: int = 64,
) -> dict[Hashable, np.ndarray]:
    """Per model, `[clips, classes]`: each test clip's window probabilities averaged (clean, whole clip).

    The windows of `clips_per_chunk` clips at a time are batched together (`batch_size` windows a call), so
    memory stays bounded and a long clip costs only its windows.
    """
    parts: dict[Hashable, list[np.ndarray]] = {key: [] for key in predictors}
    for first in range(0, len(source), clips_per_chunk):
        framed = [
            frame_windows(source.clip(int(source.offsets[i]), int(source.lengths[i])), clip_samples).numpy()
            for i in range(first, min(first + clips_per_chunk, len(source)))
        ]
        windows = np.concatenate(framed)
        owner = np.repeat(np.arange(len(framed)), [len(f) for f in framed])
        for key, predict in predictors.items():
            probabilities = np.concatenate(
                [
                    np.asarray(predict(tf.constant(windows[i : i + batch_size])), np.float32)
                    for i in range(0, len(windows), batch_size)
                ]
            )
            sums = np.zeros((len(framed), probabilities.shape[1]), np.float64)
            np.add.at(sums, owner, probabilities)
            parts[key].append((sums / np.bincount(owner)[:, None]).astype(np.float32))
    result = {key: np.concatenate(chunks) for key, chunks in parts.items()}
    for key, probabilities in result.items():
        check_finite_probabilities(probabilities, source.clip_ids, f"model {key}, whole clips")
    return result


def errors_by_corruption(rows: Sequence[Mapping]) -> dict[str, float]:
    """Per corruption, the error (1 - accuracy) summed over its rows (the severities of one model and run)."""
    table: dict[str, float] = {}
    for row in rows:
        if row["corruption"] != CLEAN:
            table[row["corruption"]] = table.get(row["corruption"], 0.0) + 1.0 - row["accuracy"]
    return table


def mce_reference_errors(
    reference_rows: Sequence[Mapping], run_fields: Sequence[str] = ("seed", "fold")
) -> dict[str, float]:
    """The mCE denominators: per corruption, the reference's summed error, averaged over the runs in the rows.

    Every seed's mCE divides by the same numbers, so seeds are compared on one scale: one seed's reference
    that happens to err on a single clip would otherwise turn that ratio into noise. Corruptions on which
    the reference's mean error per condition is below `MCE_MIN_REFERENCE_ERROR` are left out.

    Args:
        reference_rows: the reference model's metric rows, over every seed and fold of a run.
        run_fields: the fields that tell the runs apart (absent fields count as one run).
    """
    runs: dict[tuple, list[Mapping]] = {}
    for row in reference_rows:
        runs.setdefault(tuple(row.get(f) for f in run_fields), []).append(row)
    per_run = [errors_by_corruption(rows) for rows in runs.values()]
    conditions = (
        {name: sum(1 for r in reference_rows if r["corruption"] == name) / len(runs) for name in per_run[0]}
        if per_run
        else {}
    )
    mean_errors = {name: float(np.mean([errors[name] for errors in per_run])) for name in conditions}
    return {name: error for name, error in mean_errors.items() if error >= MCE_MIN_REFERENCE_ERROR * conditions[name]}


def at_or_below_majority(clean_accuracy: float, majority: float) -> bool:
    """Whether a clean accuracy fails to beat the majority-class baseline (answering one class does as well)."""
    return bool(clean_accuracy <= majority + MAJORITY_TOLERANCE)


def summarize(
    rows: Sequence[Mapping],
    key_fields: Sequence[str],
    reference: Mapping | None = None,
    reference_errors: Mapping[str, float] | None = None,
    majority: float | None = None,
) -> list[dict]:
    """Per model (the `key_fields` of a row): clean, mean and worst spoiled accuracy (each with its balanced
    accuracy), per-corruption means, mCE.

    mCE follows ImageNet-C: for each corruption, the model's errors summed over severities divided by the
    reference model's; then the mean over corruptions (1.0 = as robust as the reference, lower is better).
    Corruptions on which the reference makes almost no errors (mean error below `MCE_MIN_REFERENCE_ERROR`)
    are left out: a ratio against one or two misclassified clips is noise (one such corruption gave an mCE of
    25). They are listed in `mce_excluded`.

    A model whose clean accuracy does not beat the majority-class baseline (`majority`) is marked
    (`at_or_below_majority`) and gets no mCE (NaN, the reason in `mce_withheld`): a model that answers one
    class whatever it hears errs no more when the audio is spoiled, so its mCE would rank it the most robust.
    When the reference itself does not beat the baseline, no model gets an mCE.

    Args:
        rows: metric rows with `key_fields`, `corruption`, `severity`, `accuracy`.
        key_fields: the fields that identify a model (``model``, ``policy``, ...).
        reference: values of `key_fields` identifying the mCE reference; None leaves mCE out.
        reference_errors: the mCE denominators from `mce_reference_errors` (pass them to summarize one run
            of several against the reference's mean over all); None takes them from the reference's rows here.
        majority: the test set's majority-class accuracy (`majority_baseline`); None: no model is checked
            against it.
    """
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(tuple(row[f] for f in key_fields), []).append(row)
    reference_key = None if reference is None else tuple(reference[f] for f in key_fields)
    if reference_errors is None and reference_key in groups:
        reference_errors = mce_reference_errors(groups[reference_key])

    def mean_of(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    def clean_of(group: Sequence[Mapping]) -> float:
        return mean_of([r["accuracy"] for r in group if r["corruption"] == CLEAN])

    reference_collapsed = (
        majority is not None
        and reference_key in groups
        and at_or_below_majority(clean_of(groups[reference_key]), majority)
    )
    summaries = []
    for key, group in groups.items():
        clean = [r["accuracy"] for r in group if r["corruption"] == CLEAN]
        spoiled = [r for r in group if r["corruption"] != CLEAN]
        balanced = [r.get("balanced_accuracy", float("nan")) for r in group if r["corruption"] == CLEAN]
        per_corruption: dict[str, list[float]] = {}
        per_corruption_balanced: dict[str, list[float]] = {}
        for row in spoiled:
            per_corruption.setdefault(row["corruption"], []).append(row["accuracy"])
            per_corruption_balanced.setdefault(row["corruption"], []).append(row.get("balanced_accuracy", float("nan")))
        means = {name: float(np.mean(values)) for name, values in per_corruption.items()}
        worst = min(means, key=means.get) if means else None
        summary = {
            **dict(zip(key_fields, key)),
            "clean": mean_of(clean),
            "clean_balanced": mean_of(balanced),
            "mean_spoiled": mean_of([r["accuracy"] for r in spoiled]),
            "mean_spoiled_balanced": mean_of([r.get("balanced_accuracy", float("nan")) for r in spoiled]),
            "worst_corruption": worst,
            "worst_accuracy": means[worst] if worst else float("nan"),
            "per_corruption": means,
            "per_corruption_balanced": {name: mean_of(values) for name, values in per_corruption_balanced.items()},
        }
        if majority is not None:
            summary["majority"] = float(majority)
            summary["at_or_below_majority"] = at_or_below_majority(summary["clean"], majority)
        if reference is not None and reference_errors is not None:
            ratios = [
                errors / reference_errors[name]
                for name, errors in errors_by_corruption(group).items()
                if name in reference_errors
            ]
            summary["mce"] = float(np.mean(ratios)) if ratios else float("nan")
            summary["mce_excluded"] = sorted(set(per_corruption) - set(reference_errors))
            if summary.get("at_or_below_majority"):
                summary["mce"] = float("nan")
                summary["mce_withheld"] = "its clean accuracy does not beat the majority-class baseline"
            elif reference_collapsed:
                summary["mce"] = float("nan")
                summary["mce_withheld"] = "the reference's clean accuracy does not beat the majority-class baseline"
        summaries.append(summary)
    return summaries
