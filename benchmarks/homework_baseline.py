"""The homework's feature extraction, re-created as the baseline that `benchmarks/speed.py` measures against.

The homework this suite grew out of computed its features clip by clip in a Python loop, with NumPy:

1. frame the clip (centred: zero padding of `n_fft // 2` on both sides, frames of `n_fft` every `hop_length`
   samples, via `np.lib.stride_tricks.sliding_window_view`);
2. multiply by a Hann window of `win_length` centred in the `n_fft` frame;
3. `np.fft.rfft` each frame and take the power `|X|²`;
4. multiply by a mel filterbank (`librosa.filters.mel`, computed once);
5. keep the power mel (no dB), appended to a Python list.

This file is a faithful re-creation of that recipe (not the homework's literal code): the same steps in the
same order, NumPy's default float64 arithmetic (`np.fft.rfft` computes in float64 whatever the input), one
clip at a time. The frame math matches librosa's centred STFT with ``pad_mode="constant"``, so
`10·log10` of its output equals `librosa.power_to_db(librosa.feature.melspectrogram(...))` up to rounding.

`librosa_features` is the other per-clip loop that `speed.py` measures: `librosa.feature.melspectrogram` +
`librosa.power_to_db` on each clip.
"""

from __future__ import annotations

from collections.abc import Iterable

import librosa
import numpy as np


class HomeworkMel:
    """Per-clip NumPy power-mel spectrograms, the homework's way.

    Args:
        sample_rate: clip rate in Hz.
        n_fft: FFT size.
        win_length: Hann window length (<= n_fft), centred in the FFT frame.
        hop_length: frame step in samples.
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz (None: `sample_rate / 2`).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float | None = None,
    ):
        if win_length > n_fft:
            raise ValueError(f"HomeworkMel: win_length={win_length} exceeds n_fft={n_fft}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        # A periodic Hann window, zero-padded to the FFT size and centred, as librosa does.
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
        left = (n_fft - win_length) // 2
        self.window = np.pad(hann, (left, n_fft - win_length - left))
        self.mel_basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        """One clip `[samples]` -> power mel `[n_mels, frames]` (librosa's orientation), float64."""
        padded = np.pad(clip, self.n_fft // 2)
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop_length]
        spectrum = np.fft.rfft(frames * self.window, axis=-1)
        power = np.abs(spectrum) ** 2
        return self.mel_basis @ power.T

    def features(self, clips: Iterable[np.ndarray]) -> list[np.ndarray]:
        """The homework's loop: one clip at a time, each result appended to a list."""
        out = []
        for clip in clips:
            out.append(self(clip))
        return out


def librosa_features(
    clips: Iterable[np.ndarray],
    sample_rate: int = 16000,
    n_fft: int = 512,
    win_length: int = 400,
    hop_length: int = 160,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float | None = None,
    top_db: float | None = 80.0,
) -> list[np.ndarray]:
    """The librosa loop: `melspectrogram` + `power_to_db` per clip -> list of `[n_mels, frames]` dB arrays."""
    out = []
    for clip in clips:
        power = librosa.feature.melspectrogram(
            y=clip,
            sr=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            n_mels=n_mels,
            fmin=fmin,
            fmax=fmax,
        )
        out.append(librosa.power_to_db(power, top_db=top_db))
    return out
