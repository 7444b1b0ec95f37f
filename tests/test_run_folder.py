"""Tests for mlm_helpers.run_folder: reading a run folder (`load_run`, `clean_history`, `Run`), the
JSON reads and atomic writes, and the paths inside a run folder (docs/run-folder.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers import run_folder
from mlm_helpers.config import RunConfig
from mlm_helpers.run_folder import (
    CONFIG_FILE,
    HISTORY_FILE,
    RESULTS_FILE,
    Run,
    clean_history,
    load_run,
    read_json,
    write_json_atomic,
)

STEPS = [{"step": s, "epoch": (s - 1) // 4 + 1, "loss": 9.0 - 0.5 * s} for s in range(1, 13)]
EVAL = [5.8, 4.6, 4.7]
EPOCHS = [{"epoch": e, "step": 4 * e, "eval_loss": v} for e, v in zip((1, 2, 3), EVAL, strict=True)]
RESULTS = {"perplexity_before": 3640.0, "perplexity_after": 109.95}


def write_run(folder: Path, *, results=RESULTS, name="demo") -> Path:
    """A run folder as training writes it (results=None: no all_results.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps({"run_name": name, "masking": "token"}))
    (folder / HISTORY_FILE).write_text(json.dumps({"steps": STEPS, "epochs": EPOCHS}))
    if results is not None:
        (folder / RESULTS_FILE).write_text(json.dumps(results))
    return folder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "demo")


def test_import_leaves_tensorflow_out():
    code = "import sys, mlm_helpers.run_folder; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


# ------------------------------------------------------------------------------------ load_run
def test_load_run_reads_all_three_files(run_dir: Path):
    run = load_run(run_dir)
    assert run.path == run_dir and run.name == "demo"
    assert run.config["masking"] == "token"
    assert [s["step"] for s in run.steps] == list(range(1, 13))
    assert [e["eval_loss"] for e in run.epochs] == EVAL
    assert run.results["perplexity_before"] == 3640.0
    assert load_run(run) is run  # a Run is passed through, not read again


def test_load_run_without_results_or_config(tmp_path: Path):
    folder = write_run(tmp_path / "cut", results=None)
    (folder / CONFIG_FILE).unlink()
    run = load_run(folder)
    assert run.results == {} and run.config == {}
    assert run.name == "cut"  # the folder's name when there is no config
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        run.run_config()


