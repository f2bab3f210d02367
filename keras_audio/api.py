"""Use a trained model: `load_model(export_dir)` -> a `Classifier` for files, waveforms and long recordings.

The input is prepared exactly as the run's evaluation prepares it, by the same functions, so a user gets
what the tables measured:

- a file is read by `keras_audio.audio.read_audio` (any format libsndfile reads, any rate, stereo
  downmixed, resampled with soxr): the reader the decode cache uses;
- an array is downmixed and resampled in the same order with the same resampler (`audio.resample`);
- mode ``center`` feeds `windowing.center_crop_or_pad(waveform, clip_samples)`, evaluation's input
  (`pipeline.spoil_clip` without a corruption); mode ``windows`` feeds the windows of `windowing.frame_windows`
  (windows of the clip length, half a window apart, the last one ending at the end of the file) and averages
  the windows' probabilities: the utterance-level answer.

A file is answered in mode ``windows`` without ever being held whole: it is read in blocks
(`audio.read_audio_blocks`, the same samples as `read_audio`), cut into windows as the blocks arrive
(`windowing.WindowStream`) and the windows go through the model `batch_size` at a time, in the batches the
whole waveform would give. Only the per-window probabilities are kept, so memory does not grow with the
file beyond them (a few bytes per window and class).

Class names, sample rate, clip length and the shortest input come from the export's metadata, read by the
suite's one loader (`loader.load_predictor`, which evaluation uses too): the copy inside the SavedModel,
checked against metadata.json beside it, or metadata.json alone for an older export.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import types
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from keras_audio.audio import (
    DEFAULT_BLOCK_SECONDS,
    MAX_ABS_SAMPLE,
    MIN_SAMPLE_RATE,
    read_audio,
    read_audio_blocks,
    resample,
)
from keras_audio.export import analysis_window
from keras_audio.grid import PredictFunction, keras_predictor
from keras_audio.loader import load_predictor, metadata_min_samples
from keras_audio.windowing import WindowStream, center_crop_or_pad

MODES = ("windows", "center")
DEFAULT_BATCH_SIZE = 32


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a model needs to know about its input, and what its outputs mean.

    Attributes:
        class_names: in the order of the probabilities.
        sample_rate: the model's rate in Hz; input at other rates is resampled to it.
        clip_samples: the length the model was trained and evaluated at (the window length).
        min_samples: the shortest input it can answer (one analysis window, `n_fft`).
        metadata: everything else the export recorded (read-only).
    """

    class_names: tuple[str, ...]
    sample_rate: int
    clip_samples: int
    min_samples: int = 1
    metadata: Mapping = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "metadata", types.MappingProxyType(dict(self.metadata)))
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"ModelInfo: class_names must be at least two distinct names, got {self.class_names}")
        for name in ("sample_rate", "clip_samples", "min_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ModelInfo: {name} must be a positive int, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.min_samples > self.clip_samples:
            raise ValueError(f"ModelInfo: min_samples ({self.min_samples}) exceeds clip_samples ({self.clip_samples})")

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> ModelInfo:
        """From an export's metadata (`min_samples`, or the front-end's `n_fft` for older exports)."""
        try:
            return cls(
                tuple(metadata["class_names"]),
                int(metadata["sample_rate"]),
                int(metadata["clip_samples"]),
                min(metadata_min_samples(metadata), int(metadata["clip_samples"])),
                metadata,
            )
        except KeyError as missing:
            raise ValueError(f"export metadata lacks {missing}") from None


def _positive_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value)) and value > 0


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)  # a copy: the table must not change when the caller's array does
    array.flags.writeable = False
    return array


