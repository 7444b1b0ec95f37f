"""Tests for mlm_helpers.chunking: property tests of the NumPy core on random token streams shaped
like a tokenizer's output, then the Dataset path with the embedded tokenizer, the errors, and
`prepare_chunks` on the embedded profile."""

from __future__ import annotations

import subprocess
import sys

import datasets
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlm_helpers import chunking  # noqa: E402
from mlm_helpers.chunking import (  # noqa: E402
    check_chunk_size,
    chunk_stream,
    chunk_tokens,
    plot_chunk_layout,
    prepare_chunks,
    token_table,
    tokenize_reviews,
)
from mlm_helpers.config import embedded_profile  # noqa: E402
from mlm_helpers.data import (  # noqa: E402
    EMBEDDED_VOCAB,
    check_tokenizer,
    load_reviews,
    load_tokenizer,
)

CLS, SEP, PAD = 2, 3, 0

# A review with a rare word that WordPiece spells in several pieces (the tests read where the pieces
# fall from the tokenizer, so they hold for any vocabulary that splits the word).
SPLIT_TEXT = "An unforgettable film about a lonely astronaut."


@pytest.fixture(autouse=True, scope="module")
def _quiet():
    datasets.disable_progress_bars()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("embedded")


@pytest.fixture(scope="module")
def test_reviews():
    """300 cleaned reviews of the embedded test split, in memory."""
    reviews = load_reviews("embedded", splits=["test"])["test"].select(range(300))
    return datasets.Dataset.from_dict(
        {"text": list(reviews["text"]), "label": list(reviews["label"])}
    )


@pytest.fixture(scope="module")
def tokenized(test_reviews, tokenizer):
    return tokenize_reviews(test_reviews, tokenizer)


