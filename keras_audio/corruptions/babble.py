"""Babble: several other talkers of the same corpus mixed in at a calibrated SNR.

Contract: the utterances come from the *training* split only (the pipeline passes them as
`Resources.babble_waveforms`), so a spoiled test clip never contains the voice of another test speaker —
or its own. This module cannot check speakers; whoever builds the bank must keep it to training speakers.

At construction `talkers` streams are laid down, each a random sequence of the utterances (each scaled to
unit RMS) starting at a random offset, and summed into one babble track of `track_seconds`; a clip gets a
random excerpt of the track, so every clip hears a different mix of `talkers` voices, and the cost per
clip is that of cropping a noise bank. The SNR (30 to 0 dB, as for the other noises) is measured against
the sum: at 0 dB each of the five talkers is ~7 dB below the target voice, which a listener still picks
out and labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_audio.corruptions.banks import ClipBank
from keras_audio.corruptions.base import MissingResource
from keras_audio.corruptions.noise import AdditiveNoise


class Babble(AdditiveNoise):
    """Babble of `talkers` training-split voices at an SNR.

    Args:
        sample_rate: the rate of the waveforms (and of `babble_waveforms`) in Hz.
        babble_waveforms: training-split utterances, 1-D float arrays at `sample_rate`; at least `talkers`.
        talkers: voices heard at once.
        track_seconds: length of the pre-mixed babble track.
        seed: seed of the track's construction (fixed: part of the corruption's definition).

    Raises:
        MissingResource: fewer utterances than `talkers` (a `ValueError`).
        ValueError: an empty, silent or non-finite utterance.
    """

    name = "babble"
    description = "babble of 5 other training-split talkers at an SNR"
    touches = "competing voices: F0 and formants of both genders in the same band as the target"
    requires = ("babble_waveforms",)

    def __init__(
        self,
        sample_rate: int,
        babble_waveforms: Sequence[np.ndarray],
        talkers: int = 5,
        track_seconds: float = 60.0,
        seed: int = 0,
    ):
        super().__init__(sample_rate)
        if talkers < 1:
            raise ValueError(f"babble: talkers must be >= 1, got {talkers}")
        if track_seconds <= 0:
            raise ValueError(f"babble: track_seconds must be positive, got {track_seconds}")
        if len(babble_waveforms) < talkers:
            raise MissingResource(
                f"babble: {talkers} talkers need at least {talkers} utterances, got {len(babble_waveforms)}"
            )
        self.talkers = talkers
        utterances = []
        for index, waveform in enumerate(babble_waveforms):
            waveform = np.asarray(waveform, np.float64).reshape(-1)
            if waveform.size == 0 or not np.all(np.isfinite(waveform)) or not np.any(waveform):
                raise ValueError(f"babble: utterance {index} is empty, silent or holds NaN/inf samples")
            utterances.append(waveform / np.sqrt(np.mean(waveform**2)))
        self.bank = ClipBank(
            [_babble_track(utterances, talkers, int(track_seconds * sample_rate), seed)], "babble track"
        )


def _babble_track(utterances: list[np.ndarray], talkers: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    track = np.zeros(length)
    for _ in range(talkers):
        stream, filled = [], 0
        while filled < length + max(len(u) for u in utterances):
            for index in rng.permutation(len(utterances)):
                stream.append(utterances[index])
                filled += len(utterances[index])
        stream = np.concatenate(stream)
        offset = rng.integers(0, len(stream) - length + 1)
        track += stream[offset : offset + length]
    return track.astype(np.float32)
