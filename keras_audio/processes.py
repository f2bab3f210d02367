"""Whether a process still runs: how run folders and the decode cache tell a live writer from a dead one."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether a process `pid` exists on this machine (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - e.g. Windows without the process
        return False
    return True
