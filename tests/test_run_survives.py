"""Notebook 04 never repeats or loses work by accident (`runs.open_run(mode="auto")`), and notebooks
05-07 open a run without retraining it unless asked (`open_run`'s default, mode="reopen"): from the
runs folder, a Hub folder, or the Hub id of a model notebook 06 published (copied out of the Hub
cache)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import tiny_config

from mlm_helpers import chunking, model_card, run_folder
from mlm_helpers.hub_folder import upload_listing
from mlm_helpers.recorder import SimulatedDisconnect, interrupt_at
from mlm_helpers.runs import ModelMissing, RunNotFound, open_run


@pytest.fixture(scope="module")
def chunks(embedded_tokenizer):
    return chunking.prepare_chunks(tiny_config("unused"), embedded_tokenizer)


def stamp(run_dir):
    return (run_dir / run_folder.RESULTS_FILE).stat().st_mtime_ns


def test_auto_mode_trains_then_reopens_resumes_and_starts_afresh_only_when_asked(
    tmp_path, embedded_tokenizer, chunks, capsys
):
    config = tiny_config(tmp_path, run_name="nb04", epochs=1)
    common = dict(tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    # 1. An interrupted run (a disconnect at step 4 of 8) ...
    with pytest.raises(SimulatedDisconnect):
        open_run(config, mode="auto", callbacks=[interrupt_at(4)], **common)
    assert not run_folder.is_finished(config.run_dir)
    # 2. ... is resumed by the same call, not started again: steps 1-4 are not trained twice.
    resumed = open_run(config, mode="auto", **common)
    steps = [record["step"] for record in resumed.history["steps"]]
    assert steps == sorted(set(steps)) and resumed.results["global_step"] == 8
    assert not list(tmp_path.glob("nb04.previous-*"))
    finished = stamp(config.run_dir)
    # 3. A finished run is reopened: same weights, nothing trained, and it says so.
    capsys.readouterr()
    again = open_run(config, mode="auto", tokenizer=embedded_tokenizer, chunks=chunks)
    assert stamp(config.run_dir) == finished
    assert "already trained (8 steps)" in capsys.readouterr().out
    for a, b in zip(resumed.model.weights, again.model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert again.results == resumed.results and again.history == resumed.history
    # 4. Another config under the same name is refused, naming the field ...
    with pytest.raises(FileExistsError, match="learning_rate: saved 0.005, now 0.001"):
        open_run(config.replace(learning_rate=1e-3), mode="auto", **common)
    # 5. ... and starting afresh is explicit and keeps the finished run.
    weights = (config.run_dir / "model" / "tf_model.h5").read_bytes()
    open_run(config, mode="afresh", **common)
    [previous] = tmp_path.glob("nb04.previous-*")
    assert (previous / "model" / "tf_model.h5").read_bytes() == weights


def test_open_run_does_not_train_unless_asked_and_says_what_training_costs(
    tmp_path, embedded_tokenizer, chunks, capsys
):
    config = tiny_config(tmp_path, run_name="nb05", epochs=1, checkpoint_every_steps=None)
    with pytest.raises(RunNotFound, match=r"Run notebook 04 first(.|\n)*TRAIN_IF_MISSING") as error:
        open_run(config)
    assert "about" in str(error.value) and "CPU" in str(error.value)  # the cost, on this profile
    assert not config.run_dir.exists()  # nothing was created
    with pytest.raises(RunNotFound, match="a full training run"):  # steps unknown before the data
        open_run(config.replace(train_chunks=None))
    run = open_run(config, mode="auto", tokenizer=embedded_tokenizer, chunks=chunks, verbose=2)
    assert "Training 'nb05' here, as asked" in capsys.readouterr().out
    assert run.results["global_step"] == 8 and run.model_dir == config.run_dir / "model"
    finished = stamp(config.run_dir)
    assert open_run(config, mode="auto").results == run.results
    assert stamp(config.run_dir) == finished  # finished: nothing trained again


def test_a_published_model_opens_as_its_run_from_a_folder_or_a_hub_id(
    tmp_path, embedded_tokenizer, chunks, monkeypatch
):
    config = tiny_config(tmp_path / "runs", run_name="pub", epochs=1, checkpoint_every_steps=None)
    open_run(config, mode="auto", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    trained = run_folder.load_run(config.run_dir)
    # Notebook 06 writes the card and, with it, the run's records into the Hub folder.
    model_card.write_model_card(config.run_dir, repo_id="someone/pub")
    hub_folder = tmp_path / "downloaded"
    shutil.copytree(config.run_dir / "model", hub_folder)  # what the Hub would hold
    listing = [name for name, _ in upload_listing(hub_folder)]
    assert {f"run/{name}" for name in run_folder.RECORD_FILES} <= set(listing)

    from_folder = open_run(config, str(hub_folder))
    assert from_folder.model_dir == hub_folder
    assert (from_folder.history, from_folder.results) == (trained.history, trained.results)
    assert from_folder.run_config() == config

    # A Hub id goes through huggingface_hub's snapshot_download (offline here: faked).
    import huggingface_hub

    asked = []

    def snapshot_download(repo_id, **kwargs):
        asked.append(repo_id)
        return str(hub_folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    from_hub = open_run(config, "someone/pub")
    assert asked == ["someone/pub"] and from_hub.results == trained.results
    assert from_hub.model_dir.parent == config.run_dir.parent / "hub"  # a copy, in the runs folder
    assert sorted(p.name for p in from_hub.model_dir.iterdir()) == sorted(
        p.name for p in hub_folder.iterdir()
    )
    # Notebook 07 takes its adapted encoder from the opened run, wherever the model is.
    from mlm_helpers import classify

    adapted_from_embedded = dataclasses.replace(
        from_hub, config={**from_hub.config, "model": "embedded"}
    )
    assert classify.encoder_sources(adapted_from_embedded)["adapted"] == str(from_hub.model_dir)

    # The card can be written again from the opened run (the records are not copied onto themselves).
    model_card.write_model_card(from_hub, from_hub.model_dir, repo_id="someone/pub")
    saved = json.loads((from_hub.model_dir / "run" / run_folder.HISTORY_FILE).read_text())
    assert run_folder.clean_history(saved) == trained.history


def test_a_model_without_records_or_a_missing_folder_gives_a_clear_error(tmp_path, monkeypatch):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no run records .*notebook 06"):
        run_folder.open_folder(bare)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_run(tiny_config(tmp_path), str(tmp_path / "nowhere"))

    import huggingface_hub

    def offline(repo_id, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(FileNotFoundError, match="could not download the model 'a/b'.*connect"):
        open_run(tiny_config(tmp_path), "a/b")


def fake_hub_snapshot(cache: Path, files: dict[str, str], revision: str = "0123abcd" * 5) -> Path:
    """The layout huggingface_hub's `snapshot_download` builds: the files in blobs/<sha256>, and
    snapshots/<revision>/<file> a relative symlink to ../../blobs/<sha256>."""
    repo = cache / "models--someone--pub"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / revision
    for name, text in files.items():
        digest = hashlib.sha256(text.encode()).hexdigest()
        (repo / "blobs" / digest).write_text(text)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (name.count("/") + 2)) / "blobs" / digest)
    return snapshot


def test_writing_to_a_model_opened_by_hub_id_leaves_the_hub_cache_alone(tmp_path, monkeypatch):
    """Defect 1: the opened run was the cache's snapshot, so the model card (written with a plain
    open, as ModelCard.save does) went through the symlink into the blob, and classification.json
    into the snapshot."""
    import huggingface_hub

    history = json.dumps({"steps": [], "epochs": []})
    files = {"config.json": "{}", "README.md": "card v1", "run/history.json": history}
    cache = tmp_path / "hub-cache"
    snapshot = fake_hub_snapshot(cache, files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(snapshot))
    blobs = {path: path.read_bytes() for path in (snapshot.parents[1] / "blobs").iterdir()}
    run = open_run(tiny_config(tmp_path / "runs"), "someone/pub")
    (run.model_dir / "README.md").write_text("card v2")  # notebook 06's model card
    run_folder.write_json_atomic(run.path / run_folder.CLASSIFICATION_FILE, {"runs": []})  # 07
    assert {path: path.read_bytes() for path in blobs} == blobs
    assert not list(cache.rglob(run_folder.CLASSIFICATION_FILE))
    assert cache not in run.model_dir.resolve().parents and not run.model_dir.is_symlink()
    assert (run.model_dir / "README.md").read_text() == "card v2"
    # Opened again (the same revision), it is the same local copy, with what was written kept.
    assert open_run(tiny_config(tmp_path / "runs"), "someone/pub").model_dir == run.model_dir
    assert (run.model_dir / "README.md").read_text() == "card v2"


def test_a_fresh_series_moves_the_profiles_runs_aside_and_nothing_else(tmp_path, monkeypatch):
    from tools.run_series import move_runs_aside

    monkeypatch.setenv("MLM_RUNS_DIR", str(tmp_path))
    for name in ("embedded-default", "embedded-default-whole-word", "another-run"):
        (tmp_path / name).mkdir()
        (tmp_path / name / run_folder.HISTORY_FILE).write_text("{}")
    (tmp_path / "embedded-default.previous-20260101T000000Z").mkdir()
    (tmp_path / "embedded-default-empty").mkdir()  # holds no run
    moved = move_runs_aside("embedded")
    assert [line.split(" -> ")[0] for line in moved] == [
        "moved aside: embedded-default",
        "moved aside: embedded-default-whole-word",
    ]
    left = sorted(p.name for p in tmp_path.iterdir() if ".previous-" not in p.name)
    assert left == ["another-run", "embedded-default-empty"]
    assert len(list(tmp_path.glob("embedded-default*.previous-*"))) == 3


def test_a_finished_run_whose_model_was_lost_stays_recoverable_and_is_resaved_on_request(
    tmp_path, embedded_tokenizer, chunks
):
    """Why: `is_finished` only checked that model/ is a folder, and `write_model_card` recreated it
    holding only README.md, so a recoverable run (model deleted, checkpoint intact) became a stuck
    one: reopening it failed with "holds no config.json"."""
    config = tiny_config(tmp_path, run_name="lost", epochs=1)
    common = dict(tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    trained = open_run(config, mode="train", **common)
    weights = [w.numpy() for w in trained.model.weights]
    model_dir, results = config.run_dir / "model", config.run_dir / run_folder.RESULTS_FILE
    recorded = results.read_bytes()
    shutil.rmtree(model_dir)
    # Writing the card does not hide the loss: it refuses, writing nothing, and names the fix.
    with pytest.raises(FileNotFoundError, match=r"does not exist.*mode='resave'"):
        model_card.write_model_card(config.run_dir, repo_id="someone/lost")
    assert not model_dir.exists()
    model_dir.mkdir()  # a folder holding only a card (what the card used to leave) is no model
    (model_dir / "README.md").write_text("my notes on this model\n")
    assert not run_folder.is_finished(config.run_dir)
    for mode in ("auto", "reopen", "resume"):
        with pytest.raises(ModelMissing, match=r"lacks config.json.*--mode resave"):
            open_run(config, mode=mode, **common)
    resaved = open_run(config, mode="resave", **common)
    assert run_folder.is_finished(config.run_dir) and "nothing was trained" in resaved.notices[-1]
    for a, b in zip(weights, resaved.model.weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    assert results.read_bytes() == recorded  # the records are kept as they were
    assert (model_dir / "README.md").read_text() == "my notes on this model\n"
    reopened = open_run(config)
    for a, b in zip(weights, reopened.model.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    # Re-saving from a checkpoint older than the run's end would be another model: refused.
    (model_dir / "tf_model.h5").write_bytes(b"cut off")
    assert "cannot be read" in run_folder.model_problem(model_dir)
    for part in (config.run_dir / "checkpoints").glob("ckpt-8.*"):
        part.unlink()
    with pytest.raises(
        run_folder.ResumeError, match="checkpoint is of step 6, but the run finished"
    ):
        open_run(config, mode="resave", **common)
    assert (model_dir / "tf_model.h5").read_bytes() == b"cut off"  # nothing changed


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda m: shutil.rmtree(m), "does not exist"),
        (lambda m: (m / "tf_model.h5").unlink(), "lacks tf_model.h5"),
        (lambda m: (m / "config.json").write_text("{}"), "not a model configuration"),
        (
            lambda m: (m / "tf_model.h5").write_bytes((m / "tf_model.h5").read_bytes()[:4096]),
            "cannot be read",
        ),
    ],
    ids=["no-folder", "no-weights", "no-model-type", "cut-off-weights"],
)
def test_model_problem_names_what_makes_a_model_folder_unloadable(
    tmp_path, saved_model_dir, damage, problem
):
    folder = shutil.copytree(saved_model_dir, tmp_path / "model")
    assert run_folder.model_problem(folder) is None
    damage(folder)
    assert problem in run_folder.model_problem(folder)
