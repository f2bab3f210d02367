"""Where data, the decode cache and results live: one setting, `KERAS_AUDIO_HOME` (or `keras-audio --home`).

Default: the checkout the package runs from (its `datasets/` and `results/`, as before), and for a package
installed elsewhere (site-packages) `~/keras_audio`, never the package folder and never the current
directory, so two commands started in different folders share one cache and one results folder.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "KERAS_AUDIO_HOME"


def home() -> Path:
    """The root of `datasets/` and `results/`."""
    configured = os.environ.get(HOME_VARIABLE)
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "keras_audio" / "__init__.py").is_file():
        return checkout
    return Path.home() / "keras_audio"


def datasets_dir() -> Path:
    """Corpora by name (`datasets/<corpus>`), the generated corpus included."""
    return home() / "datasets"


def cache_dir() -> Path:
    return datasets_dir() / ".cache"


def results_dir() -> Path:
    return home() / "results"


def shared_data_dir() -> Path:
    """The development recordings beside a checkout (`../shared/data`); may not exist."""
    return home().parent / "shared" / "data"
