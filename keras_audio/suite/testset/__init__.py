"""A published spoiled test set: every condition's clips as audio files, a manifest, and scoring against it.

`export_testset` writes the test clips exactly as evaluation feeds them to a model (the centre of a longer clip,
spoiled at its own length with the clip's seeded corruption, then zero-padded to the clip length:
`pipeline.evaluation_dataset`, the very path `grid.evaluate_grid` runs), for the clean condition and every
corruption × severity. Anyone can then predict from the files with any framework and `score_predictions` turns a
predictions CSV into the suite's `grid.GridResult`, so the tables are computed by the same code as the suite's own.

Layout of a test set folder::

    README.md       the recipe (corpus, seed, sample rate, clip length, conditions) and how to score
    testset.json    the settings, machine-readable (`TestSetSettings`), with the manifest's sha256
    manifest.csv    one row per file: clip, condition, severity, seed, label, speaker, path, sha256,
                    sample_rate, samples, scale
    audio/<condition>/<severity>/<clip>.flac   (clean is condition "clean", severity 0)

Formats. Spoiled clips are float32 and can exceed [-1, 1] (additive noise, gain), which integer PCM cannot
hold. Two formats, both reproducible sample for sample:

- ``flac`` (default, small): 24-bit FLAC of `waveform / scale`, where `scale` is the smallest power of two
  (1, 2, 4, ...) that fits the clip's peak. The value of a sample is `int24 / 2**23 * scale`: what any FLAC
  reader returns as float, times the manifest's `scale` column (1 for most clips). A power of two makes both
  steps exact in float32, so the files define the test set exactly; they differ from the float clips the
  suite evaluates by at most `scale / 2**24` per sample (24-bit rounding), which can flip a prediction that
  sits on a tie.
- ``wav``: 32-bit float WAV (`scale` is always 1): the evaluation clips bit for bit, larger files. Predictions
  from these files reproduce the suite's own `evaluate` table exactly.

`verify_testset` regenerates every clip from the decoded corpus and checks the files against it, sample for
sample after the same quantisation. File bytes (the `sha256` column) guard a copy against damage; another FLAC
encoder version may write other bytes for the same samples, so a regenerated set is compared by samples.

Modules: `format` (the on-disk format: settings, manifest, loading and reading a set), `writer` (export and
verify), `readme` (the README written into each set), `scoring` (predicting and scoring answers).
"""

from keras_audio.suite.testset.format import (
    AUDIO_DIR,
    AUDIO_FORMATS,
    FORMAT_VERSION,
    MANIFEST_COLUMNS,
    MANIFEST_FILE,
    PCM_24_FULL_SCALE,
    README_FILE,
    SETTINGS_FILE,
    ConditionClips,
    PublishedTestSet,
    TestSetError,
    TestSetMismatchError,
    TestSetSettings,
    file_stems,
    load_testset,
    read_conditions,
)
from keras_audio.suite.testset.scoring import (
    ANSWER_COLUMNS,
    PROBABILITY_PREFIX,
    PROBABILITY_TOLERANCE,
    ScoreResult,
    predict_testset,
    score_predictions,
)
from keras_audio.suite.testset.writer import VerifyResult, export_testset, verify_testset

__all__ = [
    "ANSWER_COLUMNS",
    "AUDIO_DIR",
    "AUDIO_FORMATS",
    "FORMAT_VERSION",
    "MANIFEST_COLUMNS",
    "MANIFEST_FILE",
    "PCM_24_FULL_SCALE",
    "PROBABILITY_PREFIX",
    "PROBABILITY_TOLERANCE",
    "README_FILE",
    "SETTINGS_FILE",
    "ConditionClips",
    "PublishedTestSet",
    "ScoreResult",
    "TestSetError",
    "TestSetMismatchError",
    "TestSetSettings",
    "VerifyResult",
    "export_testset",
    "file_stems",
    "load_testset",
    "predict_testset",
    "read_conditions",
    "score_predictions",
    "verify_testset",
]
