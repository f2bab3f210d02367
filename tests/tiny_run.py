"""A tiny corpus of tones in the CSV layout, and a run config small enough for end-to-end tests."""

import csv

import numpy as np

from keras_audio.audio import write_wav
from keras_audio.config import FeatureConfig
from keras_audio.suite.config import RunConfig, TrainingConfig

SAMPLE_RATE = 8000
SPEAKERS = {"train": 10, "validation": 2, "test": 4}  # per split, half of them of each class


def write_tone_corpus(root):
    """32 harmonic tones (two per speaker): low voices are class `low`, high voices class `high`; returns the
    manifest CSV."""
    rng = np.random.default_rng(0)
    rows = []
    for split, count in SPEAKERS.items():
        for s in range(count):
            label = "low" if s % 2 else "high"
            speaker = f"{split}{s}"
            f0 = rng.uniform(100, 140) if label == "low" else rng.uniform(200, 260)
            for u in range(2):
                t = np.arange(int(SAMPLE_RATE * rng.uniform(0.5, 0.8))) / SAMPLE_RATE
                wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.1
                wave += 0.01 * rng.standard_normal(len(t))
                path = f"{speaker}_{u}.wav"
                write_wav(root / path, wave.astype(np.float32), SAMPLE_RATE)
                rows.append({"path": path, "label": label, "speaker": speaker, "split": split})
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return root / "manifest.csv"


def tiny_config(corpus, tmp_path, run_name):
    return RunConfig(
        corpus="csv",
        data_dir=str(corpus),
        models=["conv1d"],
        corruptions=["white_noise", "speed"],
        severities=[1, 3],
        epochs=1,
        batch_size=8,
        sample_rate=SAMPLE_RATE,
        clip_seconds=0.5,
        seed=3,
        features=FeatureConfig(n_fft=256, win_length=200, hop_length=80, n_mels=16, fmin=20.0),
        cache_dir=str(tmp_path / "cache"),
        out=str(tmp_path / "results"),
        run_name=run_name,
        training=TrainingConfig(model_options={"conv1d": {"filters": [8], "kernel_size": 3}}),
    )
