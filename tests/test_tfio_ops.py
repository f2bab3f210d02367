"""The optional tensorflow-io backend: its resampler through `read_audio(..., resampler="tfio")`.

tensorflow-io is not in the main requirements (its ops load only with TensorFlow 2.16-2.17), so in the main
environment these tests are skipped with the reason, except the refusal when it is missing. `.ci/run` runs
this file a second time in an environment built from `requirements-tfio.txt` with
`KERAS_AUDIO_REQUIRE_TFIO=1`, where a tfio that fails to load is a failure, not a skip: the optional path
cannot rot unnoticed.
"""

import os

import numpy as np
import pytest
import soundfile as sf

from keras_audio import tfio_ops
from keras_audio.audio import read_audio

REQUIRED = os.environ.get("KERAS_AUDIO_REQUIRE_TFIO") == "1"

needs_tfio = pytest.mark.skipif(
    not tfio_ops.available() and not REQUIRED,
    reason=f"tensorflow-io not usable here ({tfio_ops.load_error()}); run with requirements-tfio.txt",
)


def test_required_backend_loads():
    if not REQUIRED:
        pytest.skip("KERAS_AUDIO_REQUIRE_TFIO is not set (the main environment has no tensorflow-io)")
    assert tfio_ops.available(), f"tensorflow-io did not load: {tfio_ops.load_error()}"


@pytest.mark.skipif(tfio_ops.available(), reason="tensorflow-io is usable here")
def test_missing_backend_is_refused_with_its_reason():
    with pytest.raises(RuntimeError, match="tensorflow-io is not usable here"):
        tfio_ops.resample(np.zeros(160, np.float32), 8000, 16000)


def _tone(rate: int, seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@needs_tfio
@pytest.mark.parametrize("rate_in", [8000, 44100])
def test_tfio_resampler_keeps_length_and_pitch(rate_in):
    tone = _tone(rate_in, 0.5, 440.0)
    out = tfio_ops.resample(tone, rate_in, 16000)
    assert out.dtype == np.float32
    assert out.shape == (round(len(tone) * 16000 / rate_in),)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak_hz = np.argmax(spectrum) * 16000 / len(out)
    assert abs(peak_hz - 440.0) < 4.0


@needs_tfio
def test_read_audio_with_tfio_agrees_with_soxr_away_from_the_edges(tmp_path):
    path = tmp_path / "tone_8k.wav"
    sf.write(str(path), _tone(8000, 1.0, 300.0), 8000, subtype="FLOAT")
    with_tfio = read_audio(path, 16000, resampler="tfio")
    with_soxr = read_audio(path, 16000)
    assert with_tfio.shape == with_soxr.shape
    # tfio's resampler delays the signal by tens of samples (tfio_ops' docstring); align before comparing.
    middle = slice(2000, 14000)
    lags = range(-200, 201)
    errors = [np.max(np.abs(np.roll(with_tfio, -lag)[middle] - with_soxr[middle])) for lag in lags]
    assert min(errors) < 0.02
