"""One picture of a prepared recording: its waveform, each segment shaded, dropped words marked.

Drawn like the run plots (`keras_audio.plots`): matplotlib's object API on the Agg canvas (no pyplot), the
Okabe-Ito palette. A long recording has millions of samples, so the waveform is drawn as its envelope: the
minimum and maximum of each of `columns` equal slices, which is what a plot that wide can show anyway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from keras_audio.asr.segmentation import Segment, WordProblem
from keras_audio.plots import DPI, OKABE_ITO, STYLE

COLUMNS = 2000


def envelope(waveform: np.ndarray, columns: int = COLUMNS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(column start sample, min, max)` of `waveform` over `columns` equal slices (fewer if it is shorter)."""
    if columns <= 0:
        raise ValueError(f"columns must be positive, got {columns}")
    waveform = np.asarray(waveform, np.float32)
    if waveform.ndim != 1 or waveform.size == 0:
        raise ValueError(f"waveform must be a non-empty [samples] array, got shape {waveform.shape}")
    edges = np.linspace(0, waveform.size, min(columns, waveform.size) + 1).astype(np.int64)
    starts = edges[:-1]
    return starts, np.minimum.reduceat(waveform, starts), np.maximum.reduceat(waveform, starts)


def segments_plot(
    waveform: np.ndarray,
    sample_rate: int,
    segments: Sequence[Segment],
    path: str | os.PathLike,
    dropped: Sequence[WordProblem] = (),
    title: str = "",
) -> Path:
    """Write a PNG of the waveform with every segment shaded (alternating colours) and dropped words in red."""
    starts, low, high = envelope(waveform)
    times = starts / sample_rate
    with rc_context(STYLE):
        figure = Figure(figsize=(14, 3.6))
        axes = figure.add_subplot()
        for i, segment in enumerate(segments):
            axes.axvspan(segment.start, segment.end, color=OKABE_ITO[i % 2], alpha=0.18, linewidth=0)
            axes.axvline(segment.start, color=OKABE_ITO[i % 2], linewidth=0.8)
            axes.axvline(segment.end, color=OKABE_ITO[i % 2], linewidth=0.8, linestyle="--")
        for problem in dropped:
            axes.axvspan(
                problem.word.start,
                max(problem.word.end, problem.word.start + 0.05),
                color=OKABE_ITO[3],
                alpha=0.5,
                linewidth=0,
            )
        axes.fill_between(times, low, high, color="0.15", linewidth=0.3, step="post")
        axes.set_xlim(0, waveform.size / sample_rate)
        axes.set_xlabel("time (s)")
        axes.set_ylabel("amplitude")
        longest = max((s.span for s in segments), default=0.0)
        axes.set_title(
            title
            or f"{len(segments)} segments (solid line: start, dashed: end), longest {longest:.1f} s"
            + (f", {len(dropped)} dropped words in red" if dropped else "")
        )
        figure.tight_layout()
        path = Path(path)
        figure.savefig(path, dpi=DPI, format="png")
    return path
