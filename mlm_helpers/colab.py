"""Google Colab: change only what must change, say when the runtime must restart, keep runs on Drive.

Every notebook's setup cell calls `prepare()` (notebook 01 introduces it). Off Colab it does nothing at
all: `make install` has already set up the exact tested set (`constraints.txt`). On Colab, where a
fresh VM comes with its own TensorFlow, transformers, numpy and pandas, it

1. keeps the helpers the cell installed: `update_helpers` reinstalls them from git only when the
   installed copy is not the commit the cell's ref names today;
2. installs this package's dependencies under `colab-constraints.txt` (shipped in the package), which
   pins only what must change — transformers 4.57.6 (the last line with TensorFlow models) and
   huggingface_hub 0.36.2 — so that pip keeps every version Colab has that fits `pyproject.toml`'s
   ranges (late 2026: two packages change, in about 20 s). A Colab without tf-keras gets the tf-keras
   of its TensorFlow's minor version, so that TensorFlow is not replaced;
3. prints every distribution pip changed, pip's conflict report (pip exits 0 on a conflict) and what
   `pip check` finds afterwards; raises `InstallError` with pip's message when pip fails, and with the
   fix when a conflict touches a package that google-colab pins;
4. raises `RestartRequired` only when pip replaced a distribution that a module this process has
   loaded came from (matched by the module's file, so the `google` namespace that Colab's packages
   share is nobody's), naming the module and the distribution;
5. mounts Google Drive, when the learner allows it in Colab's dialog, and points `$MLM_RUNS_DIR` at
   `MyDrive/mlm-runs`, so that a training run survives a disconnect. Without Drive it warns that
   `/content/runs` disappears with the runtime.

`tools/colab_twin/` plays this on Colab's versions in CI. This module imports nothing beyond the
standard library, so it works before the stack is installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .paths import PACKAGE_DIR, RUNS_ENV

COLAB_MODULE = "google.colab"
COLAB_DISTRIBUTION = "google-colab"
DISTRIBUTION = "mlm-helpers"
CONSTRAINTS = PACKAGE_DIR / "colab-constraints.txt"  # only what must change on Colab
DRIVE_MOUNT = Path("/content/drive")
DRIVE_RUNS = DRIVE_MOUNT / "MyDrive" / "mlm-runs"
LOCAL_RUNS = Path("/content/runs")
RESTART_HELP = (
    "Restart the runtime (Runtime → Restart session), then run the notebook again from the top: "
    "the second run of the setup cell installs nothing."
)
# "google-colab 1.0.0 requires pandas==2.2.3, but you have pandas 3.1.1 which is incompatible." (pip
# install) and "... has requirement pandas==2.2.3, but you have pandas 3.1.1." (pip check)
CONFLICT = re.compile(
    r"^(?P<owner>[A-Za-z0-9][\w.-]*) \S+ (?:requires|has requirement) (?P<needs>[A-Za-z0-9][\w.-]*)"
)
HELPERS_SPEC = re.compile(r"^(?P<name>[\w.-]+) @ git\+(?P<url>[^@\s]+)@(?P<ref>[^@\s]+)$")


class InstallError(RuntimeError):
    """pip could not install the stack, or changed a package that Colab pins."""


class RestartRequired(RuntimeError):
    """pip replaced a library that this Python process has loaded: restart the runtime."""


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab runtime."""
    return COLAB_MODULE in sys.modules


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run_pip(run: Callable[..., subprocess.CompletedProcess], *args: str):
    return run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# region The helpers themselves: reinstall from git only when the ref has moved


def installed_origin(distribution: str = DISTRIBUTION) -> dict | None:
    """The installed distribution's `direct_url.json` (where pip got it: url, commit), or None when
    it is not installed or was not installed from a URL."""
    try:
        text = importlib.metadata.distribution(distribution).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    return json.loads(text) if text else None


def remote_commit(
    url: str, ref: str, run: Callable[..., subprocess.CompletedProcess]
) -> str | None:
    """The commit `ref` (branch, tag or commit) names in the git repository at `url` today, or None
    when git cannot tell (no network, no git)."""
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    try:
        done = run(["git", "ls-remote", url, ref], capture_output=True, text=True)
    except OSError:
        return None
    lines = (done.stdout or "").split() if done.returncode == 0 else []
    return lines[0] if lines and re.fullmatch(r"[0-9a-f]{40}", lines[0]) else None


