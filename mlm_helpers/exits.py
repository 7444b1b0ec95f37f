"""How a command of ``python -m mlm_helpers`` ends: its exit code and one last line saying what
to do next (`failure`), for every error (`guarded`). The codes are `EXIT_CODES`, listed by
``--help`` and in the README.

- Ctrl-C and SIGTERM stop training the way a lost runtime does (history flushed, the run folder's
  claim released); the last line names the last checkpoint and the exact command that resumes.
- A full disk (``OSError`` ENOSPC/EDQUOT, or TensorFlow's ``ResourceExhaustedError`` while writing
  a checkpoint) leaves the earlier checkpoints as they were: free space, then resume.
- A run folder claimed by another run (`run_lock.RunFolderBusy`), a configuration refused, a run
  not found: nothing was written; the line is the error's own message, which names the fix.
- Anything unexpected: its type and first line, and ``--traceback`` to see the rest.
"""

from __future__ import annotations

import argparse
import errno
import re
import shlex
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import RunConfig

EXIT_DONE = 0
EXIT_FAILED = 1  # the run itself failed (diverged, missing files, ...)
EXIT_USAGE = 2  # bad arguments or configuration (argparse uses 2 as well)
EXIT_BUSY = 3  # the run folder is claimed by another run
EXIT_NO_SPACE = 4  # out of disk space
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM), e.g. a batch job's time limit
EXIT_CODES = {
    EXIT_DONE: "done",
    EXIT_FAILED: "the run failed (a diverged loss, missing or corrupt files, an upload refused or "
    "failed, claims not met with --check)",
    EXIT_USAGE: "bad arguments or configuration, or no such run: nothing was written",
    EXIT_BUSY: "the run folder is claimed by another run: nothing was written",
    EXIT_NO_SPACE: "out of disk space: free some, then resume",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C): resume with the command printed",
    EXIT_TERMINATED: "terminated (SIGTERM): resume with the command printed",
}
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that training stops the same way (files flushed, lock
    released)."""


def resume_command(argv: Sequence[str], config: RunConfig) -> str:
    """The command that resumes the run `argv` started: the same arguments with ``--resume``
    instead of any ``--mode``, and the profile and runs folder written out (``auto`` and
    ``$MLM_RUNS_DIR`` might mean something else later)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--mode", "--profile", "--runs-dir"):
            skip = True
        elif not arg.startswith(("--mode=", "--profile=", "--runs-dir=")) and arg != "--resume":
            kept.append(arg)
    place = ["--profile", config.profile, "--runs-dir", str(config.run_dir.parent)]
    return shlex.join(["python", "-m", "mlm_helpers", *kept[:1], *place, *kept[1:], "--resume"])


def _interrupted(err: KeyboardInterrupt, config: RunConfig | None, argv: Sequence[str]) -> str:
    """The last line after Ctrl-C or SIGTERM: what is kept, and the command that resumes."""
    from .run_folder import holds_run, read_json, state_path

    how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted (Ctrl-C)"
    if config is None or argv[:1] != ["train"]:
        return f"{how}: run the same command again"
    if not holds_run(config.run_dir):
        return f"{how}: no training was written yet; run the same command again"
    state = read_json(state_path(config.run_dir), required=False) or {}
    kept = (
        f"the run folder keeps everything up to its last checkpoint ({state['checkpoint']}, "
        f"step {state.get('global_step')})"
        if state.get("checkpoint")
        else "no checkpoint was saved yet, so training starts again"
    )
    return f"{how}: {kept}. Resume it with: {resume_command(argv, config)}"


def _no_space(err: BaseException) -> bool:
    """Whether `err` says the disk is full: OSError ENOSPC/EDQUOT, or TensorFlow's
    ResourceExhaustedError for a file (not for accelerator memory)."""
    if isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS:
        return True
    text = str(err)
    return type(err).__name__ == "ResourceExhaustedError" and (
        "No space left" in text or "quota" in text.lower()
    )


def _first_line(err: BaseException) -> str:
    """The message as one line: its first line (TensorFlow appends whole graph traces)."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(err))  # TensorFlow's op prefix
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= 400 else f"{text[:400]}..."


def failure(err: BaseException, config: RunConfig | None, argv: Sequence[str]) -> tuple[int, str]:
    """(exit code, the one last line) for an error that ended a command."""
    from .run_folder import ResumeError
    from .run_lock import RunFolderBusy, RunsFolderNotWritable
    from .runs import RunNotFound

    if isinstance(err, KeyboardInterrupt):
        code = EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED
        return code, _interrupted(err, config, argv)
    if isinstance(err, RunFolderBusy):
        return EXIT_BUSY, f"error: {' '.join(str(err).split())}"
    if _no_space(err):
        where = config.run_dir.parent if config is not None else Path.cwd()
        free = shutil.disk_usage(where).free / 1e9 if where.exists() else float("nan")
        resume = (
            f"resume: {resume_command(argv, config)}"
            if config is not None and argv[:1] == ["train"]
            else "run the same command again"
        )
        return EXIT_NO_SPACE, (
            f"error: out of disk space while writing ({_first_line(err)}); {free:.1f} GB free in "
            f"{where} now. Nothing already saved was changed: free some space, then {resume}"
        )
    name = type(err).__name__
    if name == "ResourceExhaustedError":  # accelerator memory
        return EXIT_FAILED, (
            f"error: out of accelerator memory ({_first_line(err)}). Train again with a smaller "
            "batch_size (--set batch_size=N) under another --run-name"
        )
    out_of_range = re.search(r"indices\[[^\]]*\] = -?\d+ is not in \[0, \d+\)", str(err))
    if name == "InvalidArgumentError" and out_of_range:
        return EXIT_USAGE, (
            f"error: a token position or id is outside the model's range ({out_of_range[0]}): "
            "chunk_size must not exceed the model's max_position_embeddings and the tokenizer "
            "must be the model's; lower --set chunk_size, or use the model's tokenizer"
        )
    usage = (ValueError, TypeError, ResumeError, FileExistsError, RunNotFound)
    if isinstance(err, usage + (RunsFolderNotWritable,)):
        return EXIT_USAGE, f"error: {' '.join(str(err).split())}"
    if isinstance(err, OSError | RuntimeError | AssertionError):  # TrainingDiverged, PublishError
        return EXIT_FAILED, f"error: {' '.join(str(err).split())}"
    return EXIT_FAILED, (
        f"error: unexpected {name}: {_first_line(err)}. Run again with --traceback for the "
        "details; the run folder keeps what was saved"
    )


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run `command`, turning any error into its exit code and one last line on stderr
    (`failure`); SIGTERM stops a run the way Ctrl-C does."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return command(args)
    except BaseException as err:
        if isinstance(err, SystemExit):
            raise
        if args.traceback:
            traceback.print_exc()
        code, line = failure(err, getattr(args, "config", None), args.argv)
        print(line, file=sys.stderr)
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
