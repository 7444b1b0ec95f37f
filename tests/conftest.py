"""Fixtures shared by the unit tests: small, fast, built from the embedded default."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedded_tokenizer():
    """The shipped WordPiece tokenizer of the embedded profile."""
    from mlm_helpers.data import load_tokenizer

    return load_tokenizer("embedded")


@pytest.fixture(autouse=True)
def _no_profile_env(monkeypatch):
    """Tests choose profiles explicitly; a developer's MLM_PROFILE must not leak in."""
    monkeypatch.delenv("MLM_PROFILE", raising=False)
