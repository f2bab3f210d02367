"""The plots of a run folder: PNGs a person reads at a glance, without the code.

One function per plot, each taking plain data (long-table rows, histories, arrays) and writing one PNG:

- `accuracy_vs_severity`: accuracy against severity, one panel per corruption, one line per model × policy;
- `corruption_heatmap`: test condition (clean, each corruption averaged over severities, mean spoiled)
  against model × policy, cells annotated;
- `confusion_matrices`: one model's confusion matrices side by side (clean, spoiled);
- `spectrogram_gallery`: one test clip's log-mel spectrogram, clean and under each corruption;
- `learning_curves`: loss and accuracy per epoch, training and validation.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, so the caller's backend is left
alone), in the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies), lines also
told apart by marker, accuracies on a fixed 0-1 axis with the majority-class baseline dashed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from keras_audio.statistics import per_seed_values

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
DPI = 100
GALLERY_DPI = 80  # spectrograms are noisy pixels: a lower resolution keeps the PNG small, still readable
GALLERY_STEPS = 64  # colour levels of the spectrograms: 1.25 dB apart over 80 dB, no visible banding, 25 % smaller
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
CLEAN = "clean"
BASELINE_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 1.2}


def _save(figure: Figure, path: Path, dpi: int = DPI, colormap: str | None = None, steps: int = 192) -> Path:
    """Write the figure as a 256-colour PNG, a third to a fifth of the size of full colour.

    Line plots get an adaptive palette. A figure showing a colour map gets a fixed palette of `steps` steps of
    that map plus 64 greys (for text and axes): an adaptive palette would band the map's smooth gradient.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=dpi, format="png")
    buffer.seek(0)
    with Image.open(buffer) as image:
        rgb = image.convert("RGB")
        if colormap is None:
            indexed = rgb.quantize(256, dither=Image.Dither.NONE)
        else:
            indexed = _to_palette(np.asarray(rgb), colormap, steps)
        indexed.save(path, optimize=True)
    return path


def _to_palette(pixels: np.ndarray, colormap: str, steps: int = 192) -> Image.Image:
    """Each pixel as the nearest of `steps` steps of `colormap` and 64 greys (exact white and black included)."""
    if not 2 <= steps <= 192:
        raise ValueError(f"steps must be in 2..192, got {steps}")
    levels = np.asarray(colormaps[colormap](np.linspace(0, 1, steps)))[:, :3] * 255
    greys = np.repeat(np.linspace(0, 255, 64)[:, None], 3, axis=1)
    palette = np.concatenate([levels, greys]).round()
    packed = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    colours, inverse = np.unique(packed.ravel(), return_inverse=True)  # a figure has few distinct colours
    rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(float)
    nearest = np.argmin(((rgb[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2), axis=1)
    image = Image.fromarray(nearest[inverse].reshape(pixels.shape[:2]).astype(np.uint8), mode="P")
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    return image


def _grid(count: int, max_columns: int = 4) -> tuple[int, int]:
    """(rows, columns) for `count` panels: as few rows as `max_columns` allows, filled evenly."""
    rows = math.ceil(count / max_columns)
    return rows, math.ceil(count / rows)


def _panel_grid(
    lines: int,
    columns: int,
    panel: tuple[float, float],
    *,
    left: float,
    right: float,
    top: float,
    bottom: float,
    wgap: float,
    hgap: float,
) -> tuple[Figure, np.ndarray]:
    """A figure of `lines` × `columns` panels with margins and gaps fixed in inches.

    Many-panel figures use this instead of constrained layout, which costs about a second per twenty panels.
    """
    width = left + columns * panel[0] + (columns - 1) * wgap + right
    height = top + lines * panel[1] + (lines - 1) * hgap + bottom
    figure = Figure(figsize=(width, height))
    axes = figure.subplots(
        lines,
        columns,
        sharex=True,
        sharey=True,
        squeeze=False,
        gridspec_kw={
            "left": left / width,
            "right": 1 - right / width,
            "bottom": bottom / height,
            "top": 1 - top / height,
            "wspace": wgap / panel[0],
            "hspace": hgap / panel[1],
        },
    )
    return figure, axes


def _label_bottom(axes: np.ndarray, used: int, xlabel: str, ylabel: str) -> None:
    """Hide unused panels; the lowest used panel of each column shows the x axis, the first column the y label."""
    for ax in axes.flat[used:]:
        ax.set_visible(False)
    rows, columns = axes.shape
    for column in range(columns):
        lowest = max((r for r in range(rows) if r * columns + column < used), default=None)
        if lowest is not None:
            axes[lowest, column].set_xlabel(xlabel)
            axes[lowest, column].xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)


def _model_label(model: str, policy: str) -> str:
    return f"{model} / {policy}"


def _models(rows: Sequence[Mapping]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r["model"], r["policy"]) for r in rows))


