"""Lossy codec round trip: the clip encoded to MP3 at a constant bitrate and decoded back.

What a clip goes through when it is shared, streamed or archived: the encoder's psychoacoustic model drops
what it judges inaudible, low-passes the clip (LAME's cutoff falls with the bitrate) and, at the lowest
bitrates, smears transients in time (pre-echo) and leaves "birdie" artefacts. Measured at 16 kHz: at 48
and 32 kbit/s the band ends near 7 kHz, at 24 and 16 near 5.5 kHz, at 8 kbit/s (severity 5) near 3 kHz, a
telephone's band. The encoder is LAME and the decoder mpg123, both inside libsndfile >= 1.1 (the soundfile
0.13+ wheels ship libsndfile 1.2): a maintained encoder, no command-line tool, no temporary file
(`io.BytesIO`).

Severities are constant bitrates. libsndfile sets them through its compression level (0: the highest
bitrate of the MPEG version the sample rate implies, 1: the lowest; `compression_level`), and LAME rounds
to the nearest bitrate it allows. MPEG-2 (16-24 kHz) and MPEG-2.5 (8-12 kHz) allow 8-160 and 8-64 kbit/s;
MPEG-1 (32-48 kHz) starts at 32 kbit/s, so there the lower severities cannot go below 32 (a warning says
which).

Graph mode: the round trip runs in Python through `tf.numpy_function`, so inside `tf.data.map` it is *not*
graph-parallel: every clip costs a Python call holding the interpreter for its bookkeeping (the encoder
itself runs in C with the GIL released). Measured on this 2-core machine: 20-24 ms of CPU per 2-s 16-kHz
clip called directly, about 30 ms inside a `tf.data` map, whatever the bitrate; some fifteen times a
low-pass filter's cost. Evaluation spoils each part of a batch (`evaluate.SPOIL_BATCH_SIZE` clips) in one
Python call (`apply_batch`); two parts encode at once on two cores (measured: CPU/wall 1.95). It is deterministic
given its input (LAME and mpg123 have no random state), so the seed is not used.

Alignment: decoded MP3 is longer than its input by the encoder delay and padding. When libsndfile writes
LAME's gapless header the decoder trims both; at low bitrates it does not, and the known delay of LAME +
mpg123 (576 + 529 = 1105 samples) is cut from the start and the end cropped, so the output lines up with
the input sample for sample (tested).

Level: the clip is encoded with its peak at 0.9 of full scale and scaled back, so the result does not
depend on the input level and nothing clips in the encoder (a codec's loss is the corruption, not its
level); silence is returned as silence without a round trip.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import soundfile as sf
import tensorflow as tf

from keras_audio.corruptions.base import Corruption, MissingResource

LAME_DELAY = 576 + 529  # encoder delay + mpg123's decoder delay, in samples, when no gapless header is read
ENCODE_PEAK = 0.9
MAX_COMPRESSION_LEVEL = 0.995
MIN_SAMPLES = 2304  # two MPEG-1 frames: shorter clips are zero-padded for the round trip, then cropped


def mpeg_bitrate_range(sample_rate: int) -> tuple[float, float]:
    """The (lowest, highest) constant bitrate in kbit/s libsndfile maps compression levels 1..0 to."""
    if sample_rate >= 32000:
        return 32.0, 320.0  # MPEG-1
    if sample_rate >= 16000:
        return 8.0, 160.0  # MPEG-2
    return 8.0, 64.0  # MPEG-2.5


def compression_level(bitrate_kbps: float, sample_rate: int) -> float:
    """libsndfile's compression level in [0, 1] that asks LAME for `bitrate_kbps` at `sample_rate`."""
    low, high = mpeg_bitrate_range(sample_rate)
    # Exactly 1.0 is refused by libsndfile 1.2 ("Error set compression level"); LAME rounds 0.995's bitrate
    # (0.5 % above the lowest) to the lowest anyway.
    return float(np.clip((high - bitrate_kbps) / (high - low), 0.0, MAX_COMPRESSION_LEVEL))


def mp3_available() -> bool:
    """Whether this libsndfile can write MP3 (libsndfile >= 1.1 built with LAME and mpg123)."""
    return "MP3" in sf.available_formats() and "MPEG_LAYER_III" in sf.available_subtypes("MP3")


