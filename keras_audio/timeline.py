"""The long-file report: a per-window CSV and a timeline PNG (spectrogram above, class probabilities below).

Both take the `api.WindowTable` that `Classifier.predict_windows` returns:

- `write_window_csv`: one row per window: ``start_s``, ``end_s``, ``p_<class>`` per class, ``label`` (with a
  leading ``file`` column when several recordings are written together);
- `plot_timeline`: the recording's log-mel spectrogram (the suite's `features.LogMelSpectrogram`), a strip
  with each window's label, and each class's probability at the window centres, on one time axis.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from keras_audio.api import WindowTable
from keras_audio.plots import OKABE_ITO, STYLE, _hz, _save

TIME_DECIMALS = 3  # milliseconds
PROBABILITY_DIGITS = 6


def write_window_csv(table: WindowTable | Mapping[str, WindowTable], path: str | Path) -> Path:
    """Write the windows of one recording, or of several (`{file: table}`, all with the same classes).

    Returns:
        the CSV written.
    """
    tables = {None: table} if isinstance(table, WindowTable) else dict(table)
    if not tables:
        raise ValueError("write_window_csv: no tables to write")
    classes = {t.class_names for t in tables.values()}
    if len(classes) != 1:
        raise ValueError(f"write_window_csv: the tables have different classes: {sorted(classes)}")
    class_names = classes.pop()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    several = None not in tables
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((["file"] if several else []) + ["start_s", "end_s"]
                        + [f"p_{name}" for name in class_names] + ["label"])
        for source, windows in tables.items():
            for start, end, probabilities, label in zip(windows.start_s, windows.end_s, windows.probabilities,
                                                        windows.labels):
                times = [f"{start:.{TIME_DECIMALS}f}", f"{end:.{TIME_DECIMALS}f}"]
                writer.writerow(([source] if several else []) + times
                                + [f"{p:.{PROBABILITY_DIGITS}g}" for p in probabilities] + [label])
    return path


def _log_mel(samples: np.ndarray, sample_rate: int, features: Mapping | None
             ) -> tuple[np.ndarray, float, np.ndarray]:
    """`([frames, mels] dB, hop in seconds, band centres in Hz)` with the model's front-end settings, else
    25 ms windows, a 10 ms hop and 64 mels."""
    import librosa
    import tensorflow as tf

    from keras_audio.features import LogMelSpectrogram

    settings = dict(features or {})
    if settings.get("sample_rate") not in (None, sample_rate):  # the model's settings are for its own rate
        settings = {}
    hop = int(settings.get("hop_length") or max(1, round(0.010 * sample_rate)))
    win = int(settings.get("win_length") or max(2, round(0.025 * sample_rate)))
    n_fft = int(settings.get("n_fft") or 2 ** int(np.ceil(np.log2(win))))
    fmax = settings.get("fmax")
    layer = LogMelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, win_length=min(win, n_fft), hop_length=hop,
                              n_mels=int(settings.get("n_mels") or 64), fmin=float(settings.get("fmin") or 0.0),
                              fmax=None if fmax is None or fmax > sample_rate / 2 else fmax,
                              top_db=settings.get("top_db", 80.0))
    centres = librosa.mel_frequencies(n_mels=layer.n_mels + 2, fmin=layer.fmin, fmax=layer.fmax or sample_rate / 2)
    return layer(tf.constant(np.asarray(samples, np.float32)[None]))[0].numpy(), hop / sample_rate, centres[1:-1]


def _label_segments(table: WindowTable) -> list[tuple[float, float, int]]:
    """`(start_s, end_s, label id)` runs: each window owns the time up to halfway to its neighbours' centres."""
    centres = (table.start_s + table.end_s) / 2
    edges = np.concatenate([[table.start_s[0]], (centres[1:] + centres[:-1]) / 2, [table.end_s[-1]]])
    runs: list[tuple[float, float, int]] = []
    for i, label in enumerate(table.label_ids):
        if runs and runs[-1][2] == label:
            runs[-1] = (runs[-1][0], float(edges[i + 1]), int(label))
        else:
            runs.append((float(edges[i]), float(edges[i + 1]), int(label)))
    return runs


def plot_timeline(samples: np.ndarray, sample_rate: int, table: WindowTable, path: str | Path, *,
                  title: str | None = None, features: Mapping | None = None) -> Path:
    """Write the timeline PNG of one recording.

    Args:
        samples: the recording, mono `[samples]` at `sample_rate` (e.g. `Classifier.read(path)`).
        sample_rate: in Hz.
        table: its windows (`Classifier.predict_windows`).
        path: the PNG to write.
        title: the figure title (default: the file-level answer).
        features: the model's front-end settings (`classifier.metadata["features"]`) for the spectrogram.

    Returns:
        the PNG written.
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError(f"plot_timeline: samples must be a non-empty mono [samples] array, got shape {samples.shape}")
    if len(table) == 0:
        raise ValueError("plot_timeline: the window table is empty")
    duration = len(samples) / sample_rate
    spectrogram, hop_seconds, band_hz = _log_mel(samples, sample_rate, features)
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(table.class_names))]
    mean = table.mean_probabilities()
    best = int(np.argmax(mean))
    if title is None:
        title = (f"{table.class_names[best]}: mean probability {mean[best]:.2f} over {len(table)} "
                 f"window{'s' if len(table) > 1 else ''} ({duration:.1f} s)")
    with rc_context({**STYLE}):
        figure = Figure(figsize=(11, 5.6), layout="constrained")
        top, strip, bottom = figure.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.35, 2.2]})
        peak = float(spectrogram.max())
        top.imshow(spectrogram.T, origin="lower", aspect="auto", cmap="magma", vmin=peak - 80, vmax=peak,
                   extent=(0, len(spectrogram) * hop_seconds, 0, spectrogram.shape[1]), interpolation="nearest")
        bands = np.linspace(0, len(band_hz) - 1, 5).round().astype(int)
        top.set_yticks(bands + 0.5, [_hz(band_hz[b]) for b in bands])
        top.set_ylabel("frequency (Hz, mel)")
        top.grid(False)
        top.set_title(title)
        for start, end, label in _label_segments(table):
            strip.axvspan(start, end, color=colours[label], linewidth=0)
        strip.set_yticks([])
        strip.set_ylabel("label", rotation=0, ha="right", va="center")
        strip.grid(False)
        centres = (table.start_s + table.end_s) / 2
        marker = "o" if len(table) <= 60 else None
        for c, name in enumerate(table.class_names):
            bottom.plot(centres, table.probabilities[:, c], color=colours[c], marker=marker, markersize=3.5,
                        linewidth=1.6, label=name)
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_ylabel("probability")
        bottom.set_xlabel("time (s)")
        bottom.set_xlim(0, duration)
        handles = [Patch(color=colours[c], label=name) for c, name in enumerate(table.class_names)]
        bottom.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False,
                      title=f"labels smoothed\nover {table.smooth} windows" if table.smooth else "class")
        return _save(figure, Path(path))
