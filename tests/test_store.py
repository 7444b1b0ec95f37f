"""Tests for mlm_helpers.masking.store and the streamed training set: chunks written once to disk
give the same batches, masks and resume points as chunks held in memory."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_masking import chunks_from_texts, collect, made_up_texts

from mlm_helpers import RunConfig
from mlm_helpers import masking as mk
from mlm_helpers.masking import stream
from mlm_helpers.masking.store import ChunkStore


@pytest.fixture(scope="module")
def tokenizer():
    from mlm_helpers.data import load_tokenizer

    return load_tokenizer("embedded")


@pytest.fixture(scope="module")
def chunk_set(tokenizer, tmp_path_factory):
    """Chunks with padding and word ids, as a Dataset with cache files (as prepare_chunks gives)."""
    arrays = chunks_from_texts(tokenizer, made_up_texts(150, seed=3), 32)
    folder = tmp_path_factory.mktemp("chunks")
    dataset = datasets.Dataset.from_dict({k: v.tolist() for k, v in arrays.items()})
    dataset.save_to_disk(str(folder))
    return datasets.load_from_disk(str(folder)), arrays


def test_store_reads_back_any_rows(chunk_set, tmp_path):
    dataset, arrays = chunk_set
    store = ChunkStore.write(dataset, vocab_size=None, folder=tmp_path)
    assert store.n_rows == len(arrays["input_ids"]) and store.chunk_size == 32
    rows = np.array([5, 0, 5, len(arrays["input_ids"]) - 1])
    got = store.read(rows)
    for name in ("input_ids", "attention_mask", "word_ids"):
        assert got[name].dtype == np.int32
        np.testing.assert_array_equal(got[name], arrays[name][rows])
    whole = {k: np.concatenate([b[k] for b in store.blocks(rows=7)]) for k in got}
    for name, values in whole.items():
        np.testing.assert_array_equal(values, arrays[name])
    with pytest.raises(IndexError, match="outside"):
        store.read([store.n_rows])


def test_store_is_written_once_beside_the_cache_files(chunk_set):
    """The same chunks find their store again (named by their fingerprint), and nothing partial
    is left beside it."""
    dataset, _ = chunk_set
    first = ChunkStore.write(dataset, vocab_size=2000)
    assert first.path.parent == type(first.path)(dataset.cache_files[0]["filename"]).parent
    stamp = first.path.stat().st_mtime_ns
    again = ChunkStore.write(dataset, vocab_size=2000)
    assert again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert not list(first.path.parent.glob("*.partial-*"))


def test_store_checks_every_batch(chunk_set, tmp_path, monkeypatch):
    """A bad id in a later batch is refused with chunk_arrays' message, and leaves no store."""
    dataset, arrays = chunk_set
    bad = {k: v.copy() for k, v in arrays.items()}
    bad["input_ids"][-1, 3] = 5_000
    table = datasets.Dataset.from_dict({k: v.tolist() for k, v in bad.items()})
    monkeypatch.setattr("mlm_helpers.masking.store.WRITE_ROWS", 16)
    with pytest.raises(ValueError, match="different tokenizer"):
        ChunkStore.write(table, vocab_size=2000, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="empty"):
        ChunkStore.write(dataset.select([]), folder=tmp_path)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31),
    batch_size=st.sampled_from([1, 4, 7, 16]),
    kind=st.sampled_from(["token", "whole_word"]),
    epoch=st.integers(0, 1),
    skip=st.integers(0, 3),
)
def test_stored_stream_equals_the_in_memory_stream(
    chunk_set, tokenizer, seed, batch_size, kind, epoch, skip
):
    """Whatever the seed, batch size, masking, epoch and resume point: the same batches and masks
    from disk as from memory (so exact resume holds for both)."""
    dataset, _ = chunk_set
    config = RunConfig(batch_size=batch_size, epochs=2, seed=seed, masking=kind)
    held_out = dataset.select(range(8))
    memory = mk.build_datasets(dataset, held_out, config, tokenizer, in_memory=True)
    disk = mk.build_datasets(dataset, held_out, config, tokenizer, in_memory=False)
    assert memory.train_store is None and disk.train_arrays is None
    assert disk.steps_per_epoch == memory.steps_per_epoch
    skip = min(skip, memory.steps_per_epoch - 1)
    for a, b in zip(
        collect(memory.train_from(epoch, skip)), collect(disk.train_from(epoch, skip)), strict=True
    ):
        for left, right in zip(a, b, strict=True):
            np.testing.assert_array_equal(left, right)
    ids = memory.train_input_ids()
    blocks = list(disk.train_input_ids())
    np.testing.assert_array_equal(np.concatenate(blocks), ids)


def test_large_training_sets_stream_from_disk(chunk_set, tokenizer, monkeypatch):
    """Above IN_MEMORY_ROWS the training chunks are not held in memory."""
    dataset, _ = chunk_set
    config = RunConfig(batch_size=4, epochs=1)
    small = mk.build_datasets(dataset, dataset.select(range(4)), config, tokenizer)
    assert small.train_arrays is not None and small.train_store is None
    monkeypatch.setattr(stream, "IN_MEMORY_ROWS", 10)
    large = mk.build_datasets(dataset, dataset.select(range(4)), config, tokenizer)
    assert large.train_arrays is None and large.train_store is not None


@pytest.mark.parametrize("in_memory", [True, False])
def test_worker_shards_make_up_the_global_batches(chunk_set, tokenizer, in_memory):
    """With several workers each one reads its own share of every batch (`shard`); side by side
    the shards are the single-process batches, masks included, from any resume point; with two
    local replicas on one worker, its pipeline gives their per-replica batches in turn."""
    dataset, _ = chunk_set
    config = RunConfig(batch_size=8, epochs=2, seed=5)
    data = mk.build_datasets(
        dataset, dataset.select(range(8)), config, tokenizer, in_memory=in_memory
    )
    for epoch, skip in ((0, 0), (1, 2)):
        whole = collect(data.train_from(epoch, skip))
        workers = [collect(data.train_from(epoch, skip, shard=(2, i, 2))) for i in (0, 1)]
        assert len(workers[0]) == len(workers[1]) == len(whole)
        for step, batch in enumerate(whole):
            for part in range(3):  # input ids, attention mask, labels
                joined = np.concatenate([workers[0][step][part], workers[1][step][part]])
                np.testing.assert_array_equal(joined, batch[part])
        local = collect(data.train_from(epoch, skip, shard=(1, 0, 2)))
        assert len(local) == 2 * len(whole)
        for step, batch in enumerate(whole):
            joined = np.concatenate([local[2 * step][2], local[2 * step + 1][2]])
            np.testing.assert_array_equal(joined, batch[2])
    with pytest.raises(ValueError, match="batch_size=8 cannot be split evenly over 3"):
        data.train_from(0, shard=(3, 0, 3))
