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


# ----------------------------------------------------------------------------- bounded memory
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_WORDS = ("a", "film", "b", "<br />", "  ", "plot")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    train=st.lists(st.lists(st.sampled_from(_WORDS), max_size=4).map(" ".join), max_size=30),
    held=st.lists(st.lists(st.sampled_from(_WORDS), max_size=4).map(" ".join), max_size=20),
    batch=st.integers(1, 7),
)
def test_overlap_in_batches_is_the_set_lookup(monkeypatch, train, held, batch):
    """Hashing the training splits a few texts at a time (HASH_BATCH) finds exactly the rows a
    set of every training hash finds: repeats, cleaning and empty splits included."""
    monkeypatch.setattr(data, "HASH_BATCH", batch)
    reviews = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": train[: len(train) // 2]}),
            "unsupervised": datasets.Dataset.from_dict({"text": train[len(train) // 2 :]}),
            "test": datasets.Dataset.from_dict({"text": held}),
        }
    )
    seen = {data.text_hash(t) for t in train}
    expected = [i for i, t in enumerate(held) if data.text_hash(t) in seen]
    assert data.held_out_overlap(reviews, ["train", "unsupervised"], "test") == expected


def test_overlap_never_holds_the_training_hashes(monkeypatch):
    """The training splits are hashed batch by batch: no batch of hashes is larger than
    HASH_BATCH (the held-out check's memory does not grow with the training corpus)."""
    monkeypatch.setattr(data, "HASH_BATCH", 25)
    sizes = []
    blocks = data._hash_blocks

    def recording(dataset, batch_size=data.HASH_BATCH):
        for block in blocks(dataset, batch_size):
            sizes.append(block.size)
            yield block

    monkeypatch.setattr(data, "_hash_blocks", recording)
    train = datasets.Dataset.from_dict({"text": [f"review {i}" for i in range(200)]})
    test = datasets.Dataset.from_dict({"text": ["review 7", "new", "review 199"]})
    reviews = datasets.DatasetDict({"train": train, "test": test})
    assert data.held_out_overlap(reviews, ["train"], "test") == [0, 2]
    assert max(sizes) == 25 and sum(sizes) == 203
