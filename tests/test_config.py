"""RunConfig, its two profiles and the profile choice (notebook parameters cells)."""

from __future__ import annotations

import json
import math
import sys

import pytest

from mlm_helpers import config as cfg
from mlm_helpers import runtime
from mlm_helpers.config import RunConfig, get_config, resolve_profile


def test_profiles_differ_where_they_should():
    hub, emb = cfg.hub_profile(), cfg.embedded_profile()
    assert (hub.model, hub.dataset) == ("distilbert-base-uncased", "imdb")
    assert (emb.model, emb.dataset) == ("embedded", "embedded")
    assert hub.learning_rate == 2e-5 and hub.weight_decay == 0.01 and hub.chunk_size == 128
    assert hub.eval_split not in hub.train_splits and emb.eval_split not in emb.train_splits


def test_env_variable_overrides_argument(monkeypatch, capsys):
    monkeypatch.setenv("MLM_PROFILE", "hub")
    assert resolve_profile("embedded") == "hub"
    assert "MLM_PROFILE" in capsys.readouterr().out


def test_auto_picks_embedded_without_accelerator(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "detect_accelerator", lambda: "cpu")
    monkeypatch.setattr(
        runtime, "hub_reachable", lambda timeout=2.0: pytest.fail("no probe on CPU")
    )
    assert get_config("auto").profile == "embedded"
    out = capsys.readouterr().out
    assert "auto" in out and "Override" in out


def test_auto_picks_hub_with_gpu_and_network(monkeypatch):
    monkeypatch.setattr(runtime, "detect_accelerator", lambda: "gpu")
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout=2.0: True)
    assert resolve_profile("auto", verbose=False) == "hub"
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout=2.0: False)
    assert resolve_profile("auto", verbose=False) == "embedded"


def test_hub_offline_env_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert runtime.hub_reachable() is False


def test_unknown_profile_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'gpu'.*'embedded'"):
        get_config("gpu", verbose=False)
    monkeypatch.setenv("MLM_PROFILE", "bogus")
    with pytest.raises(ValueError, match=r"\$MLM_PROFILE"):
        get_config("embedded", verbose=False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, "positive integer"),
        ("epochs", -1, "positive integer"),
        ("chunk_size", 1, "at least 2"),
        ("mlm_probability", 1.5, "between 0 and 1"),
        ("masking", "span", "token"),
        ("precision", "fp8", "mixed_float16"),
        ("warmup", 2.5, "whole number"),
        ("eval_split", "train", "held out"),
        ("learning_rate", 0, "positive"),
        ("train_chunks", 0, "None"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=rf"RunConfig\.{field}=.*{message}"):
        RunConfig().replace(**{field: value})


def test_replace_rejects_unknown_fields():
    with pytest.raises(TypeError, match="no field"):
        RunConfig().replace(learnin_rate=1e-3)


def test_save_and_load_round_trip(tmp_path):
    config = cfg.hub_profile(epochs=7, masking="whole_word")
    path = config.save(tmp_path / "run" / "config.json")
    assert json.loads(path.read_text())["epochs"] == 7
    assert RunConfig.load(path) == config


