"""Speed benchmark: features/s, training examples/s, evaluation clips/s, SavedModel latency and peak memory, on
the same clips, each also as GFLOP/s and as a fraction of the machine's measured matrix-product throughput.

    python benchmarks/speed.py                              # generated corpus, 3,000 clips of 3 s
    python benchmarks/speed.py --corpus fsdd --data-dir ../shared/data/fsdd --clips 2000
    python benchmarks/speed.py --stages features --repeats 3 --json speed.json
    python benchmarks/speed.py --quick                      # tiny sizes: checks that everything runs
    python benchmarks/speed.py --seconds 2 --stages machine train_conv2d_pipeline evaluation   # fractions of matmul
    python benchmarks/speed.py --stages machine evaluation --eval-models ge2e aisfx           # pretrained encoders

What it measures, every stage on the same clips (3 s at 16 kHz, n_fft 512, window 400, hop 160, 64 mels):

0. ``matmul``: the machine's sustained `tf.linalg.matmul` rate (2048 × 2048 float32, 2·n³ FLOPs a product,
   median of 5 timings; `throughput.matmul_rates`), in its own process like every stage. Every figure with a
   FLOP count is also given in GFLOP/s and as a fraction of it ("of matmul"). The FLOPs per clip are counted
   once, in the prepare process, by TensorFlow's profiler on the real models' frozen inference graphs
   (`throughput.flop_counts`: the FFTs and the recurrent layers' steps, which the profiler misses, added):
   features = the `LogMelSpectrogram` layer alone; training = features + 3 × the rest (backward ≈ 2 ×
   forward; no gradient flows into the weightless front-end); evaluation = the models' forward passes
   (corruptions not counted, so the spoiled figure's fraction is a lower bound). The pretrained encoders are
   counted only when `--eval-models` names them (building them needs their packages' weights).
1. Features per second:
   - ``homework``: the homework's preprocessing, a Python loop of per-clip NumPy STFT + mel product (power
     mel, no dB), re-created in `homework_baseline.py`; the baseline every feature figure is divided by;
   - ``librosa``: a Python loop of `librosa.feature.melspectrogram` + `librosa.power_to_db` per clip;
   - ``tfdata`` / ``tfdata_noise`` / ``tfdata_suite``: this suite's training stream
     (`pipeline.training_dataset`: shuffle, crop, per-example seeds), batched, with the `LogMelSpectrogram`
     layer mapped over each batch inside `tf.data` (a parallel map after `batch`), clean, with white noise
     on every clip (the ``noise`` policy at probability 1), and with the ``suite`` training policy (a random
     corruption on half the clips, as `run.py` trains). In a real run the layer sits in the model and runs
     in the training step; here it runs in the pipeline so the figure is features alone, with no model.
   Every method materialises its features as NumPy arrays in a list, as the homework did.
   ``features_paired`` measures the four methods the targets compare in one process, in turn, on chunks of
   `--paired-chunk` clips, `--paired-rounds` times: the targets are checked on ratios of the same round
   (robust to load that changes between stage processes); the separate stages give each method's memory.
2. Training examples per second of Conv1D, Conv2D and CRNN (the feature layer inside the model): ``memory``:
   `model.fit` on NumPy arrays of the clips (the in-memory baseline); ``pipeline``: `model.fit` on
   `training_dataset` (policy none); ``noise``: the same with the ``noise`` policy. Same model, batch size
   and steps; the first epoch is a warm-up, the later epochs are timed; `steps_per_epoch` in both.
3. ``evaluation``: every `--eval-models` model's compiled forward pass (`grid.keras_predictor`) on
   batches of `--eval-batch` prepared clips (clips/s per model, and every model on each batch in turn, as the
   evaluation runs them); and `grid.evaluate_grid` on clean + the whole suite at `--eval-severities` over
   the first `--eval-clips` clips, every model on each condition (clip-conditions/s, one pass, each
   corruption's first use included). The models are untrained: the cost does not depend on the weights.
   `--eval-models` may also name the pretrained-encoder families ``ge2e`` (GE2E speaker encoder: 40-band mel,
   3 LSTM layers per 1.6-s partial utterance) and ``aisfx`` (9-layer CNN on 96-band mel blocks, resampled to
   44.1 kHz in the graph), each with its linear head: their forward passes are measured the same way.
4. The exported SavedModel (`export.export_model`, reloaded with `tf.saved_model.load`, the serving
   signature): latency for one clip (median of many calls, after a warm-up) and clips/s at batch 64. The
   model is untrained: latency does not depend on the weights.
5. Peak resident memory of each stage: every stage runs in a fresh process (`--stage NAME`), which
   reports `ru_maxrss`; the "at start" column is its resident memory with the clips loaded.
6. Ratios: features against the homework's preprocessing (and the librosa loop), training against the
   in-memory baseline of the same model; fractions of the matmul rate (issue 15's targets: training and the
   spoiled evaluation at >= 50 %).

The stages run `--repeats` times in rounds (every stage once per round, in turn), so load from other
processes spreads over all of them; each figure is the median of every pass of every round. The load
average before and after each stage is recorded, and printed, and so is every rate per second of the
process's own CPU time (less disturbed by other processes than wall-clock rates; but under load a process
with more threads, as tf.data has, gets a larger share of the cores: measure on an idle machine).

When `benchmarks/corruption_cost.py` exists, its per-corruption costs are printed as a further section.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
for _path in (str(REPO), str(BENCHMARKS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from homework_baseline import HomeworkMel, librosa_features  # noqa: E402
from throughput import flop_counts, matmul_rates  # noqa: E402

from keras_audio.config import FeatureConfig  # noqa: E402

FEATURE_STAGES = ("homework", "librosa", "tfdata", "tfdata_noise", "tfdata_suite")
PAIRED_STAGE = "features_paired"  # the target comparisons, interleaved in one process
PAIRED_METHODS = ("homework", "librosa", "tfdata", "tfdata_noise")
MODELS = ("conv1d", "conv2d", "crnn")
ENCODERS = ("ge2e", "aisfx")  # pretrained-encoder families (`keras_audio.models.pretrained`): evaluation only
FEEDS = ("memory", "pipeline", "noise")
TRAINING_STAGES = tuple(f"train_{model}_{feed}" for model in MODELS for feed in FEEDS)
SAVEDMODEL_STAGES = tuple(f"savedmodel_{model}" for model in MODELS)
MATMUL_STAGE = "matmul"  # the machine's sustained matrix-product rate: every "of matmul" fraction divides by it
EVALUATION_STAGE = "evaluation"
CORRUPTION_COST_STAGE = "corruption_cost"
STAGES = (
    (MATMUL_STAGE,)
    + FEATURE_STAGES
    + (PAIRED_STAGE,)
    + TRAINING_STAGES
    + (EVALUATION_STAGE,)
    + SAVEDMODEL_STAGES
    + (CORRUPTION_COST_STAGE,)
)
GROUPS = {
    "features": FEATURE_STAGES + (PAIRED_STAGE,),
    "training": TRAINING_STAGES,
    "savedmodel": SAVEDMODEL_STAGES,
    "corruptions": (CORRUPTION_COST_STAGE,),
    "evaluation": (EVALUATION_STAGE,),
    "machine": (MATMUL_STAGE,),
}

# The targets (issue 7), checked on the printed figures.
TARGETS = (
    ("tf.data log-mel >= 8x the librosa loop", "tfdata", "librosa", 8.0),
    ("tf.data log-mel >= 3x the homework's numpy loop", "tfdata", "homework", 3.0),
    ("tf.data log-mel with white noise >= 5x the librosa loop", "tfdata_noise", "librosa", 5.0),
    ("conv1d: on-the-fly training within 1.3x of in-memory", "train_conv1d_pipeline", "train_conv1d_memory", 1 / 1.3),
    ("conv2d: on-the-fly training within 1.3x of in-memory", "train_conv2d_pipeline", "train_conv2d_memory", 1 / 1.3),
)
# Issue 15's targets: these figures at >= this fraction of the measured matrix-product throughput.
FRACTION_TARGETS = (
    ("conv2d training on the pipeline >= 50 % of matmul", "train_conv2d_pipeline", 0.5),
    ("crnn training on the pipeline >= 50 % of matmul", "train_crnn_pipeline", 0.5),
    ("spoiled evaluation (every model, every condition) >= 50 % of matmul", f"{EVALUATION_STAGE}:spoiled", 0.5),
)


@dataclasses.dataclass
class SpeedSettings:
    """Sizes and settings of one benchmark run (written to every stage process as JSON).

    Attributes:
        clips: clips measured (the corpus's clips are reused in turn when it has fewer).
        seconds: every clip is centre-cropped or zero-padded to this length.
        batch_size: batch of the tf.data stages, the training stages and the model.
        passes: timed passes over the clips per feature stage and process.
        train_steps: training steps per epoch; `1 + train_epochs` epochs run, the first untimed.
        latency_calls: single-clip SavedModel calls timed (after a warm-up of a tenth as many).
        throughput_batch: the batch the SavedModel throughput is measured at.
        paired_rounds, paired_chunk: the interleaved comparison runs each feature method on `paired_chunk`
            clips (a multiple of `batch_size`; at most the clips there are) in turn, `paired_rounds` times.
        matmul_size, matmul_seconds: the `tf.linalg.matmul` of two `matmul_size`² matrices, timed for about
            `matmul_seconds` (`throughput.matmul_gflops`).
        eval_models: the models of the evaluation stage (every one runs on each batch, as `evaluate_grid` does):
            any of `MODELS` and `ENCODERS`.
        eval_batch: clips per model call in the evaluation stage.
        eval_clips: clips of the evaluation stage (the first ones; all `clips` when there are fewer).
        eval_passes: timed passes of each model's forward over the `eval_clips`.
        eval_severities: severities of the spoiled grid (clean + every corruption of the suite at each).
    """

    corpus: str = "synthetic"
    data_dir: str | None = None
    task: str | None = None
    cache_dir: str = str(REPO / "datasets" / ".cache")
    clips: int = 3000
    seconds: float = 3.0
    sample_rate: int = 16000
    batch_size: int = 32
    passes: int = 2
    train_steps: int = 20
    train_epochs: int = 3
    latency_calls: int = 200
    throughput_batch: int = 64
    throughput_calls: int = 10
    paired_rounds: int = 10
    paired_chunk: int = 256
    matmul_size: int = 2048
    matmul_seconds: float = 3.0
    eval_models: tuple[str, ...] = MODELS
    eval_batch: int = 256
    eval_clips: int = 256
    eval_passes: int = 3
    eval_severities: tuple[int, ...] = (3,)
    seed: int = 0
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)

    @property
    def clip_samples(self) -> int:
        return int(round(self.seconds * self.sample_rate))

    def validate(self, training: bool = True) -> SpeedSettings:
        """Check the settings; `training`: also that the clips suffice for the in-memory training baseline."""
        for name in (
            "clips",
            "batch_size",
            "passes",
            "train_steps",
            "train_epochs",
            "latency_calls",
            "throughput_batch",
            "throughput_calls",
            "paired_rounds",
            "matmul_size",
            "eval_batch",
            "eval_clips",
            "eval_passes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"speed: {name} must be >= 1, got {getattr(self, name)}")
        if self.seconds <= 0:
            raise ValueError(f"speed: seconds must be positive, got {self.seconds}")
        if not self.matmul_seconds > 0:
            raise ValueError(f"speed: matmul_seconds must be positive, got {self.matmul_seconds}")
        if not self.eval_models or any(m not in MODELS + ENCODERS for m in self.eval_models):
            raise ValueError(
                f"speed: eval_models must name some of {', '.join(MODELS + ENCODERS)}, got {self.eval_models!r}"
            )
        if not self.eval_severities or any(s not in (1, 2, 3, 4, 5) for s in self.eval_severities):
            raise ValueError(f"speed: eval_severities must be in 1..5, got {self.eval_severities!r}")
        if self.batch_size > self.clips:
            raise ValueError(f"speed: batch_size {self.batch_size} exceeds clips {self.clips}")
        if self.paired_chunk < self.batch_size or self.paired_chunk % self.batch_size:
            raise ValueError(
                f"speed: paired_chunk {self.paired_chunk} must be a multiple of batch_size {self.batch_size}"
            )
        needed = (1 + self.train_epochs) * self.train_steps * self.batch_size
        if training and needed > self.clips:
            raise ValueError(
                f"speed: the in-memory training baseline passes over the arrays at most once, so it needs "
                f"(1 + train_epochs) * train_steps * batch_size = {needed} clips; got clips={self.clips}"
            )
        self.features.validate()
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SpeedSettings:
        values = json.loads(text)
        values["features"] = FeatureConfig(**values["features"])
        for name in ("eval_models", "eval_severities"):  # JSON has lists
            values[name] = tuple(values[name])
        return cls(**values)


QUICK = dict(
    clips=24,
    seconds=0.5,
    batch_size=4,
    passes=1,
    train_steps=2,
    train_epochs=1,
    latency_calls=5,
    throughput_batch=4,
    throughput_calls=2,
    paired_rounds=2,
    paired_chunk=8,
    matmul_size=256,
    matmul_seconds=0.2,
    eval_batch=8,
    eval_clips=8,
    eval_passes=1,
    eval_severities=(1,),
)


@dataclasses.dataclass
class Clips:
    """The clips every stage measures: `waveforms [n, clip_samples]` float32 and their label ids."""

    waveforms: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    description: str = ""

    def __len__(self) -> int:
        return len(self.waveforms)


@dataclasses.dataclass
class Figure:
    """One measured figure: every sample (one per timed pass), reported as their median.

    `cpu_samples` are the same rates per second of this process's CPU time (all its threads): a figure of
    efficiency that other processes' load disturbs far less than wall-clock rates. Empty for latencies.
    `flops_per_item`: the floating-point operations one counted item (clip, example) costs
    (`throughput.flop_counts`), None when not counted; the matmul stage's figure is itself in GFLOP/s.
    """

    stage: str
    name: str
    unit: str
    samples: list[float]
    cpu_samples: list[float] = dataclasses.field(default_factory=list)
    flops_per_item: float | None = None

    @property
    def value(self) -> float:
        return statistics.median(self.samples)

    @property
    def gflops(self) -> float | None:
        """GFLOP/s of the median rate (the rate itself for the matmul stage), None without a FLOP count."""
        if self.unit == "GFLOP/s":
            return self.value
        return None if self.flops_per_item is None else self.value * self.flops_per_item / 1e9


# --------------------------------------------------------------------------------------------- the clips
def fit_to_length(waveform: np.ndarray, length: int) -> np.ndarray:
    """The centre `length` samples, or the clip zero-padded at both ends (as `pipeline.center_crop_or_pad`)."""
    start = max(len(waveform) - length, 0) // 2
    waveform = waveform[start : start + length]
    missing = length - len(waveform)
    return np.pad(waveform, (missing // 2, missing - missing // 2))


def load_clips(settings: SpeedSettings) -> Clips:
    """`settings.clips` clips of the corpus (every split), decoded once through the cache, fitted to length.

    Clips are taken in a seeded random order; a corpus with fewer clips is gone through again.
    """
    from keras_audio import corpora
    from keras_audio.cache import load_waveforms

    manifest = corpora.load_corpus(settings.corpus, settings.data_dir, settings.task, settings.seed)
    decoded = load_waveforms(
        manifest,
        settings.sample_rate,
        settings.cache_dir,
        skip_bad=True,
        min_samples=settings.features.n_fft,
        progress=False,
    )
    manifest = decoded.manifest
    if len(manifest) == 0:
        raise ValueError(f"speed: corpus {settings.corpus!r} has no usable clips")
    order = np.random.default_rng(settings.seed).permutation(len(manifest))
    chosen = np.resize(order, settings.clips)
    index = decoded.store.indices([manifest.clip_ids[i] for i in chosen])
    waveforms = np.stack([fit_to_length(decoded.store.waveform(i), settings.clip_samples) for i in index])
    labels = manifest.label_ids[chosen]
    reused = "" if settings.clips <= len(manifest) else f" (its {len(manifest)} clips, taken again in turn)"
    bad = f"; {len(decoded.bad_files)} unreadable file(s) left out" if decoded.bad_files else ""
    description = (
        f"corpus {settings.corpus!r}: {settings.clips} clips{reused}, each cropped/padded to "
        f"{settings.seconds:g} s at {settings.sample_rate} Hz{bad}"
    )
    return Clips(waveforms.astype(np.float32), labels.astype(np.int32), tuple(manifest.classes), description)


def clip_source(clips: Clips, sample_rate: int):
    """A `pipeline.ClipSource` over exactly these clips (one training split)."""
    import pandas as pd

    from keras_audio.cache import WaveformStore
    from keras_audio.manifest import Manifest
    from keras_audio.pipeline import ClipSource

    n, samples = clips.waveforms.shape
    clip_ids = [f"clip{i:06d}" for i in range(n)]
    store = WaveformStore(
        clips.waveforms.reshape(-1),
        np.arange(n, dtype=np.int64) * samples,
        np.full(n, samples, np.int64),
        clip_ids,
        sample_rate,
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": [clips.classes[y] for y in clips.labels],
            "speaker": clip_ids,
            "split": "train",
        }
    )
    return ClipSource(store, Manifest(frame, classes=clips.classes, name="speed"))


def corruption_suite(settings: SpeedSettings, clips: Clips) -> dict:
    """The corruptions a ``suite`` policy draws from, with `run.py`'s default resources (noise, IRs, babble)."""
    from keras_audio.corruptions import registry
    from keras_audio.suite.cli import build_config, build_parser

    argv = ["run", "--corpus", settings.corpus] + (["--data-dir", settings.data_dir] if settings.data_dir else [])
    config = build_config(build_parser().parse_args(argv))  # `run.py` is `keras-audio run`
    babble = [clips.waveforms[i] for i in range(min(64, len(clips)))]
    resources = registry.Resources(noise_dir=config.noise_dir, ir_dir=config.ir_dir, babble_waveforms=babble)
    return registry.build_suite(None, settings.sample_rate, resources, skip_missing=True)


def training_policy(name: str, settings: SpeedSettings, suite: dict | None = None, probability: float | None = None):
    """The waveform part of training policy `name` (None for ``none``), built by `policy.parse_policy`.

    Args:
        suite: the corruptions of ``suite``; ``noise`` builds white noise itself.
        probability: the fraction of clips corrupted (default: the policy's own).
    """
    from keras_audio.corruptions import registry
    from keras_audio.corruptions.policy import DEFAULT_PROBABILITY, parse_policy

    if name == "noise":
        suite = {"white_noise": registry.build("white_noise", settings.sample_rate)}
    probability = DEFAULT_PROBABILITY if probability is None else probability
    return parse_policy(name, suite or {}, probability=probability).waveform


# --------------------------------------------------------------------------------------------- timing
@dataclasses.dataclass
class Rates:
    """Items per wall-clock second and per CPU-second of this process, one sample per timed pass."""

    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)

    def add(self, items: int, wall_seconds: float, cpu_seconds: float) -> None:
        self.wall.append(items / wall_seconds)
        self.cpu.append(items / cpu_seconds if cpu_seconds > 0 else float("nan"))