def update_helpers(
    spec: str,
    *,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    origin: Callable[[], dict | None] = installed_origin,
) -> bool:
    """On Colab, make the installed helpers the commit that `spec` ("mlm-helpers @ git+URL@REF", the
    setup cell's) names; off Colab do nothing. Returns False when they already are (nothing is
    cloned). Otherwise reinstalls them with pip (`--no-deps`) and raises `RestartRequired`: this
    process still runs the old copy. Raises `InstallError` with pip's message when pip fails."""
    if not on_colab():
        return False
    match = HELPERS_SPEC.match(spec.strip())
    if match is None:
        raise ValueError(
            f"{spec!r} is not 'mlm-helpers @ git+https://github.com/OWNER/REPO@REF'. Fix: run "
            "`python tools/set_repo.py OWNER/REPO` to rewrite the setup cells."
        )
    url, ref = match["url"], match["ref"]
    have = origin() or {}
    have_commit = (have.get("vcs_info") or {}).get("commit_id")
    wanted = remote_commit(url, ref, run)
    if have.get("url") == url and have_commit and (wanted is None or wanted == have_commit):
        note = "" if wanted else f" (could not ask {url} for {ref}'s commit: keeping them)"
        print(f"The helpers are {url}@{ref}, commit {have_commit[:10]}{note}.")
        return False
    done = _run_pip(run, "install", "--quiet", "--no-deps", "--force-reinstall", spec)
    if done.returncode != 0:
        raise InstallError(
            f"pip could not install the helpers (exit code {done.returncode}):\n"
            f"{_tail(done.stderr or done.stdout or '')}"
        )
    raise RestartRequired(
        f"The helpers were updated to {ref} ({(wanted or 'its newest commit')[:10]}; this runtime had "
        f"{have_commit[:10] if have_commit else 'another copy'}), but this process still runs the "
        f"old copy of mlm_helpers. {RESTART_HELP}"
    )


# endregion
# region The libraries: keep Colab's versions where they fit


def requirements(distribution: str = DISTRIBUTION) -> list[str]:
    """The package's own dependencies (`[project] dependencies`, without extras)."""
    declared = importlib.metadata.requires(distribution) or []
    return [req for req in declared if "extra ==" not in req.replace('"', "").replace("'", "")]


