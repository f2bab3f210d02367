"""TensorFlow imported for the `keras-audio` command without its start-up chatter on the user's terminal.

`TF_CPP_MIN_LOG_LEVEL` filters TensorFlow's C++ log; unless the user set it, it is 3 (INFO, WARNING and ERROR
hidden), not the usual 2: TensorFlow logs fallbacks as errors (every run would print "oneDNN supports DT_UINT64
only on platforms with AVX-512. Falling back to ...", from the seeded random bits' uint64 arithmetic), and a
failure that matters is raised as a Python exception, which the command prints.

TensorFlow 2.21 also writes through Abseil's log before that is initialised ("WARNING: All log messages before
absl::InitializeLog() ...", "I... port.cc:153] oneDNN custom operations are on ..."), which no variable filters.
So the import runs with file descriptor 2 pointed at a temporary file, and what it wrote is replayed to stderr
without the lines below the level. A level of 2 or more also quiets TensorFlow's Python loggers to errors.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "3"
SEVERITIES = "IWEF"  # Abseil's INFO, WARNING, ERROR, FATAL: TF_CPP_MIN_LOG_LEVEL 1 hides I, 2 hides I and W
# An Abseil log line: severity letter, MMDD, time, thread id, file:line].
ABSL_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+\] ")
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def min_log_level() -> int:
    """`TF_CPP_MIN_LOG_LEVEL` as TensorFlow reads it (not a number: 0, everything shown)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def drop_quiet_lines(text: str, level: int) -> str:
    """`text` without the Abseil log lines below `level` (and Abseil's preamble, when anything is hidden)."""
    if level <= 0:
        return text
    kept = []
    for line in text.splitlines(keepends=True):
        match = ABSL_LINE.match(line)
        if line.rstrip("\r\n") == ABSL_PREAMBLE or (match and SEVERITIES.index(match.group(1)) < level):
            continue
        kept.append(line)
    return "".join(kept)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (once) with its start-up log filtered at `TF_CPP_MIN_LOG_LEVEL` (default 3)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
    level = min_log_level()
    if "tensorflow" not in sys.modules and level > 0:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            finally:
                # Restored before anything is raised, so an import error still reaches the user.
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                sys.stderr.write(drop_quiet_lines(captured.read().decode(errors="replace"), level))
                sys.stderr.flush()
    if level >= 2:
        from absl import logging as absl_logging

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        absl_logging.set_verbosity(absl_logging.ERROR)
