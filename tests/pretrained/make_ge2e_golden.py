"""Write `golden_ge2e.npz`: resemblyzer's own GE2E embeddings of a few fixed waveforms, for `test_ge2e.py`.

Run once, with an environment that has torch, librosa 0.11 and webrtcvad (never the project's)::

    /tmp/torchenv/bin/python tests/pretrained/make_ge2e_golden.py [folder holding the resemblyzer package]

The folder defaults to ``/tmp/wheels/r`` (the unpacked Resemblyzer 0.1.4 wheel). The tests never import
this script. Each waveform is embedded as `VoiceEncoder.embed_utterance(normalize_volume(w, -30,
increase_only=True))` (rate 1.3, min_coverage 0.75), the encoder under test's definition; webrtcvad
trimming (`preprocess_wav`) is left out, as in the Keras encoder.

The npz holds: ``waveforms`` float32 `[clips, longest]` zero-padded at the end, ``lengths`` int
`[clips]`, ``embeddings`` `[clips, 256]`, ``partial_embeddings`` `[partials, 256]` (all clips' partials,
in order) and ``partial_counts`` `[clips]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
OUTPUT = Path(__file__).resolve().parent / "golden_ge2e.npz"
# (seconds, fundamental Hz, peak amplitude): the 0.6-s clip is quiet (below -30 dBFS: normalisation raises
# it), the 3.3-s one loud (above: left as it is). 1.6 s drops its second partial (coverage 0.52), 2.0 s
# keeps it (0.77), 3.3 s drops its fourth and ends past the last partial.
CLIPS = ((0.6, 140.0, 0.01), (1.6, 210.0, 0.1), (2.0, 120.0, 0.05), (3.3, 180.0, 0.6))


def voice_like(seconds: float, f0: float, peak: float, rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone with vibrato, a slow loudness contour and a little noise, float32 in [-1, 1]."""
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    pitch = f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    harmonics = sum(rng.uniform(0.3, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 12))
    contour = 0.6 + 0.4 * np.sin(2 * np.pi * 1.7 * t + rng.uniform(0, 2 * np.pi)) ** 2
    wave = harmonics * contour + 0.02 * rng.standard_normal(n)
    return (peak * wave / np.max(np.abs(wave))).astype(np.float32)


def main(package_folder: str = "/tmp/wheels/r") -> None:
    sys.path.insert(0, package_folder)
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    encoder = VoiceEncoder(device="cpu", verbose=False)
    rng = np.random.default_rng(20240611)
    waves = [voice_like(seconds, f0, peak, rng) for seconds, f0, peak in CLIPS]
    embeddings, partials, counts = [], [], []
    for wave in waves:
        dbfs = 20 * np.log10(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
        embedding, partial, _ = encoder.embed_utterance(
            normalize_volume(wave, -30, increase_only=True), return_partials=True
        )
        print(f"{len(wave) / SAMPLE_RATE:.1f} s, {dbfs:.1f} dBFS, {len(partial)} partials")
        embeddings.append(embedding)
        partials.append(partial)
        counts.append(len(partial))
    padded = np.zeros((len(waves), max(map(len, waves))), np.float32)
    for row, wave in zip(padded, waves):
        row[: len(wave)] = wave
    np.savez_compressed(
        OUTPUT,
        waveforms=padded,
        lengths=np.array([len(w) for w in waves]),
        embeddings=np.stack(embeddings).astype(np.float32),
        partial_embeddings=np.concatenate(partials).astype(np.float32),
        partial_counts=np.array(counts),
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:2])
