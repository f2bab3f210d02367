"""Decode cache: decode and resample a manifest once, store the waveforms, reuse them on the next run.

Decoding (SPHERE, FLAC, Ogg, 44.1 kHz -> 16 kHz) every epoch is waste. `load_waveforms` decodes every
clip of a manifest once into one concatenated float32 array, keyed by a hash of the file list (paths,
sizes, modification times, segments) and the decode settings. A changed file, a new file or other
settings give a new key; the same corpus and settings read the stored arrays back (memory-mapped).

Bad files are never dropped silently: each is recorded with its problem. By default they stop the run
with one message listing all of them (`BadFilesError`); with ``skip_bad=True`` they are left out and
returned, so the caller can list them in the run directory and the printed summary.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from keras_audio.audio import DEFAULT_MAX_SECONDS, AudioError, read_audio
from keras_audio.manifest import Manifest

CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class BadFile:
    clip_id: str
    path: str
    problem: str


class BadFilesError(ValueError):
    """One message that lists every bad file of a corpus and what is wrong with each."""

    def __init__(self, bad_files: list[BadFile], corpus: str):
        self.bad_files = bad_files
        lines = "\n".join(f"  - {b.path}: {b.problem}" for b in bad_files)
        super().__init__(
            f"{corpus}: {len(bad_files)} bad file(s); fix or remove them, or pass --skip-bad to leave them "
            f"out (they are then listed in the run directory):\n{lines}"
        )


@dataclasses.dataclass
class WaveformStore:
    """Decoded clips, concatenated: clip `i` is `samples[offsets[i] : offsets[i] + lengths[i]]`."""

    samples: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    clip_ids: list[str]
    sample_rate: int

    def __len__(self) -> int:
        return len(self.clip_ids)

    def waveform(self, i: int) -> np.ndarray:
        return np.asarray(self.samples[self.offsets[i]:self.offsets[i] + self.lengths[i]])

    def indices(self, clip_ids: list[str]) -> np.ndarray:
        """Positions of `clip_ids` in the store (KeyError names the first missing clip)."""
        position = {c: i for i, c in enumerate(self.clip_ids)}
        return np.array([position[c] for c in clip_ids], dtype=np.int64)


@dataclasses.dataclass
class DecodeResult:
    store: WaveformStore
    manifest: Manifest  # the input manifest without the bad files
    bad_files: list[BadFile]
    cache_dir: Path
    cache_hit: bool
    seconds: float


def cache_key(manifest: Manifest, sample_rate: int, min_samples: int, max_seconds: float | None) -> str:
    """A hash of everything that changes the decoded arrays."""
    digest = hashlib.sha256()
    settings = {"version": CACHE_VERSION, "rate": sample_rate, "min": min_samples, "max": max_seconds}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    columns = [c for c in ("offset", "duration") if c in manifest.frame.columns]
    for clip_id, path, extra in zip(manifest.clip_ids, manifest.paths(), manifest.frame[columns].itertuples(index=False)):
        try:
            stat = path.stat()
            signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            signature = "missing"
        digest.update(f"{clip_id}\0{path}\0{signature}\0{tuple(extra)}\n".encode())
    return digest.hexdigest()[:20]


def load_waveforms(
    manifest: Manifest,
    sample_rate: int,
    cache_dir: str | os.PathLike,
    *,
    skip_bad: bool = False,
    min_samples: int = 1,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    workers: int | None = None,
    progress: bool = True,
) -> DecodeResult:
    """Decode every clip of `manifest` (or read the cache), check for bad files, return the store.

    Args:
        manifest: the clips to decode.
        sample_rate: the model rate; every clip is resampled to it.
        cache_dir: where decoded corpora are kept (one sub-folder per key).
        skip_bad: leave bad files out instead of raising.
        min_samples: clips shorter than this after resampling are bad (one analysis window).
        max_seconds: clips longer than this are bad.
        workers: decoding threads (default: the number of cores).
        progress: show a progress bar while decoding.

    Raises:
        BadFilesError: some files are bad and `skip_bad` is False.
    """
    started = time.perf_counter()
    key = cache_key(manifest, sample_rate, min_samples, max_seconds)
    folder = Path(cache_dir) / f"{_safe(manifest.name)}-{sample_rate}-{key}"
    hit = (folder / "index.json").is_file()
    if not hit:
        _decode_to(folder, manifest, sample_rate, min_samples, max_seconds, workers, progress)
    index = json.loads((folder / "index.json").read_text())
    bad_files = [BadFile(**b) for b in index["bad_files"]]
    if bad_files and not skip_bad:
        raise BadFilesError(bad_files, manifest.name)
    store = WaveformStore(
        samples=np.load(folder / "samples.npy", mmap_mode="r"),
        offsets=np.load(folder / "offsets.npy"),
        lengths=np.load(folder / "lengths.npy"),
        clip_ids=index["clip_ids"],
        sample_rate=sample_rate,
    )
    kept = manifest.drop_clips(b.clip_id for b in bad_files)
    return DecodeResult(store, kept, bad_files, folder, hit, time.perf_counter() - started)


def _decode_to(folder: Path, manifest: Manifest, sample_rate: int, min_samples: int,
               max_seconds: float | None, workers: int | None, progress: bool) -> None:
    frame = manifest.frame
    offsets = frame["offset"].fillna(0.0).tolist() if "offset" in frame else [0.0] * len(frame)
    durations = frame["duration"].tolist() if "duration" in frame else [None] * len(frame)
    durations = [None if d is None or (isinstance(d, float) and np.isnan(d)) else float(d) for d in durations]

    def decode(i: int):
        try:
            return read_audio(paths[i], sample_rate, offset=float(offsets[i]), duration=durations[i],
                              min_samples=min_samples, max_seconds=max_seconds)
        except AudioError as error:
            return error

    paths = manifest.paths()
    waveforms: list[np.ndarray] = []
    clip_ids: list[str] = []
    bad: list[dict] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = pool.map(decode, range(len(frame)))
        for i, result in enumerate(tqdm(results, total=len(frame), desc=f"decoding {manifest.name}",
                                        unit="clip", disable=not progress, leave=False)):
            if isinstance(result, AudioError):
                bad.append(dataclasses.asdict(BadFile(manifest.clip_ids[i], result.path, result.problem)))
            else:
                waveforms.append(result)
                clip_ids.append(manifest.clip_ids[i])
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
    samples = np.concatenate(waveforms) if waveforms else np.zeros(0, np.float32)
    # Write to a temporary sibling, then rename: a cache folder is complete or absent, never half-written.
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        np.save(temporary / "samples.npy", samples)
        np.save(temporary / "offsets.npy", starts)
        np.save(temporary / "lengths.npy", lengths)
        index = {"corpus": manifest.name, "sample_rate": sample_rate, "clip_ids": clip_ids, "bad_files": bad}
        (temporary / "index.json").write_text(json.dumps(index))
        if folder.exists():  # another process finished first; keep its copy
            shutil.rmtree(temporary)
        else:
            temporary.rename(folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "corpus"
