"""The `README.md` written into every test set: the recipe (corpus, classes, seed, rate, clip length, the
corruptions' parameters per severity), what each file holds, how to score predictions and how to check a
regenerated set.
"""

from __future__ import annotations

from collections.abc import Mapping

from keras_audio.corruptions.base import Corruption
from keras_audio.manifest import Manifest
from keras_audio.suite.testset.format import AUDIO_FORMATS, TestSetSettings


def _readme(settings: TestSetSettings, manifest: Manifest, suite: Mapping[str, Corruption]) -> str:
    frame = manifest.frame
    counts = frame["label"].value_counts()
    classes = ", ".join(f"{name} ({int(counts.get(name, 0))})" for name in settings.classes)
    seconds = settings.clip_samples / settings.sample_rate
    header = "| corruption | " + " | ".join(f"severity {s}" for s in settings.severities) + " |"
    lines = [header, "|" + "---|" * (1 + len(settings.severities))]
    for name, corruption in suite.items():
        row = type(corruption).table_row()
        lines.append(f"| {name} | " + " | ".join(row[str(s)] for s in settings.severities) + " |")
    fmt = settings.audio_format
    storage = (
        "24-bit FLAC of `waveform / scale`, `scale` (a manifest column) the smallest power of two that\n"
        "  fits the clip's peak (spoiled clips can exceed [-1, 1]): read a file as float (`int / 2**23`, what\n"
        "  any FLAC reader returns) and multiply by `scale` (1 for most clips). The samples differ from the\n"
        "  float clips the suite evaluates by at most `scale / 2**24` (24-bit rounding); export with\n"
        '  `audio_format="wav"` for 32-bit float files that hold them bit for bit.'
        if fmt == "flac"
        else "32-bit float WAV: the clips the suite evaluates, bit for bit (`scale` is always 1)."
    )
    recipe = "".join(f"- {key}: `{value}`\n" for key, value in settings.recipe.items())
    version = settings.software.get("keras_audio", "")
    crop = f"{settings.clip_samples} samples ({seconds:g} s at {settings.sample_rate} Hz, mono"
    speakers = frame["speaker"].nunique()
    conditions = (
        f"clean + {len(settings.corruptions)} corruption(s) × severities {list(settings.severities)} = "
        f"{len(settings.conditions)} conditions, {len(settings.conditions) * len(frame)} files"
    )
    return f"""# Spoiled test set: {settings.corpus} ({settings.task})

Written by keras_audio {version}. Every file is a test clip exactly as the suite's evaluation feeds it
to a model: the centre {crop}) of each recording; for a spoiled condition, the corruption at
that severity, with its parameters drawn from a seed derived from (seed, clip id, corruption, severity),
applied to that recording at its own length; then a shorter clip zero-padded at both ends (the padding is
never spoiled; a speed or tempo change that lengthens a clip is centre-cropped).

## Recipe

- corpus: `{settings.corpus}`, task `{settings.task}`; {len(frame)} clips from {speakers} speakers
- classes (clips): {classes}
- seed: {settings.seed}
- sample rate: {settings.sample_rate} Hz; clip length: {settings.clip_samples} samples ({seconds:g} s)
- conditions: {conditions}
{recipe}
{chr(10).join(lines)}

## Files

- `manifest.csv`: one row per file: clip, condition, severity (0 = clean), seed, label, speaker, path, sha256,
  sample_rate, samples, scale.
- `testset.json`: these settings, machine-readable, with `manifest.csv`'s sha256 (a changed manifest is refused).
- `audio/<condition>/<severity>/<clip>{AUDIO_FORMATS[fmt][2]}`: {storage}

## Scoring

Predict every file with any model and write a CSV with the columns `clip,condition,severity,predicted`
(`predicted` a class name above; optionally a `model` column for several models, and `prob_<class>` columns:
numbers in [0, 1], each row summing to 1), one row per file and model, then:

    keras-audio score --testset DIR --predictions preds.csv

## Reproducing

Regenerate with the same corpus, seed, sample rate, clip length and corruptions, and check every file sample
for sample with `keras_audio.suite.testset.verify_testset` (file bytes may differ with another FLAC encoder; the
samples may not).
"""
