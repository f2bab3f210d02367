"""The one place tensorflow-io is used, so it can be swapped out.

tensorflow-io is unmaintained: its compiled ops load only with TensorFlow 2.16-2.17. The suite does not
depend on it: decoding uses soundfile and resampling uses soxr, which measured better here (tfio's
resampler delays the signal by 32-141 samples, cuts the tail to keep the length, and is ~40x slower per
clip). Its resampler stays available as an alternative backend (`audio.read_audio(..., resampler="tfio")`)
and for comparison in benchmarks; if its ops fail to load, `available()` is False and says why.
"""

from __future__ import annotations

import numpy as np

_LOAD_ERROR: str | None = None
try:  # pragma: no cover - depends on the installed wheel
    from tensorflow_io.python.ops import core_ops as _core_ops
except Exception as error:  # ImportError, or NotFoundError for undefined symbols on TF >= 2.18
    _core_ops = None
    _LOAD_ERROR = f"{type(error).__name__}: {error}"


def available() -> bool:
    return _core_ops is not None


def load_error() -> str | None:
    """Why tensorflow-io's ops did not load, or None."""
    return _LOAD_ERROR


def resample(waveform: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono waveform with tensorflow-io's `io_audio_resample` op.

    Args:
        waveform: float array of shape `[samples]`.
        rate_in: its sample rate in Hz.
        rate_out: the wanted rate in Hz.

    Returns:
        float32 array of shape `[round(samples * rate_out / rate_in)]`.

    Raises:
        RuntimeError: tensorflow-io's ops did not load.
    """
    if _core_ops is None:
        raise RuntimeError(f"tensorflow-io is not usable here: {_LOAD_ERROR}")
    import tensorflow as tf

    out = _core_ops.io_audio_resample(
        tf.convert_to_tensor(np.asarray(waveform, np.float32)[:, None]), rate_in=int(rate_in), rate_out=int(rate_out)
    )
    return out.numpy()[:, 0]
