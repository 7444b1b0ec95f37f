"""Nothing a user trained is lost or silently wrong (issue 13, the run-folder half): overwrite keeps
every earlier run and moves nothing before the new run's checks pass; resume is all or nothing
(missing or corrupt run files are refused by name, a corrupt newest checkpoint falls back to an
older one, orphan temporary checkpoints are removed); history holds each step once after a resume;
every run file gets the same mode (mlm_helpers.training, .recorder, .run_folder).

Faults are made by hand in a copy of a run folder interrupted at step 7 (checkpoints at steps 3
and 6), with the tiny model of tests/test_training.py: a few seconds per run.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import TINY_MODEL, tiny_config

from mlm_helpers import runtime
from mlm_helpers.cli import main as cli_main
from mlm_helpers.recorder import SimulatedDisconnect, interrupt_at
from mlm_helpers.run_folder import ResumeError, write_json_atomic
from mlm_helpers.runs import open_run

tf = runtime.import_tensorflow()

STOP = 7  # the interrupted run stops after step 7; its checkpoints are ckpt-3 and ckpt-6


def cut_config(runs_dir: Path, **changes):
    """`tiny_config` named "cut", on 60 reviews per split."""
    return tiny_config(runs_dir, **{"run_name": "cut", "max_reviews": 60, **changes})


@pytest.fixture(scope="module")
def chunks(embedded_tokenizer):
    from mlm_helpers.chunking import prepare_chunks

    return prepare_chunks(cut_config(Path("unused")), embedded_tokenizer)


@pytest.fixture(scope="module")
def train(embedded_tokenizer, chunks):
    """`runs.open_run` (by default with mode="train") on the module's tokenizer and chunks."""

    def run(config, mode="train", **kwargs):
        kwargs.setdefault("verbose", 0)
        return open_run(config, mode=mode, tokenizer=embedded_tokenizer, chunks=chunks, **kwargs)

    return run


@pytest.fixture(scope="module")
def straight(tmp_path_factory, train):
    """The uninterrupted run the resumed ones must match."""
    return train(cut_config(tmp_path_factory.mktemp("straight")))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, train) -> Path:
    """A run folder interrupted after step 7 (checkpoints ckpt-3 and ckpt-6): copy it, then break it."""
    config = cut_config(tmp_path_factory.mktemp("pristine"))
    with pytest.raises(SimulatedDisconnect):
        train(config, callbacks=[interrupt_at(STOP)])
    return config.run_dir


@pytest.fixture
def cut(pristine, tmp_path):
    """(config, run folder): a fresh copy of the interrupted run, to break."""
    config = cut_config(tmp_path)
    shutil.copytree(pristine, config.run_dir)
    return config, config.run_dir


def steps_in(run_dir: Path) -> list[int]:
    """history.json's step records as written (not cleaned)."""
    return [r["step"] for r in json.loads((run_dir / "history.json").read_text())["steps"]]


def assert_same_weights(a, b) -> None:
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ------------------------------------------------------------------------------------ overwrite
def previous_runs(run_dir: Path) -> list[Path]:
    return sorted(run_dir.parent.glob(f"{run_dir.name}.previous*"))


def test_two_interrupted_overwrites_keep_the_finished_run(tmp_path, train, capsys):
    config = cut_config(tmp_path, run_name="kept", epochs=1, checkpoint_every_steps=None)
    finished = train(config)
    weights = (finished.path / "model" / "tf_model.h5").read_bytes()
    for _ in range(2):
        with pytest.raises(SimulatedDisconnect):
            train(config, mode="afresh", verbose=2, callbacks=[interrupt_at(2)])
    kept = [p for p in previous_runs(config.run_dir) if (p / "model" / "tf_model.h5").is_file()]
    assert [(p / "model" / "tf_model.h5").read_bytes() for p in kept] == [weights]
    assert len(previous_runs(config.run_dir)) == 2  # the interrupted attempt is kept too
    printed = capsys.readouterr().out
    for earlier in previous_runs(config.run_dir):
        assert f"{config.run_dir} -> {earlier}" in printed  # every move is printed


def test_a_failed_overwrite_moves_nothing(tmp_path, train, embedded_tokenizer):
    from transformers import DistilBertConfig, TFDistilBertForMaskedLM

    small = TFDistilBertForMaskedLM(DistilBertConfig(vocab_size=100, **TINY_MODEL))
    small({"input_ids": np.zeros((1, 2), np.int32)})
    small.save_pretrained(tmp_path / "small-model")
    runs = tmp_path / "runs"
    config = cut_config(runs, run_name="kept", epochs=1, checkpoint_every_steps=None)
    train(config)
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    wrong = config.replace(model=str(tmp_path / "small-model"), tokenizer="embedded")
    with pytest.raises(ValueError, match=f"tokenizer has {len(embedded_tokenizer)} tokens"):
        train(wrong, mode="afresh")
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
    assert not previous_runs(config.run_dir)