@dataclasses.dataclass(frozen=True)
class WindowTable:
    """Per-window predictions over one recording.

    Attributes:
        start_s, end_s: `[windows]` the span of audio each window covers, in seconds from the start (a
            window of a clip shorter than the model's clip length covers the whole clip; its zero padding is
            not counted).
        probabilities: `[windows, classes]` the model's probabilities per window (never smoothed).
        label_ids: `[windows]` the label per window: the most probable class, or after `smooth`, the majority
            of the `smooth` windows centred on it.
        class_names: the classes, in the order of the probability columns.
        smooth: the smoothing width in windows (0: none).
    """

    start_s: np.ndarray
    end_s: np.ndarray
    probabilities: np.ndarray
    label_ids: np.ndarray
    class_names: tuple[str, ...]
    smooth: int = 0

    def __post_init__(self):
        for name in ("start_s", "end_s", "probabilities", "label_ids"):
            object.__setattr__(self, name, _read_only(getattr(self, name)))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        count = len(self.start_s)
        if not (
            len(self.end_s) == len(self.label_ids) == count
            and self.probabilities.shape == (count, len(self.class_names))
        ):
            raise ValueError(
                f"WindowTable: inconsistent sizes: {count} starts, {len(self.end_s)} ends, "
                f"probabilities {self.probabilities.shape}, {len(self.label_ids)} labels, "
                f"{len(self.class_names)} classes"
            )

    def __len__(self) -> int:
        return len(self.start_s)

    @property
    def labels(self) -> list[str]:
        return [self.class_names[i] for i in self.label_ids]

    def mean_probabilities(self) -> np.ndarray:
        """`[classes]` the mean over windows: the file-level answer."""
        return self.probabilities.mean(axis=0)

    def rows(self) -> list[dict]:
        """One dict per window: ``start_s``, ``end_s``, ``p_<class>`` per class, ``label``."""
        return [
            {
                "start_s": float(start),
                "end_s": float(end),
                **{f"p_{name}": float(p) for name, p in zip(self.class_names, probabilities)},
                "label": self.class_names[label],
            }
            for start, end, probabilities, label in zip(self.start_s, self.end_s, self.probabilities, self.label_ids)
        ]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A model's answer for one recording.

    Attributes:
        label: the most probable class of `probabilities`.
        probabilities: `[classes]` the mean of the windows' probabilities (mode ``windows``), or the centre
            crop's (mode ``center``).
        class_names: the classes, in the order of `probabilities`.
        windows: the per-window table (one row in mode ``center``).
        mode: ``windows`` or ``center``.
        duration_s: the recording's length at the model's rate, in seconds.
        source: the file read, or None for an array.
    """

    label: str
    probabilities: np.ndarray
    class_names: tuple[str, ...]
    windows: WindowTable
    mode: str
    duration_s: float
    source: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "probabilities", _read_only(self.probabilities))

    @property
    def label_id(self) -> int:
        return self.class_names.index(self.label)

    @property
    def scores(self) -> dict[str, float]:
        """Class name -> probability."""
        return {name: float(p) for name, p in zip(self.class_names, self.probabilities)}


def smooth_labels(label_ids: np.ndarray, width: int, num_classes: int) -> np.ndarray:
    """Median smoothing of a label sequence: each label becomes the majority of the `width` labels centred on it.

    For two classes this is exactly a median filter of the 0/1 labels (edges repeated, as
    `scipy.ndimage.median_filter(mode="nearest")`); for more classes, the median of each class's 0/1 track,
    i.e. a class holding more than half of the neighbourhood. Where no class does, the label is kept.

    Args:
        label_ids: `[windows]` ints in `0..num_classes-1`.
        width: an odd number of windows >= 1 (1: unchanged).
        num_classes: the number of classes.
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1 or width % 2 == 0:
        raise ValueError(f"smooth must be 0 (off) or an odd number of windows >= 1, got {width!r}")
    label_ids = np.asarray(label_ids, dtype=np.int64)
    if width == 1 or label_ids.size == 0:
        return label_ids.copy()
    half = width // 2
    padded = np.pad(label_ids, half, mode="edge")
    neighbourhoods = np.lib.stride_tricks.sliding_window_view(padded, width)  # [windows, width]
    counts = np.stack([(neighbourhoods == c).sum(axis=1) for c in range(num_classes)], axis=1)
    majority = counts.argmax(axis=1)
    return np.where(counts.max(axis=1) > half, majority, label_ids)


