"""The setup cell's Colab branch, played with a fake `google.colab`: what it installs, when it
refuses to go on, and where runs go. Off Colab it must do nothing at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from mlm_helpers import colab, get_config
from mlm_helpers.paths import RUNS_ENV

ROOT = Path(__file__).resolve().parents[1]
COLAB_TF = "2.19.0"  # what a Colab VM might come with; any version other than the tested one


@pytest.fixture
def on_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, colab.COLAB_MODULE, types.ModuleType(colab.COLAB_MODULE))


def pip(returncode: int = 0, stderr: str = ""):
    """A stand-in for subprocess.run that records the command."""
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr=stderr)

    run.calls = calls
    return run


def versions(*states: dict[str, str]):
    """A stand-in for installed_versions: the states before and after pip, in order."""
    queue = list(states)
    return lambda: queue.pop(0)


def never(*args, **kwargs):
    raise AssertionError("called off Colab")


def test_off_colab_nothing_is_installed_mounted_or_printed(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, colab.COLAB_MODULE, raising=False)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert colab.install_tested_stack(run=never, versions=never) == []
    assert colab.keep_runs_on_drive(mount=never) is None
    colab.prepare()
    assert RUNS_ENV not in os.environ
    assert capsys.readouterr() == ("", "")


def test_on_colab_pip_installs_the_packages_dependencies_under_the_shipped_constraints(on_colab):
    run = pip()
    same = {"tensorflow": "2.21.0"}
    assert colab.install_tested_stack(run=run, versions=versions(same, same)) == []
    (command,) = run.calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    constraints = Path(command[command.index("-c") + 1])
    assert constraints == colab.CONSTRAINTS and constraints.is_file()
    # What it installs is pyproject's [project] dependencies (no dev extras) ...
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.split(r"[<>=!~ ;\[]", req)[0] for req in command[command.index("-c") + 2 :]]
    assert sorted(map(colab._normalise, names)) == sorted(
        colab._normalise(re.split(r"[<>=!~ ;\[]", req)[0]) for req in declared
    )
    # ... and the shipped constraints pin every one of them to one tested version.
    pins = {
        colab._normalise(line.split("==")[0])
        for line in constraints.read_text().splitlines()
        if "==" in line
    }
    assert set(map(colab._normalise, names)) <= pins


def test_a_failed_install_raises_with_pips_own_message(on_colab):
    run = pip(1, stderr="ERROR: No matching distribution found for tensorflow==2.21.0")
    with pytest.raises(colab.InstallError, match=r"exit code 1(.|\n)*No matching distribution"):
        colab.install_tested_stack(run=run, versions=versions({}, {}))


def test_replacing_tensorflow_asks_for_a_restart_and_says_what_changed(on_colab, capsys):
    before = {"tensorflow": COLAB_TF, "tf-keras": COLAB_TF, "numpy": "2.0.2"}
    after = {"tensorflow": "2.21.0", "tf-keras": "2.21.0", "numpy": "2.0.2"}
    with pytest.raises(colab.RestartRequired, match=r"tensorflow, tf-keras(.|\n)*Restart session"):
        colab.install_tested_stack(run=pip(), versions=versions(before, after), loaded=set)
    printed = capsys.readouterr().out
    assert f"tensorflow {COLAB_TF} → 2.21.0" in printed and "numpy" not in printed


def test_a_replaced_library_that_is_already_imported_needs_a_restart_a_new_one_does_not(on_colab):
    before = {"numpy": "2.0.2", "pandas": "2.2.2"}
    after = {"numpy": "2.3.0", "pandas": "2.2.2", "tf-keras": "2.21.0"}
    with pytest.raises(colab.RestartRequired, match="numpy"):
        colab.install_tested_stack(
            run=pip(), versions=versions(before, after), loaded=lambda: {"numpy"}
        )
    changes = colab.install_tested_stack(
        run=pip(), versions=versions(before, after), loaded=lambda: {"pandas"}
    )
    assert changes == [("numpy", "2.0.2", "2.3.0"), ("tf-keras", None, "2.21.0")]


def test_the_second_run_of_the_setup_cell_changes_nothing(on_colab, capsys):
    same = {"tensorflow": "2.21.0"}
    assert colab.install_tested_stack(run=pip(), versions=versions(same, same)) == []
    assert "nothing to change" in capsys.readouterr().out


def test_loaded_distributions_sees_what_this_process_imported():
    import numpy  # noqa: F401

    assert "numpy" in colab.loaded_distributions()


def test_runs_go_to_drive_when_the_learner_allows_it(on_colab, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(RUNS_ENV, raising=False)
    monkeypatch.setattr(colab, "DRIVE_RUNS", tmp_path / "MyDrive" / "mlm-runs")
    mounted = []
    assert colab.keep_runs_on_drive(mount=mounted.append) == colab.DRIVE_RUNS
    assert mounted == [str(colab.DRIVE_MOUNT)] and colab.DRIVE_RUNS.is_dir()
    config = get_config("embedded", verbose=False)
    assert config.run_dir == colab.DRIVE_RUNS / config.run_name
    assert "survive a disconnect" in capsys.readouterr().out


def test_refusing_drive_warns_that_runs_are_lost_on_a_disconnect(on_colab, monkeypatch, capsys):
    monkeypatch.delenv(RUNS_ENV, raising=False)

    def refuse(path):
        raise ValueError("mount failed")

    assert colab.keep_runs_on_drive(mount=refuse) is None
    assert RUNS_ENV not in os.environ
    warning = capsys.readouterr().out
    assert "WARNING" in warning and "mount failed" in warning and "/content/runs" in warning


def test_a_runs_folder_the_learner_chose_is_kept(on_colab, monkeypatch, tmp_path):
    monkeypatch.setenv(RUNS_ENV, str(tmp_path))
    assert colab.keep_runs_on_drive(mount=never) is None
    assert get_config("embedded", verbose=False).run_dir.parent == tmp_path


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def setup_cell(path: Path) -> str:
    import json

    cells = json.loads(path.read_text())["cells"]
    return next(
        "".join(c["source"]) for c in cells if "runtime.setup_notebook" in "".join(c["source"])
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_setup_cell_stops_with_pips_message_on_colab(path, on_colab, monkeypatch):
    seen = []

    def failing_pip(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: could not clone the repository")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(RuntimeError, match="could not clone the repository"):
        exec(setup_cell(path), {})
    (command,) = seen
    assert "--no-deps" in command and command[-1].startswith("mlm-helpers @ git+https://")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_setup_cell_off_colab_runs_no_pip_and_keeps_runs_on_drive_from_notebook_04(
    path, monkeypatch
):
    from mlm_helpers import runtime

    monkeypatch.delitem(sys.modules, colab.COLAB_MODULE, raising=False)
    monkeypatch.setattr(subprocess, "run", never)
    calls = []
    monkeypatch.setattr(colab, "prepare", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(runtime, "setup_notebook", lambda **kwargs: calls.append(kwargs))
    exec(setup_cell(path), {})
    assert calls == [{"drive": path.name[:2] >= "04"}, {"seed": 42}]
