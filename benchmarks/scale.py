"""Scaling benchmark: training throughput and peak resident memory as the corpus grows, streamed vs in memory.

    python benchmarks/scale.py                                  # 10k, 30k, 100k clips (the figures)
    python benchmarks/scale.py --sizes 2000 6000 --steps 40     # small: checks that everything runs

For each size it writes a generated corpus of short clips (`--clip-seconds` 0.5 s at `--sample-rate`
8 kHz: a tone or noise, two classes) straight into the decode cache's file layout (``samples.npy``,
``offsets.npy``, ``lengths.npy``), in chunks, so writing never holds the corpus in memory. The corpus
generator (`corpora.synthetic`) writes and decodes one audio file per clip, which takes minutes for 100k
clips; what is measured here starts from the decode cache, which is what training reads either way.

Then, each in a fresh process (so `ru_maxrss` is its own peak): the clips read back as the cache's
`WaveformStore` (memory-mapped, as `cache.load_waveforms` returns it), a clip source (``stream``:
`streaming.StreamedClipSource`; ``memory``: `pipeline.ClipSource`, for `--memory-sizes`), the training stream
(`pipeline.training_dataset`, random crops) and a small Conv1D (`models.build_model`, log-mel inside) fitted
for `--warmup` + `--steps` steps; throughput is examples per second of the timed steps. Printed per size and
source: clips, samples (GB), examples/s, resident memory after loading the source and at its peak. The check:
the streamed source's peak may not grow more than 20 % from the smallest to the largest size.

Disk: 4 bytes × samples; at 0.5 s and 8 kHz, 16 kB per clip: 160 MB for 10k, 480 MB for 30k, 1.6 GB for
100k (2.2 GB for the default sizes; removed afterwards unless `--keep`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

CHUNK_CLIPS = 2000
FLAT_TOLERANCE = 0.20


def write_corpus(folder: Path, clips: int, clip_samples: int, sample_rate: int, seed: int = 0) -> None:
    """`clips` clips of 0.8-1.0 × `clip_samples` (a tone for odd ids, noise for even) in the cache layout."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(int(0.8 * clip_samples), clip_samples + 1, size=clips).astype(np.int64)
    t = np.arange(clip_samples) / sample_rate
    with open(folder / "samples.npy", "wb") as out:
        np.lib.format.write_array_header_1_0(
            out, {"descr": "<f4", "fortran_order": False, "shape": (int(lengths.sum()),)}
        )
        for first in range(0, clips, CHUNK_CLIPS):
            parts = []
            for i in range(first, min(first + CHUNK_CLIPS, clips)):
                n = int(lengths[i])
                if i % 2:
                    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t[:n])
                else:
                    wave = 0.1 * rng.standard_normal(n)
                parts.append(wave.astype("<f4"))
            out.write(np.concatenate(parts).tobytes())
    np.save(folder / "lengths.npy", lengths)
    np.save(folder / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
    (folder / "index.json").write_text(json.dumps({"clips": clips, "sample_rate": sample_rate}))


def resident_mb() -> float:
    """Current resident memory of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(folder: Path, source_kind: str, args) -> dict:
    """In this (fresh) process: load the source, fit `warmup + steps` steps; throughput and memory."""
    import keras
    import pandas as pd
    import tensorflow as tf

    from keras_audio.cache import WaveformStore
    from keras_audio.config import FeatureConfig
    from keras_audio.manifest import Manifest
    from keras_audio.models import build_model
    from keras_audio.pipeline import ClipSource, training_dataset
    from keras_audio.streaming import StreamedClipSource
    from keras_audio.training import compile_classifier, set_global_seed

    set_global_seed(0)
    lengths = np.load(folder / "lengths.npy")
    clip_ids = [f"c{i:07d}" for i in range(len(lengths))]
    store = WaveformStore(
        np.load(folder / "samples.npy", mmap_mode="r"),
        np.load(folder / "offsets.npy"),
        lengths,
        clip_ids,
        args.sample_rate,
    )
    frame = pd.DataFrame(
        {
            "clip_id": clip_ids,
            "path": [f"{c}.wav" for c in clip_ids],
            "label": np.where(np.arange(len(clip_ids)) % 2, "tone", "noise"),
            "speaker": [f"s{i // 10}" for i in range(len(clip_ids))],
            "split": "train",
        }
    )
    started = time.perf_counter()
    manifest = Manifest(frame, name="scale")
    source = (StreamedClipSource if source_kind == "stream" else ClipSource)(store, manifest)
    loaded_seconds = time.perf_counter() - started
    rss_loaded = resident_mb()
    clip_samples = int(round(args.clip_seconds * args.sample_rate))
    features = FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=32)
    model = build_model("conv1d", 2, args.sample_rate, features, filters=[16, 32], kernel_size=3)
    compile_classifier(model, 1e-3)
    dataset = training_dataset(source, clip_samples, args.batch_size, seed=0)
    model.fit(dataset, epochs=1, steps_per_epoch=args.warmup, verbose=0)  # tracing, the first reads
    began = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
    seconds = time.perf_counter() - began
    del keras, tf
    return {
        "clips": len(lengths),
        "source": source_kind,
        "samples_gb": 4 * float(lengths.sum()) / 1e9,
        "examples_per_s": args.steps * args.batch_size / seconds,
        "load_seconds": loaded_seconds,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10000, 30000, 100000], help="clips per corpus")
    parser.add_argument(
        "--memory-sizes",
        nargs="*",
        type=int,
        default=None,
        help="sizes also measured with the in-memory source (default: sizes up to 30000)",
    )
    parser.add_argument("--clip-seconds", type=float, default=0.5)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per size")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing)")
    parser.add_argument("--work-dir", type=Path, help="where the corpora are written (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the written corpora")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("sizes", "memory_sizes"):
        for size in getattr(args, name) or []:
            if size < 2:
                parser.error(f"--{name.replace('_', '-')}: {size} clips is too few (at least 2)")
    if args.steps < 1 or args.warmup < 1 or args.batch_size < 1:
        parser.error("--steps, --warmup and --batch-size must be >= 1")
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1], args)))
        return 0
    memory_sizes = args.memory_sizes if args.memory_sizes is not None else [s for s in args.sizes if s <= 30000]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="keras-audio-scale-"))
    clip_samples = int(round(args.clip_seconds * args.sample_rate))
    rows = []
    passed = [
        f"--{k.replace('_', '-')}={getattr(args, k)}"
        for k in ("clip_seconds", "sample_rate", "batch_size", "steps", "warmup")
    ]
    try:
        for size in sorted(set(args.sizes) | set(memory_sizes)):
            folder = work / f"clips-{size}"
            began = time.perf_counter()
            write_corpus(folder, size, clip_samples, args.sample_rate)
            print(f"wrote {size} clips in {time.perf_counter() - began:.1f} s ({folder})", flush=True)
            for kind in ["stream"] * (size in args.sizes) + ["memory"] * (size in memory_sizes):
                child = subprocess.run(
                    [sys.executable, __file__, "--child", str(folder), kind, *passed], capture_output=True, text=True
                )
                if child.returncode:
                    print(child.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"scale: the {kind} measurement of {size} clips failed")
                rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
                row = rows[-1]
                print(
                    f"  {kind:>6}: {row['examples_per_s']:8.0f} examples/s, resident {row['rss_loaded_mb']:7.0f} MB "
                    f"loaded, {row['peak_rss_mb']:7.0f} MB peak",
                    flush=True,
                )
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| clips | source | samples (GB) | examples/s | resident after loading (MB) | peak resident (MB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['clips']:,} | {row['source']} | {row['samples_gb']:.2f} | {row['examples_per_s']:.0f} | "
            f"{row['rss_loaded_mb']:.0f} | {row['peak_rss_mb']:.0f} |"
        )
    streamed = [r for r in rows if r["source"] == "stream"]
    status = 0
    if len(streamed) > 1:
        low, high = min(streamed, key=lambda r: r["clips"]), max(streamed, key=lambda r: r["clips"])
        growth = high["peak_rss_mb"] / low["peak_rss_mb"] - 1
        flat = growth <= FLAT_TOLERANCE
        print(
            f"\nstreamed peak memory from {low['clips']:,} to {high['clips']:,} clips: {growth:+.1%} "
            f"({'flat' if flat else 'NOT flat'}: limit +{FLAT_TOLERANCE:.0%})"
        )
        status = 0 if flat else 1
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
