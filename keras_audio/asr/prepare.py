"""A long recording and its word timings -> speech-recognition training data, written atomically.

`prepare_asr` reads the recording at the target rate (`audio.read_audio`: any format, downmixed, resampled
with soxr) and the transcript (`transcript.read_transcript`), checks the words and cuts them into segments
of at most `max_seconds` of span (`segmentation`), then writes into `out_dir`:

```
manifest.jsonl          one row per audio file: clean segments, then each one's spoiled copies
summary.json            settings, counts, total / longest / shortest duration, dropped words
audio/<id>.wav          the segment: exactly the source samples from its first word's start to its last
                        word's end (32-bit float WAV)
audio/<id>.<corruption>-s<severity>.wav     a spoiled copy (`augment`)
features/<...>.npy      the log-mel of each WAV above: float32 [frames, n_mels], `features.LogMelSpectrogram`
                        with 25-ms windows every 10 ms (`frames.frame_settings`), dB per file (top 80 dB)
segments.png            with `plot`: the waveform, segments shaded
```

A segment's id is `<recording stem>_<index, 5 digits>`; its spoiled copies' seeds derive from
`(seed, id, corruption, severity)` (`augment.segment_seed`), so the same inputs and seed give byte-identical
files. The WAVs are 32-bit float so that a segment holds the source samples exactly (16-bit PCM would round
them, and clip the louder spoiled copies); they are written with SciPy rather than libsndfile, which stamps
the current time into the PEAK chunk of a float WAV, so two identical runs would differ.

The folder is written under a temporary name beside `out_dir` and renamed when complete: it is complete
or absent, never half-written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from tqdm.auto import tqdm

import keras_audio
from keras_audio.asr import augment as augmentation
from keras_audio.asr.frames import FrameSettings, frame_settings
from keras_audio.asr.segmentation import (
    DEFAULT_MIN_FRACTION,
    Segment,
    WordError,
    WordProblem,
    check_words,
    segment_runs,
    segment_words,
)
from keras_audio.asr.transcript import TranscriptError, read_transcript
from keras_audio.audio import read_audio
from keras_audio.corruptions import registry
from keras_audio.corruptions.base import NUM_SEVERITIES

MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"
PLOT = "segments.png"
WAV_SUBTYPE = "FLOAT"


@dataclasses.dataclass(frozen=True)
class AsrSummary:
    """What `prepare_asr` made (also written, without `out_dir` and `seconds_taken`, as ``summary.json``).

    Attributes:
        out_dir: the finished folder.
        audio, transcript: the inputs, as absolute paths.
        sample_rate, max_seconds, min_fraction: the settings.
        segments: clean segments written.
        files: WAVs written (segments × (1 + number of augmentations)).
        total_seconds, longest_seconds, shortest_seconds: over the clean segments' audio.
        words: words in the transcript; `words_kept` of them are in segments.
        dropped: the words skipped (only with `skip_bad_words`).
        augment, severity, seed: the spoiled copies' corruptions and their settings.
        features: the log-mel settings.
        seconds_taken: wall time of the whole preparation.
    """

    out_dir: Path
    audio: str
    transcript: str
    sample_rate: int
    max_seconds: float
    min_fraction: float
    segments: int
    files: int
    total_seconds: float
    longest_seconds: float
    shortest_seconds: float
    words: int
    words_kept: int
    dropped: tuple[WordProblem, ...]
    augment: tuple[str, ...]
    severity: int
    seed: int
    features: FrameSettings
    seconds_taken: float = 0.0

    def describe(self) -> str:
        """A few lines for a person (what the command line prints)."""
        lines = [
            f"{self.out_dir}: {self.segments} segments of at most {self.max_seconds:g} s "
            f"(longest {self.longest_seconds:.1f} s, shortest {self.shortest_seconds:.1f} s, "
            f"{self.total_seconds:.1f} s in all), {self.words_kept} of {self.words} words",
            f"  {self.files} WAV files with log-mels ({self.features.n_mels} mels)"
            + (
                f", spoiled copies: {', '.join(self.augment)} at severity {self.severity}, seed {self.seed}"
                if self.augment
                else ""
            ),
            f"  made in {self.seconds_taken:.1f} s",
        ]
        lines += [f"  skipped {p.message()}" for p in self.dropped]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The JSON-ready record (what ``summary.json`` holds): no wall time, so identical runs match."""
        return {
            "keras_audio": keras_audio.__version__,
            "audio": self.audio,
            "transcript": self.transcript,
            "sample_rate": self.sample_rate,
            "max_seconds": self.max_seconds,
            "min_fraction": self.min_fraction,
            "segments": self.segments,
            "files": self.files,
            "total_seconds": self.total_seconds,
            "longest_seconds": self.longest_seconds,
            "shortest_seconds": self.shortest_seconds,
            "words": self.words,
            "words_kept": self.words_kept,
            "words_dropped": len(self.dropped),
            "dropped": [p.to_dict() for p in self.dropped],
            "augment": list(self.augment),
            "severity": self.severity if self.augment else None,
            "seed": self.seed,
            "features": dataclasses.asdict(self.features),
            "wav_subtype": WAV_SUBTYPE,
        }


