"""Fixtures for the corruption tests: tiny resources written to tmp folders, signals, measurements.

Everything is generated here (no test reads the development recordings): a noise folder, an impulse-response folder and
babble utterances, all at or resampled to 16 kHz.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_audio.corruptions import registry

SAMPLE_RATE = 16000
BABBLE_TONES_HZ = (500.0, 700.0, 900.0, 1100.0, 1300.0, 1500.0)


def harmonic_tone(f0: float, seconds: float, sample_rate: int = SAMPLE_RATE, harmonics: int = 8) -> np.ndarray:
    """A voice-like tone: `harmonics` partials of `f0` with 1/k amplitudes, peak ~0.5."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1))
    return (0.5 * tone / np.max(np.abs(tone))).astype(np.float32)


def sine(frequency: float, seconds: float, amplitude: float = 0.5, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def median_f0(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Median F0 by librosa's YIN over the middle of the clip (edges skipped)."""
    f0 = librosa.yin(np.asarray(waveform, np.float64), fmin=60, fmax=600, sr=sample_rate, frame_length=1024)
    return float(np.median(f0[3:-3]))


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2)))


def seed(a: int, b: int = 0) -> tf.Tensor:
    return tf.constant([a, b], tf.int64)


@pytest.fixture(scope="session")
def helpers():
    """The module-level helpers, for test files (importlib mode keeps conftest out of `import`)."""
    import types

    return types.SimpleNamespace(
        SAMPLE_RATE=SAMPLE_RATE,
        harmonic_tone=harmonic_tone,
        sine=sine,
        median_f0=median_f0,
        rms_db=rms_db,
        seed=seed,
        BABBLE_TONES_HZ=BABBLE_TONES_HZ,
    )


def write_noise_dir(folder) -> None:
    """Two recordings: a 2-s white noise at 16 kHz and a 0.1-s stereo noise at 22.05 kHz (shorter than clips)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    sf.write(folder / "long.wav", 0.1 * rng.standard_normal(2 * SAMPLE_RATE), SAMPLE_RATE)
    sf.write(folder / "short.flac", 0.1 * rng.standard_normal((2205, 2)), 22050)
    (folder / "README.txt").write_text("not audio: ignored by extension")


def write_ir_dir(folder) -> None:
    """One stereo 44.1-kHz impulse response with a 10-ms pre-delay, and one mono 16-kHz one."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    t = np.arange(int(0.3 * 44100)) / 44100
    tail = np.exp(-t * 20) * rng.standard_normal(t.size) * 0.3
    response = np.concatenate([np.zeros(441), [1.0], tail])
    sf.write(folder / "room_stereo.wav", np.stack([response, 0.8 * response], axis=1), 44100)
    t16 = np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(
        folder / "room_mono.wav",
        np.concatenate([[1.0], np.exp(-t16 * 30) * rng.standard_normal(t16.size) * 0.2]),
        SAMPLE_RATE,
        subtype="FLOAT",
    )


def babble_utterances() -> list[np.ndarray]:
    """Six 1-s 'utterances', each a pure tone at its own frequency (so a test can see which were mixed)."""
    return [sine(f, 1.0, 0.2) for f in BABBLE_TONES_HZ]


@pytest.fixture(scope="session")
def resources(tmp_path_factory) -> registry.Resources:
    root = tmp_path_factory.mktemp("corruption_resources")
    write_noise_dir(root / "noise")
    write_ir_dir(root / "ir")
    return registry.Resources(
        noise_dir=str(root / "noise"), ir_dir=str(root / "ir"), babble_waveforms=babble_utterances()
    )


@pytest.fixture(scope="session")
def suite(resources) -> dict:
    """Every registered corruption at 16 kHz."""
    return registry.build_suite(None, SAMPLE_RATE, resources)


@pytest.fixture(scope="session")
def graph_call():
    """`graph_call(corruption)` -> a traced `(waveform [None], seed [2], severity []) -> waveform`, cached."""
    cache = {}

    def get(corruption):
        if id(corruption) not in cache:
            cache[id(corruption)] = (
                corruption,
                tf.function(
                    lambda waveform, seed_, severity: corruption(waveform, seed_, severity),
                    input_signature=[
                        tf.TensorSpec([None], tf.float32),
                        tf.TensorSpec([2], tf.int64),
                        tf.TensorSpec([], tf.int32),
                    ],
                ),
            )
        function = cache[id(corruption)][1]
        return lambda waveform, seed_, severity: function(
            tf.convert_to_tensor(waveform, tf.float32), tf.cast(seed_, tf.int64), tf.constant(severity, tf.int32)
        ).numpy()

    return get