def stream_of(tokenized_ds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """input_ids, word_ids and lengths of a tokenized Dataset, concatenated in row order."""
    rows = tokenized_ds.with_format("numpy")
    ids = [np.asarray(r) for r in rows["input_ids"]]
    words = [np.asarray(r) for r in rows["word_ids"]]
    return np.concatenate(ids), np.concatenate(words), np.array([len(r) for r in ids])


def as_rows(chunks) -> set[tuple[int, ...]]:
    return {tuple(row) for row in np.asarray(chunks.with_format("numpy")[:]["input_ids"]).tolist()}


# --------------------------------------------------------------------------- property tests
@st.composite
def token_streams(draw):
    """A concatenation of sequences as a fast tokenizer makes them: per sequence, optional
    [CLS] ... [SEP] and words of 1-4 pieces numbered 0, 1, ... Also returns, per token, the global
    number of its original word (-1 for specials), and the sequence lengths."""
    with_specials = draw(st.booleans())
    shapes = draw(st.lists(st.lists(st.integers(1, 4), max_size=10), max_size=8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    words, origin, lengths, n_words = [], [], [], 0
    for pieces_per_word in shapes:
        seq_words = [-1] if with_specials else []
        for w, pieces in enumerate(pieces_per_word):
            seq_words += [w] * pieces
        seq_origin = [-1 if w < 0 else n_words + w for w in seq_words]
        n_words += len(pieces_per_word)
        if with_specials:
            seq_words.append(-1)
            seq_origin.append(-1)
        words += seq_words
        origin += seq_origin
        lengths.append(len(seq_words))
    words_arr = np.array(words, dtype=np.int64)
    ids = rng.integers(5, 1000, size=len(words)).astype(np.int32)
    if with_specials:
        ids[words_arr < 0] = SEP
        ids[np.cumsum([0, *lengths[:-1]]).astype(int) if lengths else []] = CLS
    return ids, words_arr, np.array(origin, dtype=np.int64), np.array(lengths, dtype=np.int64)


def assert_chunk_contract(out, ids, words, origin, chunk_size, pad_id=None):
    """Every invariant the module doc promises, checked against the original stream."""
    n = ids.size
    rows = -(-n // chunk_size) if pad_id is not None else n // chunk_size
    keep = min(n, rows * chunk_size)
    for name in ("input_ids", "attention_mask", "word_ids"):
        assert out[name].shape == (rows, chunk_size), name
    flat_ids, flat_words = out["input_ids"].ravel(), out["word_ids"].ravel()
    flat_mask = out["attention_mask"].ravel()
    # The chunks reproduce the stream, minus the documented tail (or plus padding).
    np.testing.assert_array_equal(flat_ids[:keep], ids[:keep])
    assert n - keep == (0 if pad_id is not None else n % chunk_size)
    assert (flat_mask[:keep] == 1).all() and (flat_mask[keep:] == 0).all()
    assert (flat_ids[keep:] == pad_id).all() and (flat_words[keep:] == -1).all()
    # Word ids stay aligned with their tokens: -1 exactly where the tokenizer had a special token.
    np.testing.assert_array_equal(flat_words[:keep] < 0, words[:keep] < 0)
    src = np.concatenate([origin[:keep], np.full(rows * chunk_size - keep, -1)])
    for row, row_src in zip(out["word_ids"], src.reshape(rows, chunk_size), strict=True):
        local, orig = row[row >= 0], row_src[row >= 0]
        if local.size:
            assert local[0] == 0 and set(np.diff(local).tolist()) <= {0, 1}  # 0, 1, 2, ... in order
        # Same local id <=> same original word (so pieces of one word share it, others never do).
        np.testing.assert_array_equal(
            local[:, None] == local[None, :], orig[:, None] == orig[None, :]
        )


@settings(max_examples=200, deadline=None)
@given(stream=token_streams(), chunk_size=st.integers(2, 40), pass_lengths=st.booleans())
def test_chunk_stream_properties(stream, chunk_size, pass_lengths):
    ids, words, origin, lengths = stream
    if not pass_lengths and not (ids == CLS).any() and lengths.size > 1:
        pass_lengths = True  # without special tokens the lengths are what separates sequences
    out = chunk_stream(ids, words, chunk_size, lengths=lengths if pass_lengths else None)
    assert_chunk_contract(out, ids, words, origin, chunk_size)
    assert out["input_ids"].dtype == np.int32 and out["word_ids"].dtype == np.int32
    assert out["attention_mask"].dtype == np.int8


@settings(max_examples=100, deadline=None)
@given(stream=token_streams(), chunk_size=st.integers(2, 40))
def test_chunk_stream_pad_tail(stream, chunk_size):
    ids, words, origin, lengths = stream
    out = chunk_stream(ids, words, chunk_size, lengths=lengths, pad_id=PAD)
    assert_chunk_contract(out, ids, words, origin, chunk_size, pad_id=PAD)


def test_lengths_separate_sequences_without_special_tokens():
    # Two one-word sequences, no [CLS]/[SEP]: both words have tokenizer id 0.
    ids, words = np.array([10, 11, 12, 13]), np.array([0, 0, 0, 1])
    merged = chunk_stream(ids, words, 4)["word_ids"]
    assert merged.tolist() == [[0, 0, 0, 1]]  # the stream alone cannot tell where sequence 2 starts
    split = chunk_stream(ids, words, 4, lengths=[2, 2])["word_ids"]
    assert split.tolist() == [[0, 0, 1, 2]]


def test_chunk_stream_input_errors():
    with pytest.raises(ValueError, match="one length"):
        chunk_stream(np.arange(5), np.arange(4), 2)
    with pytest.raises(ValueError, match="lengths add up to 4"):
        chunk_stream(np.arange(5), np.arange(5), 2, lengths=[2, 2])


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "128", True, None])
def test_chunk_size_errors(bad):
    with pytest.raises(ValueError, match="chunk_size"):
        check_chunk_size(bad)


def test_chunk_size_limited_by_model_positions(tokenizer):
    assert check_chunk_size(512, tokenizer) == 512
    with pytest.raises(ValueError, match=r"chunk_size=513 .* maximum of 512 .*model_max_length"):
        check_chunk_size(513, tokenizer)
    with pytest.raises(ValueError, match=r"maximum of 64 positions \(max_positions\)"):
        check_chunk_size(128, tokenizer, max_positions=64)
    with pytest.raises(ValueError, match="maximum of 100"):
        chunk_tokens(
            datasets.Dataset.from_dict({c: [[1]] for c in chunking.TOKEN_COLUMNS}),
            128,
            max_positions=100,
        )
    with pytest.raises(ValueError, match="chunk_size=1 "):
        chunk_stream(np.arange(4), np.arange(4), 1)


def test_tokenizer_checks(tokenizer):
    from transformers import DistilBertTokenizer, PreTrainedTokenizerFast

    check_tokenizer(tokenizer)
    with pytest.raises(ValueError, match="not a fast tokenizer"):
        check_tokenizer(DistilBertTokenizer(vocab_file=str(EMBEDDED_VOCAB)))
    no_mask = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer, unk_token="[UNK]", pad_token="[PAD]"
    )
    with pytest.raises(ValueError, match="no mask token"):
        check_tokenizer(no_mask)
    with pytest.raises(ValueError, match="no mask token"):
        tokenize_reviews(datasets.Dataset.from_dict({"text": ["a"]}), no_mask)
    # A tokenizer that knows no length limit imposes none.
    assert check_chunk_size(4096, no_mask) == 4096


def test_dataset_errors(tokenizer, tokenized):
    with pytest.raises(ValueError, match="no 'text' column"):
        tokenize_reviews(datasets.Dataset.from_dict({"review": ["a"]}), tokenizer)
    with pytest.raises(ValueError, match=r"columns \['word_ids'\] missing"):
        chunk_tokens(tokenized.remove_columns("word_ids"), 16)
    with pytest.raises(ValueError, match="tail='cut'"):
        chunk_tokens(tokenized, 16, tail="cut")
    with pytest.raises(ValueError, match="pad_id=tokenizer.pad_token_id"):
        chunk_tokens(tokenized, 16, tail="pad")


# --------------------------------------------------------------------------- with the real tokenizer
def test_tokenize_reviews_columns(tokenized, test_reviews, tokenizer):
    assert tokenized.column_names == ["input_ids", "attention_mask", "word_ids"]
    assert tokenized.num_rows == test_reviews.num_rows
    first = tokenizer(test_reviews[0]["text"])
    row = tokenized[0]
    assert row["input_ids"] == first["input_ids"]
    assert row["word_ids"] == [-1 if w is None else w for w in first.word_ids()]
    assert row["word_ids"][0] == row["word_ids"][-1] == -1  # [CLS] ... [SEP]


def first_split_word(tokenizer) -> tuple[list[int], int, int]:
    """SPLIT_TEXT's word ids (-1 = special), and the position and piece count of its first word
    that the tokenizer splits into several pieces."""
    words = [-1 if w is None else w for w in tokenizer(SPLIT_TEXT).word_ids()]
    split = [w for w in set(words) if w >= 0 and words.count(w) > 1]
    assert split, "SPLIT_TEXT must contain a word the tokenizer splits; change the text"
    first = words.index(min(split))
    return words, first, words.count(min(split))


def test_word_split_across_boundary(tokenizer):
    words, first, pieces = first_split_word(tokenizer)
    ds = tokenize_reviews(datasets.Dataset.from_dict({"text": [SPLIT_TEXT]}), tokenizer)
    # Cut right after the word's first piece: row 1 starts with its remaining pieces.
    chunk_size = first + 1
    chunks = chunk_tokens(ds, chunk_size).with_format("numpy")[:]
    assert chunks["word_ids"][0].tolist() == words[:chunk_size]  # the first row keeps the ids
    row1 = chunks["word_ids"][1].tolist()
    rest = min(pieces - 1, chunk_size)
    assert row1[:rest] == [0] * rest  # the cut word's other pieces: word 0 of the new row
    if rest < chunk_size and words[chunk_size + rest] >= 0:
        assert row1[rest] == 1  # the next word is another word
    tokens = tokenizer.convert_ids_to_tokens(chunks["input_ids"][1].tolist())
    assert tokens[0].startswith("##")


@pytest.mark.parametrize("batch_size", [1, 7, 100, 1000])
def test_dataset_chunking_matches_core(tokenized, batch_size):
    chunk_size = 32
    chunks = chunk_tokens(tokenized, chunk_size, batch_size=batch_size).with_format("numpy")[:]
    expected = {name: [] for name in chunking.TOKEN_COLUMNS}
    for start in range(0, tokenized.num_rows, batch_size):
        ids, words, lengths = stream_of(
            tokenized.select(range(start, min(start + batch_size, tokenized.num_rows)))
        )
        for name, value in chunk_stream(ids, words, chunk_size, lengths=lengths).items():
            expected[name].append(value)
    for name in chunking.TOKEN_COLUMNS:
        np.testing.assert_array_equal(np.asarray(chunks[name]), np.concatenate(expected[name]))


def test_chunking_follows_row_order_of_a_shuffled_dataset(tokenized):
    order = np.random.default_rng(0).permutation(tokenized.num_rows)[:50].tolist()
    shuffled = tokenized.select(order)  # an indices mapping over the same Arrow table
    chunks = chunk_tokens(shuffled, 24).with_format("numpy")[:]
    ids, words, lengths = stream_of(shuffled)
    expected = chunk_stream(ids, words, 24, lengths=lengths)
    for name in chunking.TOKEN_COLUMNS:
        np.testing.assert_array_equal(np.asarray(chunks[name]), expected[name])


def total_tokens(tokenized) -> int:
    return sum(len(row) for row in tokenized["input_ids"])


def kept_tokens(chunks) -> int:
    """Real tokens in the chunks: attention_mask 1 (all of them with the default tail="drop")."""
    return int(np.asarray(chunks.with_format("numpy")[:]["attention_mask"]).sum())


def test_pad_tail_on_dataset(tokenized, tokenizer):
    chunks = chunk_tokens(tokenized, 50, tail="pad", pad_id=tokenizer.pad_token_id, batch_size=100)
    assert kept_tokens(chunks) == total_tokens(tokenized)  # nothing dropped
    mask = np.asarray(chunks.with_format("numpy")[:]["attention_mask"])
    assert chunks.num_rows * 50 - mask.sum() < 3 * 50  # at most one padded row per map batch


def test_drop_tail_loses_less_than_a_chunk_per_map_batch(tokenized):
    total = total_tokens(tokenized)
    for batch_size in (1000, 40):
        chunks = chunk_tokens(tokenized, 128, batch_size=batch_size)
        assert kept_tokens(chunks) == chunks.num_rows * 128
        n_batches = -(-tokenized.num_rows // batch_size)
        assert 0 <= total - kept_tokens(chunks) < 128 * n_batches
    one_batch = chunk_tokens(tokenized, 128)
    assert total - kept_tokens(one_batch) == total % 128


def test_drop_tail_with_num_proc(tokenized):
    chunks = chunk_tokens(tokenized, 64, batch_size=1000, num_proc=2)
    assert kept_tokens(chunks) == chunks.num_rows * 64
    assert 0 <= total_tokens(tokenized) - kept_tokens(chunks) < 2 * 64  # one tail per shard


def test_token_table(tokenizer):
    words, first, pieces = first_split_word(tokenizer)
    table = token_table(SPLIT_TEXT, tokenizer)
    assert list(table.columns) == ["token", "id", "word_id", "kind"]
    assert table["word_id"].tolist() == words
    assert table["id"].tolist() == tokenizer(SPLIT_TEXT)["input_ids"]
    kinds = table["kind"].tolist()
    assert kinds[0] == kinds[-1] == "special"
    assert kinds[first : first + pieces] == ["word"] + ["##piece"] * (pieces - 1)
    # For WordPiece, continuation pieces are exactly the tokens spelled with "##".
    for token, kind in zip(table["token"], kinds, strict=True):
        assert (kind == "##piece") == token.startswith("##")
    assert len(token_table(SPLIT_TEXT, tokenizer, max_tokens=3)) == 3


def test_plot_chunk_layout(tokenized):
    chunks = chunk_tokens(tokenized, 64)
    fig = plot_chunk_layout(chunks, rows=5)
    image = fig.axes[0].images[0].get_array()
    words = np.asarray(chunks.with_format("numpy")[:5]["word_ids"])
    assert image.shape == (5, 64)
    np.testing.assert_array_equal(np.asarray(image) == 0, words < 0)  # specials drawn dark
    assert "64-token chunks" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        plot_chunk_layout(chunks.select([]))


# --------------------------------------------------------------------------- prepare_chunks
@pytest.fixture(scope="module")
def small_config():
    return embedded_profile(max_reviews=150, chunk_size=64, train_chunks=40, eval_chunks=15)


@pytest.fixture(scope="module")
def small_reviews(small_config):
    return load_reviews(small_config)


def _token_text(reviews, tokenizer) -> str:
    """Every review's token ids (no [CLS]/[SEP]) as " 5 17 9 ", joined by "|": a chunk's run of
    real tokens comes from these reviews when it is a substring of this text."""
    ids = tokenizer(list(reviews["text"]), add_special_tokens=False, verbose=False)["input_ids"]
    return "|".join(" " + " ".join(map(str, row)) + " " for row in ids)


def _segments(chunks, tokenizer) -> list[str]:
    """Each chunk's runs of real tokens between special tokens, written as in `_token_text`."""
    special = set(tokenizer.all_special_ids)
    runs = []
    for row in np.asarray(chunks.with_format("numpy")[:]["input_ids"]).tolist():
        run: list[int] = []
        for token in [*row, next(iter(special))]:
            if token in special:
                if run:
                    runs.append(" " + " ".join(map(str, run)) + " ")
                run = []
            else:
                run.append(token)
    return runs


def test_prepare_chunks_embedded(small_config, small_reviews, tokenizer):
    prepared = prepare_chunks(small_config, tokenizer, small_reviews)
    assert list(prepared) == ["train", "eval"]
    assert prepared["train"].num_rows == 40 and prepared["eval"].num_rows == 15
    for split in prepared.values():
        assert np.asarray(split.with_format("numpy")[:]["input_ids"]).shape[1] == 64
    # Every chunk's text comes from the splits it should (its runs of real tokens are runs of
    # tokens of those reviews); no eval chunk is (part of) a training review.
    train_text = "|".join(
        _token_text(small_reviews[s], tokenizer) for s in ("train", "unsupervised")
    )
    eval_text = _token_text(small_reviews["test"], tokenizer)
    assert all(run in train_text for run in _segments(prepared["train"], tokenizer))
    eval_runs = _segments(prepared["eval"], tokenizer)
    assert all(run in eval_text for run in eval_runs)
    assert not any(len(run) > 40 and run in train_text for run in eval_runs)
    # Same seed, same sample; another seed, another sample.
    again = prepare_chunks(small_config, tokenizer, small_reviews)
    assert as_rows(again["train"]) == as_rows(prepared["train"])
    other = prepare_chunks(small_config.replace(seed=7), tokenizer, small_reviews)
    assert as_rows(other["train"]) != as_rows(prepared["train"])


def test_prepare_chunks_tokenizes_only_the_sampled_reviews(monkeypatch, tokenizer):
    """With train_chunks / eval_chunks set, only the reviews those chunks need are tokenized (a
    shuffled share, with a margin), and still exactly that many chunks come out, the same for
    the same seed."""
    config = embedded_profile(chunk_size=64, train_chunks=200, eval_chunks=50)
    reviews = load_reviews(config)
    tokenized_rows = []

    def counting(texts, *args, **kwargs):
        tokenized_rows.append(
            sum(texts.num_rows.values()) if isinstance(texts, dict) else len(texts)
        )
        return tokenize_reviews(texts, *args, **kwargs)

    monkeypatch.setattr(chunking, "tokenize_reviews", counting)
    prepared = prepare_chunks(config, tokenizer, reviews)
    assert (prepared["train"].num_rows, prepared["eval"].num_rows) == (200, 50)
    total = sum(reviews[s].num_rows for s in ("train", "unsupervised", "test"))
    assert sum(tokenized_rows) < total / 10  # 250 chunks of 64 tokens need ~150 of 10,000 reviews
    again = prepare_chunks(config, tokenizer, reviews)
    for split in ("train", "eval"):
        assert as_rows(again[split]) == as_rows(prepared[split])


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**16))
def test_sample_chunks_gives_exactly_n(tokenizer, n, seed):
    """Whatever the count and seed, `sample_chunks` returns exactly n chunks (all of them only
    when the reviews give fewer), deterministic in the seed."""
    reviews = load_reviews("embedded", splits=["test"])["test"].select(range(300))

    def make(texts):
        return chunk_tokens(tokenize_reviews(texts, tokenizer), 64)

    first = chunking.sample_chunks([reviews], n, seed, make, tokenizer, 64)
    assert first.num_rows == n
    again = chunking.sample_chunks([reviews], n, seed, make, tokenizer, 64)
    assert as_rows(again) == as_rows(first)


