"""Run folders: written under a partial name, renamed when complete, one writer per name.

A run is written into ``OUT/.NAME.partial-PID`` and renamed to ``OUT/NAME`` when it completes, so ``OUT``
never holds a half-written run under a final name. `RunWriter` (a context manager) adds what a run needs
around that:

- the name is checked (`check_run_name`): letters, digits and ``._+-``, no path separator, no ``..``, not
  absolute, so the folder stays under ``OUT``;
- a lock (``OUT/.NAME.lock``, an `fcntl.flock` lock holding the writer's pid) refuses a second run of the
  same name while the first runs, at its start rather than at its final rename. The kernel releases the
  lock when its process dies however it dies, so a lock left by a killed run is recognised as stale
  without trusting pids (which containers reuse quickly);
- other runs' partial folders are never touched: a live run's, or one a killed run kept for ``--resume``
  (a folder's name says which run it belongs to, not whether someone means to continue it). Stale locks
  of other names are removed and listed in `cleaned` (for the log);
- a partial folder of this name left by a dead writer is adopted by a `resumable` writer (renamed to its
  own pid, reported in `adopted`), so a killed run can continue where it stopped; a plain start refuses it
  (`RunKeptError`) rather than delete it. Only an empty one (nothing to continue) is removed;
- SIGTERM is turned into `RunTerminated` (a `SystemExit`) while the writer is open, so the clean-up runs as
  it does for Ctrl-C, instead of the process vanishing and leaving the partial folder behind;
- on an exception the partial folder is removed, unless the writer is `resumable`, was interrupted with
  `keep_interrupted`, or its owner set `keep` (what it holds must outlive the failure: trained models).

`process_alive` is shared with the decode cache, whose temporary folders carry their writer's pid too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import threading
from pathlib import Path

from keras_audio.processes import process_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: locks fall back to pids (see _Lock)
    fcntl = None

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
MAX_NAME_LENGTH = 200
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)$")
_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")


class RunNameError(ValueError):
    """A run name that could put the run folder outside ``--out`` (or is otherwise unusable)."""


class RunExistsError(FileExistsError):
    """A finished run of this name is already in ``--out``."""


class RunKeptError(RunExistsError):
    """A killed or failed run of this name left a partial folder to continue with ``--resume``."""


class RunInUseError(RuntimeError):
    """Another live process is writing a run of this name."""


class RunTerminated(SystemExit):
    """SIGTERM arrived while a run folder was open (exit code 143, as the signal's default gives)."""

    def __init__(self):
        super().__init__(SIGTERM_EXIT_CODE)

    def __str__(self) -> str:
        return "terminated by SIGTERM"


def check_run_name(name: str) -> str:
    """Return `name` if it is a safe run folder name.

    Raises:
        RunNameError: not a string, empty, absolute, with a path separator or ``..``, a leading dot or dash,
            a character other than letters, digits and ``._+-``, or longer than 200 characters.
    """
    if not isinstance(name, str) or not name:
        raise RunNameError(f"run name must be a non-empty string, got {name!r}")
    if os.path.isabs(name) or "/" in name or "\\" in name or ".." in name:
        raise RunNameError(
            f"run name {name!r}: no path separators, '..' or absolute paths (the run folder must stay under --out)"
        )
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise RunNameError(
            f"run name {name!r}: use letters, digits and . _ + - (at most {MAX_NAME_LENGTH}), "
            f"starting with a letter or digit"
        )
    return name


class _Lock:
    """An exclusive, non-blocking lock on a file that also records the holder's pid."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> int | None:
        """Take the lock; return None, or the pid of the live holder."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:  # pragma: no cover
                    holder = _read_pid(fd)
                    if holder and holder != os.getpid() and process_alive(holder):
                        raise BlockingIOError(errno.EWOULDBLOCK, "locked")
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                return holder or -1
            # A releasing holder unlinks the file: if ours is no longer the file at `path`, try again.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return None

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # before closing, so that no one takes a lock on a file about to vanish
        os.close(self.fd)
        self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def lock_holder(path: Path) -> int | None:
    """The pid of the live process holding lock file `path` (-1 if it wrote none), or None: no such file, or
    nobody holds it (its writer is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if fcntl is None:  # pragma: no cover
            holder = _read_pid(fd)
            return holder if holder and process_alive(holder) else None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunWriter:
    """Write one run folder ``out/name`` atomically (see the module docstring).

    Args:
        out: the folder runs go in (created if missing).
        name: the run's name (`check_run_name`).
        resumable: keep the partial folder when the run fails or is interrupted, and adopt the one a killed
            run of the same name left (see `adopted`).
        handle_sigterm: turn SIGTERM into `RunTerminated` while open (only possible in the main thread).
        keep_interrupted: keep the partial folder when the run is interrupted (SIGTERM, Ctrl-C), so that a
            later `resumable` writer can continue it; a plain start of the same name refuses it.

    Attributes:
        final: ``out/name``, where the finished run goes.
        work: the partial folder to write into, ``out/.name.partial-PID``.
        cleaned: one line per leftover removed or left at the start (empty partial folders, stale locks).
        adopted: the partial folder of a killed run this writer took over (None: it starts empty).
        keep: set it (to True) while open to keep the partial folder if the run then fails.

    Raises (on entering):
        RunNameError: an unsafe name.
        RunExistsError: ``out/name`` exists.
        RunKeptError: not `resumable`, and a killed run of this name left a partial folder with work in it.
        RunInUseError: a live process holds the name's lock.
    """

    def __init__(
        self,
        out: str | os.PathLike,
        name: str,
        *,
        resumable: bool = False,
        handle_sigterm: bool = True,
        keep_interrupted: bool = False,
    ):
        self.name = check_run_name(name)
        self.out = Path(out)
        self.final = self.out / self.name
        self.work = self.out / f".{self.name}.partial-{os.getpid()}"
        self.resumable = resumable
        self.keep_interrupted = keep_interrupted
        self.handle_sigterm = handle_sigterm
        self.cleaned: list[str] = []
        self.adopted: Path | None = None
        self.keep = False
        self._lock = _Lock(self.out / f".{self.name}.lock")
        self._previous_handler = None

    # ---------------------------------------------------------------------------------------- entering
    def __enter__(self) -> RunWriter:
        self.out.mkdir(parents=True, exist_ok=True)
        holder = self._lock.acquire()
        if holder is not None:
            raise RunInUseError(
                f"run {self.name!r} is being written by process {holder} (lock {self._lock.path}); "
                f"wait for it, stop it, or choose another --run-name"
            )
        try:
            if self.final.exists():
                raise RunExistsError(f"run folder {self.final} exists; choose another --run-name or remove it")
            kept = []
            for leftover in self._clean_leftovers():
                if any(leftover.iterdir()):
                    kept.append(leftover)
                else:  # killed before it wrote anything: nothing to continue
                    shutil.rmtree(leftover, ignore_errors=True)
                    self.cleaned.append(f"removed {leftover.name} (empty, left by a killed run of {self.name!r})")
            newest = max(kept, key=lambda p: p.stat().st_mtime) if kept else None
            if newest is not None and not self.resumable:
                raise RunKeptError(
                    f"run {self.name!r} was stopped before it finished and its partial folder "
                    f"{newest} is kept: continue it with --resume (same flags), or remove that "
                    f"folder to start it afresh"
                )
            for leftover in kept:
                if leftover != newest:
                    self.cleaned.append(
                        f"left {leftover.name} alone (an older partial folder of {self.name!r}; "
                        f"{newest.name} is the one continued)"
                    )
            if newest is not None:
                if newest != self.work:
                    newest.rename(self.work)
                self.adopted = newest
            self.work.mkdir(exist_ok=self.adopted is not None)
            self._install_sigterm()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _clean_leftovers(self) -> list[Path]:
        """Remove other names' stale locks; return this name's partial folders (their writers are gone: we
        hold the name's lock). Other names' partial folders are left alone."""
        own: list[Path] = []
        entries = sorted(self.out.iterdir())
        for entry in entries:
            partial = _PARTIAL.match(entry.name)
            if partial and partial["name"] == self.name and entry.is_dir():
                own.append(entry)
            lock = _LOCK.match(entry.name)
            if lock and lock["name"] != self.name and lock_holder(entry) is None:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                self.cleaned.append(f"removed the stale lock {entry.name} (its process is gone)")
        return own

    def _install_sigterm(self) -> None:
        if not self.handle_sigterm or threading.current_thread() is not threading.main_thread():
            return

        def terminate(signum, frame):
            raise RunTerminated()

        self._previous_handler = signal.signal(signal.SIGTERM, terminate)

    # ----------------------------------------------------------------------------------------- leaving
    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self._finish()
            elif not (
                self.resumable
                or self.keep
                or (self.keep_interrupted and issubclass(kind, (KeyboardInterrupt, SystemExit)))
            ):
                shutil.rmtree(self.work, ignore_errors=True)
        finally:
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)
                self._previous_handler = None
            self._lock.release()

    def _finish(self) -> None:
        try:
            self.work.rename(self.final)
        except OSError:
            if self.final.exists():  # made by hand while the run ran (another writer is locked out)
                raise RunExistsError(
                    f"run folder {self.final} appeared while the run was written; the finished "
                    f"run is kept in {self.work}"
                ) from None
            raise
