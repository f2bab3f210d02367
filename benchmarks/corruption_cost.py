"""Cost of each corruption per clip inside `tf.data`, next to its librosa / NumPy equivalent.

    python benchmarks/corruption_cost.py              # 3-s clips at 16 kHz, 2 cores
    python benchmarks/corruption_cost.py --quick      # fewer clips per measurement
    python benchmarks/corruption_cost.py --grid       # evaluate_grid per clip vs batched (200 clips, 2 models)
    python benchmarks/corruption_cost.py --grid --quick   # the same on 40 clips and 6 corruptions

For each corruption, a `tf.data` pipeline maps it over a stream of 3-s clips (`num_parallel_calls=2`, one
op thread per call, as `tf.data` recommends for input pipelines; one seed per clip; severity 3 unless
`--severity`) and the per-clip cost of an identity map is subtracted:

- ``tf cpu ms``: process CPU time per clip, the work done whatever the parallelism, and robust to other
  processes sharing the machine;
- ``tf wall ms``: wall time per clip with both cores working (what a training pipeline waits; on an idle
  machine about half the CPU time, on a shared one anything);
- ``ref ms``: CPU time of the same corruption done by librosa / NumPy / SciPy on one clip at a time (single
  threaded), in the same run; the equivalent is named in the ``reference`` column;
- ``ref in tf.data ms``: the same reference inside the same `tf.data` pipeline through `tf.numpy_function`,
  which is how NumPy code gets into an input pipeline (it holds the GIL, so it does not scale with cores);
- ``% log-mel``: ``tf cpu ms`` over the CPU time per clip of a log-mel in the same kind of pipeline (the
  lead's `keras_audio.features.LogMelSpectrogram` when importable, else `tf.signal.stft` n_fft 512,
  hop 160 and a 64-band mel matrix);
- ``batched cpu ms``: CPU time per clip of `Corruption.corrupt_batch` called on batches of `--batch`
  clips (as evaluation spoils them, the identity's cost subtracted), and ``per clip / batched`` the gain.

``--grid`` times `grid.evaluate_grid` on the full grid (every corruption × severities 1-5, plus clean)
for two small untrained models (conv1d, conv2d), first the per-clip path (`batched=False`, today's loop:
one per-clip pipeline per condition, batches of `--eval-batch`), then the batched stream, in the same
process, and checks that both give the same predictions.

Targets (issue), checked on CPU time: no corruption slower than its equivalent (``tf cpu ms`` <=
``ref ms``); noise, gain and filters under 10 % of the log-mel. Background noise and impulse responses
come from `../shared/data/noise` and `../shared/data/impulse_responses` when present; babble from
AudioMNIST_AZ clips in `../shared/data` when present. Otherwise synthetic stand-ins are written to a
temporary folder (and the row says so).
Each figure is the best of `--repeats` runs: other processes on a shared machine only ever add time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_audio.corruptions import registry  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
SEVERITY = 3
NOISE_LIKE = ("white_noise", "pink_noise", "brown_noise", "background_noise", "babble")
TEN_PERCENT_TARGET = NOISE_LIKE + ("gain", "lowpass", "telephone")


# ------------------------------------------------------------------------------------------- the clip
def speech_like_clip(sample_rate: int, seconds: float) -> np.ndarray:
    """A speech-like clip: a harmonic tone with a wandering F0 under a syllable-rate envelope, plus noise."""
    rng = np.random.default_rng(0)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (0.1 * voice * envelope + 0.003 * rng.standard_normal(n)).astype(np.float32)


# ------------------------------------------------------------------------------------------- resources
def resources(sample_rate: int, scratch: Path) -> tuple[registry.Resources, dict[str, str]]:
    """Real recordings from ../shared/data when present, else synthetic stand-ins under `scratch`."""
    notes = {}
    noise_dir = SHARED_DATA / "noise"
    if not noise_dir.is_dir():
        noise_dir = scratch / "noise"
        noise_dir.mkdir()
        rng = np.random.default_rng(1)
        sf.write(noise_dir / "noise.wav", 0.1 * rng.standard_normal(60 * sample_rate), sample_rate)
        notes["background_noise"] = "synthetic stand-in noise"
    ir_dir = SHARED_DATA / "impulse_responses"
    if not ir_dir.is_dir():
        ir_dir = scratch / "ir"
        ir_dir.mkdir()
        rng = np.random.default_rng(2)
        t = np.arange(int(0.5 * sample_rate)) / sample_rate
        sf.write(ir_dir / "ir.wav", np.exp(-t * 13.8) * rng.standard_normal(t.size), sample_rate)
        notes["ir_reverb"] = "synthetic stand-in impulse response"
    babble_files = sorted((SHARED_DATA / "audiomnist_az" / "data").glob("0[1-8]/*_1.flac"))
    if babble_files:
        babble = [librosa.load(f, sr=sample_rate)[0] for f in babble_files]
    else:
        babble = [speech_like_clip(sample_rate, 1.0) * (1 + k) for k in range(8)]
        notes["babble"] = "synthetic stand-in utterances"
    return registry.Resources(noise_dir=str(noise_dir), ir_dir=str(ir_dir), babble_waveforms=babble), notes


# ------------------------------------------------------------------------------------------- tf.data cost
def pipeline_cost(fn: Callable, clip: np.ndarray, clips: int, repeats: int) -> tuple[float, float]:
    """Best (wall ms, CPU ms) per clip of `map(fn)` over `clips` copies of `clip`, 2 parallel calls."""
    clip_tensor = tf.constant(clip)
    options = tf.data.Options()
    options.threading.max_intra_op_parallelism = 1
    options.threading.private_threadpool_size = 2
    dataset = (
        tf.data.Dataset.range(clips)
        .map(
            lambda i: fn(clip_tensor, tf.stack([i, tf.constant(17, tf.int64)])),
            num_parallel_calls=2,
        )
        .with_options(options)
    )
    summed = dataset.map(tf.reduce_sum)  # consumed inside TensorFlow: no Python per element

    def run():
        return summed.reduce(tf.constant(0.0), lambda total, value: total + value)

    run()  # builds the functions and warms the caches
    best_wall, best_cpu = best_time(run, repeats)
    return best_wall / clips * 1e3, best_cpu / clips * 1e3


def best_time(run: Callable, repeats: int) -> tuple[float, float]:
    """The shortest (wall s, CPU s) of `repeats` calls of `run`."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def batched_pipeline_cost(
    corruption, severity: int, clip: np.ndarray, clips: int, batch: int, repeats: int
) -> tuple[float, float]:
    """Best (wall ms, CPU ms) per clip of `corrupt_batch` over batches of `batch` copies of `clip` (one seed
    per clip, one batch at a time); `corruption` None measures the identity.

    The batched corruption is called as a compiled function, traced once before timing, not inside a
    `tf.data` map: a map spoils batches ahead of `next` (tf.data injects prefetching even after a sequential
    map), between the timed runs, and a run of one or two batches then timed almost no work (the first
    version of this column reported 0.05 ms per clip for an MP3 round trip that costs 20).
    """
    batch_tensor = tf.constant(np.tile(clip, (batch, 1)))

    @tf.function
    def spoil(first):
        if corruption is None:
            return tf.reduce_sum(batch_tensor)
        seeds = tf.stack([first + tf.range(batch, dtype=tf.int64), tf.fill([batch], tf.constant(17, tf.int64))], 1)
        return tf.reduce_sum(corruption.corrupt_batch(batch_tensor, seeds, severity))

    batches = -(-clips // batch)
    first = iter(range(0, 1 << 62, batch))

    def run():
        for _ in range(batches):
            spoil(tf.constant(next(first), tf.int64)).numpy()

    run()
    best_wall, best_cpu = best_time(run, repeats)
    return best_wall / (batches * batch) * 1e3, best_cpu / (batches * batch) * 1e3


def log_mel_function(sample_rate: int) -> tuple[Callable, str]:
    """The log-mel the corruption costs are compared with (the lead's layer if importable)."""
    try:
        from keras_audio.features import LogMelSpectrogram

        layer = LogMelSpectrogram(sample_rate=sample_rate, n_fft=512, hop_length=160, n_mels=64)
        return (lambda x, seed: layer(x[None])[0]), "keras_audio.features.LogMelSpectrogram"
    except ImportError:
        mel = tf.signal.linear_to_mel_weight_matrix(64, 257, sample_rate, 0.0, sample_rate / 2)

        def log_mel(x, seed):
            power = tf.square(tf.abs(tf.signal.stft(x, 512, 160, 512)))
            return tf.math.log(tf.matmul(power, mel) + 1e-6)

        return log_mel, "tf.signal.stft 512/160 + 64 mels (local)"


# ------------------------------------------------------------------------------------------- references
def references(sample_rate: int, severity: int) -> dict[str, tuple[str, Callable]]:
    """Corruption name -> (what, f(x) -> y): the librosa / NumPy / SciPy way to do the same thing."""
    rng = np.random.default_rng(3)
    s = severity - 1

    def row(name):
        return {k: v[s] for k, v in registry.corruption_class(name).severities.items()}

    def add_from_bank(bank):
        def add(x):
            start = rng.integers(0, bank.size - x.size)
            noise = bank[start : start + x.size]
            gain = np.sqrt(np.mean(x**2) / np.mean(noise**2)) / 10 ** (10 / 20)
            return x + gain * noise

        return add

    white_bank = rng.standard_normal(20 * sample_rate).astype(np.float32)
    bits, mu_bits = row("bit_depth")["bits"], row("mu_law")["bits"]
    speed = 1 + row("speed")["change"]
    stretch = 1 + row("time_stretch")["change"]
    semitones = row("pitch_shift")["semitones"]
    cutoff = row("lowpass")["cutoff_hz"]
    band = (row("telephone")["low_hz"], row("telephone")["high_hz"])
    lowpass_sos = scipy.signal.butter(8, cutoff, "lowpass", fs=sample_rate, output="sos")
    band_sos = scipy.signal.butter(6, band, "bandpass", fs=sample_rate, output="sos")
    rt60 = row("reverb")["rt60_s"]
    ir_files = sorted((SHARED_DATA / "impulse_responses").glob("*.wav"))
    recorded_irs = [librosa.load(f, sr=sample_rate)[0] for f in ir_files] or [
        white_bank[:8000] * np.exp(-np.arange(8000) / 1000)
    ]
    ir_turn = iter(range(10**9))
    packet = int(0.02 * sample_rate)
    shift = int(row("time_shift")["shift_ms"] * sample_rate / 1000)

    def quantize(x, b):
        peak = np.max(np.abs(x))
        scale = 2.0 ** (b - 1)
        return np.clip(np.round(x / peak * scale), -scale, scale - 1) / scale * peak

    def mu_law(x):
        peak = np.max(np.abs(x))
        codes = librosa.mu_compress(x / peak, mu=2 ** int(mu_bits) - 1, quantize=True)
        return librosa.mu_expand(codes, mu=2 ** int(mu_bits) - 1, quantize=True) * peak

    def synthetic_reverb(x):
        n = int(rt60 * sample_rate)
        h = white_bank[:n] * np.exp(-6.9078 * np.arange(n) / n)
        h[0] = 1.0
        y = scipy.signal.fftconvolve(x, h)[: x.size]
        return y * np.sqrt(np.mean(x**2) / np.mean(y**2))

    def packet_loss(x):
        packets = -(-x.size // packet)
        keep = np.ones(packets, np.float32)
        keep[rng.permutation(packets)[: round(row("packet_loss")["fraction"] * packets)]] = 0
        return x * np.repeat(keep, packet)[: x.size]

    noise = ("NumPy: crop a pre-made bank, scale to the SNR, add", add_from_bank(white_bank))
    return {
        "white_noise": noise,
        "pink_noise": noise,
        "brown_noise": noise,
        "background_noise": noise,
        "babble": noise,
        "gain": ("NumPy: multiply", lambda x: x * 10 ** (row("gain")["gain_db"] / 20)),
        "clipping": (
            "NumPy: np.clip at a fraction of the peak",
            lambda x: np.clip(x, -0.25 * np.abs(x).max(), 0.25 * np.abs(x).max()),
        ),
        "bit_depth": ("NumPy: round to the PCM grid", lambda x: quantize(x, bits)),
        "mu_law": ("librosa: mu_compress + mu_expand", mu_law),
        "speed": (
            "librosa: resample (soxr_hq)",
            lambda x: librosa.resample(x, orig_sr=sample_rate, target_sr=round(sample_rate / speed)),
        ),
        "time_stretch": ("librosa: effects.time_stretch", lambda x: librosa.effects.time_stretch(x, rate=stretch)),
        "pitch_shift": (
            "librosa: effects.pitch_shift",
            lambda x: librosa.effects.pitch_shift(x, sr=sample_rate, n_steps=semitones),
        ),
        "lowpass": (
            "SciPy: sosfiltfilt (zero phase, as ours), Butterworth order 8",
            lambda x: scipy.signal.sosfiltfilt(lowpass_sos, x),
        ),
        "telephone": (
            "SciPy: sosfiltfilt band-pass order 6 + librosa μ-law",
            lambda x: mu_law(scipy.signal.sosfiltfilt(band_sos, x).astype(np.float32)),
        ),
        "reverb": ("NumPy IR + SciPy fftconvolve", synthetic_reverb),
        "ir_reverb": (
            "SciPy: fftconvolve with each IR in turn, mix",
            lambda x: (
                0.4 * x + 0.6 * scipy.signal.fftconvolve(x, recorded_irs[next(ir_turn) % len(recorded_irs)])[: x.size]
            ),
        ),
        "packet_loss": ("NumPy: mask of 20-ms packets", packet_loss),
        "time_shift": ("NumPy: pad and slice", lambda x: np.pad(x, (shift, 0))[: x.size]),
    }


def _one_pass_lowpass(sample_rate: int, severity: int) -> Callable:
    cutoff = registry.corruption_class("lowpass").severities["cutoff_hz"][severity - 1]
    sos = scipy.signal.butter(8, cutoff, "lowpass", fs=sample_rate, output="sos")
    return lambda x: scipy.signal.sosfilt(sos, x)


ONE_PASS = {"lowpass": _one_pass_lowpass}


def call_cost(fn: Callable, clip: np.ndarray, calls: int, repeats: int) -> float:
    """Best per-call CPU ms of `fn(clip)` over `repeats` runs of `calls` calls."""
    fn(clip)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            fn(clip)
        best = min(best, time.process_time() - start)
    return best / calls * 1e3


# ------------------------------------------------------------------------------------------- the rows
def corruption_costs(
    sample_rate: int = 16000,
    seconds: float = 3.0,
    clips: int = 1000,
    calls: int = 50,
    repeats: int = 5,
    severity: int = SEVERITY,
    names: list[str] | None = None,
    batch: int = 64,
) -> list[dict]:
    """One row per corruption: its tf.data cost, its reference's cost, and their ratios.

    Keys: ``corruption``, ``tf_cpu_ms``, ``tf_wall_ms`` (2 parallel calls), ``reference``, ``ref_ms`` (CPU),
    ``ref_in_tf_data_ms`` (the reference through `tf.numpy_function` in the same pipeline, CPU),
    ``tf_over_ref`` and ``pct_log_mel`` (both on CPU time), ``target`` (what the issue asks of this row),
    ``met``, ``note``, ``batched_cpu_ms`` (`corrupt_batch` over batches of `batch` clips, per clip) and
    ``per_clip_over_batched``.
    The first row is the log-mel itself (the yardstick).
    """
    clip = speech_like_clip(sample_rate, seconds)
    with tempfile.TemporaryDirectory() as scratch:
        resources_, notes = resources(sample_rate, Path(scratch))
        suite = registry.build_suite(names, sample_rate, resources_)
    identity_wall, identity_cpu = pipeline_cost(lambda x, seed: x, clip, clips, repeats)
    log_mel, log_mel_what = log_mel_function(sample_rate)
    mel_wall, mel_cpu = pipeline_cost(log_mel, clip, clips, repeats)
    mel_wall, mel_cpu = mel_wall - identity_wall, mel_cpu - identity_cpu
    librosa_mel = call_cost(
        lambda x: librosa.power_to_db(
            librosa.feature.melspectrogram(y=x, sr=sample_rate, n_fft=512, hop_length=160, n_mels=64)
        ),
        clip,
        calls,
        repeats,
    )
    rows = [
        {
            "corruption": "(log-mel)",
            "tf_cpu_ms": mel_cpu,
            "tf_wall_ms": mel_wall,
            "reference": "librosa: melspectrogram + power_to_db",
            "ref_ms": librosa_mel,
            "ref_in_tf_data_ms": None,
            "tf_over_ref": mel_cpu / librosa_mel,
            "pct_log_mel": 100.0,
            "target": "",
            "met": "",
            "note": log_mel_what,
            "batched_cpu_ms": None,
            "per_clip_over_batched": None,
        }
    ]
    refs = references(sample_rate, severity)
    for name, corruption in suite.items():
        # The identity baseline is measured again next to each corruption: on a shared machine it drifts.
        identity_wall, identity_cpu = pipeline_cost(lambda x, seed: x, clip, clips, repeats)
        wall, cpu = pipeline_cost(lambda x, seed, c=corruption: c(x, seed, severity), clip, clips, repeats)
        wall, cpu = max(wall - identity_wall, 0.0), max(cpu - identity_cpu, 0.0)
        _, batched_identity = batched_pipeline_cost(None, severity, clip, clips, batch, repeats)
        _, batched = batched_pipeline_cost(corruption, severity, clip, clips, batch, repeats)
        batched = max(batched - batched_identity, 0.0)
        what, reference = refs.get(name, ("(none)", lambda x: x))
        ref_ms = call_cost(reference, clip, calls, repeats)
        _, ref_in_pipeline = pipeline_cost(
            lambda x, seed, f=reference: tf.numpy_function(lambda a: np.asarray(f(a), np.float32), [x], tf.float32),
            clip,
            max(clips // 4, 20),
            repeats,
        )
        ref_in_pipeline = max(ref_in_pipeline - identity_cpu, 0.0)
        percent = 100.0 * cpu / mel_cpu
        target = "<= ref"
        met = cpu <= ref_ms
        if name in TEN_PERCENT_TARGET:
            target += ", < 10% log-mel"
            met = met and percent < 10.0
        note = notes.get(name, "")
        if name in ONE_PASS:
            one_pass = call_cost(ONE_PASS[name](sample_rate, severity), clip, calls, repeats)
            note = (note + "; " if note else "") + f"one-pass sosfilt (not zero-phase): {one_pass:.3f} ms"
        rows.append(
            {
                "corruption": name,
                "tf_cpu_ms": cpu,
                "tf_wall_ms": wall,
                "reference": what,
                "ref_ms": ref_ms,
                "ref_in_tf_data_ms": ref_in_pipeline,
                "tf_over_ref": cpu / ref_ms,
                "pct_log_mel": percent,
                "target": target,
                "met": "yes" if met else "NO",
                "note": note,
                "batched_cpu_ms": batched,
                "per_clip_over_batched": cpu / batched if batched > 0 else float("inf"),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| corruption | tf cpu ms | tf wall ms | batched cpu ms | per clip / batched | reference | ref ms | "
        "ref in tf.data ms | tf/ref | % log-mel | target | met | note |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        in_pipeline = "" if r["ref_in_tf_data_ms"] is None else f"{r['ref_in_tf_data_ms']:.3f}"
        batched = "" if r["batched_cpu_ms"] is None else f"{r['batched_cpu_ms']:.3f}"
        ratio = "" if r["per_clip_over_batched"] is None else f"{r['per_clip_over_batched']:.1f}"
        lines.append(
            f"| {r['corruption']} | {r['tf_cpu_ms']:.3f} | {r['tf_wall_ms']:.3f} | {batched} | {ratio} | "
            f"{r['reference']} | {r['ref_ms']:.3f} | {in_pipeline} | {r['tf_over_ref']:.2f} | "
            f"{r['pct_log_mel']:.0f} | {r['target']} | {r['met']} | {r['note']} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- evaluate_grid
GRID_QUICK_CORRUPTIONS = ["white_noise", "background_noise", "gain", "lowpass", "speed", "packet_loss"]


def grid_cost(
    clips: int = 200,
    seconds: float = 2.0,
    sample_rate: int = 16000,
    names: list[str] | None = None,
    eval_batch: int = 32,
    models: tuple[str, ...] = ("conv1d", "conv2d"),
) -> dict:
    """`evaluate_grid` per clip (`batched=False`) then batched, in this process: wall and CPU seconds of each.

    The clips are speech-like tones of varied length (some shorter than `seconds`), the models untrained
    (their cost is the same), the grid every buildable corruption × severities 1-5 plus clean.
    """
    import pandas as pd

    from keras_audio.cache import WaveformStore
    from keras_audio.grid import evaluate_grid, grid, keras_predictor
    from keras_audio.manifest import Manifest
    from keras_audio.models.registry import build_model
    from keras_audio.pipeline import ClipSource

    rng = np.random.default_rng(5)
    base = speech_like_clip(sample_rate, 2 * seconds)
    lengths = rng.integers(int(0.6 * seconds * sample_rate), int(1.5 * seconds * sample_rate), size=clips)
    waveforms = [np.roll(base, int(rng.integers(base.size)))[:n] * rng.uniform(0.3, 3.0) for n in lengths]
    clip_ids = [f"clip{i:04d}" for i in range(clips)]
    store = WaveformStore(
        np.concatenate(waveforms).astype(np.float32),
        np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        lengths,
        clip_ids,
        sample_rate,
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": ["low" if i % 2 else "high" for i in range(clips)],
            "speaker": [f"s{i}" for i in range(clips)],
            "split": "test",
        }
    )
    source = ClipSource(store, Manifest(frame, name="grid"))
    with tempfile.TemporaryDirectory() as scratch:
        resources_, _ = resources(sample_rate, Path(scratch))
        suite = registry.build_suite(names, sample_rate, resources_, skip_missing=True)
    conditions = grid(suite, (1, 2, 3, 4, 5))
    keras_models = {name: build_model(name, 2, sample_rate) for name in models}
    predictors = {name: keras_predictor(model) for name, model in keras_models.items()}
    clip_samples = int(seconds * sample_rate)
    for predict in predictors.values():  # trace both batch shapes outside the timings
        for size in (eval_batch, 256):
            predict(tf.zeros([size, clip_samples]))
    timings, results = {}, {}
    for label, batched in (("per clip", False), ("batched", True)):
        wall, cpu = time.perf_counter(), time.process_time()
        results[label] = evaluate_grid(
            predictors, source, conditions, clip_samples, eval_batch, seed=0, progress=False, batched=batched
        )
        timings[label] = (time.perf_counter() - wall, time.process_time() - cpu)
    before, after = results["per clip"], results["batched"]
    same = all(np.array_equal(before.predictions[k], after.predictions[k]) for k in before.predictions)
    largest = max(float(np.max(np.abs(before.probabilities[k] - after.probabilities[k]))) for k in before.probabilities)
    return {
        "clips": clips,
        "conditions": len(conditions),
        "models": list(models),
        "timings": timings,
        "same_predictions": same,
        "max_probability_difference": largest,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--severity", type=int, default=SEVERITY, choices=range(1, 6))
    parser.add_argument("--clips", type=int, default=1000, help="clips per tf.data measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 clips, 3 repeats")
    parser.add_argument("--cores", type=int, default=2, help="pin the process to this many cores (Linux)")
    parser.add_argument("--only", nargs="+", help="corruption names (default: all)")
    parser.add_argument("--batch", type=int, default=64, help="clips per batch for the batched column")
    parser.add_argument("--grid", action="store_true", help="time evaluate_grid per clip vs batched instead")
    parser.add_argument("--grid-clips", type=int, default=200)
    parser.add_argument("--eval-batch", type=int, default=32, help="the per-clip path's batch size (the config's)")
    # Accepted so that benchmarks/speed.py can pass its usual flags; the cost does not depend on the clip's
    # content, so a synthetic speech-like clip is used whatever the corpus.
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    if args.grid:
        names = args.only or (GRID_QUICK_CORRUPTIONS if args.quick else None)
        figures = grid_cost(40 if args.quick else args.grid_clips, 2.0, args.sample_rate, names, args.eval_batch)
        (before_wall, before_cpu), (after_wall, after_cpu) = figures["timings"].values()
        print(
            f"# evaluate_grid: {figures['clips']} clips of 2 s x {figures['conditions']} conditions x "
            f"{len(figures['models'])} untrained models ({', '.join(figures['models'])}), "
            f"{len(os.sched_getaffinity(0))} cores"
        )
        print()
        print("| path | wall s | cpu s |\n|---|---:|---:|")
        print(f"| per clip (batched=False, batch {args.eval_batch}) | {before_wall:.1f} | {before_cpu:.1f} |")
        print(f"| batched stream (batch 256) | {after_wall:.1f} | {after_cpu:.1f} |")
        print(f"| per clip / batched | {before_wall / after_wall:.2f} | {before_cpu / after_cpu:.2f} |")
        print()
        print(
            f"same predictions: {figures['same_predictions']}; largest probability difference "
            f"{figures['max_probability_difference']:.2g} (the models' kernels at another batch size)"
        )
        return [figures]
    clips, repeats = (200, 3) if args.quick else (args.clips, args.repeats)
    rows = corruption_costs(
        args.sample_rate,
        args.seconds,
        clips=clips,
        repeats=repeats,
        severity=args.severity,
        names=args.only,
        batch=args.batch,
    )
    print(
        f"# Corruption cost per {args.seconds:g}-s clip at {args.sample_rate} Hz, severity {args.severity}, "
        f"tf.data map with 2 parallel calls on {len(os.sched_getaffinity(0))} cores, best of {repeats}"
    )
    print()
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
