"""`keras-audio export MODEL [--format tflite onnx] [--out DIR]`: TFLite/ONNX copies of a model a run exported.

The folder a run wrote (`results/<run>/models/<tag>/`) gets the copies a run makes with `--export`, converted
from its `model.keras` and checked the same way (`export_formats.add_format_copies`); its metadata.json lists
them and its model card is refreshed. When the folder sits in a finished run, the run's measured figures for
this model (clean, mean spoiled and worst accuracy from `metrics.json`, with the corpus and task they were
measured on) are recorded too, so the card states them. `--out DIR` writes a copy of the folder there instead of
changing it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from keras_audio.export import METADATA_FILE, SAVED_MODEL_DIR
from keras_audio.export_formats import add_format_copies, check_converter
from keras_audio.loader import export_metadata
from keras_audio.model_card import MODEL_CARD_FILE, RUN_TABLE

METRICS_FILE = "metrics.json"  # the report stage's summaries of a run (`suite/stages/report.py`)
MEASURED_FIELDS = ("clean", "mean_spoiled", "worst_corruption", "worst_accuracy", "majority")


def export_existing(model_dir: str | Path, formats: Sequence[str] = (), out: str | Path | None = None) -> str:
    """Add `formats` copies (and the run's measured figures) to an export folder; returns what was written.

    Raises:
        ValueError: not an export folder, an unknown format, `out` not empty.
        export_formats.FormatConversionError: a converter missing or refusing the model.
        export.ExportMismatchError: a copy differs from the Keras model beyond `export_formats.FORMAT_ATOL`.
    """
    source = Path(model_dir)
    for name in formats:
        check_converter(name)  # before any work: an unknown format or a missing converter
    if not source.is_dir():
        raise ValueError(f"{source}: not an export folder (give results/<run>/models/<tag>/)")
    metadata, _ = export_metadata(source)
    if not metadata:
        raise ValueError(
            f"{source}: not an export folder (no {METADATA_FILE} nor {SAVED_MODEL_DIR}/ with metadata; "
            f"give results/<run>/models/<tag>/)"
        )
    if metadata.get("format") == "sklearn" and formats:
        raise ValueError(
            f"{source}: a scikit-learn model ({metadata.get('model', 'sklearn')}) is not a Keras model; "
            f"it has no {' or '.join(formats)} copy"
        )
    folder = source
    if out is not None:
        folder = Path(out)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ValueError(f"{folder}: --out must be a new or empty folder")
        shutil.copytree(source, folder, dirs_exist_ok=True)
    measured = run_measurements(source, metadata)
    added = add_format_copies(folder, formats, metadata, extra_metadata={"measured": measured} if measured else None)
    lines = [
        f"{folder / entry['file']}: {name} copy within {entry['max_abs_difference']:.2g} of the Keras model "
        f"(tolerance {entry['tolerance']:g})"
        for name, entry in added.items()
    ]
    lines.append(
        f"{folder / METADATA_FILE} and {folder / MODEL_CARD_FILE} updated"
        + ("" if measured else " (no measured figures: the folder is not in a finished run)")
    )
    return "\n".join(lines)


def run_measurements(export_dir: Path, metadata: Mapping) -> dict | None:
    """This model's figures from the run that exported it (`<run>/metrics.json`, `export_dir` being
    `<run>/models/<tag>/`), or None outside a finished run or when the run has no row for it."""
    run_dir = export_dir.resolve().parent.parent
    metrics_path = run_dir / METRICS_FILE
    if export_dir.resolve().parent.name != "models" or not metrics_path.is_file():
        return None
    try:
        metrics = json.loads(metrics_path.read_text())
        summaries = metrics.get("summaries") or []
    except (json.JSONDecodeError, AttributeError):
        return None  # a damaged or foreign file: the card then points to the run's table
    key = {field: metadata.get(field) for field in ("model", "policy", "seed", "fold")}
    rows = [
        row
        for row in summaries
        if isinstance(row, Mapping) and all(row.get(field) == value for field, value in key.items())
    ]
    if len(rows) != 1:
        return None
    measured = {field: rows[0][field] for field in MEASURED_FIELDS if rows[0].get(field) is not None}
    if measured.get("clean") is None:
        return None
    # The corpus and task the figures are about: the training corpus's own test split.
    where = {field: metrics[field] for field in ("corpus", "task") if metrics.get(field)}
    return {**measured, **where, "source": str(run_dir / RUN_TABLE)}
