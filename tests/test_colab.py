"""The setup cell's Colab branch, played with a fake `google.colab`: what it installs, when it
refuses to go on, and where runs go. Off Colab it must do nothing at all."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from mlm_helpers import colab, get_config
from mlm_helpers.paths import RUNS_ENV

ROOT = Path(__file__).resolve().parents[1]
COLAB = {"tensorflow": "2.20.0", "tf-keras": "2.20.1", "transformers": "5.15.0"}  # some of Colab's
SPEC = "mlm-helpers @ git+https://github.com/owner/repo@main"
COMMIT, NEWER = "a" * 40, "b" * 40


@pytest.fixture
def on_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, colab.COLAB_MODULE, types.ModuleType(colab.COLAB_MODULE))


def pip(returncode: int = 0, stderr: str = "", check: str = "No broken requirements found."):
    """A stand-in for subprocess.run that records the commands: `pip install` answers with
    `returncode` and `stderr`, `pip check` with `check` (exit code 1 when it lists a problem)."""
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        if command[-1] == "check":
            return subprocess.CompletedProcess(command, int("requirement" in check), check, "")
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr=stderr)

    run.calls = calls
    return run


def versions(*states: dict[str, str]):
    """A stand-in for installed_versions: the states before and after pip, in order."""
    queue = list(states)
    return lambda: queue.pop(0)


def nothing_loaded(names):
    return {}


def never(*args, **kwargs):
    raise AssertionError("called off Colab")


def _name(requirement: str) -> str:
    return colab._normalise(re.split(r"[<>=!~ ;\[]", requirement)[0])


def test_off_colab_nothing_is_installed_mounted_or_printed(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, colab.COLAB_MODULE, raising=False)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert colab.install_colab_stack(run=never, versions=never) == []
    assert colab.update_helpers(SPEC, run=never, origin=never) is False
    assert colab.keep_runs_on_drive(mount=never) is None
    colab.prepare(SPEC)
    assert RUNS_ENV not in os.environ
    assert capsys.readouterr() == ("", "")


def test_on_colab_pip_installs_the_dependencies_pinning_only_what_must_change(on_colab):
    run = pip()
    assert colab.install_colab_stack(run=run, versions=versions(COLAB, COLAB)) == []
    command, check = run.calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert check == [sys.executable, "-m", "pip", "check"]
    constraints = Path(command[command.index("-c") + 1])
    assert constraints == colab.CONSTRAINTS and constraints.is_file()
    # What it installs is pyproject's [project] dependencies (no dev extras) ...
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [_name(req) for req in command[command.index("-c") + 2 :]]
    assert sorted(names) == sorted(_name(req) for req in declared)
    # ... and the Colab constraints pin transformers and huggingface_hub alone, at the tested versions.
    lines = [line for line in constraints.read_text().splitlines() if line and line[0] != "#"]
    tested = (ROOT / "mlm_helpers" / "constraints.txt").read_text().splitlines()
    assert sorted(map(_name, lines)) == ["huggingface-hub", "transformers"]
    assert all(line in tested for line in lines)


def test_without_tf_keras_the_one_of_tensorflows_minor_version_is_asked_for(on_colab):
    run = pip()
    no_tf_keras = {"tensorflow": "2.20.0"}
    colab.install_colab_stack(run=run, versions=versions(no_tf_keras, no_tf_keras))
    assert run.calls[0][-1] == "tf-keras==2.20.*"
    assert not any("tf-keras" in arg for arg in colab.install_command(["x"], COLAB))


def test_a_failed_install_raises_with_pips_own_message(on_colab):
    run = pip(1, stderr="ERROR: No matching distribution found for transformers==4.57.6")
    with pytest.raises(colab.InstallError, match=r"exit code 1(.|\n)*No matching distribution"):
        colab.install_colab_stack(run=run, versions=versions(COLAB, COLAB))


CONFLICT_REPORT = (
    "ERROR: pip's dependency resolver does not currently take into account all the packages that "
    "are installed. This behaviour is the source of the following dependency conflicts.\n"
    "tensorflow-text 2.20.1 requires tensorflow<2.21,>=2.20.0, but you have tensorflow 2.21.0 "
    "which is incompatible.\n"
)


def test_pips_conflicts_and_pip_check_are_printed_though_pip_exits_0(on_colab, capsys):
    check = "tensorflow-text 2.20.1 has requirement tensorflow<2.21,>=2.20.0, but you have tensorflow 2.21.0."
    after = {**COLAB, "tensorflow": "2.21.0"}
    colab.install_colab_stack(
        run=pip(0, CONFLICT_REPORT, check), versions=versions(COLAB, after), loaded=nothing_loaded
    )
    printed = capsys.readouterr().out
    assert "conflicts:\n  tensorflow-text 2.20.1 requires tensorflow<2.21" in printed
    assert "pip check: broken requirements:\n  tensorflow-text 2.20.1 has requirement" in printed


def test_changing_a_package_google_colab_pins_is_an_error_with_the_fix(on_colab):
    report = "google-colab 1.0.0 requires pandas==2.2.3, but you have pandas 3.1.1 which is incompatible."
    with pytest.raises(
        colab.InstallError,
        match=r"google-colab pins are not at its versions \(pandas==2.2.3\)(.|\n)*"
        r"Fix: put them back with `pip install 'pandas==2.2.3'`",
    ):
        colab.install_colab_stack(
            run=pip(0, report),
            versions=versions({"pandas": "2.2.3"}, {"pandas": "3.1.1"}),
            loaded=nothing_loaded,
            pins=lambda: {"pandas": "pandas==2.2.3"},
        )


@given(
    owner=st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    needs=st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    version=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True),
)
def test_conflicts_finds_both_of_pips_formats_and_nothing_else(owner, needs, version):
    lines = [
        f"{owner} {version} requires {needs}=={version}, but you have {needs} 0.1 which is incompatible.",
        f"{owner} {version} has requirement {needs}>={version}, but you have {needs} 0.1.",
        f"{owner} {version} requires {needs}, which is not installed.",
    ]
    prose = ["No broken requirements found.", f"Successfully installed {owner}-{version}"]
    assert colab.conflicts("\n".join(prose[:1] + lines + prose[1:])) == lines
    flagged = colab._pinned_by_colab(lines, {})
    assert flagged == ([needs] if colab._normalise(owner) == "google-colab" else [])


def test_a_replaced_library_that_is_loaded_needs_a_restart_naming_module_and_distribution(
    on_colab,
):
    before = {"numpy": "2.1.3", "tensorflow": "2.20.0"}
    after = {"numpy": "2.4.6", "tensorflow": "2.21.0", "tf-keras": "2.21.0"}
    asked = []

    def loaded(names):
        asked.append(sorted(names))
        return {"numpy": "numpy"}

    with pytest.raises(
        colab.RestartRequired, match=r"numpy 2.1.3 → 2.4.6 \(module numpy is loaded\)"
    ):
        colab.install_colab_stack(run=pip(), versions=versions(before, after), loaded=loaded)
    assert asked == [["numpy", "tensorflow"]]  # the replaced ones; a new tf-keras was never loaded


def test_replacing_a_library_nobody_loaded_needs_no_restart_not_even_tensorflow(on_colab, capsys):
    before = {"tensorflow": "2.20.0", "transformers": "5.15.0"}
    after = {"tensorflow": "2.21.0", "transformers": "4.57.6"}
    changes = colab.install_colab_stack(
        run=pip(), versions=versions(before, after), loaded=nothing_loaded
    )
    assert changes == [("tensorflow", "2.20.0", "2.21.0"), ("transformers", "5.15.0", "4.57.6")]
    assert "pip changed 2 of Colab's packages" in capsys.readouterr().out


def test_the_second_run_of_the_setup_cell_changes_nothing(on_colab, capsys):
    assert colab.install_colab_stack(run=pip(), versions=versions(COLAB, COLAB)) == []
    assert "nothing to change" in capsys.readouterr().out


def test_loaded_modules_sees_what_this_process_imported():
    import numpy  # noqa: F401

    assert colab.loaded_modules(["numpy", "no-such-distribution"]) == {"numpy": "numpy"}


def test_a_namespace_package_belongs_to_no_distribution(tmp_path, monkeypatch):
    """`google` is a namespace shared by protobuf and Colab's packages: importing `google.colab`
    must not make protobuf count as loaded. Played with a namespace of our own."""
    (tmp_path / "nsmlm" / "proto").mkdir(parents=True)
    (tmp_path / "nsmlm" / "proto" / "__init__.py").write_text("")
    info = tmp_path / "fake_proto-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-proto\nVersion: 1.0\n")
    (info / "RECORD").write_text("nsmlm/proto/__init__.py,,\nfake_proto-1.0.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("nsmlm", "nsmlm.proto"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import nsmlm  # noqa: F401  (the namespace alone)

    assert colab.loaded_modules(["fake-proto"]) == {}
    import nsmlm.proto  # noqa: F401

    assert colab.loaded_modules(["fake-proto"]) == {"fake-proto": "nsmlm.proto"}


def git_and_pip(remote: str | None, returncode: int = 0):
    """A stand-in for subprocess.run answering `git ls-remote` with `remote` (None: git fails)."""
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        if command[:2] == ["git", "ls-remote"]:
            out = f"{remote}\trefs/heads/main\n" if remote else ""
            return subprocess.CompletedProcess(command, 0 if remote else 128, out, "fatal")
        return subprocess.CompletedProcess(command, returncode, "", "ERROR: could not clone")

    run.calls = calls
    return run


def installed_from(url: str, commit: str):
    return lambda: {"url": url, "vcs_info": {"vcs": "git", "commit_id": commit}}


def test_the_helpers_at_the_wanted_commit_are_not_reinstalled(on_colab, capsys):
    run = git_and_pip(COMMIT)
    url = "https://github.com/owner/repo"
    assert colab.update_helpers(SPEC, run=run, origin=installed_from(url, COMMIT)) is False
    assert run.calls == [["git", "ls-remote", url, "main"]]
    assert f"commit {COMMIT[:10]}" in capsys.readouterr().out
    # Without an answer from git, the installed copy of that repository is kept.
    assert (
        colab.update_helpers(SPEC, run=git_and_pip(None), origin=installed_from(url, COMMIT))
        is False
    )


def test_helpers_behind_the_ref_or_from_elsewhere_are_reinstalled_and_need_a_restart(on_colab):
    url = "https://github.com/owner/repo"
    for origin in (installed_from(url, COMMIT), installed_from("file:///elsewhere", NEWER), dict):
        run = git_and_pip(NEWER)
        with pytest.raises(colab.RestartRequired, match=rf"{NEWER[:10]}(.|\n)*Restart session"):
            colab.update_helpers(SPEC, run=run, origin=origin)
        install = run.calls[-1]
        assert install[-4:] == ["--quiet", "--no-deps", "--force-reinstall", SPEC]
    with pytest.raises(colab.InstallError, match="could not clone"):
        colab.update_helpers(SPEC, run=git_and_pip(NEWER, 1), origin=dict)
    with pytest.raises(ValueError, match="tools/set_repo.py"):
        colab.update_helpers("mlm-helpers", run=never, origin=never)


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


def install_line(path: Path) -> str:
    return re.search(r'"(mlm-helpers @ git\+[^"]+)"', setup_cell(path)).group(1)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_a_fresh_colab_runtime_installs_the_helpers_and_stops_with_pips_message(
    path, on_colab, monkeypatch
):
    seen = []

    def failing_pip(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: could not clone the repository")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mlm_helpers" else real_find_spec(name, *a),
    )
    with pytest.raises(RuntimeError, match="could not clone the repository"):
        exec(setup_cell(path), {})
    (command,) = seen
    assert "--no-deps" in command and command[-1] == install_line(path)


@pytest.mark.parametrize("colab_runtime", [False, True], ids=["local", "colab"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_setup_cell_hands_installed_helpers_to_prepare_and_keeps_runs_on_drive_from_04(
    path, colab_runtime, monkeypatch
):
    """Off Colab, and on Colab once the helpers are installed, the cell runs no pip itself:
    `colab.prepare` gets the install line (to reinstall only when its ref moved)."""
    from mlm_helpers import runtime

    if colab_runtime:
        monkeypatch.setitem(sys.modules, colab.COLAB_MODULE, types.ModuleType(colab.COLAB_MODULE))
    else:
        monkeypatch.delitem(sys.modules, colab.COLAB_MODULE, raising=False)
    real_run = subprocess.run

    def no_pip(command, *args, **kwargs):  # other commands (matplotlib's fc-list) may run
        assert "pip" not in command, f"the setup cell ran {command}"
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", no_pip)
    calls = []
    monkeypatch.setattr(colab, "prepare", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setattr(runtime, "setup_notebook", lambda **kwargs: calls.append(kwargs))
    exec(setup_cell(path), {})
    assert calls == [((install_line(path),), {"drive": path.name[:2] >= "04"}), {"seed": 42}]
