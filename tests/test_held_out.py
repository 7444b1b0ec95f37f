"""Held out means disjoint in content: no evaluation review's text occurs in a training split
(`data.held_out_overlap`, `data.hold_out`, used by `chunking.prepare_chunks` and notebook 01)."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest

from mlm_helpers import data
from mlm_helpers.chunking import chunk_tokens, prepare_chunks, tokenize_reviews
from mlm_helpers.config import embedded_profile
from mlm_helpers.data import DataError


def as_rows(chunks) -> set[tuple[int, ...]]:
    return {tuple(row) for row in np.asarray(chunks.with_format("numpy")[:]["input_ids"])}


@pytest.fixture(scope="module")
def embedded_reviews():
    return data.load_reviews("embedded")


@pytest.fixture(scope="module")
def leaky(embedded_reviews):
    """60 training reviews, and a test split of 20 of them (one with extra <br />) + 40 fresh ones."""
    train = embedded_reviews["train"].select(range(60))
    seen = set(embedded_reviews["train"]["text"]) | set(embedded_reviews["unsupervised"]["text"])
    fresh = embedded_reviews["test"].filter(lambda r: r["text"] not in seen).select(range(40))
    copied = train.select(range(20)).map(
        lambda r, i: {"text": r["text"] + ("<br /><br />" if i == 0 else "")}, with_indices=True
    )
    test = datasets.concatenate_datasets([copied, fresh])
    return datasets.DatasetDict({"train": train, "test": test}), fresh


def test_embedded_corpus_has_no_test_review_in_training(embedded_reviews):
    # The generator draws a review again until it is new (`tools/embedded/reviews.py`): no test row
    # occurs in train or unsupervised, and no row of one training split in the other.
    assert data.held_out_overlap(embedded_reviews, ("train", "unsupervised"), "test") == []
    assert data.held_out_overlap(embedded_reviews, ("train",), "unsupervised") == []
    table = data.describe_corpus(embedded_reviews, train_splits=("train", "unsupervised"))
    assert table["duplicate_rows"].tolist() == [0, 0, 0] and table.loc["test", "in_training"] == 0


def test_overlap_compares_cleaned_text(leaky):
    reviews, _ = leaky
    assert data.held_out_overlap(reviews, ("train",), "test") == list(range(20))


def test_overlapping_reviews_are_dropped_from_eval_and_reported(
    leaky, embedded_tokenizer, capsys, monkeypatch
):
    reviews, fresh = leaky
    monkeypatch.setattr(data, "_NOTICES_SHOWN", set(), raising=False)  # as in a fresh process
    config = embedded_profile(
        train_splits=("train",), chunk_size=32, train_chunks=None, eval_chunks=None
    )
    prepared = prepare_chunks(config, embedded_tokenizer, reviews)
    captured = capsys.readouterr()
    # On stdout (stderr shows red in Jupyter), and once per process for the same drop.
    assert captured.out.count("dropped 20 of the 60 'test' reviews") == 1 and not captured.err
    data.hold_out(reviews, config)
    assert "dropped" not in capsys.readouterr().out
    expected = chunk_tokens(tokenize_reviews(fresh, embedded_tokenizer), 32)
    assert as_rows(prepared["eval"]) == as_rows(expected)
    assert not as_rows(prepared["eval"]) & as_rows(prepared["train"])


def test_refuse_names_the_count_and_the_fix(leaky, embedded_tokenizer):
    reviews, _ = leaky
    config = embedded_profile(train_splits=("train",), chunk_size=32, eval_overlap="refuse")
    with pytest.raises(DataError, match=r"20 of the 60 'test' reviews.*eval_overlap='drop'"):
        prepare_chunks(config, embedded_tokenizer, reviews)
    with pytest.raises(ValueError, match=r"RunConfig\.eval_overlap='keep'"):
        embedded_profile(eval_overlap="keep")


def test_same_file_for_train_and_test_is_refused(tmp_path, embedded_reviews, embedded_tokenizer):
    path = tmp_path / "reviews.jsonl"
    rows = embedded_reviews["train"].select(range(30))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = embedded_profile(
        dataset={"train": str(path), "test": str(path)}, train_splits=("train",), chunk_size=32
    )
    with pytest.raises(DataError, match=r"all 30 'test' reviews also occur in .*'train'"):
        prepare_chunks(config, embedded_tokenizer)