def _corruptions(rows: Sequence[Mapping]) -> list[str]:
    return list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != CLEAN))


def _seed_note(rows: Sequence[Mapping], bars: bool = False) -> str:
    seeds = len({r["seed"] for r in rows})
    if seeds == 1:
        return "one training seed"
    return f"mean over {seeds} training seeds" + ("; bars: ± 1 sd over seeds" if bars else "")


def accuracy_vs_severity(rows: Sequence[Mapping], path: Path, *, corpus: str, baseline: float | None = None) -> Path:
    """Accuracy against severity (0 = clean), one panel per corruption, one line per model × policy.

    Args:
        rows: long-table rows (model, policy, seed, corruption, severity, accuracy).
        path: the PNG to write.
        corpus: names the data in the title (``synthetic / gender``).
        baseline: the majority-class accuracy, drawn dashed.
    """
    corruptions = _corruptions(rows)
    models = _models(rows)
    if not corruptions:
        raise ValueError("accuracy_vs_severity: the rows hold no spoiled condition")
    values = per_seed_values(rows, ("model", "policy", "corruption", "severity"))
    lines, columns = _grid(len(corruptions))
    legend_columns = min(len(models) + (baseline is not None), 5)
    legend_lines = math.ceil((len(models) + (baseline is not None)) / legend_columns)
    with rc_context(STYLE):
        figure, axes = _panel_grid(
            lines,
            columns,
            (3.9, 3.0) if lines <= 2 else (3.4, 2.4),
            left=0.85,
            right=0.25,
            top=1.05,
            bottom=0.75 + 0.28 * legend_lines,
            wgap=0.2,
            hgap=0.6,
        )
        for index, corruption in enumerate(corruptions):
            ax = axes.flat[index]
            for m, (model, policy) in enumerate(models):
                points = [(0, values.get((model, policy, CLEAN, 0)))]
                points += sorted(
                    (severity, v)
                    for (mo, po, c, severity), v in values.items()
                    if (mo, po, c) == (model, policy, corruption)
                )
                points = [(x, v) for x, v in points if v]
                xs = [x for x, _ in points]
                means = [float(np.mean(v)) for _, v in points]
                sds = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for _, v in points]
                ax.errorbar(
                    xs,
                    means,
                    yerr=sds if any(sds) else None,
                    color=OKABE_ITO[m % len(OKABE_ITO)],
                    marker=MARKERS[m % len(MARKERS)],
                    markersize=5,
                    linewidth=1.8,
                    capsize=3,
                    label=_model_label(model, policy),
                )
            if baseline is not None:
                ax.axhline(baseline, **BASELINE_STYLE, label=f"majority class ({baseline:.2f})")
            ax.set_title(corruption)
            ax.set_ylim(0, 1.02)
            ax.set_xlim(-0.3, 5.3)
            ax.set_xticks(range(6), ["clean", "1", "2", "3", "4", "5"])
        _label_bottom(axes, len(corruptions), "severity", "accuracy")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        figure.legend(
            handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=legend_columns, frameon=False
        )
        figure.suptitle(
            f"Test accuracy under each corruption, by severity — {corpus}\n({_seed_note(rows, bars=True)})",
            y=1 - 0.12 / figure.get_figheight(),
            va="top",
        )
        return _save(figure, path)


