"""One run folder, one training at a time: `claim(run_dir)`, used by `runs.open_run`.

Two trainings started together on the same run folder would both pass every check (neither has
written anything yet) and then interleave their files. So before a run writes anything it claims
its folder: it creates ``<runs_dir>/.<run_name>.lock`` with ``O_CREAT | O_EXCL``, which exactly one
process can do, and writes into it who holds the claim (pid, host, start time, command). The file
lies beside the run folder, not in it, so that ``mode="afresh"`` can move the folder aside while
the claim stays. It is removed when the claim ends (`claim` is a context manager: a finished run,
an error, Ctrl-C). While held, a background thread touches it every `HEARTBEAT_SECONDS`.

A lock whose holder is gone is stale, and taken over with a notice naming it: on this host, when
its process no longer exists (a run killed with SIGKILL, a notebook kernel restarted); from another
host (a Colab runtime that disconnected, with the runs on Google Drive), when it has not been
touched for `STALE_AFTER_SECONDS`. Anything else is refused with `RunFolderBusy`, naming the
holder and what to do. Creating the lock is also the check that the runs folder is writable
(`RunsFolderNotWritable`): both come before any data is prepared.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

HEARTBEAT_SECONDS = 60.0
STALE_AFTER_SECONDS = 600.0  # a lock of another host untouched this long is stale
_WRITING_GRACE_SECONDS = 5.0  # an empty lock younger than this is being written by its holder
_held: set[Path] = set()  # the locks this process holds


class RunFolderBusy(RuntimeError):
    """Another run holds the run folder (its lock file is not stale)."""


class RunsFolderNotWritable(PermissionError):
    """The runs folder (or the run folder) cannot be written: nothing was written."""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: what the lock file says."""

    pid: int
    host: str
    started: str  # UTC, ISO 8601
    command: str
    token: str  # tells this claim from a later one on the same file

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host!r}, started {self.started} ({self.command})"


def lock_path(run_dir: str | os.PathLike) -> Path:
    """The lock file of a run folder: ``<runs_dir>/.<run_name>.lock``."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f".{run_dir.name}.lock")


def _read(path: Path) -> Holder | None:
    """The holder a lock file names; None when it is empty or not a lock (being written, or cut
    off)."""
    try:
        return Holder(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def why_stale(path: Path, holder: Holder | None, *, now: float | None = None) -> str | None:
    """Why the lock at `path` is stale (its holder is gone), or None while it may be held."""
    age = (now or time.time()) - path.stat().st_mtime
    if holder is None:
        return None if age < _WRITING_GRACE_SECONDS else "it names no holder (cut off)"
    if holder.host == socket.gethostname():
        if holder.pid == os.getpid():
            return None if path in _held else "this process holds no such claim"
        if not _process_exists(holder.pid):
            return f"process {holder.pid} no longer exists on this host"
        return None
    if age > STALE_AFTER_SECONDS:
        return f"its holder on {holder.host!r} has not touched it for {age / 60:.0f} minutes"
    return None


def _refusal(run_dir: Path, path: Path, holder: Holder | None) -> RunFolderBusy:
    who = holder.describe() if holder else "a process that is writing the lock right now"
    other_host = holder is not None and holder.host != socket.gethostname()
    gone = (
        f"If that machine is gone (a disconnected Colab runtime), the lock counts as stale "
        f"{STALE_AFTER_SECONDS / 60:.0f} minutes after its last heartbeat; or delete {path} "
        "yourself once you are sure no run uses the folder."
        if other_host
        else f"If you are sure no run uses the folder, delete {path}."
    )
    return RunFolderBusy(
        f"{run_dir} is claimed by another training run: {who}; lock file {path}. Nothing was "
        "written. Wait until that run ends (then run this again: mode 'auto' reopens or resumes "
        f"it), stop it, or train under another run_name (--run-name). {gone}"
    )


def _not_writable(folder: Path, error: OSError) -> RunsFolderNotWritable:
    return RunsFolderNotWritable(
        f"the runs folder {folder} is not writable ({type(error).__name__}: {error.strerror or error})"
        ": nothing was written. Point RunConfig.runs_dir (--runs-dir, or $MLM_RUNS_DIR) at a "
        "folder you can write, or fix its permissions"
    )


def _create(path: Path, holder: Holder) -> bool:
    """Create the lock file holding `holder`; False when it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as error:
        raise _not_writable(path.parent, error) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(holder), handle)
    return True


def _break(path: Path, stale: Holder | None) -> bool:
    """Remove a stale lock, unless another process replaced it meanwhile; True when removed.
    The lock is first renamed to a name of our own (one atomic step), then checked."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:12]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another process broke it first
        return True
    if _read(aside) != stale:  # a live claim, created after we read the stale one: give it back
        with contextlib.suppress(OSError):
            os.link(aside, path)  # fails if yet another claim exists; then that one stands
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def _command() -> str:
    """What this process is, for the holder's details: its command line, or a notebook kernel."""
    if "ipykernel" in sys.modules:
        return "a notebook kernel"
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "__main__.py":  # python -m <package>
        program = f"python -m {Path(sys.argv[0]).parent.name}"
    command = " ".join([program, *sys.argv[1:]])
    return command if len(command) <= 300 else f"{command[:300]}..."


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(OSError):
            os.utime(path)


def _check_writable(run_dir: Path) -> None:
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _not_writable(run_dir.parent, error) from None
    for folder in (run_dir.parent, run_dir):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise _not_writable(folder, PermissionError(13, "Permission denied"))


@contextlib.contextmanager
def claim(run_dir: str | os.PathLike, notices: list[str] | None = None) -> Iterator[Holder]:
    """Hold the run folder for the duration of the ``with`` block (see the module docstring).

    Raises `RunFolderBusy` naming the holder when another run holds it, `RunsFolderNotWritable`
    when the lock cannot be created. A stale lock taken over is described in `notices`.
    """
    run_dir = Path(run_dir)
    _check_writable(run_dir)
    path = lock_path(run_dir)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    me = Holder(os.getpid(), socket.gethostname(), started, _command(), uuid.uuid4().hex)
    while not _create(path, me):
        holder = _read(path)
        try:
            stale = why_stale(path, holder)
        except FileNotFoundError:  # released meanwhile: try again
            continue
        if stale is None:
            raise _refusal(run_dir, path, holder)
        if _break(path, holder) and notices is not None:
            who = holder.describe() if holder else "an unknown holder"
            notices.append(f"took over the stale lock {path} of {who}: {stale}")
    _held.add(path)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, stop), daemon=True)
    beat.start()
    try:
        yield me
    finally:
        stop.set()
        _held.discard(path)
        if _read(path) == me:  # never remove a claim that is not ours
            path.unlink(missing_ok=True)
