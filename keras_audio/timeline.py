"""The long-file report: a per-window CSV and a timeline PNG (spectrogram above, class probabilities below).

Both take the `api.WindowTable` that `Classifier.predict_windows` returns:

- `write_window_csv`: one row per window: ``start_s``, ``end_s``, ``p_<class>`` per class, ``label`` (with a
  leading ``file`` column when several recordings are written together); `WindowCsv` writes the same file
  one recording at a time, as each is answered;
- `plot_timeline`: the recording's log-mel spectrogram (the suite's `features.LogMelSpectrogram` settings), a
  strip with each window's label, and each class's probability at the window centres, on one time axis.
  `TimelineSpectrogram` computes that spectrogram from blocks as a long file is read, in bounded memory: it
  keeps at most `MAX_COLUMNS` columns (more than the figure has pixels), averaging the power of consecutive
  frames in groups of 2, 4, 8, ... for longer recordings; up to `MAX_COLUMNS` frames (40 s at a 10-ms hop)
  every frame is its own column. Likewise, past `MAX_POINTS` windows each class's probability is drawn as
  the mean of each group of consecutive windows, with the group's range shaded.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from keras_audio.api import WindowTable
from keras_audio.plots import OKABE_ITO, STYLE, _hz, _save

TIME_DECIMALS = 3  # milliseconds
PROBABILITY_DIGITS = 6
MAX_COLUMNS = 4000  # spectrogram columns kept; the figure's spectrogram is about 900 pixels wide
MAX_POINTS = 2000  # probability points drawn per class; more windows are drawn in groups


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
    with WindowCsv(path, classes.pop(), with_file=None not in tables) as writer:
        for source, windows in tables.items():
            writer.write(windows, source)
    return Path(path)


class WindowCsv:
    """The CSV of `write_window_csv`, written one recording at a time (a context manager).

    Args:
        path: the CSV to write (its folder is created).
        class_names: the classes of every table written.
        with_file: a leading ``file`` column (several recordings).
    """

    def __init__(self, path: str | Path, class_names: Sequence[str], with_file: bool):
        self.path = Path(path)
        self.class_names = tuple(class_names)
        self.with_file = with_file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "w", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(
            (["file"] if with_file else [])
            + ["start_s", "end_s"]
            + [f"p_{name}" for name in self.class_names]
            + ["label"]
        )

    def write(self, windows: WindowTable, source: str | None = None) -> None:
        """Append one recording's rows (`source`: its name in the ``file`` column)."""
        if windows.class_names != self.class_names:
            raise ValueError(
                f"WindowCsv: the table's classes {list(windows.class_names)} are not the file's "
                f"{list(self.class_names)}"
            )
        prefix = [source] if self.with_file else []
        for start, end, probabilities, label in zip(
            windows.start_s, windows.end_s, windows.probabilities, windows.labels
        ):
            self._writer.writerow(
                prefix
                + [f"{start:.{TIME_DECIMALS}f}", f"{end:.{TIME_DECIMALS}f}"]
                + [f"{p:.{PROBABILITY_DIGITS}g}" for p in probabilities]
                + [label]
            )
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> WindowCsv:
        return self

    def __exit__(self, *_) -> None:
        self.close()