def corruption_heatmap(rows: Sequence[Mapping], path: Path, *, corpus: str, baseline: float | None = None) -> Path:
    """Test conditions (rows: clean, each corruption averaged over severities, the mean spoiled accuracy)
    against model × policy (columns), every cell annotated with its accuracy.

    Conditions run down the page, like table.md, so twenty corruptions stay readable. The colour scale runs
    from the majority-class baseline (rounded down, or 0) to 1: colour reads as "how far above guessing".
    """
    corruptions = _corruptions(rows)
    models = _models(rows)
    per_corruption = per_seed_values(rows, ("model", "policy", "corruption"))
    spoiled = per_seed_values([r for r in rows if r["corruption"] != CLEAN], ("model", "policy"))
    conditions = [CLEAN, *corruptions] + (["mean spoiled"] if corruptions else [])
    table = np.full((len(conditions), len(models)), np.nan)
    for j, (model, policy) in enumerate(models):
        for i, corruption in enumerate(conditions[: 1 + len(corruptions)]):
            if (model, policy, corruption) in per_corruption:
                table[i, j] = np.mean(per_corruption[(model, policy, corruption)])
        if corruptions and (model, policy) in spoiled:
            table[-1, j] = np.mean(spoiled[(model, policy)])
    low = 0.0 if baseline is None else math.floor(baseline * 10) / 10
    with rc_context({**STYLE, "axes.grid": False}):
        figure = Figure(figsize=(1.5 * len(models) + 4.4, 0.34 * len(conditions) + 2.2), layout="constrained")
        ax = figure.subplots()
        image = ax.imshow(table, cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                if not np.isnan(table[i, j]):
                    shade = (table[i, j] - low) / max(1.0 - low, 1e-9)
                    ax.text(
                        j,
                        i,
                        f"{table[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="black" if shade > 0.6 else "white",
                    )
        ax.set_yticks(range(len(conditions)), conditions)
        ax.set_xticks(range(len(models)), [_model_label(*m).replace(" / ", "\n") for m in models])
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        if corruptions:
            for edge in (0.5, len(conditions) - 1.5):
                ax.axhline(edge, color="white", linewidth=2)
        ax.set_ylabel("test condition (corruptions: mean over severities)")
        ax.set_xlabel("model / training policy")
        scale = figure.colorbar(image, ax=ax, shrink=min(1.0, 6 / max(len(conditions), 1) + 0.3))
        scale.set_label("accuracy")
        chance = "" if baseline is None else f"; majority class {baseline:.2f}"
        figure.suptitle(f"Test accuracy per corruption and model\n{corpus} ({_seed_note(rows)}{chance})")
        return _save(figure, path, colormap="viridis")


def confusion_matrices(
    matrices: Mapping[str, np.ndarray], class_names: Sequence[str], path: Path, *, title: str
) -> Path:
    """Confusion matrices side by side, one panel per condition.

    Cells are coloured by the share of the true class (each row sums to 1) and, for up to 12 classes,
    annotated with that share and the count.

    Args:
        matrices: panel title -> `[classes, classes]` counts (rows: true class, columns: predicted class).
        class_names: in label-id order.
        path: the PNG to write.
        title: the figure title (which model, which corpus).
    """
    k = len(class_names)
    for name, matrix in matrices.items():
        if np.shape(matrix) != (k, k):
            raise ValueError(f"confusion_matrices: panel {name!r} has shape {np.shape(matrix)}, expected ({k}, {k})")
    annotate = k <= 12
    size = min(max(3.6, 0.45 * k + 2.0), 10.5)
    tick_size = 11 if k <= 12 else 8 if k <= 30 else 6
    with rc_context({**STYLE, "axes.grid": False}):
        figure = Figure(figsize=(size * len(matrices) + 1.2, size + 1.3), layout="constrained")
        axes = np.atleast_1d(figure.subplots(1, len(matrices), squeeze=False)[0])
        image = None
        for ax, (name, matrix) in zip(axes, matrices.items()):
            matrix = np.asarray(matrix, dtype=float)
            totals = matrix.sum(axis=1, keepdims=True)
            shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
            image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
            if annotate:
                for i in range(k):
                    for j in range(k):
                        ax.text(
                            j,
                            i,
                            f"{shares[i, j]:.2f}\n({int(matrix[i, j])})",
                            ha="center",
                            va="center",
                            fontsize=9 if k <= 6 else 7,
                            color="white" if shares[i, j] > 0.55 else "black",
                        )
            ticks = range(k)
            ax.set_xticks(
                ticks,
                class_names,
                rotation=45 if k > 3 else 0,
                ha="right" if k > 3 else "center",
                rotation_mode="anchor",
                fontsize=tick_size,
            )
            ax.set_yticks(ticks, class_names, fontsize=tick_size)
            ax.set_xlabel("predicted class")
            ax.set_ylabel("true class")
            ax.set_title(f"{name}\n{int(matrix.sum())} clips, accuracy {np.trace(matrix) / max(matrix.sum(), 1):.3f}")
        scale = figure.colorbar(image, ax=list(axes), shrink=0.8)
        scale.set_label("share of the true class")
        figure.suptitle(title)
        return _save(figure, path, colormap="Blues")


def spectrogram_gallery(
    spectrograms: Mapping[str, np.ndarray],
    path: Path,
    *,
    title: str,
    hop_seconds: float,
    mel_frequencies: Sequence[float] | None = None,
) -> Path:
    """Log-mel spectrograms of one clip, clean and spoiled, on one colour scale.

    Args:
        spectrograms: panel title -> `[frames, mels]` dB values (the model's own features).
        path: the PNG to write.
        title: the figure title (which clip, which corpus, which severity).
        hop_seconds: seconds between frames (for the time axis).
        mel_frequencies: the centre frequency in Hz of each mel band (labels the frequency axis); None labels
            bands by index.
    """
    if not spectrograms:
        raise ValueError("spectrogram_gallery: no spectrograms")
    lines, columns = _grid(len(spectrograms), max_columns=7 if len(spectrograms) > 12 else 4)
    top = max(float(np.max(s)) for s in spectrograms.values())
    with rc_context({**STYLE, "axes.grid": False}):
        figure, axes = _panel_grid(
            lines,
            columns,
            (3.2, 2.3) if columns <= 4 else (2.7, 1.9),
            left=1.0,
            right=1.25,
            top=1.0,
            bottom=0.6,
            wgap=0.2,
            hgap=0.45,
        )
        image = None
        for ax, (name, spectrogram) in zip(axes.flat, spectrograms.items()):
            frames, mels = np.shape(spectrogram)
            image = ax.imshow(
                np.asarray(spectrogram).T,
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=top - 80,
                vmax=top,
                extent=(0, frames * hop_seconds, 0, mels),
                interpolation="nearest",
            )
            ax.set_title(name)
            seconds = frames * hop_seconds
            step = 0.5 if seconds <= 3 else 1.0 if seconds <= 6 else 2.0
            ax.set_xticks(
                np.arange(0, seconds - step / 4, step)
            )  # no tick at the right edge: it meets the next panel's 0
            if mel_frequencies is not None:
                bands = [b for b in np.linspace(0, mels - 1, 5).round().astype(int)]
                ax.set_yticks([b + 0.5 for b in bands], [_hz(mel_frequencies[b]) for b in bands])
        _label_bottom(
            axes,
            len(spectrograms),
            "time (s)",
            "frequency (Hz, mel scale)" if mel_frequencies is not None else "mel band",
        )
        first, last = axes[0, -1].get_position(), axes[-1, -1].get_position()
        bar_height = min(first.y1 - last.y0, 0.6)
        scale = figure.colorbar(
            image,
            cax=figure.add_axes(
                (
                    first.x1 + 0.25 / figure.get_figwidth(),
                    first.y1 - bar_height,
                    0.15 / figure.get_figwidth(),
                    bar_height,
                )
            ),
        )
        scale.set_label("log-mel power (dB)")
        figure.suptitle(title, y=1 - 0.1 / figure.get_figheight(), va="top")
        return _save(figure, path, dpi=GALLERY_DPI, colormap="magma", steps=GALLERY_STEPS)


def _hz(frequency: float) -> str:
    return f"{frequency / 1000:.1f}k" if frequency >= 1000 else f"{frequency:.0f}"


def learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], path: Path, *, corpus: str) -> Path:
    """Loss and accuracy per epoch, training (solid) and validation (dashed), one colour per model.

    Args:
        histories: label (``conv1d / none / seed 0``) -> Keras history (``loss``, ``val_loss``, ``accuracy``,
            ``val_accuracy``; missing keys are skipped). Labels that differ only after the second `` / ``
            (seeds, folds) share a colour. A multi-stage history (keys ``<stage>/loss``, from
            `training.combine_stages`) is drawn from its last stage, the classifier's, and its legend says so.
        path: the PNG to write.
        corpus: names the data in the title.
    """
    stages = {name: _last_stage(history) for name, history in histories.items()}
    staged = {" / ".join(name.split(" / ")[:2]): stage for name, stage in stages.items() if stage}
    histories = {name: _stage_history(history, stages[name]) for name, history in histories.items()}
    panels = [("loss", "loss (cross-entropy)"), ("accuracy", "accuracy")]
    panels = [(key, label) for key, label in panels if any(key in h or f"val_{key}" in h for h in histories.values())]
    if not panels:
        raise ValueError("learning_curves: no history has loss or accuracy")
    families = list(dict.fromkeys(" / ".join(label.split(" / ")[:2]) for label in histories))
    with rc_context(STYLE):
        figure = Figure(figsize=(5.0 * len(panels) + 0.5, 4.4), layout="constrained")
        axes = figure.subplots(1, len(panels), squeeze=False)[0]
        longest = 1
        for ax, (key, label) in zip(axes, panels):
            for name, history in histories.items():
                family = families.index(" / ".join(name.split(" / ")[:2]))
                colour = OKABE_ITO[family % len(OKABE_ITO)]
                for prefix, style in (("", "-"), ("val_", "--")):
                    values = history.get(prefix + key)
                    if values:
                        epochs = np.arange(1, len(values) + 1)
                        longest = max(longest, len(values))
                        ax.plot(
                            epochs,
                            values,
                            linestyle=style,
                            color=colour,
                            marker=MARKERS[family % len(MARKERS)],
                            markersize=4,
                            linewidth=1.6,
                            alpha=0.9,
                        )
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.set_title(label.split(" (")[0])
            if key == "accuracy":
                ax.set_ylim(0, 1.02)
        for ax in axes:
            ax.set_xlim(0.5, longest + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
        labels = [f + (f", {staged[f].replace('_', '-')} stage" if f in staged else "") for f in families]
        handles = [
            Line2D([], [], color=OKABE_ITO[i % len(OKABE_ITO)], marker=MARKERS[i % len(MARKERS)], label=label)
            for i, label in enumerate(labels)
        ]
        handles += [
            Line2D([], [], color="0.3", linestyle="-", label="training"),
            Line2D([], [], color="0.3", linestyle="--", label="validation (clean)"),
        ]
        figure.legend(handles=handles, loc="outside right center", frameon=False)
        runs = len(histories) // max(len(families), 1)
        note = f"; {runs} training runs per model" if runs > 1 else ""
        figure.suptitle(f"Learning curves — {corpus}{note}")
        return _save(figure, path)


def _last_stage(history: Mapping[str, Sequence[float]]) -> str | None:
    """The last stage named in a multi-stage history's keys (``classifier`` in ``classifier/loss``), or None."""
    stages = [key.split("/", 1)[0] for key in history if "/" in key]
    return stages[-1] if stages else None


def _stage_history(history: Mapping[str, Sequence[float]], stage: str | None) -> Mapping[str, Sequence[float]]:
    if stage is None:
        return history
    return {key.split("/", 1)[1]: values for key, values in history.items() if key.startswith(stage + "/")}