def installed_versions() -> dict[str, str]:
    """{normalised distribution name: version} of everything installed."""
    return {
        _normalise(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def install_command(packages: Sequence[str], versions: dict[str, str]) -> list[str]:
    """The pip command that installs `packages` under the Colab constraints. Without tf-keras, the
    tf-keras of the installed TensorFlow's minor version is asked for, so TensorFlow stays."""
    extra = []
    if "tf-keras" not in versions and "tensorflow" in versions:
        extra = [f"tf-keras=={'.'.join(versions['tensorflow'].split('.')[:2])}.*"]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "-c",
        str(CONSTRAINTS),
        *packages,
        *extra,
    ]


def colab_pins(distribution: str = COLAB_DISTRIBUTION) -> dict[str, str]:
    """{normalised name: requirement} of the exact pins of the google-colab package: the versions
    Colab's own features are built against."""
    try:
        declared = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    pins = {}
    for requirement in declared:
        if "==" in requirement and ";" not in requirement:
            pins[_normalise(re.split(r"[<>=!~ \[]", requirement)[0])] = requirement.replace(" ", "")
    return pins


def conflicts(pip_output: str) -> list[str]:
    """The dependency conflicts pip reported, one line each ("X 1.0 requires Y==2, but ...")."""
    return [line.strip() for line in pip_output.splitlines() if CONFLICT.match(line.strip())]


def loaded_modules(distributions: Iterable[str]) -> dict[str, str]:
    """{distribution: the module this process has loaded from its files} for those of
    `distributions` it has loaded. A module counts when its file is one the distribution installed:
    a namespace package (`google`, shared by protobuf and Colab's packages) has no file of its own."""
    files = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files.setdefault(os.path.realpath(path), name)
    found = {}
    for distribution in distributions:
        try:
            dist = importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
        base = os.path.realpath(dist.locate_file(""))
        hits = [files.get(os.path.normpath(os.path.join(base, str(f)))) for f in dist.files or ()]
        hits = [module for module in hits if module]
        if hits:
            found[distribution] = min(hits, key=lambda module: (module.count("."), module))
    return found


def _pinned_by_colab(lines: list[str], pins: dict[str, str]) -> list[str]:
    """The requirements of google-colab that the conflicts in `lines` break (its pins, as written)."""
    broken = []
    for line in lines:
        match = CONFLICT.match(line)
        if _normalise(match["owner"]) == COLAB_DISTRIBUTION:
            broken.append(pins.get(_normalise(match["needs"]), match["needs"]))
    return list(dict.fromkeys(broken))


def install_colab_stack(
    *,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    versions: Callable[[], dict[str, str]] = installed_versions,
    loaded: Callable[[Iterable[str]], dict[str, str]] = loaded_modules,
    pins: Callable[[], dict[str, str]] = colab_pins,
) -> list[tuple[str, str | None, str]]:
    """On Colab, install the package's dependencies, changing only what must change (see the module
    docstring); off Colab do nothing.

    Returns the changes as (distribution, version before or None, version after). Raises
    `InstallError` when pip fails or a conflict touches a package google-colab pins, and
    `RestartRequired` when a replaced distribution is loaded. `run`, `versions`, `loaded` and `pins`
    are injectable so that the tests can play Colab.
    """
    if not on_colab():
        return []
    before = versions()
    start = time.monotonic()
    done = run(install_command(requirements(), before), capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(
            f"pip could not install the helpers' requirements (exit code {done.returncode}):\n"
            f"{_tail(done.stderr or done.stdout or '')}\n"
            "Fix: read pip's message above; on Colab, Runtime → Disconnect and delete runtime gives "
            "a clean machine, then run the notebook again from the top."
        )
    seconds = time.monotonic() - start
    after = versions()
    changes = [(name, before.get(name), after[name]) for name in sorted(after)]
    changes = [change for change in changes if change[1] != change[2]]
    if changes:
        print(
            f"pip changed {len(changes)} of Colab's packages in {seconds:.0f} s: "
            + ", ".join(f"{name} {old or '(new)'} → {new}" for name, old, new in changes)
        )
    else:
        print("Colab's packages fit the helpers: nothing to change.")
    reported = conflicts(done.stderr or "")
    if reported:
        print("pip reported dependency conflicts:\n  " + "\n  ".join(reported))
    checked = _run_pip(run, "check")
    found = conflicts(checked.stdout or "")
    print(
        "pip check: "
        + ("\n  ".join(["broken requirements:", *found]) if found else "no conflicts.")
    )
    broken = _pinned_by_colab(reported + found, pins())
    if broken:
        raise InstallError(
            f"packages that google-colab pins are not at its versions ({', '.join(broken)}); "
            "Colab's own features are built against them. Fix: put them back with "
            f"`pip install {' '.join(repr(pin) for pin in broken)}`, restart the runtime "
            "(Runtime → Restart session), and report it: the helpers' ranges in pyproject.toml "
            "should accept Colab's versions."
        )
    in_use = loaded([name for name, old, _ in changes if old])
    if in_use:
        stale = ", ".join(
            f"{name} {before[name]} → {after[name]} (module {module} is loaded)"
            for name, module in sorted(in_use.items())
        )
        raise RestartRequired(
            f"pip replaced {stale}: the old version stays in this process until the runtime "
            f"restarts. {RESTART_HELP}"
        )
    return changes


# endregion


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


def prepare(helpers: str | None = None, *, drive: bool = True) -> None:
    """The Colab part of every notebook's setup cell: `update_helpers(helpers)` (when given),
    `install_colab_stack()`, then (with `drive`) `keep_runs_on_drive()`. Does nothing off Colab."""
    if not on_colab():
        return
    if helpers:
        update_helpers(helpers)
    install_colab_stack()
    if drive:  # notebooks 01-03 write no run and pass drive=False
        keep_runs_on_drive()
