"""The main job: train models on a corpus, spoil the test set, write clean-vs-spoiled tables.

    python benchmarks/run.py                      # generated voice corpus, conv1d + the ge2e head, quick grid
    python benchmarks/run.py --corpus timit --data-dir /data/TIMIT --models conv2d crnn --policies none suite
    python benchmarks/run.py --test-corpus audiomnist=../shared/data/audiomnist_az   # + a cross-corpus test
    python benchmarks/run.py --models transfer --encoder results/<run>/models/conv1d-none-seed0

The same as `keras-audio run ...` (`keras_audio/suite/cli.py` holds the flags; `--help` lists them). Writes
results/<run-name>/ (table.csv, table.md, metrics.json, predictions.csv.gz, config.json, record.json,
models/...) and prints table.md at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_audio.suite.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