# ------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize(
    "name, damage, message",
    [
        ("checkpoints/state.json", Path.unlink, "is missing"),
        ("checkpoints/state.json", truncate, "not valid JSON"),
        ("config.json", Path.unlink, "is missing"),
        ("config.json", truncate, "not valid JSON"),
        ("history.json", Path.unlink, "is missing"),
        ("history.json", truncate, "not valid JSON"),
        ("checkpoints/checkpoint", Path.unlink, "no checkpoint"),
        ("checkpoints", shutil.rmtree, "is missing"),  # state.json with it
    ],
    ids=[
        "state-missing",
        "state-cut",
        "config-missing",
        "config-cut",
        "history-missing",
        "history-cut",
        "checkpoint-index-missing",
        "checkpoints-folder-missing",
    ],
)
def test_resume_refuses_a_missing_or_corrupt_run_file(cut, train, name, damage, message):
    config, run_dir = cut
    damage(run_dir / name)
    unchanged = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(ResumeError) as refused:
        train(config, mode="resume")
    text = str(refused.value)
    assert str(run_dir / name) in text or str((run_dir / name).parent) in text, text
    assert message in text and 'mode="afresh"' in text, text  # what is wrong, and the fix
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == unchanged


@pytest.mark.parametrize("cut_files", [("ckpt-6",), ("ckpt-6", "ckpt-3")], ids=["newest", "all"])
def test_a_corrupt_newest_checkpoint_falls_back_to_an_older_one(
    cut, train, straight, capsys, cut_files
):
    config, run_dir = cut
    for name in cut_files:
        truncate(run_dir / "checkpoints" / f"{name}.data-00000-of-00001")
    if len(cut_files) == 2:  # nothing intact: refused, naming the newest checkpoint
        with pytest.raises(ResumeError, match=r'ckpt-6.* cannot be read.*mode="afresh"'):
            train(config, mode="resume")
        return
    resumed = train(config, mode="resume", verbose=2)
    printed = capsys.readouterr().out
    assert "ckpt-6" in printed and "falling back to" in printed and "ckpt-3" in printed
    assert_same_weights(resumed.model, straight.model)
    assert steps_in(run_dir) == list(range(1, 17))  # steps 4-7 were dropped, then retrained
    assert resumed.results["perplexity_before"] == straight.results["perplexity_before"]


def test_an_orphan_temporary_checkpoint_is_removed(cut, train, straight, capsys):
    config, run_dir = cut
    orphan = run_dir / "checkpoints" / "ckpt-9_temp"
    orphan.mkdir()
    (orphan / "part-00000-of-00001.index").write_bytes(b"half")
    resumed = train(config, mode="resume", verbose=2)
    assert not orphan.exists()
    assert f"removed {orphan}" in capsys.readouterr().out
    assert_same_weights(resumed.model, straight.model)


@pytest.mark.parametrize("every", [None, 3], ids=["epoch-checkpoints", "step-checkpoints"])
def test_history_holds_each_step_once_after_a_resume(tmp_path, train, every):
    config = cut_config(tmp_path, checkpoint_every_steps=every)
    with pytest.raises(SimulatedDisconnect):
        train(config, callbacks=[interrupt_at(11)])  # resumes from step 8 or 9
    assert steps_in(config.run_dir) == list(range(1, 12))
    train(config, mode="resume")
    assert steps_in(config.run_dir) == list(range(1, 17))
    epochs = json.loads((config.run_dir / "history.json").read_text())["epochs"]
    assert [r["epoch"] for r in epochs] == [1, 2]


def test_the_command_line_names_a_corrupt_run_file(tmp_path, train, capsys):
    config = cut_config(tmp_path, run_name="cli")
    with pytest.raises(SimulatedDisconnect):
        train(config, callbacks=[interrupt_at(STOP)])
    history = config.run_dir / "history.json"
    truncate(history)
    args = [
        "train",
        "--profile",
        "embedded",
        "--quiet",
        "--mode",
        "resume",
        "--runs-dir",
        str(tmp_path),
    ]
    for name, value in config.to_dict().items():
        if name not in ("runs_dir", "profile"):
            args += ["--set", f"{name}={json.dumps(value)}"]
    assert cli_main(args) == 2
    assert f"error: cannot resume {config.run_dir}: {history}" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ file mode
def expected_mode(tmp_path: Path) -> int:
    """The mode a plain `open(path, "w")` gives under the current umask."""
    probe = tmp_path / "probe.txt"
    probe.write_text("x")
    mode = stat.S_IMODE(probe.stat().st_mode)
    probe.unlink()
    return mode


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_write_json_atomic_gives_the_mode_of_a_plain_write(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_json_atomic(tmp_path / "state.json", {"step": 1})
        assert stat.S_IMODE(path.stat().st_mode) == expected_mode(tmp_path) == 0o666 & ~umask
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_every_file_of_a_run_folder_has_one_mode(straight, tmp_path):
    modes = {
        str(p.relative_to(straight.path)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in straight.path.rglob("*")
        if p.is_file()
    }
    assert {"history.json", "all_results.json", "checkpoints/state.json"} <= set(modes)
    assert set(modes.values()) == {oct(expected_mode(tmp_path))}, modes
