"""Write `golden_aisfx.npz`: the aisfx 0.1.2 package's own embeddings of a few fixed waveforms, for
`test_aisfx.py` and `test_aisfx_exports.py`.

Run once, with an environment that has torch, librosa 0.11 and soundfile (never the project's)::

    /tmp/torchenv/bin/python tests/pretrained/make_aisfx_golden.py [folder holding the aisfx package]

The folder defaults to ``/tmp/wheels/a`` (the unpacked aisfx 0.1.2 wheel). The tests never import this script.

Each waveform is written to a float WAV at 44.1 kHz (so `librosa.load(sr=44100)` reads it back bit for bit)
and goes through the package's own steps: `spectrogram_librosa.compute_spectrogram`, `spectrogram_normalize`
('original'), `model_get_embedding(emb_hop_size=0.5, drop_partial_block=True)` on `load_bestModel`. Two
departures, both in the package's code path rather than its arithmetic:

- the librosa function returns `[mels, frames]` while the package's blocking and the network take
  `[frames, mels]` (what the Essentia function returns, and what the model was trained on); fed as
  shipped, every clip becomes one block with time and frequency swapped. The golden embeddings use the
  spectrogram transposed to `[frames, mels]`; the shipped behaviour is kept as ``literal_embeddings``.
- `compute_hopSize` asserts that a spectrogram has more than 50 frames (~1.16 s); a shorter clip is blocked
  by the package's `blocking` directly (one zero-padded block), as its code would do without the assertion.

The checkpoint is read with ``torch.load(weights_only=False)`` (the package's `load_weights` fails on
torch >= 2.6: its dataset dictionary holds NumPy scalars). When Essentia is importable, the script also
prints how far the package's Essentia front-end (the paper's) lands from the librosa one.

The npz holds: ``waveforms`` int16 `[clips, longest]` zero-padded at the end (the float waveform is exactly
``waveforms / 32768``, float32), ``lengths`` `[clips]`, ``block_embeddings`` `[blocks, 512]` (all clips'
blocks, in order), ``block_counts`` `[clips]`, ``clip_embeddings`` `[clips, 512]` (the mean of each clip's
blocks) and ``literal_embeddings`` `[clips, 512]`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
OUTPUT = Path(__file__).resolve().parent / "golden_aisfx.npz"
# 1.0 s: 44 frames (under compute_hopSize's 51); 1.6 s: 69 frames, one zero-padded block; 2.3 s: exactly 100
# frames, one block; 5.0 s: 216 frames, three blocks and a partial one dropped.
SECONDS = (1.0, 1.6, 2.3, 5.0)


def sound_effect(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Tones, a chirp, noise bursts and clicks with random parameters, int16 peaking near -3 dBFS."""
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    tones = sum(
        rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(80, 4000) * t + rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    )
    low, high = rng.uniform(100, 1000), rng.uniform(3000, 15000)
    chirp = 0.4 * np.sin(2 * np.pi * (low * t + (high - low) * t**2 / (2 * seconds)))
    bursts = np.zeros(n)
    for _ in range(int(2 * seconds)):
        start, width = rng.integers(0, n), rng.integers(SAMPLE_RATE // 50, SAMPLE_RATE // 5)
        stop = min(n, start + width)
        bursts[start:stop] += rng.uniform(0.2, 0.8) * rng.standard_normal(stop - start) * np.hanning(stop - start)
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, size=int(6 * seconds))] = rng.uniform(-1, 1, size=int(6 * seconds))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 2.0) * t + rng.uniform(0, 2 * np.pi)) ** 2
    wave = (tones + chirp) * envelope + bursts + clicks
    return np.round(0.7 * 32767 * wave / np.max(np.abs(wave))).astype(np.int16)


def main(package_folder: str = "/tmp/wheels/a") -> None:
    sys.path.insert(0, package_folder)
    import librosa
    import soundfile
    import torch
    from aisfx import inference, preprocessing
    from aisfx.spectrogram import spectrogram_librosa

    weights, ds_dict = torch.load(inference.get_path_modelWeights(), map_location="cpu", weights_only=False)
    model = inference.load_bestModel(weights, ds_dict, "cpu")
    settings = dict(
        sr=float(SAMPLE_RATE),
        block_size=inference.SPEC_BLOCK_LENGTH,
        hop_size=inference.SPEC_HOP_LENGTH,
        n_mels=inference.MEL_BINS,
        f_min=inference.F_MIN,
        f_max=inference.F_MAX,
    )
    try:
        from aisfx.spectrogram import spectrogram_essentia
    except ImportError:
        spectrogram_essentia = None

    def embed(spec: np.ndarray) -> np.ndarray:
        """`model_get_embedding` on `[frames, mels]`; below 51 frames its blocking without the hop assertion."""
        if spec.shape[0] > inference.EMB_BLOCK_LENGTH // 2:
            return inference.model_get_embedding(spec, 0.5, True, model, "cpu").numpy()
        blocks = preprocessing.blocking(spec, inference.EMB_BLOCK_LENGTH, inference.EMB_BLOCK_LENGTH // 2, True)
        with torch.no_grad():
            return model.get_embedding(torch.Tensor(blocks)).numpy()

    rng = np.random.default_rng(20240612)
    waves = [sound_effect(seconds, rng) for seconds in SECONDS]
    blocks, counts, clips, literal = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for index, wave in enumerate(waves):
            path = str(Path(folder) / f"clip{index}.wav")
            floats = wave.astype(np.float32) / np.float32(32768)
            soundfile.write(path, floats, SAMPLE_RATE, subtype="FLOAT")
            loaded, _ = librosa.load(path, sr=float(SAMPLE_RATE))
            assert np.array_equal(loaded, floats), "librosa.load changed the waveform"
            spec = preprocessing.spectrogram_normalize(spectrogram_librosa.compute_spectrogram(path, **settings))
            block = embed(spec.T)  # [mels, frames] -> [frames, mels]: see the module docstring
            blocks.append(block)
            counts.append(len(block))
            clips.append(block.mean(axis=0))
            literal.append(inference.model_get_embedding(spec, 0.5, True, model, "cpu").numpy()[0])
            cosine = clips[-1] @ literal[-1] / np.linalg.norm(clips[-1]) / np.linalg.norm(literal[-1])
            line = (
                f"{len(wave) / SAMPLE_RATE:.1f} s, {spec.shape[1]} frames, {len(block)} blocks; "
                f"shipped layout vs [frames, mels]: cosine {cosine:.3f}"
            )
            if spectrogram_essentia is not None:
                essentia_spec = preprocessing.spectrogram_normalize(
                    spectrogram_essentia.compute_spectrogram(path, **settings)
                )
                essentia = embed(essentia_spec).mean(axis=0)
                cosine = clips[-1] @ essentia / np.linalg.norm(clips[-1]) / np.linalg.norm(essentia)
                line += (
                    f"; Essentia: {essentia_spec.shape[0]} frames, clip embedding max |diff| "
                    f"{np.max(np.abs(essentia - clips[-1])):.3f} (max |value| {np.max(np.abs(clips[-1])):.3f}), "
                    f"cosine {cosine:.4f}"
                )
            print(line)
    longest = max(len(wave) for wave in waves)
    np.savez_compressed(
        OUTPUT,
        waveforms=np.stack([np.pad(wave, (0, longest - len(wave))) for wave in waves]),
        lengths=np.array([len(wave) for wave in waves]),
        block_embeddings=np.concatenate(blocks).astype(np.float32),
        block_counts=np.array(counts),
        clip_embeddings=np.stack(clips).astype(np.float32),
        literal_embeddings=np.stack(literal).astype(np.float32),
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
