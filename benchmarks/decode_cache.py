"""What the decode cache saves, and a check that real corpora go through recipe + decode cache.

Decode cost (cold: decode + resample + write the cache) against a cache hit (warm: open the cache, and
warm + read: also touch every sample), on any registered corpus:

    python benchmarks/decode_cache.py --corpus audiomnist --data-dir ../shared/data/audiomnist_az
    python benchmarks/decode_cache.py --corpus fsdd --data-dir ../shared/data/fsdd --sample-rate 16000

Every real corpus present in ../shared/data (a fresh clone has none) through its recipe(s) and
`load_waveforms`, printing clips and speakers per split and any bad files:

    python benchmarks/decode_cache.py --check-shared

The cold run reads the audio files through the OS page cache if they were read recently, so it shows the
decode and resample cost, not disk latency; on a cold disk the saving is larger.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio.cache import load_waveforms  # noqa: E402
from keras_audio.corpora import load_corpus  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# corpus folder in ../shared/data -> (recipe, task, options) to check
SHARED_CHECKS = {
    "audiomnist_az": [("audiomnist", "digit", {}), ("audiomnist", "gender", {})],
    "fsdd": [("fsdd", "digit", {}), ("fsdd", "digit", {"split": "speaker"})],
}


def measure(
    corpus: str, data_dir: Path, sample_rate: int, cache_dir: Path, workers: int | None, repeats: int = 3, **options
) -> dict:
    """Cold decode vs. cache hit for one corpus; returns the figures."""
    manifest = load_corpus(corpus, data_dir, **options)
    cold = load_waveforms(manifest, sample_rate, cache_dir, workers=workers, progress=False, skip_bad=True)
    assert not cold.cache_hit, f"{cold.cache_dir} already existed; pass an empty --cache-dir"
    warm_open, warm_read = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        warm = load_waveforms(manifest, sample_rate, cache_dir, workers=workers, progress=False, skip_bad=True)
        assert warm.cache_hit
        warm_open.append(time.perf_counter() - started)
        checksum = float(np.sum(warm.store.samples, dtype=np.float64))  # touch every sample
        warm_read.append(time.perf_counter() - started)
    audio_seconds = float(cold.store.lengths.sum()) / sample_rate
    return {
        "corpus": manifest.name,
        "clips": len(manifest),
        "bad": len(cold.bad_files),
        "audio_hours": audio_seconds / 3600,
        "cache_mb": cold.store.samples.nbytes / 1e6,
        "cold_s": cold.seconds,
        "warm_open_s": statistics.median(warm_open),
        "warm_read_s": statistics.median(warm_read),
        "checksum": checksum,
    }


def check_shared(shared: Path, sample_rate: int, cache_dir: Path, workers: int | None) -> None:
    """Run every real corpus present through recipe -> validate -> load_waveforms and print counts."""
    found = False
    for folder, checks in SHARED_CHECKS.items():
        data_dir = shared / folder
        if not data_dir.is_dir():
            print(f"{folder}: not present in {shared}, skipped")
            continue
        found = True
        for corpus, task, options in checks:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                manifest = load_corpus(corpus, data_dir, task=task, **options)
            result = load_waveforms(manifest, sample_rate, cache_dir, workers=workers, progress=False, skip_bad=True)
            summary = manifest.summary()
            label = f"{folder} [{corpus}, task={task}{''.join(f', {k}={v}' for k, v in options.items())}]"
            print(
                f"{label}: {summary['clips']} clips, {summary['speakers']} speakers, "
                f"{len(manifest.classes)} classes; decoded {len(result.store)} clips "
                f"({'cache hit' if result.cache_hit else 'decoded'} in {result.seconds:.1f} s), "
                f"{len(result.bad_files)} bad file(s)"
            )
            for split, counts in summary["per_split"].items():
                labels = ", ".join(f"{k}: {v}" for k, v in counts["labels"].items())
                print(f"    {split:<10} {counts['clips']:>5} clips  {counts['speakers']:>3} speakers  ({labels})")
            lengths = result.store.lengths / sample_rate
            print(f"    clip length {lengths.min():.2f}-{lengths.max():.2f} s (median {np.median(lengths):.2f} s)")
            for bad in result.bad_files:
                print(f"    BAD {bad.path}: {bad.problem}")
            for warning in caught:
                print(f"    warning: {str(warning.message)[:300]}")
    if not found:
        print(f"no real corpora under {shared}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="a registered corpus name (audiomnist, fsdd, esc50, timit, ...)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--task")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--cache-dir", type=Path, help="default: a temporary folder, removed afterwards")
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: all cores)")
    parser.add_argument("--check-shared", action="store_true", help=f"run every real corpus in {SHARED}")
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    if not args.check_shared and not (args.corpus and args.data_dir):
        parser.error("give --corpus and --data-dir, or --check-shared")
    with tempfile.TemporaryDirectory(prefix="decode-cache-") as temporary:
        cache_dir = args.cache_dir or Path(temporary)
        if args.check_shared:
            check_shared(args.shared, args.sample_rate, cache_dir, args.workers)
            return
        options = {"task": args.task} if args.task else {}
        figures = measure(args.corpus, args.data_dir, args.sample_rate, cache_dir, args.workers, **options)
    print(
        f"corpus {figures['corpus']}: {figures['clips']} clips ({figures['bad']} bad), "
        f"{figures['audio_hours'] * 60:.1f} min of audio at {args.sample_rate} Hz, "
        f"cache {figures['cache_mb']:.0f} MB; {os.cpu_count()} cores, workers={args.workers or os.cpu_count()}"
    )
    print(f"  cold (decode + resample + write cache): {figures['cold_s']:8.2f} s")
    print(f"  warm (cache hit, open):                  {figures['warm_open_s']:8.3f} s")
    print(f"  warm (cache hit, read every sample):     {figures['warm_read_s']:8.3f} s")
    print(
        f"  saving per load: {figures['cold_s'] - figures['warm_read_s']:.2f} s "
        f"({figures['cold_s'] / figures['warm_read_s']:.0f}x faster with every sample read)"
    )


if __name__ == "__main__":
    main()
