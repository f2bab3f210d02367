"""Decode any audio file to mono float32 at the model's rate, or say exactly what is wrong with it.

soundfile (libsndfile) reads WAV, FLAC, Ogg/Vorbis, NIST SPHERE (TIMIT) and more; soxr resamples
(zero delay, ~1e-6 error on a tone). Stereo and odd rates are not errors: they are downmixed and
resampled. Everything else that would silently poison training is an `AudioError` naming the file, a header
with an implausible sample rate (below `MIN_SAMPLE_RATE`) included. `read_audio_blocks` reads a long file in
blocks, in bounded memory, with the same checks and the same samples.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

DEFAULT_MAX_SECONDS = 600.0
# The lowest source rate accepted, in Hz. Recordings are made at 8 kHz (telephony) and above, a few old formats
# at 4–6 kHz; below 1 kHz the band ends under 500 Hz, beneath most of speech and of everyday sound. A header
# that says 1 Hz or 100 Hz is damaged or mis-written, and resampling it would turn 2000 samples into 2000 s of
# audio that is nothing of the sort.
MIN_SAMPLE_RATE = 1000
# Frames read at once by `read_audio_blocks` (long files): 30 s at the source rate.
DEFAULT_BLOCK_SECONDS = 30.0
# The largest sample magnitude accepted: 80 dB above full scale. Integer PCM decodes within [-1, 1) and float
# audio is full scale at 1.0 (a float mix may peak a little above), so a larger sample is no recording but a
# mis-scaled file (integer values stored as floats peak near 32768) or garbage. It is also far below where the
# features break: a frame's STFT power is at most (n_fft · peak)², 2.6e13 at n_fft = 512 (4e17 at 65536),
# against float32's 3.4e38, whereas a finite sample of 3e29 overflows it and gives a NaN log-mel.
MAX_ABS_SAMPLE = 1e4
# File suffixes of the formats libsndfile reads (``.sph``: NIST SPHERE, as in TIMIT; ``.opus``: Ogg/Opus).
AUDIO_SUFFIXES = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".sph",
    ".aif",
    ".aiff",
    ".aifc",
    ".au",
    ".caf",
    ".w64",
    ".rf64",
)


class AudioError(ValueError):
    """A file that cannot be used, with the reason.

    Attributes:
        path: the file.
        problem: a short description a person can act on (``"truncated: ..."``).
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_audio(
    path: str | os.PathLike,
    sample_rate: int,
    offset: float = 0.0,
    duration: float | None = None,
    min_samples: int = 1,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    resampler: str = "soxr",
    max_abs: float | None = MAX_ABS_SAMPLE,
) -> np.ndarray:
    """Read `path` as mono float32 at `sample_rate`.

    Args:
        path: an audio file in any format libsndfile reads.
        sample_rate: the rate to return, in Hz.
        offset: start of the segment to read, in seconds.
        duration: length of the segment in seconds; None reads to the end.
        min_samples: fewer samples than this (after resampling) is an error; pass the analysis window
            length so every clip yields at least one frame.
        max_seconds: a longer file (or segment) is an error; None disables the check.
        resampler: ``soxr`` (default) or ``tfio`` (tensorflow-io's op, see `tfio_ops`).
        max_abs: a sample of larger magnitude is an error (see `MAX_ABS_SAMPLE`); None disables the check.

    Returns:
        float32 array of shape `[samples]`.

    Raises:
        AudioError: the file is missing, unreadable, empty, truncated, not audio, has a sample rate below
            `MIN_SAMPLE_RATE`, holds NaN or infinite samples or samples beyond `max_abs`, is all-silent (or its
            channels cancel when downmixed), too short or too long.
    """
    blocks = list(
        read_audio_blocks(
            path, sample_rate, offset, duration, min_samples, max_seconds, resampler, max_abs, block_seconds=None
        )
    )
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def read_audio_blocks(
    path: str | os.PathLike,
    sample_rate: int,
    offset: float = 0.0,
    duration: float | None = None,
    min_samples: int = 1,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    resampler: str = "soxr",
    max_abs: float | None = MAX_ABS_SAMPLE,
    block_seconds: float | None = DEFAULT_BLOCK_SECONDS,
) -> Iterator[np.ndarray]:
    """`read_audio` in consecutive blocks, for files too long to hold: the same samples, in bounded memory.

    The file is read `block_seconds` of source audio at a time, each block downmixed and resampled with
    soxr's streaming resampler, which carries its filter state across blocks: the blocks joined are exactly
    what `read_audio` returns. The header is checked when this is called; each block's samples (NaN, too
    large) as it is read; what needs the whole file (all-silent, channels cancelling, too short) after the
    last block, so a caller sees the `AudioError` before it has finished with the file.

    Args:
        path, sample_rate, offset, duration, min_samples, max_seconds, resampler, max_abs: as in `read_audio`.
        block_seconds: source seconds per block (None: the whole file or segment as one block, as
            `read_audio` reads it; required for the ``tfio`` resampler, which has no streaming form).

    Returns:
        an iterator of float32 `[samples]` blocks at `sample_rate`, none empty.

    Raises:
        AudioError: as `read_audio` (the header's problems at the call, the others while iterating).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if max_abs is not None and not (math.isfinite(max_abs) and max_abs > 0):
        raise ValueError(f"max_abs must be a finite positive number or None, got {max_abs!r}")
    if resampler not in ("soxr", "tfio"):
        raise ValueError(f"resampler must be 'soxr' or 'tfio', got {resampler!r}")
    if block_seconds is not None and not (
        isinstance(block_seconds, (int, float)) and math.isfinite(block_seconds) and block_seconds > 0
    ):
        raise ValueError(f"block_seconds must be a positive number or None, got {block_seconds!r}")
    if resampler == "tfio" and block_seconds is not None:
        raise ValueError("resampler 'tfio' reads the whole file at once: pass block_seconds=None")
    path = Path(path)
    info, start, stop = _open_segment(path, offset, duration, max_seconds)
    frames = stop - start
    block = frames if block_seconds is None else max(1, int(round(block_seconds * info.samplerate)))
    return _blocks(path, info, start, frames, block, sample_rate, min_samples, resampler, max_abs)


def _open_segment(
    path: Path, offset: float, duration: float | None, max_seconds: float | None
) -> tuple[sf._SoundFileInfo, int, int]:
    """The header's checks: `(info, first frame, stop frame)` of the segment to read, or the `AudioError`."""
    # Segments come from manifests a person wrote: soundfile would read a negative start or stop as counted
    # from the end of the file, so a typo would silently select other audio.
    if not (math.isfinite(offset) and offset >= 0):
        raise AudioError(path, f"offset {offset!r} s: must be a finite number >= 0")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise AudioError(path, f"duration {duration!r} s: must be a finite number > 0")
    if not path.exists():
        raise AudioError(path, "file not found")
    if not path.is_file():
        raise AudioError(path, "not a regular file")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "permission denied")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except sf.SoundFileError as error:
        raise AudioError(path, f"not a readable audio file ({_libsndfile_reason(error)})") from None
    if info.samplerate < MIN_SAMPLE_RATE:
        raise AudioError(
            path,
            f"sample rate {info.samplerate} Hz is implausible (below {MIN_SAMPLE_RATE} Hz): a "
            f"damaged or mis-written header",
        )
    truncation = _truncation(path, size, info)
    if truncation:
        raise AudioError(path, truncation)
    if info.frames <= 0:
        raise AudioError(path, "holds no samples")
    start = int(round(offset * info.samplerate))
    stop = None if duration is None else start + int(round(duration * info.samplerate))
    if start >= info.frames:
        raise AudioError(path, f"offset {offset:.3f} s is past the end ({info.duration:.3f} s)")
    if stop is not None and stop > info.frames + info.samplerate // 100:  # 10 ms of slack for rounded durations
        raise AudioError(path, f"segment {offset:.3f} s + {duration:.3f} s runs past the end ({info.duration:.3f} s)")
    stop = min(stop or info.frames, info.frames)
    seconds = (stop - start) / info.samplerate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioError(path, f"too long: {seconds:.1f} s > limit of {max_seconds:.0f} s")
    return info, start, stop


