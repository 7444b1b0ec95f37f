"""Google Colab: install the tested stack, say when the runtime must restart, keep runs on Drive.

Every notebook's setup cell calls `prepare()` (notebook 01 introduces it). Off Colab it does nothing at
all: `make install` has already set up the environment. On Colab, where a fresh VM comes with its own
TensorFlow, transformers and numpy, it

1. installs this package's dependencies **at the versions CI tests** (`constraints.txt`, shipped in
   the package), and prints every distribution pip changed;
2. raises `InstallError` with pip's own error when the install fails, instead of letting the next cell
   die on a missing module;
3. raises `RestartRequired` when pip replaced TensorFlow or Keras, or a library this Python process has
   already imported: the old version stays loaded until the runtime restarts (*Runtime → Restart
   session*); the message says so, and the second run of the setup cell installs nothing;
4. mounts Google Drive, when the learner allows it in Colab's dialog, and points `$MLM_RUNS_DIR` at
   `MyDrive/mlm-runs`, so that a training run survives a disconnect. Without Drive it warns that
   `/content/runs` disappears with the runtime.

This module imports nothing beyond the standard library, so it works before the stack is installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .paths import PACKAGE_DIR, RUNS_ENV

COLAB_MODULE = "google.colab"
DISTRIBUTION = "mlm-helpers"
CONSTRAINTS = PACKAGE_DIR / "constraints.txt"  # the exact tested set; make install uses it too
DRIVE_MOUNT = Path("/content/drive")
DRIVE_RUNS = DRIVE_MOUNT / "MyDrive" / "mlm-runs"
LOCAL_RUNS = Path("/content/runs")
# A new version of these needs a fresh process even when nothing imported them yet: Keras decides
# between Keras 2 and 3 once, and Colab's kernel may have loaded them for its own helpers.
ALWAYS_RESTART = ("tensorflow", "tf-keras", "keras")
RESTART_HELP = (
    "Restart the runtime (Runtime → Restart session), then run the notebook again from the top: "
    "the second run of the setup cell installs nothing."
)


class InstallError(RuntimeError):
    """pip could not install the tested stack."""


class RestartRequired(RuntimeError):
    """pip replaced a library that this Python process has loaded: restart the runtime."""


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab runtime."""
    return COLAB_MODULE in sys.modules


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(distribution: str = DISTRIBUTION) -> list[str]:
    """The package's own dependencies (`[project] dependencies`, without extras)."""
    declared = importlib.metadata.requires(distribution) or []
    return [req for req in declared if "extra ==" not in req.replace('"', "").replace("'", "")]


def install_command(packages: Sequence[str]) -> list[str]:
    """The pip command that installs `packages` under the tested constraints."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), *packages]


def installed_versions() -> dict[str, str]:
    """{normalised distribution name: version} of everything installed."""
    return {
        _normalise(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def loaded_distributions() -> set[str]:
    """Normalised names of the distributions whose modules this process has imported."""
    owners = importlib.metadata.packages_distributions()
    loaded = {name.split(".")[0] for name in list(sys.modules)}
    return {_normalise(dist) for module in loaded for dist in owners.get(module, ())}


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def install_tested_stack(
    *,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    versions: Callable[[], dict[str, str]] = installed_versions,
    loaded: Callable[[], set[str]] = loaded_distributions,
) -> list[tuple[str, str | None, str]]:
    """On Colab, install the package's dependencies at the tested versions; off Colab do nothing.

    Returns the changes as (distribution, version before or None, version after). Raises
    `InstallError` with pip's message when pip fails, and `RestartRequired` when a change needs a
    fresh process (see the module docstring). `run`, `versions` and `loaded` are injectable so that
    the tests can play Colab.
    """
    if not on_colab():
        return []
    before = versions()
    command = install_command(requirements())
    done = run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(
            f"pip could not install the tested stack (exit code {done.returncode}):\n"
            f"{_tail(done.stderr or done.stdout or '')}\n"
            "Fix: read pip's message above; on Colab, Runtime → Disconnect and delete runtime gives "
            "a clean machine, then run the notebook again from the top."
        )
    after = versions()
    changes = [(name, before.get(name), after[name]) for name in sorted(after)]
    changes = [change for change in changes if change[1] != change[2]]
    if not changes:
        print("The tested versions are installed: nothing to change.")
        return changes
    print(
        "Installed the tested versions: "
        + ", ".join(f"{name} {old or '(new)'} → {new}" for name, old, new in changes)
    )
    in_use = loaded()
    stale = [name for name, old, _ in changes if old and (name in ALWAYS_RESTART or name in in_use)]
    if stale:
        raise RestartRequired(
            f"pip replaced {', '.join(stale)}, which this runtime has already loaded (or which "
            f"decide once per process which Keras to use). {RESTART_HELP}"
        )
    return changes


def keep_runs_on_drive(
    *, mount: Callable[[str], object] | None = None, environ: dict[str, str] | None = None
) -> Path | None:
    """On Colab, mount Google Drive (Colab asks the learner for permission) and send runs there.

    Returns the runs folder on Drive, or None off Colab, when `$MLM_RUNS_DIR` is already set (it is
    kept), or when mounting failed or was refused, in which case a warning says what is at stake.
    """
    environ = os.environ if environ is None else environ
    if not on_colab():
        return None
    if environ.get(RUNS_ENV):
        print(f"Runs go to ${RUNS_ENV} = {environ[RUNS_ENV]}.")
        return None
    if mount is None:
        from google.colab import drive  # type: ignore[import-not-found]

        mount = drive.mount
    try:
        mount(str(DRIVE_MOUNT))
    except Exception as error:  # refused, timed out, or no Drive for this account
        print(
            f"WARNING: Google Drive is not mounted ({type(error).__name__}: {error}). Runs go to "
            f"{LOCAL_RUNS}, which is deleted when the runtime disconnects: a training run would "
            "start again from nothing. Run the setup cell again and allow access to Drive to keep "
            "them."
        )
        return None
    DRIVE_RUNS.mkdir(parents=True, exist_ok=True)
    environ[RUNS_ENV] = str(DRIVE_RUNS)
    print(f"Runs are kept on Google Drive, in {DRIVE_RUNS}: they survive a disconnect.")
    return DRIVE_RUNS


def prepare(*, drive: bool = True) -> None:
    """The Colab part of every notebook's setup cell: `install_tested_stack()`, then (with `drive`)
    `keep_runs_on_drive()`. Does nothing off Colab."""
    if not on_colab():
        return
    install_tested_stack()
    if drive:  # notebooks 01-03 write no run and pass drive=False
        keep_runs_on_drive()