def mp3_round_trip(waveform: np.ndarray, sample_rate: int, bitrate_kbps: float) -> np.ndarray:
    """`[samples]` float32 encoded to constant-bitrate MP3 and decoded; same length, aligned, same level.

    Raises:
        ValueError: a bitrate that is not positive.
    """
    if not bitrate_kbps > 0:
        raise ValueError(f"mp3: bitrate_kbps must be positive, got {bitrate_kbps}")
    waveform = np.asarray(waveform, np.float32).reshape(-1)
    length = waveform.size
    full_scale = float(np.max(np.abs(waveform))) if length else 0.0
    if not full_scale > 0 or not np.isfinite(full_scale):
        return np.zeros(length, np.float32) if full_scale == 0 else waveform.copy()
    scale = ENCODE_PEAK / full_scale
    padded = np.pad(waveform * scale, (0, max(0, MIN_SAMPLES - length)))
    buffer = io.BytesIO()
    sf.write(
        buffer,
        padded,
        sample_rate,
        format="MP3",
        subtype="MPEG_LAYER_III",
        bitrate_mode="CONSTANT",
        compression_level=compression_level(bitrate_kbps, sample_rate),
    )
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32", always_2d=False)
    delay = LAME_DELAY if decoded.size > padded.size else 0
    decoded = decoded[delay : delay + length]
    decoded = np.pad(decoded, (0, length - decoded.size))
    return (decoded / scale).astype(np.float32)


class Mp3(Corruption):
    """Round trip through constant-bitrate MP3 (LAME, through libsndfile) at `bitrate_kbps`.

    Args:
        sample_rate: the waveform rate in Hz; any rate MPEG audio has (8000-48000).

    Raises:
        MissingResource: this libsndfile cannot write MP3, or MPEG audio has no such sample rate.
    """

    name = "mp3"
    description = "MP3 round trip at a constant bitrate (LAME through libsndfile; Python per clip)"
    touches = "high-frequency spectrum (the encoder's low-pass), quiet detail, transients (pre-echo)"
    severities = {"bitrate_kbps": (48.0, 32.0, 24.0, 16.0, 8.0)}

    RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

    def __init__(self, sample_rate: int):
        super().__init__(sample_rate)
        if not mp3_available():
            raise MissingResource(
                f"mp3: this libsndfile ({sf.__libsndfile_version__}) cannot write MP3; "
                f"install soundfile >= 0.13 (its wheels ship libsndfile 1.2 with LAME)"
            )
        if self.sample_rate not in self.RATES:
            raise MissingResource(
                f"mp3: MPEG audio has no {self.sample_rate} Hz sample rate; it has "
                f"{', '.join(str(r) for r in self.RATES)}"
            )
        low, _ = mpeg_bitrate_range(self.sample_rate)
        floored = [s + 1 for s, rate in enumerate(self.severities["bitrate_kbps"]) if rate < low]
        if floored:
            warnings.warn(
                f"mp3 at {self.sample_rate} Hz: severities {floored} ask for less than the "
                f"{low:g} kbit/s MPEG-1 allows, so they run at {low:g} kbit/s",
                stacklevel=2,
            )

    def apply(self, waveform, params):
        def round_trip(clip, bitrate):
            return mp3_round_trip(clip, self.sample_rate, float(bitrate))

        out = tf.numpy_function(
            round_trip, [waveform, params["bitrate_kbps"]], tf.float32, stateful=False, name="mp3_round_trip"
        )
        out.set_shape(waveform.shape)
        return out

    def apply_batch(self, waveforms, params, lengths):
        """One Python call for the whole `[batch, samples]` batch (the bitrate is the severity's, shared), each
        clip encoded at its own length."""

        def round_trips(clips, bitrate, clip_lengths):
            out = np.zeros_like(clips)
            for row, (clip, length) in enumerate(zip(clips, clip_lengths)):
                out[row, :length] = mp3_round_trip(clip[:length], self.sample_rate, float(bitrate))
            return out

        out = tf.numpy_function(
            round_trips,
            [waveforms, params["bitrate_kbps"], lengths],
            tf.float32,
            stateful=False,
            name="mp3_round_trips",
        )
        out.set_shape(waveforms.shape)
        return out