def prepare_asr(
    audio_path: str | os.PathLike,
    transcript_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    max_seconds: float = 30.0,
    sample_rate: int = 16000,
    augment: str | Sequence[str] | None = (),
    severity: int = 2,
    n_mels: int = 80,
    seed: int = 0,
    skip_bad_words: bool = False,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    resources: registry.Resources | None = None,
    plot: bool = False,
    progress: bool = True,
) -> AsrSummary:
    """Cut a long recording into segments of at most `max_seconds`, with manifest, spoiled copies and log-mels.

    Args:
        audio_path: the recording, any format `audio.read_audio` reads.
        transcript_path: its word timings (`transcript.read_transcript`: ``.json`` phrases or words, ``.csv``).
        out_dir: the folder to create; it must not exist or be empty.
        max_seconds: no segment's span (first word's start to last word's end) exceeds this.
        sample_rate: the rate of the written audio and features, in Hz.
        augment: corruptions for spoiled copies, ``"noise,pitch_shift"`` or a list (`augment.parse_augment`).
        severity: their severity, 1..5.
        n_mels: mel bands of the features.
        seed: the seed of every spoiled copy.
        skip_bad_words: report and skip words `segmentation.check_words` refuses, instead of stopping.
        min_fraction: where cuts are sought (`segmentation.segment_words`).
        resources: for corruptions that need recordings (``background_noise``, ``ir_reverb``, ``babble``).
        plot: also write ``segments.png``.
        progress: show a progress bar.

    Raises:
        ValueError: a bad setting or augmentation name (naming it).
        TranscriptError: an unreadable transcript, or one without words.
        WordError: a bad word (naming it and its time), unless `skip_bad_words`.
        AudioError: an unreadable recording.
        FileExistsError: `out_dir` exists and is not an empty folder.
    """
    started = time.perf_counter()
    _check_settings(max_seconds, sample_rate, severity, seed)
    segment_words([], max_seconds, min_fraction)  # validates min_fraction before any file is read
    corruptions = registry.build_suite(augmentation.parse_augment(augment), sample_rate, resources)
    settings = frame_settings(sample_rate, n_mels)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    audio_path, transcript_path = Path(audio_path).resolve(), Path(transcript_path).resolve()

    words = read_transcript(transcript_path)
    if not words:
        raise TranscriptError(transcript_path, "holds no words")
    waveform = read_audio(audio_path, sample_rate, max_seconds=None)
    try:
        checked = check_words(words, max_seconds, waveform.size / sample_rate, skip_bad_words)
    except WordError as error:
        raise WordError(error.problems, source=str(transcript_path)) from None
    segments = segment_runs(checked.runs, max_seconds, min_fraction)
    if not segments:
        raise TranscriptError(
            transcript_path,
            f"no words left after skipping {len(checked.dropped)} bad ones (the first: {checked.dropped[0].message()})",
        )

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        rows = _write_segments(work, waveform, segments, audio_path, corruptions, severity, seed, settings, progress)
        (work / MANIFEST).write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
        )
        lengths = [row["samples"] for row in rows if row["corruption"] is None]
        summary = AsrSummary(
            out_dir=out_dir,
            audio=str(audio_path),
            transcript=str(transcript_path),
            sample_rate=sample_rate,
            max_seconds=float(max_seconds),
            min_fraction=float(min_fraction),
            segments=len(segments),
            files=len(rows),
            total_seconds=sum(lengths) / sample_rate,
            longest_seconds=max(lengths) / sample_rate,
            shortest_seconds=min(lengths) / sample_rate,
            words=len(words),
            words_kept=checked.kept,
            dropped=checked.dropped,
            augment=tuple(corruptions),
            severity=int(severity),
            seed=int(seed),
            features=settings,
        )
        (work / SUMMARY).write_text(
            json.dumps(summary.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if plot:
            from keras_audio.asr.plot import segments_plot  # matplotlib: only when asked for

            segments_plot(waveform, sample_rate, segments, work / PLOT, checked.dropped)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above); a rename onto a folder needs it gone on some systems
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dataclasses.replace(summary, seconds_taken=time.perf_counter() - started)


def segment_id(audio_path: str | os.PathLike, index: int) -> str:
    """``<recording stem>_<index:05d>``, the stem reduced to letters, digits, ``-`` and ``_``."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(audio_path).stem) or "segment"
    return f"{stem}_{index:05d}"


def sample_bounds(segment: Segment, sample_rate: int, num_samples: int) -> tuple[int, int]:
    """The segment's `[first, stop)` samples: its start and end rounded to the nearest sample (halves up).

    Rounding halves up moves start and end by the same amount when the span is a whole number of samples,
    so a span within the limit never becomes longer than the limit in samples.
    """
    first = min(math.floor(segment.start * sample_rate + 0.5), num_samples - 1)
    stop = min(math.floor(segment.end * sample_rate + 0.5), num_samples)  # a word may end in the 10-ms slack
    return first, max(stop, first + 1)


def _write_segments(
    work: Path,
    waveform: np.ndarray,
    segments: Sequence[Segment],
    audio_path: Path,
    corruptions: dict,
    severity: int,
    seed: int,
    settings: FrameSettings,
    progress: bool,
) -> list[dict]:
    (work / "audio").mkdir()
    (work / "features").mkdir()
    layer = settings.layer()
    clean_rows, spoiled_rows = [], []
    for segment in tqdm(segments, desc="segments", unit="segment", disable=not progress, leave=False):
        first, stop = sample_bounds(segment, settings.sample_rate, waveform.size)
        clean = waveform[first:stop]
        name = segment_id(audio_path, segment.index)
        row = {
            "segment": name,
            "text": segment.text,
            "start": segment.start,
            "end": segment.end,
            "source": str(audio_path),
            "first_sample": first,
        }
        clean_rows.append(_write_file(work, name, clean, layer, settings, row, None, None, None, None))
        for corruption_name, corruption in corruptions.items():
            copy_seed = augmentation.segment_seed(seed, name, corruption_name, severity)
            spoiled = augmentation.spoil(clean, corruption, copy_seed, severity)
            spoiled_rows.append(
                _write_file(
                    work,
                    f"{name}.{corruption_name}-s{severity}",
                    spoiled,
                    layer,
                    settings,
                    row,
                    corruption_name,
                    severity,
                    seed,
                    copy_seed,
                )
            )
    return clean_rows + spoiled_rows


def _write_file(
    work: Path,
    stem: str,
    waveform: np.ndarray,
    layer,
    settings: FrameSettings,
    row: dict,
    corruption: str | None,
    severity: int | None,
    seed: int | None,
    copy_seed: np.ndarray | None,
) -> dict:
    """Write one WAV and its log-mel; returns its manifest row (clean: corruption, severity, seeds None)."""
    audio = f"audio/{stem}.wav"
    feature = f"features/{stem}.npy"
    wavfile.write(work / audio, settings.sample_rate, np.ascontiguousarray(waveform, np.float32))
    log_mel = layer(waveform[None])[0].numpy()
    np.save(work / feature, log_mel)
    return {
        "id": stem,
        "audio": audio,
        "features": feature,
        **row,
        "duration": waveform.size / settings.sample_rate,
        "samples": int(waveform.size),
        "frames": int(log_mel.shape[0]),
        "corruption": corruption,
        "severity": severity,
        "seed": seed,
        "clip_seed": None if copy_seed is None else [int(v) for v in copy_seed],
    }


def _check_settings(max_seconds, sample_rate, severity, seed) -> None:
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, numbers.Real)
        or not (math.isfinite(max_seconds) and max_seconds > 0)
    ):
        raise ValueError(f"max_seconds must be a positive number, got {max_seconds!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral) or not 1 <= severity <= NUM_SEVERITIES:
        raise ValueError(f"severity must be an int in 1..{NUM_SEVERITIES}, got {severity!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        what = "is not a folder" if not out_dir.is_dir() else "exists and is not empty"
        raise FileExistsError(f"{out_dir}: {what}; choose another --out or remove it")
