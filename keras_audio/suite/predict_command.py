"""`keras-audio predict`: whole-file answers for files and folders, per-window tables and a timeline plot.

Every file goes through `api.Classifier.predict_file` (windows of the model's clip length, their
probabilities averaged): the reader, resampler and windowing of the run's evaluation. A file is read in blocks
and never held whole; its rows go to the CSVs, and its timeline is drawn, as soon as it is answered, from what
was kept while reading (per-window probabilities and a spectrogram of bounded size,
`timeline.TimelineSpectrogram`), so memory does not grow with the file's length. A file that cannot be used
is reported on its own line, as a corpus's bad files are, and the others are still answered.

The outputs are checked before any work: none may be one of the input files, or be named like audio (a CSV
or PNG written there would pass for a recording), and no two may be the same file. With several files, each
timeline gets its own PNG, named after its file; files of the same name in different folders (or with
different suffixes) are told apart by their folders (and suffixes), and each answer says where its plot went.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from tqdm.auto import tqdm

from keras_audio.api import load_model
from keras_audio.audio import AUDIO_SUFFIXES, DEFAULT_BLOCK_SECONDS, AudioError


class PredictFilesError(ValueError):
    """Some files could not be answered (each named with its problem); the others were."""


class PredictOutputError(ValueError):
    """An output path that would overwrite an input, look like audio, or collide with another output."""


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


def plot_paths(plot: Path, files: Sequence[Path]) -> list[Path]:
    """The timeline PNG of each file: `plot` for one file; for several, ``<plot stem>-<name><plot suffix>``.

    `name` is the file's stem; files sharing a stem (ignoring case) are told apart by their path below the
    folder they share (``a/clip.wav``, ``b/clip.wav`` -> ``a_clip``, ``b_clip``), with the suffix if that is
    not enough (``clip.wav``, ``clip.flac`` -> ``clip_wav``, ``clip_flac``); a name that still repeats (a file
    given twice) is numbered (``-2``, ``-3``, ...).
    """
    plot = Path(plot)
    if len(files) == 1:
        return [plot]
    names = [Path(f).stem for f in files]
    for key in {n.casefold() for n in names if sum(m.casefold() == n.casefold() for m in names) > 1}:
        group = [i for i, n in enumerate(names) if n.casefold() == key]
        paths = [Path(os.path.abspath(files[i])) for i in group]
        common = Path(os.path.commonpath([p.parent for p in paths]))
        relative = [p.relative_to(common) for p in paths]
        levels = [
            [names[i] for i in group],
            ["_".join(r.with_suffix("").parts) for r in relative],
            ["_".join(r.parts).replace(".", "_") for r in relative],
        ]
        # The shortest names that tell the most of them apart (a file given twice is told apart by number).
        best = max(levels, key=lambda level: len({n.casefold() for n in level}))
        for i, name in zip(group, best):
            names[i] = name
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name.casefold()] = seen.get(name.casefold(), 0) + 1
        if seen[name.casefold()] > 1:
            names[i] = f"{name}-{seen[name.casefold()]}"
    return [plot.with_name(f"{plot.stem}-{name}{plot.suffix}") for name in names]


def check_outputs(files: Sequence[Path], outputs: Sequence[tuple[str, Path | None]]) -> None:
    """Refuse outputs `(flag, path)` that are input files, are named like audio, or name the same file twice.

    Raises:
        PredictOutputError: naming the flag, the path and the problem.
    """
    inputs = {_identity(Path(f)) for f in files}
    claimed: dict[object, tuple[str, Path]] = {}
    for flag, path in outputs:
        if path is None:
            continue
        path = Path(path)
        if path.suffix.lower() in AUDIO_SUFFIXES:
            raise PredictOutputError(
                f"{flag} {path}: named like an audio file ({path.suffix}); the output is "
                f"{'a PNG' if flag == '--plot' else 'a CSV'}, give it another name"
            )
        identity = _identity(path)
        if identity in inputs:
            raise PredictOutputError(f"{flag} {path}: is one of the input files; writing there would overwrite it")
        if identity in claimed:
            other_flag, other = claimed[identity]
            raise PredictOutputError(
                f"{flag} {path}: the same file as {other_flag} {other}; one would overwrite the other"
            )
        claimed[identity] = (flag, path)


def _identity(path: Path):
    """What makes two paths the same file: device and inode when it exists (links), else the absolute path."""
    try:
        status = path.stat()
        return status.st_dev, status.st_ino
    except OSError:
        return os.path.normcase(str(path.resolve()))


def predict_paths(
    model_dir: Path,
    paths: Sequence[Path],
    *,
    window_seconds: float | None = None,
    hop_seconds: float | None = None,
    smooth: int = 0,
    out: Path | None = None,
    windows_out: Path | None = None,
    plot: Path | None = None,
    progress: bool = True,
    print_line=print,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
) -> list:
    """Answer every file; write the CSVs and the plots asked for, file by file; returns the predictions.

    Args:
        block_seconds: source seconds read at a time (`Classifier.predict_file`); the answers do not depend on it.

    Raises:
        PredictOutputError: before any work, an output that is an input, is named like audio or is named twice.
        PredictFilesError: after answering the others, when some files could not be read.
    """
    from keras_audio.timeline import TimelineSpectrogram, WindowCsv, plot_timeline

    files = audio_paths(paths)
    plots = plot_paths(plot, files) if plot is not None else [None] * len(files)
    check_outputs(files, [("--out", out), ("--windows-out", windows_out)] + [("--plot", p) for p in plots])
    classifier = load_model(model_dir)
    features = classifier.metadata.get("features")
    predictions, problems = [], []
    with ExitStack() as outputs:
        answers = windows = None
        for path, target in tqdm(
            list(zip(files, plots)),
            desc="predicting",
            unit="file",
            disable=not progress or len(files) < 2,
            file=sys.stderr,
        ):
            spectrogram = TimelineSpectrogram(classifier.sample_rate, features) if target is not None else None
            try:
                prediction = classifier.predict_file(
                    path,
                    window_seconds=window_seconds,
                    hop_seconds=hop_seconds,
                    smooth=smooth,
                    block_seconds=block_seconds,
                    on_samples=None if spectrogram is None else spectrogram.add,
                )
            except AudioError as error:
                problems.append(str(error))
                continue
            predictions.append(prediction)
            if out is not None:
                answers = answers or outputs.enter_context(_AnswerCsv(out, classifier.class_names))
                answers.write(prediction)
            if windows_out is not None:
                windows = windows or outputs.enter_context(WindowCsv(windows_out, classifier.class_names, True))
                windows.write(prediction.windows, prediction.source)
            if target is not None:
                plot_timeline(
                    spectrogram,
                    classifier.sample_rate,
                    prediction.windows,
                    target,
                    title=f"{Path(prediction.source).name}: {prediction.label}",
                )
            scores = ", ".join(f"{name} {p:.3f}" for name, p in prediction.scores.items())
            print_line(
                f"{path}: {prediction.label} ({scores}; {prediction.duration_s:.1f} s, "
                f"{len(prediction.windows)} window(s))" + (f"; timeline {target}" if target else "")
            )
    if problems:
        raise PredictFilesError(f"{len(problems)} of {len(files)} file(s) could not be used:\n" + "\n".join(problems))
    return predictions


class _AnswerCsv:
    """The file-level answers, one row per file as it is answered."""

    def __init__(self, path: Path, class_names: Sequence[str]):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "w", newline="")
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._writer.writerow(["file", "label", *[f"p_{name}" for name in class_names], "seconds", "windows"])

    def write(self, p) -> None:
        self._writer.writerow(
            [p.source, p.label, *[f"{v:.6g}" for v in p.probabilities], f"{p.duration_s:.3f}", len(p.windows)]
        )
        self._handle.flush()

    def __enter__(self) -> _AnswerCsv:
        return self

    def __exit__(self, *_) -> None:
        self._handle.close()
