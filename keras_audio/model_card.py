"""The model card: `MODEL_CARD.md` beside every export's metadata.json, generated from that metadata alone.

It says what the model is (family, classes, input), what it was trained on (corpus, task, policy, seed), what
it is for, what the run measured (clean and mean spoiled accuracy, when metadata.json records them: `keras-audio
export` adds them from a finished run; otherwise it points to the run's table), and whose pretrained weights
it holds, with their licences. `export.write_metadata_file` writes it with every metadata.json, so the card
never disagrees with the metadata.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

MODEL_CARD_FILE = "MODEL_CARD.md"
GENERATED_CORPUS = "synthetic"  # the corpus recipe that generates voices (`corpora/synthetic.py`)
REAL_VOICES_PAGE = "docs/results/pretrained.md"  # how the suite's models fare on recorded speech
RUN_TABLE = "table.md"  # the run's results table, two folders up from an export (`results/<run>/models/<tag>/`)
CREDIT_FIELDS = (
    ("package", "package"),
    ("license", "licence"),
    ("authors", "authors"),
    ("reference", "reference"),
    ("sha256", "weights sha256"),
)


def model_card(metadata: Mapping) -> str:
    """The Markdown model card of an export with this metadata (what `export.export_model` records, plus the
    run's ``model``, ``policy``, ``seed``, ``corpus``, ``task``, ``training``, and optionally ``measured`` and
    ``formats``). Entries the metadata lacks are said to be unrecorded, never guessed."""
    metadata = _with_run_corpus(metadata)
    task, corpus = metadata.get("task"), metadata.get("corpus")
    title = metadata.get("model") or "model"
    if metadata.get("policy"):
        title += f" ({metadata['policy']})"
    lines = [
        f"# Model card: {title}",
        "",
        "## What it is",
        "",
        *_description(metadata),
        "",
        "## Intended use",
        "",
        (
            f"Research on robustness: classifying {task or 'the task above'} from short mono recordings, as the "
            "suite measured it (`keras_audio.load_model(folder)` or `keras-audio predict`). The figures below hold "
            "for the corpus it was tested on; they are not a promise for other recordings, and the model is not "
            "meant for decisions about individual people."
        ),
        "",
    ]
    if corpus == GENERATED_CORPUS:
        lines += [f"Trained on generated voices; on real voices see {REAL_VOICES_PAGE}.", ""]
    lines += ["## Measured limits", "", *_measured(metadata.get("measured")), ""]
    lines += ["## Pretrained weights and licences", "", *_credits(metadata.get("training") or {}), ""]
    lines += ["## Files", "", *_files(metadata)]
    return "\n".join(lines) + "\n"


def _description(metadata: Mapping) -> list[str]:
    family = f"`{metadata['model']}`" if metadata.get("model") else "not recorded"
    if metadata.get("format") == "sklearn":
        family += " (scikit-learn, on MFCC statistics)"
    classes = [str(name) for name in metadata.get("class_names", [])]
    fold = f"; fold {metadata['fold']}" if metadata.get("fold") not in (None, "") else ""
    return [
        f"- model family: {family}",
        f"- task: {_recorded(metadata.get('task'))}; training corpus: {_recorded(metadata.get('corpus'))}",
        f"- classes ({len(classes)}, in the order of the probabilities): {', '.join(classes) or '(none)'}",
        (
            f"- input: mono waveform at {_recorded(metadata.get('sample_rate'))} Hz; clips of {_seconds(metadata)} "
            f"({_recorded(metadata.get('clip_samples'))} samples), the length it was trained and measured at; "
            f"shortest input {metadata.get('min_samples', 1)} samples"
        ),
        f"- training policy: {_recorded(metadata.get('policy'))}; seed {_recorded(metadata.get('seed'))}{fold}",
    ]


def _files(metadata: Mapping) -> list[str]:
    if metadata.get("format") == "sklearn":
        lines = [
            (
                "- `feature_extractor/`, `estimator.joblib`, `metadata.json` (see "
                "`keras_audio/models/sklearn_baseline.py`; load only estimator files you trust)"
            )
        ]
    else:
        lines = ["- `saved_model/`, `model.keras`, `metadata.json` (the export; see `keras_audio/export.py`)"]
    for name, entry in sorted((metadata.get("formats") or {}).items()):
        if isinstance(entry, Mapping) and entry.get("file"):
            difference = entry.get("max_abs_difference")
            checked = "" if difference is None else f", within {difference:.2g} of the Keras model where checked"
            lines.append(f"- `{entry['file']}`: the {name} copy{checked}")
    return lines


def write_model_card(directory: str | Path, metadata: Mapping) -> Path:
    """Write `model_card(metadata)` as `directory/MODEL_CARD.md`; returns its path."""
    path = Path(directory) / MODEL_CARD_FILE
    path.write_text(model_card(metadata))
    return path


def _with_run_corpus(metadata: Mapping) -> Mapping:
    """`metadata`, its corpus and task taken from the measured figures when an older export lacks them (they
    were measured on the training corpus's test split)."""
    measured = metadata.get("measured") if isinstance(metadata.get("measured"), Mapping) else {}
    missing = {key: measured[key] for key in ("corpus", "task") if not metadata.get(key) and measured.get(key)}
    return {**metadata, **missing} if missing else metadata


def _recorded(value) -> str:
    return "not recorded" if value in (None, "") else str(value)


def _seconds(metadata: Mapping) -> str:
    try:
        return f"{int(metadata['clip_samples']) / int(metadata['sample_rate']):g} s"
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return "an unrecorded length"


def _measured(measured) -> list[str]:
    if not isinstance(measured, Mapping) or measured.get("clean") is None:
        return [
            (
                f"Not recorded at export time (the run evaluates after exporting): see the run's `{RUN_TABLE}`, "
                f"two folders up from this export (`results/<run>/{RUN_TABLE}`); `keras-audio export FOLDER` "
                "after the run copies the figures here."
            )
        ]
    lines = [f"- clean accuracy: {measured['clean']:.3f}"]
    if measured.get("mean_spoiled") is not None:
        lines.append(
            f"- mean spoiled accuracy (over the corruptions and severities of the run's grid): "
            f"{measured['mean_spoiled']:.3f}"
        )
    if measured.get("worst_corruption"):
        worst = measured.get("worst_accuracy")
        lines.append(f"- worst corruption: {measured['worst_corruption']}{'' if worst is None else f' ({worst:.3f})'}")
    if measured.get("majority") is not None:
        lines.append(f"- majority-class baseline of that test set: {measured['majority']:.3f}")
    if measured.get("source"):
        lines.append(f"- from: {measured['source']}")
    return lines


def _pretrained(value) -> Iterator[Mapping]:
    """Every ``pretrained`` entry under the training metadata (a multi-stage trainer nests its stages)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "pretrained":
                yield from (
                    entry for entry in (item if isinstance(item, list) else [item]) if isinstance(entry, Mapping)
                )
            else:
                yield from _pretrained(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pretrained(item)


def _credits(training: Mapping) -> list[str]:
    entries = list(_pretrained(training))
    if not entries:
        return ["None: every weight was trained by this suite's run, from scratch."]
    lines = []
    for entry in entries:
        details = "; ".join(f"{label}: {entry[key]}" for key, label in CREDIT_FIELDS if entry.get(key))
        lines.append(f"- {entry.get('name', 'pretrained encoder')}" + (f" ({details})" if details else ""))
    return lines