def test_prepare_chunks_all_rows_and_default_tokenizer(small_config, small_reviews, tokenizer):
    prepared = prepare_chunks(
        small_config.replace(train_chunks=None, eval_chunks=None), reviews=small_reviews
    )
    per_split = chunk_tokens(tokenize_reviews(small_reviews, tokenizer), 64)
    assert (
        prepared["train"].num_rows
        == per_split["train"].num_rows + per_split["unsupervised"].num_rows
    )
    np.testing.assert_array_equal(
        np.asarray(prepared["eval"].with_format("numpy")[:]["input_ids"]),
        np.asarray(per_split["test"].with_format("numpy")[:]["input_ids"]),
    )


def test_prepare_chunks_errors(small_config, small_reviews, tokenizer):
    with pytest.raises(ValueError, match=r"split\(s\) \['test'\] not in the reviews"):
        prepare_chunks(
            small_config,
            tokenizer,
            datasets.DatasetDict(
                {"train": small_reviews["train"], "unsupervised": small_reviews["unsupervised"]}
            ),
        )
    tiny = dict(small_config.tiny_model, max_position_embeddings=32)
    with pytest.raises(ValueError, match="maximum of 32 positions"):
        prepare_chunks(
            small_config.replace(model="scratch", tiny_model=tiny), tokenizer, small_reviews
        )


