"""Tests for mlm_helpers.hub_folder: saving and loading the Hub-format folder, its checks, and the
upload listing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hub_runs import TEXTS, loaded_after

from mlm_helpers.hub_folder import (
    load_from_folder,
    load_model,
    missing_hub_files,
    save_for_hub,
    upload_listing,
)
from mlm_helpers.paths import EMBEDDED_MODEL_DIR


def test_round_trip_gives_identical_logits(tiny_model, tokenizer, tmp_path):
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors="tf")
    before = tiny_model(batch).logits.numpy()
    folder = save_for_hub(tiny_model, tokenizer, tmp_path / "hub")
    model, loaded_tokenizer = load_from_folder(folder)
    again = loaded_tokenizer(TEXTS[:3], padding=True, return_tensors="tf")
    np.testing.assert_array_equal(again["input_ids"].numpy(), batch["input_ids"].numpy())
    np.testing.assert_array_equal(model(again).logits.numpy(), before)
    assert type(model).__name__ == "TFDistilBertForMaskedLM"


def test_loading_reads_the_tf_weights_not_a_safetensors_file_beside_them(
    tiny_model, tokenizer, saved_model_dir, tmp_path
):
    """The Hub folder also holds a PyTorch-format model.safetensors (issue 23); transformers 4.57's
    TF loader would prefer it and fail. An unreadable one proves it is never opened."""
    folder = shutil.copytree(saved_model_dir, tmp_path / "model")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="tf")
    model, _ = load_from_folder(folder)
    np.testing.assert_array_equal(model(batch).logits.numpy(), tiny_model(batch).logits.numpy())


def test_load_model_resolves_names_and_can_drop_the_head():
    shipped = json.loads((EMBEDDED_MODEL_DIR / "config.json").read_text())
    model = load_model("embedded")
    assert type(model).__name__ == "TFDistilBertForMaskedLM"
    assert model.config.vocab_size == shipped["vocab_size"]
    encoder = load_model(EMBEDDED_MODEL_DIR, encoder_only=True)
    assert type(encoder).__name__ == "TFDistilBertModel"


def test_saved_folder_has_everything_but_the_card(saved_model_dir):
    assert missing_hub_files(saved_model_dir) == ["README.md (model card)"]
    config = json.loads((saved_model_dir / "config.json").read_text())
    assert config["architectures"] == ["DistilBertForMaskedLM"]  # the Hub's fill-mask widget


def test_a_folder_without_the_pytorch_weights_is_incomplete(ready_folder):
    assert missing_hub_files(ready_folder) == []
    assert (ready_folder / "model.safetensors").is_file()  # save_for_hub wrote it
    (ready_folder / "model.safetensors").unlink()  # what save_for_hub wrote before issue 23
    assert missing_hub_files(ready_folder) == ["model.safetensors (PyTorch weights)"]
    (ready_folder / "vocab.txt").unlink()  # tokenizer.json alone still holds the vocabulary
    assert missing_hub_files(ready_folder) == ["model.safetensors (PyTorch weights)"]
    (ready_folder / "tokenizer.json").write_bytes(b"")  # an empty file counts as missing
    assert "tokenizer.json or vocab.txt (tokenizer vocabulary)" in missing_hub_files(ready_folder)


def test_load_without_config_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_for_hub"):
        load_from_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_upload_listing_skips_git_and_cache(ready_folder):
    (ready_folder / ".git").mkdir()
    (ready_folder / ".git" / "HEAD").write_text("ref")
    (ready_folder / ".cache" / "huggingface").mkdir(parents=True)
    (ready_folder / ".cache" / "huggingface" / "x.lock").write_text("")
    names = [name for name, _ in upload_listing(ready_folder)]
    assert names and not any(n.startswith((".git", ".cache")) for n in names)
    assert "README.md" in names and "tf_model.h5" in names


def test_the_checks_and_the_listing_leave_tensorflow_out(ready_folder):
    """The module docstring's claim: only the loaders import TensorFlow."""
    code = (
        "from mlm_helpers import hub_folder\n"
        "hub_folder.check_hub_folder(sys.argv[1])\n"
        "hub_folder.upload_listing(sys.argv[1])\n"
    )
    assert loaded_after(code, ready_folder) == []
    loading = "from mlm_helpers import hub_folder\nhub_folder.load_model('embedded')\n"
    assert loaded_after(loading) == ["tensorflow", "transformers"]  # control: the loaders do
