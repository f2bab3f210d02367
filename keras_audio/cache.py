"""Decode cache: decode and resample a manifest once, store the waveforms, reuse them on the next run.

Decoding (SPHERE, FLAC, Ogg, 44.1 kHz -> 16 kHz) every epoch is waste. `load_waveforms` decodes every
clip of a manifest once into one concatenated float32 array, keyed by a hash of the file list (paths,
sizes, modification times, segments) and the decode settings. A changed file, a new file or other
settings give a new key; the same corpus and settings read the stored arrays back (memory-mapped).

The cache folder is written under a temporary name (``.<folder>.partial-<pid>-<token>``) and renamed when
complete, so an interrupted run leaves no folder that a later run could take for a cache. An exception
(Ctrl-C, or SIGTERM under `run_writer.RunWriter`) removes the temporary at once; one left by a killed
process (SIGKILL, a crash) is removed by the next `load_waveforms` in the same cache folder, whatever its
key, as soon as its pid is gone (or it has been untouched for an hour: pids are reused). Samples are
streamed to disk as clips are decoded, so memory holds the clips in flight, not the corpus twice.

Samples beyond `audio.MAX_ABS_SAMPLE` make a file bad (they would overflow the features to NaN).

Bad files are never dropped silently: each is recorded with its problem. By default they stop the run
with one message listing all of them (`BadFilesError`); with ``skip_bad=True`` they are left out and
returned, so the caller can list them in the run directory and the printed summary.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile
import soxr
from tqdm.auto import tqdm

from keras_audio.audio import DEFAULT_MAX_SECONDS, MAX_ABS_SAMPLE, AudioError, read_audio
from keras_audio.manifest import Manifest
from keras_audio.processes import process_alive

# 2: files with samples beyond MAX_ABS_SAMPLE are bad (a version-1 cache may hold them as good).
# 3: files whose header gives a rate below audio.MIN_SAMPLE_RATE are bad (a version-2 cache may hold them).
CACHE_VERSION = 3
STALE_SECONDS = 3600.0
_TEMPORARY = re.compile(r"^\..+\.partial-(?P<pid>\d+)-[^/]+$")


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
        return np.asarray(self.samples[self.offsets[i] : self.offsets[i] + self.lengths[i]])

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
    removed_temporaries: list[Path] = dataclasses.field(default_factory=list)  # left by killed decoders


def cache_key(manifest: Manifest, sample_rate: int, min_samples: int, max_seconds: float | None) -> str:
    """A hash of everything that changes the decoded arrays."""
    digest = hashlib.sha256()
    # Library versions are part of the key: a new libsndfile or soxr may decode or resample differently.
    settings = {
        "version": CACHE_VERSION,
        "rate": sample_rate,
        "min": min_samples,
        "max": max_seconds,
        "max_abs": MAX_ABS_SAMPLE,
        "libsndfile": soundfile.__libsndfile_version__,
        "soxr": soxr.__version__,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    frame = manifest.frame
    segments = [frame[c].tolist() if c in frame.columns else [None] * len(frame) for c in ("offset", "duration")]
    for clip_id, path, offset, duration in zip(manifest.clip_ids, manifest.paths(), *segments, strict=True):
        try:
            stat = path.stat()
            signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            signature = "missing"
        digest.update(f"{clip_id}\0{path}\0{signature}\0{offset}\0{duration}\n".encode())
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
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1 or None, got {workers}")
    started = time.perf_counter()
    key = cache_key(manifest, sample_rate, min_samples, max_seconds)
    folder = Path(cache_dir) / f"{_safe(manifest.name)}-{sample_rate}-{key}"
    index = _read_index(folder)
    hit = index is not None
    removed = _remove_stale_temporaries(folder)
    if not hit:
        _decode_to(folder, manifest, sample_rate, min_samples, max_seconds, workers, progress)
        index = _read_index(folder)
        if index is None:  # pragma: no cover - only if the folder is damaged between write and read
            raise RuntimeError(f"decode cache {folder} is unreadable right after writing it")
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
    return DecodeResult(store, kept, bad_files, folder, hit, time.perf_counter() - started, removed)


def _read_index(folder: Path) -> dict | None:
    """The index of a complete cache folder, or None (absent; or damaged, which is then removed)."""
    if not folder.is_dir():
        return None
    try:
        index = json.loads((folder / "index.json").read_text())
        lengths = np.load(folder / "lengths.npy")
        offsets = np.load(folder / "offsets.npy")
        samples = np.load(folder / "samples.npy", mmap_mode="r")
        complete = (
            index.get("complete") is True
            and len(index["clip_ids"]) == len(lengths) == len(offsets)
            and samples.dtype == np.float32
            and samples.ndim == 1
            and samples.shape[0] == int(lengths.sum())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        complete = False
    if not complete:
        warnings.warn(f"decode cache {folder} is damaged; decoding again", RuntimeWarning, stacklevel=3)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return index


def _remove_stale_temporaries(folder: Path, max_age_seconds: float = STALE_SECONDS) -> list[Path]:
    """Remove half-written cache folders left by killed decoders; return them.

    Any key's temporary (``.<folder>.partial-<pid>-<token>``) goes as soon as its pid is gone; one whose pid
    is alive only when untouched for `max_age_seconds` (a live writer touches its files; the pid may have
    been reused). Older code named temporaries ``.<folder>-<token>``: this key's go after the same hour.
    """
    if not folder.parent.is_dir():
        return []
    now = time.time()
    removed = []
    for temporary in folder.parent.iterdir():
        match = _TEMPORARY.match(temporary.name)
        legacy = match is None and temporary.name.startswith(f".{folder.name}-")
        if not (match or legacy) or not temporary.is_dir():
            continue
        if match and int(match["pid"]) != os.getpid() and not process_alive(int(match["pid"])):
            stale = True
        else:
            try:
                newest = max([temporary.stat().st_mtime] + [f.stat().st_mtime for f in temporary.iterdir()])
            except OSError:
                continue
            stale = now - newest > max_age_seconds
        if stale:
            shutil.rmtree(temporary, ignore_errors=True)
            removed.append(temporary)
    return removed


def _npy_header(length: int) -> bytes:
    """The .npy header of a float32 vector; numpy pads it to the same size for any length."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (length,)})
    return buffer.getvalue()


