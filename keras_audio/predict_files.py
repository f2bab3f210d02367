"""`keras-audio predict`: whole-file answers for files and folders, per-window tables and a timeline plot.

Every file goes through `api.Classifier.predict_file` (windows of the model's clip length, their
probabilities averaged): the reader, resampler and windowing of the run's evaluation. A file that cannot be
used is reported on its own line, as a corpus's bad files are, and the others are still answered.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from keras_audio.api import load_model
from keras_audio.audio import AUDIO_SUFFIXES, AudioError


class PredictFilesError(ValueError):
    """Some files could not be answered (each named with its problem); the others were."""


def audio_paths(paths: Sequence[Path]) -> list[Path]:
    """The files named, and every audio file under the folders named (sorted), in the order given.

    Raises:
        ValueError: a path that does not exist, or a folder without audio files.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not inside:
                raise ValueError(f"{path}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            found += inside
        elif path.exists():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    return found


def predict_paths(model_dir: Path, paths: Sequence[Path], *, window_seconds: float | None = None,
                  hop_seconds: float | None = None, smooth: int = 0, out: Path | None = None,
                  windows_out: Path | None = None, plot: Path | None = None, progress: bool = True,
                  print_line=print) -> list:
    """Answer every file; write the CSVs and the plot asked for; returns the predictions.

    Raises:
        PredictFilesError: after answering the others, when some files could not be read.
    """
    from keras_audio.timeline import plot_timeline, write_window_csv

    classifier = load_model(model_dir)
    files = audio_paths(paths)
    predictions, problems = [], []
    for path in tqdm(files, desc="predicting", unit="file", disable=not progress or len(files) < 2, file=sys.stderr):
        try:
            prediction = classifier.predict_file(path, window_seconds=window_seconds, hop_seconds=hop_seconds,
                                                 smooth=smooth)
        except AudioError as error:
            problems.append(str(error))
            continue
        predictions.append(prediction)
        scores = ", ".join(f"{name} {p:.3f}" for name, p in prediction.scores.items())
        print_line(f"{path}: {prediction.label} ({scores}; {prediction.duration_s:.1f} s, "
                   f"{len(prediction.windows)} window(s))")
    if out is not None and predictions:
        _write_answers(predictions, classifier.class_names, out)
    if windows_out is not None and predictions:
        write_window_csv({p.source: p.windows for p in predictions}, windows_out)
    if plot is not None:
        for prediction in predictions:
            # One file: the PNG named; several: one PNG each, named after the file (timeline-<file>.png).
            target = plot if len(files) == 1 else plot.with_name(f"{plot.stem}-{Path(prediction.source).stem}{plot.suffix}")
            plot_timeline(classifier.read(prediction.source), classifier.sample_rate, prediction.windows, target,
                          title=f"{Path(prediction.source).name}: {prediction.label}",
                          features=classifier.metadata.get("features"))
    if problems:
        raise PredictFilesError(f"{len(problems)} of {len(files)} file(s) could not be used:\n" + "\n".join(problems))
    return predictions


def _write_answers(predictions, class_names, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "label", *[f"p_{name}" for name in class_names], "seconds", "windows"])
        for p in predictions:
            writer.writerow([p.source, p.label, *[f"{v:.6g}" for v in p.probabilities], f"{p.duration_s:.3f}",
                             len(p.windows)])
