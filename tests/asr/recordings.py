"""Long test recordings with known word timings: synthesized spoken "words" joined by random pauses.

Each word is a short utterance of the suite's source-filter voice (`corpora.voice`), so a recording sounds
like speech (voiced vowels, consonants, pitch contours) and every word's true start and end, in samples,
is known. Everything is generated from a seed: no test needs the development recordings.
"""

from __future__ import annotations

import numpy as np

from keras_audio.asr.transcript import Word
from keras_audio.corpora import voice

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def recording(
    words: int = 40,
    sample_rate: int = 16000,
    seed: int = 0,
    word_seconds=(0.5, 0.9),
    pause_seconds=(0.05, 1.2),
    lead_seconds: float = 0.3,
) -> tuple[np.ndarray, list[Word]]:
    """`(waveform, words)`: `words` utterances with pauses drawn uniformly from `pause_seconds` between them.

    Word times are whole samples divided by the rate, so `round(start * rate)` is the word's first sample.
    """
    rng = np.random.default_rng(seed)
    traits = voice.SpeakerTraits(sex="female", f0_hz=210.0, formant_scale=1.15, level_dbfs=-22.0)
    pieces = [np.zeros(int(lead_seconds * sample_rate), np.float32)]
    position = pieces[0].size
    timings = []
    for _i in range(words):
        clip = voice.synthesize_utterance(traits, float(rng.uniform(*word_seconds)), rng, sample_rate)
        timings.append(
            Word(position / sample_rate, (position + clip.size) / sample_rate, DIGITS[int(rng.integers(len(DIGITS)))])
        )
        pause = np.zeros(int(rng.uniform(*pause_seconds) * sample_rate), np.float32)
        pieces += [clip, pause]
        position += clip.size + pause.size
    return np.concatenate(pieces), timings