class TimelineSpectrogram:
    """The timeline's log-mel spectrogram of a recording given in blocks (module docstring), in bounded memory.

    Framing and mel bands are those of the model's front end (`features`), else 25-ms windows, a 10-ms hop and
    64 mels; frames are centred as `features.LogMelSpectrogram` centres them, whatever the blocks.

    Args:
        sample_rate: the recording's rate in Hz.
        features: the model's front-end settings (`classifier.metadata["features"]`), used if they are for
            `sample_rate`.
        max_columns: columns kept (an even number >= 2).
    """

    BLOCK = 1 << 19  # samples framed at a time

    def __init__(self, sample_rate: int, features: Mapping | None = None, max_columns: int = MAX_COLUMNS):
        import librosa

        from keras_audio.features import LogMelSpectrogram

        if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 2 or max_columns % 2:
            raise ValueError(f"max_columns must be an even int >= 2, got {max_columns!r}")
        settings = dict(features or {})
        if settings.get("sample_rate") not in (None, sample_rate):  # the model's settings are for its own rate
            settings = {}
        hop = int(settings.get("hop_length") or max(1, round(0.010 * sample_rate)))
        win = int(settings.get("win_length") or max(2, round(0.025 * sample_rate)))
        n_fft = int(settings.get("n_fft") or 2 ** int(np.ceil(np.log2(win))))
        fmax = settings.get("fmax")
        self.layer = LogMelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=min(win, n_fft),
            hop_length=hop,
            n_mels=int(settings.get("n_mels") or 64),
            fmin=float(settings.get("fmin") or 0.0),
            fmax=None if fmax is None or fmax > sample_rate / 2 else fmax,
            top_db=settings.get("top_db", 80.0),
        )
        centres = librosa.mel_frequencies(
            n_mels=self.layer.n_mels + 2, fmin=self.layer.fmin, fmax=self.layer.fmax or sample_rate / 2
        )
        self.band_hz = centres[1:-1]
        self.sample_rate = int(sample_rate)
        self.max_columns = max_columns
        self.samples = 0
        self.frames_per_column = 1
        self._pending = np.zeros(self.layer.n_fft // 2, np.float32)  # the centring pad before the recording
        self._columns = np.zeros((0, self.layer.n_mels))  # sums of mel power, frames_per_column frames each
        self._partial = np.zeros((0, self.layer.n_mels))  # the frames of the column being filled
        self._finished = False

    def add(self, block: np.ndarray) -> None:
        """Append the next samples of the recording (mono, at `sample_rate`)."""
        if self._finished:
            raise ValueError("TimelineSpectrogram: add after the spectrogram was drawn")
        block = np.asarray(block, np.float32)
        if block.ndim != 1:
            raise ValueError(f"TimelineSpectrogram: a block must be [samples], got shape {block.shape}")
        self.samples += block.size
        for start in range(0, block.size, self.BLOCK):
            self._frame(np.concatenate([self._pending, block[start : start + self.BLOCK]]))

    def spectrogram(self) -> tuple[np.ndarray, float]:
        """`([columns, mels] dB, seconds per column)` after the last block: each column's mean mel power in dB,
        floored `top_db` below the loudest column (as the layer floors a clip)."""
        import tensorflow as tf

        from keras_audio.features import power_to_db

        if not self._finished:
            self._frame(np.concatenate([self._pending, np.zeros(self.layer.n_fft // 2, np.float32)]))
            self._finished = True
        if self.samples == 0:
            raise ValueError("TimelineSpectrogram: no samples")
        power = self._columns / self.frames_per_column
        if len(self._partial):
            power = np.concatenate([power, self._partial.mean(axis=0, keepdims=True)])
        db = power_to_db(tf.constant(power[None], tf.float32), top_db=self.layer.top_db)[0].numpy()
        return db, self.frames_per_column * self.layer.hop_length / self.sample_rate

    def _frame(self, signal: np.ndarray) -> None:
        """Frame `signal` (the centred recording from the next frame's first sample on), keep what is left."""
        import tensorflow as tf

        from keras_audio.features import framed_power

        n_fft, hop = self.layer.n_fft, self.layer.hop_length
        count = 0 if signal.size < n_fft else 1 + (signal.size - n_fft) // hop
        self._pending = signal[count * hop :]
        if count == 0:
            return
        power = framed_power(tf.constant(signal[None, : (count - 1) * hop + n_fft]), n_fft, self.layer.win_length, hop)[
            0
        ]
        mel = tf.linalg.matmul(power, tf.constant(self.layer._filterbank)).numpy().astype(np.float64)
        frames = np.concatenate([self._partial, mel])
        whole = len(frames) // self.frames_per_column * self.frames_per_column
        sums = frames[:whole].reshape(-1, self.frames_per_column, mel.shape[1]).sum(axis=1)
        self._columns = np.concatenate([self._columns, sums])
        self._partial = frames[whole:]
        while len(self._columns) > self.max_columns:  # twice as many frames per column
            if len(self._columns) % 2:
                self._partial = np.concatenate(
                    [
                        np.repeat(self._columns[-1:] / self.frames_per_column, self.frames_per_column, axis=0),
                        self._partial,
                    ]
                )
                self._columns = self._columns[:-1]
            self._columns = self._columns[0::2] + self._columns[1::2]
            self.frames_per_column *= 2


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


def plot_timeline(
    samples: np.ndarray | TimelineSpectrogram,
    sample_rate: int,
    table: WindowTable,
    path: str | Path,
    *,
    title: str | None = None,
    features: Mapping | None = None,
) -> Path:
    """Write the timeline PNG of one recording.

    Args:
        samples: the recording, mono `[samples]` at `sample_rate` (e.g. `Classifier.read(path)`), or a
            `TimelineSpectrogram` it was given to block by block (`Classifier.predict_file(on_samples=...)`).
        sample_rate: in Hz.
        table: its windows (`Classifier.predict_windows`).
        path: the PNG to write.
        title: the figure title (default: the file-level answer).
        features: the model's front-end settings (`classifier.metadata["features"]`) for the spectrogram of
            an array (a `TimelineSpectrogram` has its own).

    Returns:
        the PNG written.
    """
    if isinstance(samples, TimelineSpectrogram):
        timeline = samples
        if timeline.sample_rate != sample_rate:
            raise ValueError(f"plot_timeline: the spectrogram is at {timeline.sample_rate} Hz, not {sample_rate} Hz")
    else:
        samples = np.asarray(samples, np.float32)
        if samples.ndim != 1 or samples.size == 0:
            raise ValueError(
                f"plot_timeline: samples must be a non-empty mono [samples] array, got shape {samples.shape}"
            )
        timeline = TimelineSpectrogram(sample_rate, features)
        timeline.add(samples)
    if len(table) == 0:
        raise ValueError("plot_timeline: the window table is empty")
    duration = timeline.samples / sample_rate
    spectrogram, hop_seconds = timeline.spectrogram()
    band_hz = timeline.band_hz
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(table.class_names))]
    mean = table.mean_probabilities()
    best = int(np.argmax(mean))
    if title is None:
        title = (
            f"{table.class_names[best]}: mean probability {mean[best]:.2f} over {len(table)} "
            f"window{'s' if len(table) > 1 else ''} ({duration:.1f} s)"
        )
    with rc_context({**STYLE}):
        figure = Figure(figsize=(11, 5.6), layout="constrained")
        top, strip, bottom = figure.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 0.35, 2.2]})
        peak = float(spectrogram.max())
        top.imshow(
            spectrogram.T,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=peak - 80,
            vmax=peak,
            extent=(0, len(spectrogram) * hop_seconds, 0, spectrogram.shape[1]),
            interpolation="nearest",
        )
        bands = np.linspace(0, len(band_hz) - 1, 5).round().astype(int)
        top.set_yticks(bands + 0.5, [_hz(band_hz[b]) for b in bands])
        top.set_ylabel("frequency (Hz, mel)")
        top.grid(False)
        top.set_title(title)
        # One mesh cell per label run (a long file has thousands): one artist, not one patch per run.
        runs = _label_segments(table)
        edges = [runs[0][0]] + [end for _, end, _ in runs]
        strip.pcolormesh(
            edges,
            [0, 1],
            np.array([[label for _, _, label in runs]]),
            cmap=ListedColormap(colours),
            vmin=-0.5,
            vmax=len(colours) - 0.5,
            shading="flat",
            linewidth=0,
        )
        strip.set_yticks([])
        strip.set_ylabel("label", rotation=0, ha="right", va="center")
        strip.grid(False)
        centres = (table.start_s + table.end_s) / 2
        marker = "o" if len(table) <= 60 else None
        if len(table) <= MAX_POINTS:
            for c, name in enumerate(table.class_names):
                bottom.plot(
                    centres,
                    table.probabilities[:, c],
                    color=colours[c],
                    marker=marker,
                    markersize=3.5,
                    linewidth=1.6,
                    label=name,
                )
        else:  # each group of consecutive windows: its mean, its range shaded (a line per window would take
            # hundreds of MB to draw, at far more points than the axes have pixels)
            first = np.arange(0, len(table), -(-len(table) // MAX_POINTS))
            counts = np.diff(np.append(first, len(table)))
            at = np.add.reduceat(centres, first) / counts
            for c, name in enumerate(table.class_names):
                p = table.probabilities[:, c]
                bottom.fill_between(
                    at,
                    np.minimum.reduceat(p, first),
                    np.maximum.reduceat(p, first),
                    color=colours[c],
                    alpha=0.25,
                    linewidth=0,
                )
                bottom.plot(
                    at,
                    np.add.reduceat(p.astype(np.float64), first) / counts,
                    color=colours[c],
                    linewidth=1.6,
                    label=name,
                )
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_ylabel("probability")
        bottom.set_xlabel("time (s)")
        bottom.set_xlim(0, duration)
        handles = [Patch(color=colours[c], label=name) for c, name in enumerate(table.class_names)]
        bottom.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.005, 1.0),
            frameon=False,
            title=f"labels smoothed\nover {table.smooth} windows" if table.smooth else "class",
        )
        return _save(figure, Path(path))
