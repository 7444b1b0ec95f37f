"""Notebook 04 never repeats or loses work by accident (`train_or_resume`), and notebooks 05-07 open
a run without retraining it unless asked (`open_run`): from the runs folder, a Hub folder, or the Hub
id of a model notebook 06 published."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from tiny_runs import tiny_config

from mlm_helpers import chunking, model_card, run_folder
from mlm_helpers.hub_folder import upload_listing
from mlm_helpers.training import (
    RunNotFound,
    SimulatedDisconnect,
    interrupt_at,
    open_run,
    train_or_resume,
)


@pytest.fixture(scope="module")
def chunks(embedded_tokenizer):
    return chunking.prepare_chunks(tiny_config("unused"), embedded_tokenizer)


def stamp(run_dir):
    return (run_dir / run_folder.RESULTS_FILE).stat().st_mtime_ns


def test_train_or_resume_trains_then_reopens_resumes_and_starts_afresh_only_when_asked(
    tmp_path, embedded_tokenizer, chunks, capsys
):
    config = tiny_config(tmp_path, run_name="nb04", epochs=1)
    common = dict(tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    # 1. An interrupted run (a disconnect at step 4 of 8) ...
    with pytest.raises(SimulatedDisconnect):
        train_or_resume(config, callbacks=[interrupt_at(4)], **common)
    assert not run_folder.is_finished(config.run_dir)
    # 2. ... is resumed by the same call, not started again: steps 1-4 are not trained twice.
    resumed = train_or_resume(config, **common)
    steps = [record["step"] for record in resumed.history["steps"]]
    assert steps == sorted(set(steps)) and resumed.results["global_step"] == 8
    assert not list(tmp_path.glob("nb04.previous-*"))
    finished = stamp(config.run_dir)
    # 3. A finished run is reopened: same weights, nothing trained, and it says so.
    capsys.readouterr()
    again = train_or_resume(config, tokenizer=embedded_tokenizer, chunks=chunks)
    assert stamp(config.run_dir) == finished
    assert "already trained (8 steps)" in capsys.readouterr().out
    for a, b in zip(resumed.model.weights, again.model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert again.results == resumed.results and again.history == resumed.history
    # 4. Another config under the same name is refused, naming the field ...
    with pytest.raises(FileExistsError, match="learning_rate: 0.005 -> 0.001"):
        train_or_resume(config.replace(learning_rate=1e-3), **common)
    # 5. ... and starting afresh is explicit and keeps the finished run.
    weights = (config.run_dir / "model" / "tf_model.h5").read_bytes()
    train_or_resume(config, start_afresh=True, **common)
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
    run = open_run(
        config, train_if_missing=True, tokenizer=embedded_tokenizer, chunks=chunks, verbose=0
    )
    assert "Training 'nb05' here, as asked" in capsys.readouterr().out
    assert run.results["global_step"] == 8 and run.model_dir == config.run_dir / "model"
    finished = stamp(config.run_dir)
    assert open_run(config, train_if_missing=True).results == run.results
    assert stamp(config.run_dir) == finished  # finished: nothing trained again


def test_a_published_model_opens_as_its_run_from_a_folder_or_a_hub_id(
    tmp_path, embedded_tokenizer, chunks, monkeypatch
):
    config = tiny_config(tmp_path / "runs", run_name="pub", epochs=1, checkpoint_every_steps=None)
    train_or_resume(config, tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
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
    assert from_hub.model_dir == hub_folder
    # Notebook 07 takes its adapted encoder from the opened run, wherever the model is.
    from mlm_helpers import classify

    adapted_from_embedded = dataclasses.replace(
        from_hub, config={**from_hub.config, "model": "embedded"}
    )
    assert classify.encoder_sources(adapted_from_embedded)["adapted"] == str(hub_folder)

    # The card can be written again from the opened run (the records are not copied onto themselves).
    model_card.write_model_card(from_hub, hub_folder, repo_id="someone/pub")
    saved = json.loads((hub_folder / "run" / run_folder.HISTORY_FILE).read_text())
    assert run_folder.clean_history(saved) == trained.history


def test_a_model_without_records_or_a_missing_folder_gives_a_clear_error(tmp_path, monkeypatch):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no run records .*notebook 06"):
        run_folder.open_published(bare)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_folder.open_published(str(tmp_path / "nowhere"))

    import huggingface_hub

    def offline(repo_id, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(FileNotFoundError, match="could not download the model 'a/b'.*connect"):
        run_folder.open_published("a/b")


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