def test_no_tensorflow_import():
    code = (
        "import sys, datasets\n"
        "from mlm_helpers.data import load_tokenizer\n"
        "from mlm_helpers.chunking import tokenize_reviews, chunk_tokens\n"
        "ds = datasets.Dataset.from_dict({'text': ['A fine film.', 'A dull one.']})\n"
        "chunks = chunk_tokens(tokenize_reviews(ds, load_tokenizer()), 4)\n"
        "assert chunks.num_rows == 3, chunks.num_rows\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- num_proc
@settings(max_examples=50, deadline=None)
@given(st.one_of(st.none(), st.integers(1, 64)), st.integers(0, 10**7))
def test_tokenizing_processes_bounds(num_proc, reviews):
    """At least one process; never more than asked (every core when None), nor more than one per
    MIN_REVIEWS_PER_PROCESS reviews."""
    processes = chunking.tokenizing_processes(num_proc, reviews)
    wanted = chunking.available_cores() if num_proc is None else num_proc
    assert 1 <= processes <= max(1, wanted)
    assert processes == 1 or processes <= reviews // chunking.MIN_REVIEWS_PER_PROCESS


def test_prepare_chunks_tokenizes_with_config_num_proc(monkeypatch, small_config, tokenizer):
    """prepare_chunks passes RunConfig.num_proc to datasets.map (every core when None) once the
    corpus is large enough, and the chunks are the same as with one process."""
    reviews = load_reviews(small_config.replace(max_reviews=400))
    seen = []

    def spying(texts, *args, num_proc=None, **kwargs):
        seen.append(num_proc)
        return tokenize_reviews(texts, *args, num_proc=num_proc, **kwargs)

    monkeypatch.setattr(chunking, "tokenize_reviews", spying)
    monkeypatch.setattr(chunking, "MIN_REVIEWS_PER_PROCESS", 50)
    config = small_config.replace(train_chunks=None, eval_chunks=None)
    two = prepare_chunks(config.replace(num_proc=2), tokenizer, reviews)
    assert seen and set(seen) == {2}
    seen.clear()
    one = prepare_chunks(config.replace(num_proc=1), tokenizer, reviews)
    assert set(seen) == {None}  # one process: datasets' own default, as before num_proc existed
    for split in ("train", "eval"):
        assert two[split].to_dict() == one[split].to_dict()  # every column, in order
    seen.clear()
    monkeypatch.setattr(chunking, "available_cores", lambda: 3)
    prepare_chunks(config, tokenizer, reviews)  # num_proc=None: every core
    assert set(seen) == {3}
    seen.clear()
    monkeypatch.setattr(chunking, "MIN_REVIEWS_PER_PROCESS", 10_000)
    prepare_chunks(config.replace(num_proc=2), tokenizer, reviews)  # 400 reviews: one process
    assert set(seen) == {None}


def test_tokenizing_in_processes_leaves_no_tokenizer_setting_behind(tokenizer, test_reviews):
    """Several processes tokenize with the tokenizer's own threads off, and the setting is put back."""
    import os

    before = os.environ.get("TOKENIZERS_PARALLELISM")
    tokenizer(["warm up the tokenizer's threads", "before the fork"], verbose=False)
    two = tokenize_reviews(test_reviews, tokenizer, num_proc=2)
    assert os.environ.get("TOKENIZERS_PARALLELISM") == before
    one = tokenize_reviews(test_reviews, tokenizer)
    assert two.to_dict() == one.to_dict()


def test_prepare_chunks_from_streamed_reviews(small_config, small_reviews, tokenizer):
    """Reviews streamed (IterableDataset, no num_rows) give the chunks of the same reviews
    loaded: each split is written once to disk first."""

    def rows(source):
        yield from source

    def streamed(split):
        return datasets.IterableDataset.from_generator(
            rows, gen_kwargs={"source": small_reviews[split]}
        )

    reviews = datasets.IterableDatasetDict({s: streamed(s) for s in small_reviews})
    prepared = prepare_chunks(small_config, tokenizer, reviews)
    expected = prepare_chunks(small_config, tokenizer, small_reviews)
    for split in ("train", "eval"):
        assert prepared[split].to_dict() == expected[split].to_dict()