class Stopwatch:
    """Wall-clock and process CPU time since `start()`."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _timed_passes(run_pass: Callable[[], list], clips: int, passes: int) -> Rates:
    rates, watch = Rates(), Stopwatch()
    for _ in range(passes):
        watch.start()
        out = run_pass()
        rates.add(clips, *watch.stop())
        del out
    return rates


# ------------------------------------------------------------------------------------------- features
def homework_rate(clips: Clips, settings: SpeedSettings) -> Rates:
    """Clips per second of the homework's loop, one sample per pass."""
    f = settings.features
    homework = HomeworkMel(settings.sample_rate, f.n_fft, f.win_length, f.hop_length, f.n_mels, f.fmin, f.fmax)
    homework.features(clips.waveforms[:4])  # warm-up
    return _timed_passes(lambda: homework.features(clips.waveforms), len(clips), settings.passes)


def librosa_rate(clips: Clips, settings: SpeedSettings) -> Rates:
    """Clips per second of the librosa loop, one sample per pass."""
    f = settings.features
    options = dict(
        sample_rate=settings.sample_rate,
        n_fft=f.n_fft,
        win_length=f.win_length,
        hop_length=f.hop_length,
        n_mels=f.n_mels,
        fmin=f.fmin,
        fmax=f.fmax,
        top_db=f.top_db,
    )
    librosa_features(clips.waveforms[:4], **options)  # warm-up
    return _timed_passes(lambda: librosa_features(clips.waveforms, **options), len(clips), settings.passes)