class Classifier:
    """A trained classifier with the input preparation of the run's evaluation (see the module docstring).

    Build one with `load_model(export_dir)`, or `Classifier.from_keras(model, ...)` for a model in memory.

    Args:
        predict: waveforms `[batch, samples]` float32 at `info.sample_rate` -> probabilities `[batch, classes]`.
        info: what the model takes and answers.
        batch_size: windows per call of `predict`.
        source: where the model came from (shown in `repr`).
    """

    def __init__(
        self, predict: PredictFunction, info: ModelInfo, batch_size: int = DEFAULT_BATCH_SIZE, source: str | None = None
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self._predict = predict
        self._info = info
        self._batch_size = batch_size
        self._source = source

    @classmethod
    def from_keras(
        cls,
        model,
        *,
        class_names: Sequence[str],
        sample_rate: int,
        clip_samples: int,
        min_samples: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> Classifier:
        """A classifier around a Keras model in memory (called compiled, in inference mode)."""
        info = ModelInfo(
            tuple(class_names),
            sample_rate,
            clip_samples,
            analysis_window(model) if min_samples is None else min_samples,
        )
        return cls(keras_predictor(model), info, batch_size, source=getattr(model, "name", None))

    # ------------------------------------------------------------------ what the model is
    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._info.class_names

    @property
    def sample_rate(self) -> int:
        return self._info.sample_rate

    @property
    def clip_samples(self) -> int:
        return self._info.clip_samples

    @property
    def clip_seconds(self) -> float:
        return self._info.clip_seconds

    @property
    def min_samples(self) -> int:
        return self._info.min_samples

    @property
    def metadata(self) -> Mapping:
        return self._info.metadata

    def __repr__(self) -> str:
        return (
            f"Classifier({self._source or 'in memory'}: {len(self.class_names)} classes "
            f"{list(self.class_names)}, {self.sample_rate} Hz, clips of {self.clip_seconds:g} s)"
        )

    # ------------------------------------------------------------------ input
    def read(self, path: str | os.PathLike, max_seconds: float | None = None) -> np.ndarray:
        """A file as the model's input: mono float32 at the model's rate (`audio.read_audio`).

        Raises:
            AudioError: the file cannot be used (missing, unreadable, silent, too short, ...), naming it.
        """
        return read_audio(path, self.sample_rate, min_samples=self.min_samples, max_seconds=max_seconds)

    def prepare(self, samples, sample_rate: int) -> np.ndarray:
        """An array as the model's input: mono float32 at the model's rate.

        Args:
            samples: `[samples]` mono, or `[samples, channels]` (soundfile's layout), floats in [-1, 1].
            sample_rate: the rate of `samples` in Hz.

        Raises:
            ValueError: a rate below `audio.MIN_SAMPLE_RATE`, no samples, NaN or infinite samples, samples beyond
                `audio.MAX_ABS_SAMPLE`, another layout, too short for one analysis window.
        """
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
        if sample_rate < MIN_SAMPLE_RATE:  # the rule files follow (`audio.MIN_SAMPLE_RATE`)
            raise ValueError(f"sample_rate {sample_rate} Hz is implausible (below {MIN_SAMPLE_RATE} Hz)")
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 2 and data.shape[1] > data.shape[0]:
            raise ValueError(f"samples of shape {data.shape} look like [channels, samples]; pass [samples, channels]")
        if data.ndim not in (1, 2):
            raise ValueError(f"samples must be [samples] or [samples, channels], got shape {data.shape}")
        if data.size == 0:
            raise ValueError("samples: empty (no samples)")
        if not np.all(np.isfinite(data)):
            raise ValueError(f"samples: {int(np.sum(~np.isfinite(data)))} NaN or infinite sample(s)")
        if np.max(np.abs(data)) > MAX_ABS_SAMPLE:  # read_audio's limit: mis-scaled audio would overflow the features
            raise ValueError(
                f"samples: magnitude {np.max(np.abs(data)):.3g} exceeds {MAX_ABS_SAMPLE:g} (audio is full scale at 1.0)"
            )
        # The order of read_audio: downmix (mean of the channels), then resample.
        waveform = data.mean(axis=1) if data.ndim == 2 and data.shape[1] > 1 else data.reshape(len(data))
        waveform = resample(waveform, int(sample_rate), self.sample_rate)
        if len(waveform) < self.min_samples:
            raise ValueError(
                f"samples: too short: {len(waveform)} samples at {self.sample_rate} Hz < one analysis "
                f"window ({self.min_samples})"
            )
        return np.ascontiguousarray(waveform, dtype=np.float32)

    # ------------------------------------------------------------------ prediction
    def probabilities(self, waveforms: np.ndarray) -> np.ndarray:
        """The model on prepared waveforms `[batch, samples]` at its rate, in batches: `[batch, classes]`."""
        waveforms = np.asarray(waveforms, np.float32)
        if waveforms.ndim != 2 or waveforms.shape[0] == 0:
            raise ValueError(f"waveforms must be [batch, samples] with batch >= 1, got shape {waveforms.shape}")
        parts = [
            np.asarray(self._predict(tf.constant(waveforms[i : i + self._batch_size])))
            for i in range(0, len(waveforms), self._batch_size)
        ]
        return np.concatenate(parts).astype(np.float32)

    def predict_waveform(
        self,
        samples,
        sample_rate: int,
        mode: str = "windows",
        *,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        smooth: int = 0,
    ) -> Prediction:
        """Classify one recording held in memory.

        Args:
            samples: `[samples]` or `[samples, channels]` floats.
            sample_rate: their rate in Hz (resampled to the model's with soxr if different).
            mode: ``windows`` (the mean of the windows' probabilities: the whole recording) or ``center``
                (the centre `clip_samples`, zero-padded if shorter: what the centre-crop tables measure).
            window_seconds, hop_seconds, smooth: as in `predict_windows` (mode ``windows`` only).
        """
        return self._predict_prepared(
            self.prepare(samples, sample_rate), mode, window_seconds, hop_seconds, smooth, None
        )

    def predict_file(
        self,
        path: str | os.PathLike,
        mode: str = "windows",
        *,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        smooth: int = 0,
        max_seconds: float | None = None,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        on_samples: Callable[[np.ndarray], object] | None = None,
    ) -> Prediction:
        """Classify one audio file (any format libsndfile reads, any rate, stereo): see `predict_waveform`.

        Mode ``windows`` reads the file in blocks and never holds it whole (module docstring); mode ``center``
        reads it whole.

        Args:
            max_seconds: refuse longer files (None: no limit).
            block_seconds: source seconds read at a time (mode ``windows``); the answer does not depend on it.
            on_samples: called with each block of the prepared waveform (mono, the model's rate) in order,
                e.g. `timeline.TimelineSpectrogram.add`, so that a caller needing the audio reads it only once.

        Raises:
            AudioError: the file cannot be used, naming it and the problem.
        """
        if mode == "windows":
            table, size = self._stream_table(
                self._blocks(path, max_seconds, block_seconds), window_seconds, hop_seconds, smooth, on_samples
            )
            return self._prediction(table.mean_probabilities(), table, mode, size, str(path))
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        waveform = self.read(path, max_seconds)
        if on_samples is not None:
            on_samples(waveform)
        return self._predict_prepared(waveform, mode, window_seconds, hop_seconds, smooth, str(path))

    def predict_windows(
        self,
        samples_or_path,
        sample_rate: int | None = None,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        smooth: int = 0,
    ) -> WindowTable:
        """Per-window probabilities over a recording (a file path, or an array with its `sample_rate`).

        Args:
            samples_or_path: a path (read in blocks, as `predict_file` reads it), or `[samples]` /
                `[samples, channels]` floats.
            sample_rate: the array's rate in Hz; must be None for a path (the file says).
            window_seconds: window length (default: the model's clip length, what it was trained on).
            hop_seconds: between window starts (default: half a window); at most one window.
            smooth: 0 (off) or an odd number of windows: each window's label becomes the majority label of the
                `smooth` windows centred on it (`smooth_labels`); the probabilities are not smoothed.
        """
        if isinstance(samples_or_path, (str, os.PathLike)):
            if sample_rate is not None:
                raise ValueError(f"{samples_or_path}: sample_rate is read from the file; do not pass it")
            return self._stream_table(
                self._blocks(samples_or_path, None, DEFAULT_BLOCK_SECONDS), window_seconds, hop_seconds, smooth
            )[0]
        if sample_rate is None:
            raise ValueError("predict_windows: an array needs its sample_rate")
        return self._window_table(self.prepare(samples_or_path, sample_rate), window_seconds, hop_seconds, smooth)

    # ------------------------------------------------------------------ internals
    def _window_samples(self, window_seconds: float | None, hop_seconds: float | None) -> tuple[int, int | None]:
        window = self.clip_samples
        if window_seconds is not None:
            if not _positive_number(window_seconds):
                raise ValueError(f"window_seconds must be a positive number, got {window_seconds!r}")
            window = int(round(window_seconds * self.sample_rate))
            if window < self.min_samples:
                raise ValueError(
                    f"window_seconds={window_seconds}: {window} samples, fewer than one analysis "
                    f"window ({self.min_samples} at {self.sample_rate} Hz)"
                )
        if hop_seconds is None:
            return window, None
        if not _positive_number(hop_seconds):
            raise ValueError(f"hop_seconds must be a positive number, got {hop_seconds!r}")
        hop = max(1, int(round(hop_seconds * self.sample_rate)))
        if hop > window:
            raise ValueError(
                f"hop_seconds={hop_seconds} exceeds the window ({window / self.sample_rate:g} s): "
                "audio between windows would not be analysed"
            )
        return window, hop

    def _table(self, starts: np.ndarray, window: int, size: int, probabilities: np.ndarray, smooth: int) -> WindowTable:
        label_ids = probabilities.argmax(axis=1)
        if smooth:
            label_ids = smooth_labels(label_ids, smooth, len(self.class_names))
        starts = np.asarray(starts, np.int64)
        return WindowTable(
            start_s=np.maximum(starts, 0) / self.sample_rate,
            end_s=np.minimum(starts + window, size) / self.sample_rate,
            probabilities=probabilities,
            label_ids=label_ids,
            class_names=self.class_names,
            smooth=int(smooth),
        )

    def _blocks(self, path, max_seconds, block_seconds):
        """The file as the model's input, in blocks (`audio.read_audio_blocks`; `read` in one piece)."""
        return read_audio_blocks(
            path, self.sample_rate, min_samples=self.min_samples, max_seconds=max_seconds, block_seconds=block_seconds
        )

    def _stream_table(self, blocks, window_seconds, hop_seconds, smooth, on_samples=None) -> tuple[WindowTable, int]:
        """`(table, samples)` of a prepared waveform given in blocks: windows cut as the blocks come, through the
        model in full batches of `batch_size` while reading and the rest at the end, the batches the whole
        waveform gives, so the probabilities do not depend on the blocks."""
        if smooth != 0:
            smooth_labels(np.zeros(1, np.int64), smooth, len(self.class_names))  # validates `smooth` first
        window, hop = self._window_samples(window_seconds, hop_seconds)
        stream = WindowStream(window, hop)
        starts, probabilities = [], []

        def predict_ready(last: bool) -> None:
            while stream.ready() >= self._batch_size or (last and stream.ready()):
                batch_starts, windows = stream.take(self._batch_size)
                starts.append(batch_starts)
                probabilities.append(self.probabilities(windows))

        for block in blocks:
            if on_samples is not None:
                on_samples(block)
            stream.add(block)
            predict_ready(last=False)
        stream.finish()
        predict_ready(last=True)
        table = self._table(np.concatenate(starts), window, stream.samples, np.concatenate(probabilities), smooth)
        return table, stream.samples

    def _window_table(self, waveform: np.ndarray, window_seconds, hop_seconds, smooth) -> WindowTable:
        return self._stream_table([waveform], window_seconds, hop_seconds, smooth)[0]

    def _prediction(
        self, probabilities: np.ndarray, table: WindowTable, mode: str, size: int, source: str | None
    ) -> Prediction:
        label = self.class_names[int(np.argmax(probabilities))]
        return Prediction(label, probabilities, self.class_names, table, mode, size / self.sample_rate, source)

    def _predict_prepared(
        self, waveform: np.ndarray, mode: str, window_seconds, hop_seconds, smooth, source: str | None
    ) -> Prediction:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "windows":
            table = self._window_table(waveform, window_seconds, hop_seconds, smooth)
            probabilities = table.mean_probabilities()
        else:
            if window_seconds is not None or hop_seconds is not None or smooth:
                raise ValueError(
                    "mode 'center' takes the centre clip_samples: window_seconds, hop_seconds and "
                    "smooth apply to mode 'windows'"
                )
            clip = center_crop_or_pad(tf.constant(waveform), self.clip_samples).numpy()
            probabilities = self.probabilities(clip[None])[0]
            start = (
                (len(waveform) - self.clip_samples) // 2
                if len(waveform) > self.clip_samples
                else -((self.clip_samples - len(waveform)) // 2)
            )
            table = self._table(np.array([start]), self.clip_samples, len(waveform), probabilities[None], 0)
        return self._prediction(probabilities, table, mode, len(waveform), source)


def load_model(
    export_dir: str | os.PathLike,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    class_names: Sequence[str] | None = None,
    sample_rate: int | None = None,
    clip_seconds: float | None = None,
) -> Classifier:
    """Load a model through the suite's one loader (`loader.load_predictor`): an export folder written by a
    run (`results/<run>/models/<tag>/`), its ``saved_model/``, its ``model.keras`` or its ``.tflite`` /
    ``.onnx`` copies, or a model from elsewhere (a `.keras` file, a SavedModel, an ONNX or TFLite file).

    Works for every family the suite exports: a Keras model's SavedModel, and the scikit-learn baselines'
    feature extractor + estimator.

    Args:
        class_names, sample_rate, clip_seconds: describe a model without metadata (an export's own are used,
            and a value contradicting them is refused).

    Raises:
        ValueError: not a model (naming what is missing), a model without metadata and without these
            values, a value contradicting the export's metadata, or metadata.json disagreeing with the
            SavedModel's copy.
    """
    model = load_predictor(export_dir, class_names=class_names, sample_rate=sample_rate, clip_seconds=clip_seconds)
    info = ModelInfo(model.class_names, model.sample_rate, model.clip_samples, model.min_samples, model.metadata)
    return Classifier(model.predict, info, batch_size, source=str(model.source))