def test_load_run_missing_folder(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        load_run(tmp_path / "nope")
    assert "nope" in str(err.value) and "notebook 04" in str(err.value)


def test_load_run_file_instead_of_folder(tmp_path: Path):
    (tmp_path / HISTORY_FILE).write_text("{}")
    with pytest.raises(NotADirectoryError, match="run folder"):
        load_run(tmp_path / HISTORY_FILE)


def test_load_run_missing_history(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        load_run(tmp_path / "empty")
    message = str(err.value)
    assert "history.json" in message and "notebook 04" in message
    assert "python -m mlm_helpers train" in message


@pytest.mark.parametrize("filename", [HISTORY_FILE, RESULTS_FILE, CONFIG_FILE])
def test_load_run_corrupt_json_names_the_file(run_dir: Path, filename: str):
    (run_dir / filename).write_text('{"steps": [{"step": 1, "lo')  # cut off mid-write
    with pytest.raises(ValueError, match="not valid JSON") as err:
        load_run(run_dir)
    assert filename in str(err.value)


@pytest.mark.parametrize("filename", [RESULTS_FILE, CONFIG_FILE])
def test_load_run_refuses_a_file_that_is_not_an_object(run_dir: Path, filename: str):
    (run_dir / filename).write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object") as err:
        load_run(run_dir)
    assert filename in str(err.value)


@pytest.mark.parametrize(
    "history, fragment",
    [
        ([], "JSON object"),
        ({"steps": {"step": 1}}, "must be a list"),
        ({"steps": [{"loss": 1.0}]}, "steps[0]"),
        ({"epochs": [{"epoch": 1.5}]}, "epochs[0]"),
        ({"steps": [{"step": True}]}, "steps[0]"),
    ],
)
def test_load_run_malformed_history(tmp_path: Path, history, fragment: str):
    (tmp_path / HISTORY_FILE).write_text(json.dumps(history))
    with pytest.raises(ValueError) as err:
        load_run(tmp_path)
    assert fragment in str(err.value) and "history.json" in str(err.value)


def test_missing_keys_mean_empty_history(tmp_path: Path):
    (tmp_path / HISTORY_FILE).write_text("{}")
    run = load_run(tmp_path)
    assert run.steps == [] and run.epochs == []


def test_run_dataclass_defaults_and_paths():
    run = Run(path=Path("runs/x"))
    assert run.name == "x" and run.steps == [] and run.epochs == []
    assert run.model_dir == run_folder.model_dir("runs/x") == Path("runs/x/model")
    assert run_folder.state_path("runs/x") == Path("runs/x/checkpoints/state.json")


# ------------------------------------------------------------------------------------ history
def test_clean_history_last_record_wins_for_epochs_too():
    history = {
        "epochs": [
            {"epoch": 2, "eval_loss": 5.0},
            {"epoch": 1, "eval_loss": 6.0},
            {"epoch": 2, "eval_loss": 4.5},
        ]
    }
    cleaned = clean_history(history)
    assert cleaned["epochs"] == [{"epoch": 1, "eval_loss": 6.0}, {"epoch": 2, "eval_loss": 4.5}]
    assert clean_history(cleaned) == cleaned


step_records = st.lists(
    st.tuples(st.integers(1, 40), st.floats(0, 20, allow_nan=False)), max_size=60
)


@settings(max_examples=60, deadline=None)
@given(step_records)
def test_clean_history_sorted_unique_last_wins(pairs):
    steps = [{"step": s, "loss": v} for s, v in pairs]
    cleaned = clean_history({"steps": steps})["steps"]
    got = [r["step"] for r in cleaned]
    assert got == sorted(set(got)) == sorted({s for s, _ in pairs})
    last = dict(pairs)  # dict() keeps the last value of each key
    assert all(r["loss"] == last[r["step"]] for r in cleaned)


# ------------------------------------------------------------------------------------ JSON
@pytest.mark.parametrize(
    "bad, error",
    [({"loss": float("nan")}, ValueError), ({"loss": object()}, TypeError)],
    ids=["nan", "not-serializable"],
)
def test_write_json_atomic_keeps_the_old_file_when_the_dump_fails(tmp_path: Path, bad, error):
    path = tmp_path / HISTORY_FILE
    old = {"steps": [{"step": 1, "loss": 8.0}] * 200, "epochs": []}
    write_json_atomic(path, old)
    # the bad value comes after enough good data that a direct write would already have
    # truncated the file and written part of the new content
    new = {"steps": [{"step": s, "loss": 1.0} for s in range(500)] + [bad]}
    with pytest.raises(error):
        write_json_atomic(path, new)
    assert read_json(path) == old
    assert [p.name for p in tmp_path.iterdir()] == [HISTORY_FILE]  # no temporary file left


def test_write_json_atomic_replaces_and_creates_folders(tmp_path: Path):
    path = tmp_path / "checkpoints" / "state.json"
    assert write_json_atomic(path, {"global_step": 1}) == path
    write_json_atomic(path, {"global_step": 2})
    assert read_json(path) == {"global_step": 2}


def test_read_json_errors_name_the_file(tmp_path: Path):
    path = tmp_path / "runs" / "demo" / RESULTS_FILE
    assert read_json(path, required=False) is None
    with pytest.raises(FileNotFoundError) as missing:
        read_json(path)
    assert str(path) in str(missing.value) and "notebook 04" in str(missing.value)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"perplexity_after": 60.3, "fill')  # cut off
    with pytest.raises(ValueError) as corrupt:
        read_json(path, required=False)  # present but corrupt: an error even when optional
    assert str(path) in str(corrupt.value) and "not valid JSON" in str(corrupt.value)
    path.write_bytes(b"\xff\xfe not text")
    with pytest.raises(ValueError, match="not valid JSON") as undecodable:
        read_json(path)
    assert str(path) in str(undecodable.value)


# ------------------------------------------------------------------------------------ opening
def test_move_aside_never_reuses_a_name(tmp_path: Path):
    """Two overwrites within one second keep both earlier runs (the old code replaced one)."""
    first = run_folder.move_aside(write_run(tmp_path / "demo", name="first"))
    second = run_folder.move_aside(write_run(tmp_path / "demo", name="second"))
    assert first != second and not (tmp_path / "demo").exists()
    assert first.name.startswith("demo.previous-") and second.name.startswith(first.name)
    assert [load_run(p).name for p in (first, second)] == ["first", "second"]


def test_remove_orphans_removes_only_what_a_killed_write_leaves(tmp_path: Path):
    run = write_run(tmp_path / "demo")
    (run / "checkpoints" / "ckpt-9_temp").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-6.index").write_bytes(b"kept")
    (run / ".history.json.3f2a.tmp").write_text("{")
    removed = run_folder.remove_orphans(run)
    assert sorted(p.name for p in removed) == [".history.json.3f2a.tmp", "ckpt-9_temp"]
    left = {p.name for p in run.rglob("*")}
    assert left == {CONFIG_FILE, HISTORY_FILE, RESULTS_FILE, "checkpoints", "ckpt-6.index"}


# ------------------------------------------------------------------------------------ state.json
BEFORE = {"eval_loss": 8.2, "perplexity": 3640.0, "fill_mask": {}}


def test_run_state_is_written_as_documented_and_read_back(tmp_path: Path):
    state = run_folder.RunState("float32", 94, 282, 28, BEFORE)
    saved = state.at_checkpoint(188, "ckpt-188", 50.1).write(tmp_path)
    on_disk = read_json(run_folder.state_path(tmp_path))
    assert on_disk == {  # docs/run-folder.md's example; unset fields (previous_run) left out
        "precision": "float32",
        "steps_per_epoch": 94,
        "total_steps": 282,
        "warmup_steps": 28,
        "before": BEFORE,
        "global_step": 188,
        "epochs_completed": 2,
        "batches_into_epoch": 0,
        "checkpoint": "ckpt-188",
        "train_seconds": 50.1,
        "status": "running",
    }
    assert run_folder.RunState.from_dict(on_disk) == saved
    finished = saved.write(tmp_path, status="finished")
    assert read_json(run_folder.state_path(tmp_path))["status"] == "finished"
    assert saved.status == "running" and finished.status == "finished"  # values, not shared state


def test_an_incomplete_state_is_refused_naming_the_file(tmp_path: Path):
    config = RunConfig(runs_dir=str(tmp_path), run_name="demo")
    write_run(config.run_dir)
    config.save(config.run_dir / CONFIG_FILE)
    write_json_atomic(run_folder.state_path(config.run_dir), {"before": BEFORE})
    with pytest.raises(run_folder.ResumeError, match="state.json is incomplete .*precision"):
        run_folder.resume_files(config)
    assert run_folder.Run(config.run_dir).steps_per_epoch is None
    write_json_atomic(run_folder.state_path(config.run_dir), {"steps_per_epoch": 94})
    assert run_folder.Run(config.run_dir).steps_per_epoch == 94  # before all_results.json exists
    assert run_folder.Run(config.run_dir, results={"steps_per_epoch": 90}).steps_per_epoch == 90