def feature_dataset(clips: Clips, settings: SpeedSettings, policy: str, suite: dict | None = None):
    """The training stream with the log-mel layer mapped over each batch: `(features [b, frames, mels], labels)`.

    Args:
        policy: ``none``, ``noise`` (white noise on every clip) or ``suite`` (the training policy).
        suite: the corruptions of the ``suite`` policy (default: `corruption_suite`).
    """
    import tensorflow as tf

    from keras_audio.features import LogMelSpectrogram
    from keras_audio.pipeline import training_dataset

    if policy not in ("none", "noise", "suite"):
        raise ValueError(f"feature_dataset: policy must be none, noise or suite, got {policy!r}")
    if policy == "suite" and suite is None:
        suite = corruption_suite(settings, clips)
    # White noise on every clip for the "with white noise on the fly" line; the suite policy as trained.
    waveform_policy = training_policy(policy, settings, suite, probability=1.0 if policy == "noise" else None)
    source = clip_source(clips, settings.sample_rate)
    f = settings.features
    layer = LogMelSpectrogram(
        sample_rate=settings.sample_rate,
        n_fft=f.n_fft,
        win_length=f.win_length,
        hop_length=f.hop_length,
        n_mels=f.n_mels,
        fmin=f.fmin,
        fmax=f.fmax,
        top_db=f.top_db,
    )
    dataset = training_dataset(source, settings.clip_samples, settings.batch_size, settings.seed, waveform_policy)
    return dataset.map(lambda waveforms, labels: (layer(waveforms), labels), num_parallel_calls=tf.data.AUTOTUNE)


def pipeline_rate(clips: Clips, settings: SpeedSettings, policy: str, suite: dict | None = None) -> Rates:
    """Clips per second of `feature_dataset`, one sample per pass of `len(clips) // batch_size` batches."""
    iterator = iter(feature_dataset(clips, settings, policy, suite))
    for _ in range(2):  # warm-up: tracing, thread pools, autotuning's first guesses
        next(iterator)
    steps = len(clips) // settings.batch_size

    def run_pass():
        return [next(iterator)[0].numpy() for _ in range(steps)]

    return _timed_passes(run_pass, steps * settings.batch_size, settings.passes)