def test_relative_runs_dir_is_taken_from_project_root(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.delenv("MLM_RUNS_DIR", raising=False)  # the default, whatever the shell set
    assert RunConfig().run_dir == tmp_path / "runs" / "embedded-default"
    monkeypatch.setenv("MLM_RUNS_DIR", str(tmp_path / "drive"))
    assert RunConfig().run_dir == tmp_path / "drive" / "embedded-default"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan"])
@pytest.mark.parametrize(
    "field",
    [
        "warmup",
        "learning_rate",
        "weight_decay",
        "clip_norm",
        "adam_beta1",
        "adam_beta2",
        "adam_epsilon",
        "mlm_probability",
    ],
)
def test_numbers_must_be_finite(field, value):
    with pytest.raises(ValueError, match=rf"RunConfig\.{field}="):
        RunConfig().replace(**{field: value})


@pytest.mark.parametrize("field", ["train_splits", "fill_mask_prompts"])
def test_tuple_fields_reject_a_bare_string(field):
    with pytest.raises(ValueError, match=rf"RunConfig\.{field}='train' .*tuple"):
        RunConfig().replace(**{field: "train"})


def test_cli_reads_comma_lists_for_tuple_fields():
    from mlm_helpers.cli import parse_overrides

    assert parse_overrides(["train_splits=train,unsupervised"]) == {
        "train_splits": ("train", "unsupervised")
    }
    assert parse_overrides(["train_splits=train"]) == {"train_splits": ("train",)}
    assert parse_overrides(['train_splits=["train"]']) == {"train_splits": ("train",)}
    assert parse_overrides(["eval_split=test"]) == {"eval_split": "test"}  # not a tuple field
    config = RunConfig().replace(**parse_overrides(["train_splits=unsupervised"]))
    assert config.train_splits == ("unsupervised",)


def test_auto_on_a_colab_cpu_runtime_says_how_to_get_a_gpu(monkeypatch, capsys):
    import types

    monkeypatch.setattr(cfg.runtime, "detect_accelerator", lambda: "cpu")
    assert cfg.resolve_profile("auto") == "embedded"
    assert "Change runtime type" not in capsys.readouterr().out  # not on Colab: no menu path
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert cfg.resolve_profile("auto") == "embedded"
    out = capsys.readouterr().out
    assert "Runtime → Change runtime type → Hardware accelerator: T4 GPU → Save" in out


def test_a_config_cannot_change_after_it_is_made():
    import dataclasses

    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 0  # would skip validation if it were allowed
    with pytest.raises(TypeError):
        config.tiny_model["dim"] = 63  # the architecture too
    wider = config.replace(tiny_model={**config.tiny_model, "dim": 128})
    assert wider.tiny_model["dim"] == 128 and config.tiny_model["dim"] == 64
    assert RunConfig.from_dict(json.loads(json.dumps(wider.to_dict()))) == wider


def test_an_empty_train_splits_is_blamed_on_train_splits():
    with pytest.raises(ValueError, match=r"RunConfig\.train_splits=\(\) .*at least one split"):
        RunConfig().replace(train_splits=())


def test_one_profile_object_answers_what_a_profile_is():
    hub = cfg.PROFILES["hub"]
    assert hub.config() == cfg.hub_profile() == get_config("hub", verbose=False)
    assert hub.config().model == hub.general_model == "distilbert-base-uncased"
    embedded = cfg.profile_of("embedded")
    assert embedded.config() == RunConfig()  # RunConfig's defaults are the embedded profile
    assert embedded.config().model == embedded.general_model
    assert cfg.ClassifySettings.for_profile("hub") == hub.classify
    assert cfg.ClassifySettings.for_profile("embedded", seeds=(7,)).seeds == (7,)
    assert hub.min_gain < embedded.min_gain
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        cfg.profile_of("gpu")


def test_the_hub_probe_connects_once_per_process(monkeypatch):
    import socket

    calls = []

    def refuse(address, timeout):
        calls.append(address)
        raise OSError("offline")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    runtime._hub_answers.cache_clear()
    try:
        assert runtime.hub_reachable() is False and runtime.hub_reachable() is False
        assert calls == [runtime.HUB_HOST]
    finally:
        runtime._hub_answers.cache_clear()


def test_num_proc_field():
    """RunConfig.num_proc: None (every core) by default, a number of processes >= 1 otherwise,
    recorded in config.json, and changeable when resuming (it changes no chunk)."""
    from mlm_helpers.run_folder import config_differences

    assert RunConfig().num_proc is None
    assert RunConfig(num_proc=4).to_dict()["num_proc"] == 4
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match=r"RunConfig\.num_proc.*every core"):
            RunConfig(num_proc=bad)
    assert config_differences(RunConfig(num_proc=1).to_dict(), RunConfig(num_proc=8)) == {}
