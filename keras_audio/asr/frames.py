"""The log-mel front end of ASR data: 25-ms windows every 10 ms at any rate, and how many frames that gives.

At 16 kHz the settings are the classic (and Whisper's) ones: `win_length=400` (25 ms), `hop_length=160`
(10 ms), `n_fft=512` (the next power of two), 80 mel bands. At another rate the window and hop keep their
duration (`round(0.025 * rate)`, `round(0.010 * rate)`) and `n_fft` is the next power of two.

Frame counts, for `n` samples, window `w`, hop `h`:

- **not centred** (frames start at sample 0 and must fit inside the clip): `1 + (n - w) // h`, so 1 s at
  16 kHz gives `1 + (16000 - 400) // 160 = 98` frames;
- **centred** (librosa's default, and `features.LogMelSpectrogram`'s: `n_fft // 2` zeros padded at both
  ends, frame `t` centred on sample `t * h`): `1 + n // h`, so 1 s gives `1 + 16000 // 160 = 101`.

The three extra frames are the ones centred within half a window of the clip's edges.
"""

from __future__ import annotations

import dataclasses
import numbers

from keras_audio import features

WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
DEFAULT_MELS = 80


@dataclasses.dataclass(frozen=True)
class FrameSettings:
    """STFT and mel settings of the ASR features (`layer()` builds the suite's log-mel layer from them)."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int

    def layer(self) -> features.LogMelSpectrogram:
        return features.LogMelSpectrogram(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            win_length=self.win_length,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
        )

    def frames(self, num_samples: int) -> int:
        """Frames the (centred) layer gives for `num_samples`."""
        return centred_frames(num_samples, self.hop_length)


def frame_settings(sample_rate: int, n_mels: int = DEFAULT_MELS) -> FrameSettings:
    """25-ms windows and 10-ms hops at `sample_rate`, `n_fft` the next power of two.

    Raises:
        ValueError: `sample_rate` too low for a window of 2 samples, or `n_mels` not a positive int.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate < 200:
        raise ValueError(f"sample_rate must be an int of at least 200 Hz, got {sample_rate!r}")
    if isinstance(n_mels, bool) or not isinstance(n_mels, numbers.Integral) or n_mels <= 0:
        raise ValueError(f"n_mels must be a positive int, got {n_mels!r}")
    win_length = round(WINDOW_SECONDS * sample_rate)
    hop_length = round(HOP_SECONDS * sample_rate)
    n_fft = 1 << (win_length - 1).bit_length()
    features.check_stft_settings("frame_settings", sample_rate, n_fft, win_length, hop_length, n_mels=n_mels)
    return FrameSettings(int(sample_rate), n_fft, win_length, hop_length, int(n_mels))


def centred_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT (`features.num_frames`): `1 + num_samples // hop_length`."""
    return features.num_frames(num_samples, hop_length)


def uncentred_frames(num_samples: int, win_length: int, hop_length: int) -> int:
    """Frames of an STFT without padding: `1 + (num_samples - win_length) // hop_length`, 0 if shorter."""
    for name, value, lowest in (
        ("num_samples", num_samples, 0),
        ("win_length", win_length, 1),
        ("hop_length", hop_length, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
            raise ValueError(f"{name} must be an int >= {lowest}, got {value!r}")
    if num_samples < win_length:
        return 0
    return 1 + (num_samples - win_length) // hop_length