def paired_feature_rates(clips: Clips, settings: SpeedSettings) -> dict[str, Rates]:
    """The target comparisons measured in turn in one process: every round runs each method on
    `paired_chunk` clips (in a rotating order), so all see the same load; one sample per round.

    Ratios of samples from the same round are what `target_checks` uses: on a machine shared with other
    work, load changes between separate stage processes swamp the differences being measured.

    A tf.data iterator keeps working in the background until its buffers are full, so between chunks the
    process is left to go idle (no method is timed while another's prefetching runs), and each tf.data chunk
    first takes the batches made ahead of time, untimed: the timed batches are made while they are timed.
    """
    f = settings.features
    homework = HomeworkMel(settings.sample_rate, f.n_fft, f.win_length, f.hop_length, f.n_mels, f.fmin, f.fmax)
    options = dict(
        sample_rate=settings.sample_rate,
        n_fft=f.n_fft,
        win_length=f.win_length,
        hop_length=f.hop_length,
        n_mels=f.n_mels,
        fmin=f.fmin,
        fmax=f.fmax,
        top_db=f.top_db,
    )
    n = len(clips)
    chunk = min(settings.paired_chunk, n // settings.batch_size * settings.batch_size)
    iterators = {policy: iter(feature_dataset(clips, settings, policy)) for policy in ("none", "noise")}
    starts = {"homework": 0, "librosa": 0}

    def numpy_chunk(method: str, extract: Callable[[np.ndarray], list]) -> tuple[Callable, Callable]:
        def run_chunk():
            start = starts[method]
            starts[method] = (start + chunk) % n
            return extract(clips.waveforms[np.arange(start, start + chunk) % n])

        return (lambda: None), run_chunk

    def tf_chunk(policy: str) -> tuple[Callable, Callable]:
        def drain():
            for _ in range(PREFETCHED_BATCHES):
                next(iterators[policy])

        return drain, lambda: [next(iterators[policy])[0].numpy() for _ in range(chunk // settings.batch_size)]

    runners = {
        "homework": numpy_chunk("homework", homework.features),
        "librosa": numpy_chunk("librosa", lambda x: librosa_features(x, **options)),
        "tfdata": tf_chunk("none"),
        "tfdata_noise": tf_chunk("noise"),
    }
    for prepare, run_chunk in runners.values():  # warm-up
        prepare()
        run_chunk()
    rates, watch = {method: Rates() for method in runners}, Stopwatch()
    for round_ in range(settings.paired_rounds):
        order = list(runners)[round_ % len(runners) :] + list(runners)[: round_ % len(runners)]
        for method in order:
            prepare, run_chunk = runners[method]
            prepare()
            wait_until_idle()
            watch.start()
            out = run_chunk()
            rates[method].add(chunk, *watch.stop())
            del out
    return rates


PREFETCHED_BATCHES = 4  # more than the feature stream holds ready (its map and prefetch buffers)


def wait_until_idle(max_seconds: float = 3.0, interval: float = 0.05) -> None:
    """Wait until this process's background threads (tf.data filling its buffers) stop using the CPU."""
    deadline = time.perf_counter() + max_seconds
    last = time.process_time()
    while time.perf_counter() < deadline:
        time.sleep(interval)
        now = time.process_time()
        if now - last < 0.1 * interval:  # under a tenth of a core
            return
        last = now


# ------------------------------------------------------------------------------------------- training
def training_rate(clips: Clips, settings: SpeedSettings, model_name: str, feed: str) -> Rates:
    """Training examples per second, one sample per timed epoch.

    Args:
        feed: ``memory`` (`fit` on NumPy arrays), ``pipeline`` (`training_dataset`, policy none) or
            ``noise`` (`training_dataset`, the ``noise`` policy).
    """
    import keras

    from keras_audio.models import build_model
    from keras_audio.training import compile_classifier, set_global_seed

    if feed not in FEEDS:
        raise ValueError(f"training_rate: feed must be one of {FEEDS}, got {feed!r}")
    set_global_seed(settings.seed)
    model = build_model(model_name, len(clips.classes), settings.sample_rate, settings.features)
    compile_classifier(model, 1e-3)

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.watch = Stopwatch()
            self.seconds: list[tuple[float, float]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.watch.start()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(self.watch.stop())

    timer = EpochTimer()
    fit = dict(epochs=1 + settings.train_epochs, steps_per_epoch=settings.train_steps, callbacks=[timer], verbose=0)
    if feed == "memory":
        model.fit(clips.waveforms, clips.labels, batch_size=settings.batch_size, shuffle=True, **fit)
    else:
        from keras_audio.pipeline import training_dataset

        source = clip_source(clips, settings.sample_rate)
        waveform_policy = training_policy("noise" if feed == "noise" else "none", settings)
        model.fit(
            training_dataset(source, settings.clip_samples, settings.batch_size, settings.seed, waveform_policy),
            shuffle=False,
            **fit,
        )  # the stream is shuffled and seeded by the pipeline
    if len(timer.seconds) != 1 + settings.train_epochs:
        raise RuntimeError(f"training_rate: {len(timer.seconds)} epochs ran, expected {1 + settings.train_epochs}")
    rates = Rates()
    for wall, cpu in timer.seconds[1:]:
        rates.add(settings.train_steps * settings.batch_size, wall, cpu)
    return rates


# ------------------------------------------------------------------------------------------ evaluation
def evaluation_models(clips: Clips, settings: SpeedSettings) -> dict:
    """`settings.eval_models`, built untrained (the cost of a forward pass does not depend on the weights)."""
    from keras_audio.models import build_model
    from keras_audio.training import set_global_seed

    set_global_seed(settings.seed)
    return {
        name: build_model(name, len(clips.classes), settings.sample_rate, settings.features)
        for name in settings.eval_models
    }


def forward_rates(clips: Clips, settings: SpeedSettings, models: dict) -> dict[str, Rates]:
    """Clips per second of each model's compiled forward pass (`grid.keras_predictor`) on batches of
    `eval_batch` prepared clips, one sample per pass over the first `eval_clips`; and under ``all``, every
    model on each batch in turn, as the evaluation runs them."""
    import tensorflow as tf

    from keras_audio.grid import keras_predictor

    predictors = {name: keras_predictor(model) for name, model in models.items()}
    n, size = min(settings.eval_clips, len(clips)), settings.eval_batch
    batches = [tf.constant(clips.waveforms[i : min(i + size, n)]) for i in range(0, n, size)]
    for predict in predictors.values():  # warm-up: tracing, the kernels' first choices
        predict(batches[0])
    rates, watch = {name: Rates() for name in [*predictors, "all"]}, Stopwatch()
    for _ in range(settings.eval_passes):
        for name, predict in predictors.items():
            watch.start()
            out = [predict(batch) for batch in batches]
            rates[name].add(n, *watch.stop())
        watch.start()
        out = [predict(batch) for batch in batches for predict in predictors.values()]
        rates["all"].add(n, *watch.stop())
        del out
    return rates


def spoiled_rate(clips: Clips, settings: SpeedSettings, models: dict) -> tuple[Rates, int]:
    """Clip-conditions per second of `grid.evaluate_grid`, every model on every condition (clean + the
    suite at `eval_severities`) of the first `eval_clips` clips, called as the evaluate stage calls it, at
    the inference batch `eval_batch`; one sample (one pass over the grid: each corruption's first use,
    tracing included, is part of it, as in a run). Returns the rates and the number of conditions."""
    import inspect

    from keras_audio.grid import Condition, evaluate_grid, grid, keras_predictor

    n = min(settings.eval_clips, len(clips))
    subset = Clips(clips.waveforms[:n], clips.labels[:n], clips.classes)
    source = clip_source(subset, settings.sample_rate)
    conditions = grid(corruption_suite(settings, clips), settings.eval_severities)
    predictors = {name: keras_predictor(model) for name, model in models.items()}
    options = {}
    if "inference_batch_size" in inspect.signature(evaluate_grid).parameters:
        options["inference_batch_size"] = settings.eval_batch

    def run(conditions_):
        return evaluate_grid(
            predictors, source, conditions_, settings.clip_samples, settings.eval_batch, settings.seed, False, **options
        )

    run([Condition(None, 0)])  # warm-up: the models' tracing, the clean batches
    rates, watch = Rates(), Stopwatch()
    watch.start()
    run(conditions)
    rates.add(len(conditions) * len(subset), *watch.stop())
    return rates, len(conditions)


# ------------------------------------------------------------------------------------------ SavedModel
def savedmodel_figures(clips: Clips, settings: SpeedSettings, model_name: str) -> tuple[list[float], Rates]:
    """(latency in ms for one clip, one sample per call; clips/s at `throughput_batch`, one per call)."""
    import tensorflow as tf

    from keras_audio.export import SIGNATURE_INPUT, export_model
    from keras_audio.models import build_model
    from keras_audio.training import set_global_seed

    set_global_seed(settings.seed)
    model = build_model(model_name, len(clips.classes), settings.sample_rate, settings.features)
    with tempfile.TemporaryDirectory(prefix="speed-export-") as folder:
        export_model(
            model,
            folder,
            class_names=clips.classes,
            sample_rate=settings.sample_rate,
            clip_samples=settings.clip_samples,
        )
        loaded = tf.saved_model.load(str(Path(folder) / "saved_model"))
        serve = loaded.signatures["serving_default"]

        def call(batch):
            return next(iter(serve(**{SIGNATURE_INPUT: batch}).values())).numpy()

        one = tf.constant(clips.waveforms[:1])
        for _ in range(max(3, settings.latency_calls // 10)):
            call(one)
        latency = []
        for _ in range(settings.latency_calls):
            started = time.perf_counter()
            call(one)
            latency.append(1e3 * (time.perf_counter() - started))
        batch = tf.constant(np.resize(clips.waveforms, (settings.throughput_batch, settings.clip_samples)))
        call(batch)
        throughput, watch = Rates(), Stopwatch()
        for _ in range(settings.throughput_calls):
            watch.start()
            call(batch)
            throughput.add(settings.throughput_batch, *watch.stop())
    return latency, throughput


# ------------------------------------------------------------------------------------- corruption cost
def corruption_cost_module():
    """`benchmarks/corruption_cost.py` as a module, or None when it is not there."""
    path = BENCHMARKS / "corruption_cost.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("corruption_cost", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------ FLOPs
FLOPS_FILE = "flops.json"


def count_flops(settings: SpeedSettings, num_classes: int) -> dict:
    """FLOPs per clip of `settings.clip_samples` samples, counted once (in the prepare process):
    ``features`` (the `LogMelSpectrogram` layer alone) and, per model, `throughput.ModelFlops` as a dict
    with its ``training`` count. The models are built untrained; the counts do not depend on the weights.
    The `ENCODERS` in `settings.eval_models` are counted too (their forward pass only: ``features`` and
    ``training`` None; they bring their own front-ends and are not trained here)."""
    from keras_audio.models import build_model

    models = {}
    for name in MODELS + tuple(m for m in ENCODERS if m in settings.eval_models):
        counts = flop_counts(
            build_model(name, num_classes, settings.sample_rate, settings.features), settings.clip_samples
        )
        models[name] = dict(dataclasses.asdict(counts), training=counts.training)
        if name in ENCODERS:
            models[name].update(features=None, training=None)
    features = {models[m]["features"] for m in MODELS}
    if len(features) != 1:
        raise RuntimeError(f"count_flops: the models' feature layers cost different FLOPs: {sorted(features)}")
    return {"clip_samples": settings.clip_samples, "features": features.pop(), "models": models}


# --------------------------------------------------------------------------------------------- stages
def measure_stage(stage: str, clips: Clips, settings: SpeedSettings, flops: dict | None = None) -> list[Figure]:
    """Run one stage in this process and return its figures.

    Args:
        flops: `count_flops`'s counts, attached to the figures (`Figure.flops_per_item`); None: none.
    """
    flops = flops or {}
    models = flops.get("models", {})

    def rate_figure(name: str, unit: str, rates: Rates, flops_per_item: float | None = None) -> Figure:
        return Figure(stage, name, unit, rates.wall, rates.cpu, flops_per_item)

    if stage == MATMUL_STAGE:
        wall, cpu = matmul_rates(settings.matmul_size, settings.matmul_seconds)
        size = settings.matmul_size
        return [Figure(stage, f"tf.linalg.matmul {size}x{size} float32 (2n^3 FLOPs)", "GFLOP/s", wall, cpu)]
    if stage in FEATURE_STAGES or stage == PAIRED_STAGE:
        return [
            dataclasses.replace(figure, flops_per_item=flops.get("features"))
            for figure in measure_feature_stage(stage, clips, settings)
        ]
    if stage in TRAINING_STAGES:
        _, model_name, feed = stage.split("_")
        label = {
            "memory": "fit on in-memory arrays",
            "pipeline": "fit on the tf.data pipeline",
            "noise": "fit on the tf.data pipeline, noise policy",
        }[feed]
        return [
            rate_figure(
                f"{model_name}: {label}",
                "examples/s",
                training_rate(clips, settings, model_name, feed),
                models.get(model_name, {}).get("training"),
            )
        ]
    if stage == EVALUATION_STAGE:
        built = evaluation_models(clips, settings)
        forward = {name: models.get(name, {}).get("forward") for name in built}
        total = None if None in forward.values() else sum(forward.values())
        figures = [
            Figure(
                f"{stage}:{name}",
                f"{name}: forward pass, batch {settings.eval_batch}",
                "clips/s",
                r.wall,
                r.cpu,
                total if name == "all" else forward[name],
            )
            for name, r in forward_rates(clips, settings, built).items()
        ]
        figures[-1].name = f"every model on each batch ({', '.join(built)}), batch {settings.eval_batch}"
        spoiled, conditions = spoiled_rate(clips, settings, built)
        figures.append(
            Figure(
                f"{stage}:spoiled",
                f"evaluate_grid: {conditions} conditions x {len(built)} models, "
                f"batch {settings.eval_batch} (corruption FLOPs not counted)",
                "clip-conditions/s",
                spoiled.wall,
                spoiled.cpu,
                total,
            )
        )
        return figures
    if stage in SAVEDMODEL_STAGES:
        model_name = stage.split("_", 1)[1]
        latency, throughput = savedmodel_figures(clips, settings, model_name)
        return [
            Figure(stage, f"{model_name} SavedModel: latency, one clip", "ms", latency),
            Figure(
                stage + "_batch",
                f"{model_name} SavedModel: batch {settings.throughput_batch}",
                "clips/s",
                throughput.wall,
                throughput.cpu,
                models.get(model_name, {}).get("forward"),
            ),
        ]
    raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")


def measure_feature_stage(stage: str, clips: Clips, settings: SpeedSettings) -> list[Figure]:
    """The figures of a feature stage (no FLOP counts attached)."""

    def rate_figure(name: str, unit: str, rates: Rates) -> Figure:
        return Figure(stage, name, unit, rates.wall, rates.cpu)

    if stage == "homework":
        return [rate_figure("homework numpy loop (power mel)", "clips/s", homework_rate(clips, settings))]
    if stage == "librosa":
        return [rate_figure("librosa loop (melspectrogram + power_to_db)", "clips/s", librosa_rate(clips, settings))]
    if stage in ("tfdata", "tfdata_noise"):
        policy, label = {"tfdata": ("none", "clean"), "tfdata_noise": ("noise", "white noise on every clip")}[stage]
        return [rate_figure(f"tf.data log-mel, {label}", "clips/s", pipeline_rate(clips, settings, policy))]
    if stage == "tfdata_suite":
        suite = corruption_suite(settings, clips)
        label = f"tf.data log-mel, suite policy ({len(suite)} corruptions, half the clips)"
        return [rate_figure(label, "clips/s", pipeline_rate(clips, settings, "suite", suite))]
    if stage == PAIRED_STAGE:
        names = {
            "homework": "homework",
            "librosa": "librosa",
            "tfdata": "tf.data clean",
            "tfdata_noise": "tf.data white noise",
        }
        return [
            Figure(f"{stage}:{method}", f"interleaved: {names[method]}", "clips/s", r.wall, r.cpu)
            for method, r in paired_feature_rates(clips, settings).items()
        ]
    raise ValueError(f"not a feature stage: {stage!r}")


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB; NaN elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def stage_main(stage: str, work: Path) -> dict:
    """The body of a stage process: load the prepared clips, measure, report figures and memory."""
    settings = SpeedSettings.from_json((work / "settings.json").read_text())
    load_before = os.getloadavg()[0]
    # Import what the stage runs on first, so "RSS at start" is libraries + clips and the peak above it
    # is the stage's own working memory.
    if stage in ("homework", "librosa"):
        import librosa  # noqa: F401
    else:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    rows = table = None
    flops_path = work / FLOPS_FILE
    flops = json.loads(flops_path.read_text()) if flops_path.is_file() else None
    if stage == CORRUPTION_COST_STAGE:  # it measures on its own clip
        rss_start = current_rss_mb()
        rows, table = corruption_cost_rows(settings)
        figures = []
    elif stage == MATMUL_STAGE:  # no clips
        rss_start = current_rss_mb()
        figures = measure_stage(stage, None, settings)
    else:
        clips = Clips(
            np.load(work / "waveforms.npy"),
            np.load(work / "labels.npy"),
            tuple(json.loads((work / "clips.json").read_text())["classes"]),
        )
        rss_start = current_rss_mb()
        figures = measure_stage(stage, clips, settings, flops)
    return {
        "stage": stage,
        "figures": [dataclasses.asdict(f) for f in figures],
        "rows": rows,
        "table": table,
        "rss_start_mb": rss_start,
        "peak_rss_mb": peak_rss_mb(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "versions": _versions(),
    }


def corruption_cost_rows(settings: SpeedSettings) -> tuple[list[dict], str]:
    """`corruption_cost.corruption_costs` rows and its own Markdown table of them (its defaults, or tiny
    sizes when the run is `--quick`)."""
    module = corruption_cost_module()
    if module is None:
        raise ValueError("benchmarks/corruption_cost.py is not there")
    sizes = dict(clips=8, calls=2, repeats=1) if settings.clips <= QUICK["clips"] else {}
    rows = module.corruption_costs(settings.sample_rate, settings.seconds, **sizes)
    return rows, module.markdown(rows)


def prepare_main(work: Path) -> dict:
    settings = SpeedSettings.from_json((work / "settings.json").read_text())
    started = time.perf_counter()
    clips = load_clips(settings)
    np.save(work / "waveforms.npy", clips.waveforms)
    np.save(work / "labels.npy", clips.labels)
    (work / "clips.json").write_text(json.dumps({"classes": list(clips.classes), "description": clips.description}))
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    flops = count_flops(settings, len(clips.classes))
    (work / FLOPS_FILE).write_text(json.dumps(flops))
    return {
        "description": clips.description,
        "seconds": seconds,
        "flops": flops,
        "flops_seconds": time.perf_counter() - started,
    }


class StageFailed(RuntimeError):
    """A stage process exited with an error; `reason` is the last line it wrote to stderr."""

    def __init__(self, stage: str, returncode: int, stderr: str):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        self.stage = stage
        self.reason = lines[-1].strip() if lines else f"exit status {returncode}"
        super().__init__(f"stage {stage!r} failed (exit {returncode}):\n{stderr[-4000:]}")


def run_stage_process(stage: str, work: Path, timeout: float | None = None) -> dict:
    """Run `stage` (or ``prepare``) in a fresh Python process: its own memory peak, its own TF thread pools.

    Raises:
        StageFailed: the process failed (its stderr is in the message).
    """
    out = work / f"result-{stage}-{time.monotonic_ns()}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--stage",
        stage,
        "--work",
        str(work),
        "--stage-out",
        str(out),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise StageFailed(stage, completed.returncode, completed.stderr)
    result = json.loads(out.read_text())
    out.unlink()
    return result


# ---------------------------------------------------------------------------------------------- report
def machine() -> dict:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _versions() -> dict:
    versions = {"numpy": np.__version__}
    for name in ("tensorflow", "keras", "librosa"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return versions


@dataclasses.dataclass
class StageSummary:
    stage: str
    figures: list[Figure]
    rss_start_mb: float
    peak_rss_mb: float
    loads: list[float]
    rows: list[dict] | None = None
    table: str | None = None


def summarize(results: list[dict]) -> dict[str, StageSummary]:
    """Merge the per-round results of each stage: samples pooled, memory peak the largest."""
    summaries: dict[str, StageSummary] = {}
    for result in results:
        figures = [Figure(**f) for f in result["figures"]]
        summary = summaries.get(result["stage"])
        if summary is None:
            summaries[result["stage"]] = StageSummary(
                result["stage"],
                figures,
                result["rss_start_mb"],
                result["peak_rss_mb"],
                [result["load_before"], result["load_after"]],
                result.get("rows"),
                result.get("table"),
            )
            continue
        for mine, new in zip(summary.figures, figures):
            mine.samples += new.samples
            mine.cpu_samples += new.cpu_samples
        summary.rss_start_mb = max(summary.rss_start_mb, result["rss_start_mb"])
        summary.peak_rss_mb = max(summary.peak_rss_mb, result["peak_rss_mb"])
        summary.loads += [result["load_before"], result["load_after"]]
        if summary.rows is None:
            summary.rows, summary.table = result.get("rows"), result.get("table")
    return summaries


def all_figures(summaries: dict[str, StageSummary]) -> dict[str, Figure]:
    """Figure key (the stage; `<stage>_batch`; `features_paired:<method>`) -> figure."""
    return {figure.stage: figure for s in summaries.values() for figure in s.figures}


def paired_ratio(figures: dict[str, Figure], method: str, base: str, cpu: bool = False) -> float | None:
    """Median over rounds of `method`'s rate over `base`'s in the same round of the interleaved stage
    (`cpu`: of their rates per CPU-second)."""
    a, b = figures.get(f"{PAIRED_STAGE}:{method}"), figures.get(f"{PAIRED_STAGE}:{base}")
    if a is None or b is None:
        return None
    x, y = (a.cpu_samples, b.cpu_samples) if cpu else (a.samples, b.samples)
    if not x or len(x) != len(y):
        return None
    return statistics.median(p / q for p, q in zip(x, y))


def cpu_ratio(figures: dict[str, Figure], stage: str, base: str) -> float | None:
    """`stage`'s median rate per CPU-second over `base`'s (separate stage processes)."""
    a, b = figures.get(stage), figures.get(base)
    if a is None or b is None or not a.cpu_samples or not b.cpu_samples:
        return None
    return statistics.median(a.cpu_samples) / statistics.median(b.cpu_samples)


def ratio_text(figure: Figure, figures: dict[str, Figure]) -> str:
    """The ratio column: features against the homework (and librosa), training against in-memory."""
    values = {key: f.value for key, f in figures.items()}
    if figure.stage.startswith(f"{PAIRED_STAGE}:"):
        method = figure.stage.split(":", 1)[1]
        if method == "homework":
            return "1.00x (baseline)"
        parts = [
            f"{ratio:.2f}x {base}"
            for base in ("homework", "librosa")
            if base != method
            for ratio in [paired_ratio(figures, method, base)]
            if ratio is not None
        ]
        return "; ".join(parts) + " (same-round medians)" if parts else ""
    if figure.stage in FEATURE_STAGES:
        if figure.stage == "homework":
            return "1.00x (baseline)"
        parts = [
            f"{figure.value / values[base]:.2f}x {base}"
            for base in ("homework", "librosa")
            if base in values and figure.stage != base
        ]
        return "; ".join(parts)
    if figure.stage in TRAINING_STAGES:
        _, model_name, feed = figure.stage.split("_")
        base = f"train_{model_name}_memory"
        if feed == "memory":
            return "1.00x (baseline)"
        return f"{figure.value / values[base]:.2f}x in-memory" if base in values else ""
    if figure.stage.endswith("_batch"):
        latency = values.get(figure.stage[: -len("_batch")])
        return f"{figure.value * latency / 1e3:.1f}x one clip at a time" if latency else ""
    return ""


def matmul_fraction(figure: Figure, figures: dict[str, Figure]) -> float | None:
    """`figure`'s GFLOP/s over the matmul stage's (medians), None without either."""
    peak = figures.get(MATMUL_STAGE)
    if figure.stage == MATMUL_STAGE or peak is None or figure.gflops is None:
        return None
    return figure.gflops / peak.value


def fraction_checks(figures: dict[str, Figure]) -> list[dict]:
    """Issue 15's targets that the measured stages cover: `{target, fraction, threshold, met}`."""
    checks = []
    for target, stage, threshold in FRACTION_TARGETS:
        fraction = None if stage not in figures else matmul_fraction(figures[stage], figures)
        if fraction is not None:
            checks.append(
                {"target": target, "fraction": fraction, "threshold": threshold, "met": fraction >= threshold}
            )
    return checks


def _format(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _gflop(flops: float | None) -> str:
    return "" if flops is None else f"{flops / 1e9:.4f}"


def render(summaries: dict[str, StageSummary], settings: SpeedSettings, info: dict) -> str:
    """The Markdown report: machine, clips, the figure table, the targets, load conditions."""
    figures = all_figures(summaries)
    versions = {name: version for result in info.get("raw", []) for name, version in result.get("versions", {}).items()}
    m, f = info["machine"], settings.features
    loads = info["loads"]
    lines = [
        "# Speed benchmark",
        "",
        f"- machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        f"- clips: {info['clips']}",
        f"- features: n_fft {f.n_fft}, window {f.win_length}, hop {f.hop_length}, {f.n_mels} mels, fmin {f.fmin:g} Hz, "
        f"top_db {f.top_db}; batch {settings.batch_size}",
        f"- {info['repeats']} round(s) of every stage, each in a fresh process; {settings.passes} timed pass(es) over "
        f"the clips per feature stage; {settings.train_epochs} timed epoch(s) of {settings.train_steps} steps per "
        f"training stage after a warm-up epoch; figures are medians of all passes",
        "- features: every path returns a list of NumPy feature arrays; the tf.data stages map the log-mel "
        "layer over batches of the training stream, in parallel",
        "- load average (1 min) while the stages ran: "
        + (f"{min(loads):.2f} to {max(loads):.2f} on {m['cores']} cores" if loads else "not recorded")
        + " (other processes' load lowers wall-clock rates; 'per CPU-s' is the rate per second of this "
        "process's own CPU time)",
        "",
        "- GFLOP/s: the median rate × the FLOPs of one item, counted by TensorFlow's profiler on the real models "
        "(`throughput.py`: training = features + 3 × the rest; evaluation = the models' forward passes, log-mel "
        "included, corruptions not counted); 'of matmul': that over the matmul stage's GFLOP/s",
        "",
        "| stage | figure | median | unit | ratio | GFLOP/s | of matmul | samples (min-max) | per CPU-s | load | "
        "RSS at start MB | peak RSS MB |",
        "|---|---|---:|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for summary in summaries.values():
        for figure in summary.figures:
            spread = f"{len(figure.samples)} ({_format(min(figure.samples))}-{_format(max(figure.samples))})"
            per_cpu = _format(statistics.median(figure.cpu_samples)) if figure.cpu_samples else ""
            gflops = "" if figure.gflops is None or figure.unit == "GFLOP/s" else _format(figure.gflops)
            fraction = matmul_fraction(figure, figures)
            fraction = "" if fraction is None else f"{100 * fraction:.0f} %"
            lines.append(
                f"| {figure.stage} | {figure.name} | {_format(figure.value)} | {figure.unit} | "
                f"{ratio_text(figure, figures)} | {gflops} | {fraction} | {spread} | {per_cpu} | "
                f"{statistics.median(summary.loads):.1f} | {summary.rss_start_mb:,.0f} | "
                f"{summary.peak_rss_mb:,.0f} |"
            )
    checks = target_checks(figures)
    if checks:
        lines += [
            "",
            "| target (issue 7) | needed | measured | met | from | ratio per CPU-s |",
            "|---|---:|---:|---|---|---:|",
        ]
        for check in checks:
            per_cpu = "" if check["per_cpu_ratio"] is None else f"{check['per_cpu_ratio']:.2f}x"
            lines.append(
                f"| {check['target']} | {check['threshold']:.2f}x | {check['ratio']:.2f}x | "
                f"{'yes' if check['met'] else 'NO'} | {check['source']} | {per_cpu} |"
            )
        lines += [
            "",
            "'ratio per CPU-s' compares work per CPU-second, whatever the parallelism: wall-clock ratios "
            "are what the targets name; under other processes' load, a process with more threads "
            "(tf.data) gets a larger share of the cores than a one-thread loop, so prefer figures "
            "measured on an idle machine.",
        ]
    fractions = fraction_checks(figures)
    if fractions:
        lines += ["", "| target (issue 15) | needed | measured | met |", "|---|---:|---:|---|"]
        lines += [
            f"| {c['target']} | {100 * c['threshold']:.0f} % | {100 * c['fraction']:.0f} % | "
            f"{'yes' if c['met'] else 'NO'} |"
            for c in fractions
        ]
    if info.get("flops"):
        lines += [
            "",
            f"## FLOPs per clip of {info['flops']['clip_samples']} samples (throughput.py)",
            "",
            "| model | profiler (whole graph) | forward | of which features | FFT added | recurrent added | training |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | {_gflop(c['profiler'])} | {_gflop(c['forward'])} | {_gflop(c['features'])} | "
            f"{_gflop(c['fft'])} | {_gflop(c['recurrent'])} | {_gflop(c['training'])} |"
            for name, c in info["flops"]["models"].items()
        ]
        lines += [
            "",
            "GFLOP per clip. 'profiler': `tf.compat.v1.profiler` on the frozen inference graph as is (no "
            "rule for RFFT; a while loop's body counted once); 'forward' replaces the loop bodies by the "
            "recurrent layers' steps and adds the FFTs. The pretrained encoders (their own front-ends "
            "inside) are counted for their forward pass only.",
        ]
    if info.get("failures"):
        lines += ["", "## Failed stages (no figures)", ""]
        lines += [f"- {f['stage']} (round {f['round']}): {f['reason']}" for f in info["failures"]]
    for summary in summaries.values():
        if summary.table:
            lines += [
                "",
                "## Corruption costs per clip (benchmarks/corruption_cost.py, first round)",
                "",
                summary.table,
            ]
    return "\n".join(lines) + "\n"


def target_checks(figures: dict[str, Figure]) -> list[dict]:
    """The issue's targets that the measured stages cover: `{target, ratio, threshold, met, source}`.

    Feature ratios come from the interleaved stage when it ran (same-round ratios), else from the
    separate stage processes' medians.
    """
    checks = []
    for target, stage, base, threshold in TARGETS:
        ratio, source = paired_ratio(figures, stage, base), "interleaved, same-round medians"
        per_cpu = paired_ratio(figures, stage, base, cpu=True)
        if ratio is None and stage in figures and base in figures:
            ratio, source = figures[stage].value / figures[base].value, "separate processes, medians"
            per_cpu = cpu_ratio(figures, stage, base)
        if ratio is not None:
            checks.append(
                {
                    "target": target,
                    "ratio": ratio,
                    "threshold": threshold,
                    "met": ratio >= threshold,
                    "source": source,
                    "per_cpu_ratio": per_cpu,
                }
            )
    return checks


# ------------------------------------------------------------------------------------------------ main
def select_stages(names: list[str] | None) -> list[str]:
    """Stage names from stage or group names (None: every stage), in the canonical order."""
    if not names:
        chosen = set(STAGES)
    else:
        chosen = set()
        for name in names:
            if name in GROUPS:
                chosen.update(GROUPS[name])
            elif name in STAGES:
                chosen.add(name)
            else:
                raise ValueError(f"unknown stage {name!r}; known: {', '.join(list(GROUPS) + list(STAGES))}")
    if CORRUPTION_COST_STAGE in chosen and not (BENCHMARKS / "corruption_cost.py").is_file():
        chosen.discard(CORRUPTION_COST_STAGE)
    return [s for s in STAGES if s in chosen]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = SpeedSettings()
    parser.add_argument("--corpus", default=defaults.corpus, help="corpus recipe, as in run.py (default synthetic)")
    parser.add_argument("--data-dir", help="the corpus root (default datasets/<corpus>)")
    parser.add_argument("--task", help="the corpus task (default: the corpus's own)")
    parser.add_argument("--cache-dir", default=defaults.cache_dir, help="decode cache folder")
    parser.add_argument("--clips", type=int, default=defaults.clips, help=f"clips measured (default {defaults.clips})")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="clip length (default 3)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--passes", type=int, default=defaults.passes, help="timed passes per feature stage")
    parser.add_argument("--train-steps", type=int, default=defaults.train_steps, help="training steps per epoch")
    parser.add_argument("--train-epochs", type=int, default=defaults.train_epochs, help="timed training epochs")
    parser.add_argument("--latency-calls", type=int, default=defaults.latency_calls)
    parser.add_argument(
        "--paired-rounds", type=int, default=defaults.paired_rounds, help="rounds of the interleaved feature comparison"
    )
    parser.add_argument(
        "--paired-chunk",
        type=int,
        default=defaults.paired_chunk,
        help="clips per method per round of the interleaved comparison (a multiple of --batch-size)",
    )
    parser.add_argument(
        "--matmul-seconds",
        type=float,
        default=defaults.matmul_seconds,
        help=f"seconds the matmul stage times (default {defaults.matmul_seconds:g})",
    )
    parser.add_argument(
        "--eval-models",
        nargs="+",
        default=list(defaults.eval_models),
        choices=MODELS + ENCODERS,
        help=f"models of the evaluation stage (default {' '.join(MODELS)}; the pretrained "
        f"encoders {' '.join(ENCODERS)} need their packages' weights)",
    )
    parser.add_argument(
        "--eval-batch",
        type=int,
        default=defaults.eval_batch,
        help=f"clips per model call in the evaluation stage (default {defaults.eval_batch})",
    )
    parser.add_argument(
        "--eval-clips",
        type=int,
        default=defaults.eval_clips,
        help=f"clips of the evaluation stage (default {defaults.eval_clips})",
    )
    parser.add_argument(
        "--eval-severities",
        type=int,
        nargs="+",
        default=list(defaults.eval_severities),
        help="severities of the spoiled grid (default 3)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds of every stage, in turn (medians pool all rounds); 3 on a busy machine",
    )
    parser.add_argument("--stages", nargs="+", help=f"stages or groups ({', '.join(GROUPS)}); default all")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--json", type=Path, help="also write every figure and sample to this JSON file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every stage runs")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage in this process
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stage-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> SpeedSettings:
    settings = SpeedSettings(
        corpus=args.corpus,
        data_dir=args.data_dir,
        task=args.task,
        cache_dir=args.cache_dir,
        clips=args.clips,
        seconds=args.seconds,
        batch_size=args.batch_size,
        passes=args.passes,
        train_steps=args.train_steps,
        train_epochs=args.train_epochs,
        latency_calls=args.latency_calls,
        paired_rounds=args.paired_rounds,
        paired_chunk=args.paired_chunk,
        matmul_seconds=args.matmul_seconds,
        eval_models=tuple(args.eval_models),
        eval_batch=args.eval_batch,
        eval_clips=args.eval_clips,
        eval_severities=tuple(args.eval_severities),
        seed=args.seed,
    )
    if args.quick:
        settings = dataclasses.replace(settings, **QUICK)
    return settings


def run(
    settings: SpeedSettings,
    stages: list[str],
    repeats: int = 1,
    work: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, StageSummary], dict]:
    """Prepare the clips once, then run every stage `repeats` times in rounds, each in a fresh process."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="speed-")))
        (work / "settings.json").write_text(settings.to_json())
        log("preparing the clips ...")
        prepared = run_stage_process("prepare", work)
        log(
            f"  {prepared['description']} ({prepared['seconds']:.1f} s; FLOPs counted in "
            f"{prepared['flops_seconds']:.1f} s)"
        )
        results, failures = [], []
        for round_ in range(repeats):
            for stage in stages:
                if stage == CORRUPTION_COST_STAGE and round_ > 0:
                    continue  # it repeats its own measurements; once is enough
                log(f"round {round_ + 1}/{repeats}: {stage} ...")
                try:
                    results.append(run_stage_process(stage, work))
                except StageFailed as error:  # reported in the table; the other stages still run
                    log(str(error))
                    failures.append({"stage": stage, "round": round_ + 1, "reason": error.reason})
        loads = [x for r in results for x in (r["load_before"], r["load_after"])]
        info = {
            "machine": machine(),
            "clips": prepared["description"],
            "repeats": repeats,
            "loads": loads,
            "raw": results,
            "failures": failures,
            "flops": prepared.get("flops"),
        }
        return summarize(results), info


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.stage:  # inside a stage process
        result = prepare_main(args.work) if args.stage == "prepare" else stage_main(args.stage, args.work)
        args.stage_out.write_text(json.dumps(result))
        return 0
    settings = settings_from_args(args)
    stages = select_stages(args.stages)
    settings.validate(training=any(stage in TRAINING_STAGES for stage in stages))
    summaries, info = run(settings, stages, 1 if args.quick else args.repeats)
    report = render(summaries, settings, info)
    print()
    print(report)
    if args.json:
        payload = {
            "settings": dataclasses.asdict(settings),
            "machine": info["machine"],
            "clips": info["clips"],
            "repeats": info["repeats"],
            "loads": info["loads"],
            "figures": [
                dict(
                    dataclasses.asdict(f),
                    value=f.value,
                    gflops=f.gflops,
                    matmul_fraction=matmul_fraction(f, all_figures(summaries)),
                    peak_rss_mb=s.peak_rss_mb,
                    rss_start_mb=s.rss_start_mb,
                )
                for s in summaries.values()
                for f in s.figures
            ],
            "targets": target_checks(all_figures(summaries)),
            "fraction_targets": fraction_checks(all_figures(summaries)),
            "flops": info["flops"],
            "corruption_costs": next((s.rows for s in summaries.values() if s.rows), None),
            "failures": info["failures"],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if info["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
