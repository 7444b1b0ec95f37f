"""Fixtures shared by the unit tests: small, fast, built from the embedded default."""

from __future__ import annotations

import pytest

# The Hub-folder fixtures (tokenizer, saved_model_dir, hub_run, ready_folder) of test_hub_folder,
# test_model_card and test_publishing.
pytest_plugins = ("hub_runs",)


@pytest.fixture(scope="session")
def embedded_tokenizer():
    """The shipped WordPiece tokenizer of the embedded profile."""
    from mlm_helpers.data import load_tokenizer

    return load_tokenizer("embedded")


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch):
    """Tests choose profiles explicitly; a developer's MLM_PROFILE must not leak in."""
    monkeypatch.delenv("MLM_PROFILE", raising=False)


@pytest.fixture(scope="session")
def make_tiny_mlm():
    """A factory of tiny, seeded TFDistilBertForMaskedLM models (width 32) with built weights."""

    def make(tokenizer, *, n_layers: int = 1, seed: int = 0, **config_overrides):
        import numpy as np

        from mlm_helpers import runtime

        runtime.seed_everything(seed, tensorflow=True)
        from transformers import DistilBertConfig, TFDistilBertForMaskedLM

        config = DistilBertConfig(
            vocab_size=len(tokenizer),
            n_layers=n_layers,
            dim=32,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=64,
            pad_token_id=tokenizer.pad_token_id,
            **config_overrides,
        )
        model = TFDistilBertForMaskedLM(config)
        model({"input_ids": np.zeros((1, 2), np.int32)})  # build the weights
        return model

    return make