def _blocks(
    path: Path,
    info: sf._SoundFileInfo,
    start: int,
    frames: int,
    block: int,
    sample_rate: int,
    min_samples: int,
    resampler: str,
    max_abs: float | None,
) -> Iterator[np.ndarray]:
    rate = info.samplerate
    stream = None
    if rate != sample_rate and resampler == "soxr":
        # The streaming resampler gives exactly `soxr.resample`'s output, blocks joined (same filter, zero delay).
        stream = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
    read = produced = 0
    nonzero = False
    mono_energy = channels_energy = 0.0  # sums of squares, for the phase-cancellation check
    try:
        handle = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError) as error:
        raise AudioError(path, f"not a readable audio file ({_libsndfile_reason(error)})") from None
    with handle:
        try:
            handle.seek(start)
        except (sf.SoundFileError, RuntimeError) as error:
            raise AudioError(path, f"corrupt or truncated audio data ({_libsndfile_reason(error)})") from None
        while read < frames:
            try:
                data = handle.read(min(block, frames - read), dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as error:
                raise AudioError(path, f"corrupt or truncated audio data ({_libsndfile_reason(error)})") from None
            if data.shape[0] == 0:
                break
            read += data.shape[0]
            if not np.all(np.isfinite(data)):
                bad = int(np.sum(~np.isfinite(data)))
                raise AudioError(
                    path,
                    f"{bad} NaN or infinite sample(s)"
                    + (f" in the block from frame {start + read - data.shape[0]}" if block < frames else ""),
                )
            peak = float(np.max(np.abs(data)))
            if max_abs is not None and peak > max_abs:
                raise AudioError(
                    path,
                    f"sample magnitude {peak:.3g} exceeds {max_abs:g} (float audio is full scale "
                    f"at 1.0; the file is mis-scaled, e.g. integer values stored as floats, or "
                    f"not audio, and would overflow the features)",
                )
            nonzero = nonzero or bool(np.any(data))
            waveform = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
            if data.shape[1] > 1:
                mono_energy += float(np.sum(np.square(waveform, dtype=np.float64)))
                channels_energy += float(np.sum(np.square(data, dtype=np.float64))) / data.shape[1]
            if stream is not None:
                waveform = stream.resample_chunk(waveform, last=read >= frames)
            elif rate != sample_rate:
                waveform = resample(waveform, rate, sample_rate, resampler)
            if waveform.size:
                produced += waveform.size
                yield np.ascontiguousarray(waveform, dtype=np.float32)
    if read == 0:
        raise AudioError(path, "holds no samples in the requested segment")
    if read < frames:
        raise AudioError(
            path, f"truncated: the header declares {info.frames} frames, only {start + read} could be read"
        )
    if not nonzero:
        raise AudioError(path, "all-silent (every sample is zero)")
    if info.channels > 1 and math.sqrt(mono_energy) < 1e-3 * math.sqrt(channels_energy):
        # Phase-inverted channels: the mono mix is 60 dB below the channels, i.e. nothing but rounding.
        raise AudioError(path, f"its {info.channels} channels cancel out when downmixed to mono (phase-inverted)")
    if produced < min_samples:
        raise AudioError(
            path, f"too short: {produced} samples at {sample_rate} Hz < one analysis window ({min_samples})"
        )


def resample(waveform: np.ndarray, rate_in: int, rate_out: int, resampler: str = "soxr") -> np.ndarray:
    """Band-limited resampling of a mono waveform (soxr HQ, or tensorflow-io's op)."""
    if rate_in == rate_out:
        return np.asarray(waveform, np.float32)
    if resampler == "tfio":
        from keras_audio import tfio_ops  # imports TensorFlow: only when asked for

        return tfio_ops.resample(waveform, rate_in, rate_out)
    return soxr.resample(np.asarray(waveform, np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def write_wav(path: str | os.PathLike, waveform: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write a mono waveform (float in [-1, 1]) as WAV."""
    sf.write(str(path), np.asarray(waveform), sample_rate, subtype=subtype, format="WAV")


def _libsndfile_reason(error: Exception) -> str:
    text = str(error)
    return text.split(": ", 1)[-1] if ": " in text else text


def _truncation(path: Path, size: int, info: sf._SoundFileInfo) -> str | None:
    """Compare the data size the header declares with the bytes in the file.

    libsndfile reads a truncated WAV or SPHERE file without complaint (it returns what is there), so a
    clip cut in half by an interrupted copy would otherwise train as a shorter clip.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
        # WAVEX is what libsndfile calls WAVE_FORMAT_EXTENSIBLE (24-bit, multichannel): the same RIFF chunks.
        if info.format in ("WAV", "WAVEX") and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _riff_truncation(handle, size)
    if info.format == "NIST" and head.startswith(b"NIST_1A"):
        fields = {}
        for line in head.split(b"\n")[2:]:
            parts = line.split()
            if len(parts) == 3 and parts[1] == b"-i":
                fields[parts[0].decode()] = int(parts[2])
        try:
            header_bytes = int(head.split(b"\n")[1])
        except ValueError:
            return None
        if "sample_count" in fields and "sample_n_bytes" in fields:
            declared = fields["sample_count"] * fields["sample_n_bytes"] * fields.get("channel_count", 1)
            present = size - header_bytes
            if present < declared:
                return f"truncated: header declares {declared} data bytes, file holds {present}"
    return None


def _riff_truncation(handle, size: int) -> str | None:
    """Walk a RIFF file's chunks to `data` (seeking, so LIST/bext/JUNK chunks of any size come first)."""
    position = 12
    while position + 8 <= size:
        handle.seek(position)
        chunk, length = struct.unpack("<4sI", handle.read(8))
        if chunk == b"data":
            present = size - (position + 8)
            if length != 0xFFFFFFFF and present < length:
                return f"truncated: header declares {length} data bytes, file holds {present}"
            return None
        position += 8 + length + (length & 1)
    return None
