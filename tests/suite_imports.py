"""Which suite modules a statement loads, in a fresh interpreter: the library (layers, corruptions, models) must
be usable without the suite (run configuration, planning, stages, results, the CLI)."""

import subprocess
import sys
from pathlib import Path

import keras_audio

SUITE_MODULES = ("keras_audio.suite",)  # the package, and every module below it


def loaded_suite_modules(statement: str) -> list[str]:
    """The modules of `SUITE_MODULES` loaded after running `statement`."""
    code = f"import sys\n{statement}\nprint('\\n'.join(m for m in sys.modules if m.startswith({SUITE_MODULES!r})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(keras_audio.__file__).parent.parent,
    )
    return result.stdout.split()