def _decode_to(
    folder: Path,
    manifest: Manifest,
    sample_rate: int,
    min_samples: int,
    max_seconds: float | None,
    workers: int | None,
    progress: bool,
) -> None:
    frame = manifest.frame
    offsets = frame["offset"].fillna(0.0).tolist() if "offset" in frame else [0.0] * len(frame)
    durations = frame["duration"].tolist() if "duration" in frame else [None] * len(frame)
    durations = [None if d is None or (isinstance(d, float) and np.isnan(d)) else float(d) for d in durations]
    paths = manifest.paths()

    def decode(i: int):
        try:
            return read_audio(
                paths[i],
                sample_rate,
                offset=float(offsets[i]),
                duration=durations[i],
                min_samples=min_samples,
                max_seconds=max_seconds,
            )
        except AudioError as error:
            return error

    lengths: list[int] = []
    clip_ids: list[str] = []
    bad: list[dict] = []
    # Write to a temporary sibling, then rename: a cache folder is complete or absent, never half-written.
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-{os.getpid()}-", dir=folder.parent))
    try:
        header = _npy_header(0)
        with (
            open(temporary / "samples.npy", "wb") as out,
            concurrent.futures.ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool,
        ):
            out.write(header)
            results = pool.map(decode, range(len(frame)))
            for i, result in enumerate(
                tqdm(
                    results,
                    total=len(frame),
                    desc=f"decoding {manifest.name}",
                    unit="clip",
                    disable=not progress,
                    leave=False,
                )
            ):
                if isinstance(result, AudioError):
                    bad.append(dataclasses.asdict(BadFile(manifest.clip_ids[i], result.path, result.problem)))
                else:
                    out.write(np.asarray(result, dtype="<f4").tobytes())
                    lengths.append(len(result))
                    clip_ids.append(manifest.clip_ids[i])
            final_header = _npy_header(int(sum(lengths)))
            if len(final_header) != len(header):  # pragma: no cover - numpy pads headers for in-place rewrites
                raise RuntimeError("numpy .npy header size changed with the array length")
            out.seek(0)
            out.write(final_header)
        lengths_array = np.array(lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths_array)[:-1]]).astype(np.int64) if lengths else lengths_array
        np.save(temporary / "offsets.npy", starts)
        np.save(temporary / "lengths.npy", lengths_array)
        index = {
            "corpus": manifest.name,
            "sample_rate": sample_rate,
            "clip_ids": clip_ids,
            "bad_files": bad,
            "complete": True,
        }
        (temporary / "index.json").write_text(json.dumps(index))
        try:
            temporary.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(temporary)  # another process finished the same key first; keep its copy
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "corpus"
