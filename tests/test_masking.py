"""Tests for mlm_helpers.masking (stage 03): statistics, invariants, reproducibility, resume,
agreement with transformers' collator, errors and the notebook helpers."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import synthetic_chunks

from mlm_helpers import RunConfig
from mlm_helpers import masking as mk
from mlm_helpers.config import MASKING_KINDS, check_masking
from mlm_helpers.data import DataError
from mlm_helpers.runtime import import_tensorflow

tf = import_tensorflow()

SYLLABLES = [a + b for a in "bdfgklmnprstvz" for b in "aeiou"]
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# ------------------------------------------------------------------------------ fixtures
def made_up_texts(n_texts: int, seed: int = 0) -> list[str]:
    """Reviews of made-up words (1-3 syllables), so WordPiece splits some words into pieces."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(
            "".join(rng.choice(SYLLABLES, rng.integers(1, 4))) for _ in range(rng.integers(20, 90))
        )
        + " ."
        for _ in range(n_texts)
    ]


def chunks_from_texts(tokenizer, texts: list[str], chunk_size: int, *, pad_last: bool = True):
    """Stage 02's chunks, made by stage 02's own code; a short remainder becomes a padded last
    row when `pad_last`, so padding is present in the data."""
    import datasets

    from mlm_helpers import chunking

    tokenized = chunking.tokenize_reviews(datasets.Dataset.from_dict({"text": texts}), tokenizer)
    chunks = chunking.chunk_tokens(
        tokenized,
        chunk_size,
        tail="pad" if pad_last else "drop",
        pad_id=tokenizer.pad_token_id,
        batch_size=len(texts),
    )
    return {name: np.asarray(chunks[name], dtype=np.int32) for name in chunking.TOKEN_COLUMNS}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A DistilBERT fast tokenizer trained on the fly (see FINDINGS.md: offline, seconds)."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import DistilBertTokenizerFast

    folder = tmp_path_factory.mktemp("tokenizer")
    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(made_up_texts(400), vocab_size=400, min_frequency=1)
    trainer.save_model(str(folder))
    return DistilBertTokenizerFast(vocab_file=str(folder / "vocab.txt"))


@pytest.fixture(scope="module")
def spec(tokenizer) -> mk.MaskingSpec:
    return mk.MaskingSpec.from_tokenizer(tokenizer)


@pytest.fixture(scope="module")
def text_chunks(tokenizer):
    return chunks_from_texts(tokenizer, made_up_texts(120, seed=1), 64)


@pytest.fixture(scope="module")
def big_chunks(tokenizer):
    return synthetic_chunks(tokenizer, 3000, 128, seed=5)


@pytest.fixture(scope="module")
def big_masked(big_chunks, spec):
    return mk.mask_chunks(big_chunks, spec, seed=11)


def random_rows(
    rng: np.random.Generator, spec: mk.MaskingSpec, n_rows: int, length: int, pad_id: int
):
    """Random rows: words of 1-3 pieces, special tokens scattered in, a padded tail."""
    special = np.array(spec.special_ids)
    regular = np.setdiff1d(np.arange(spec.vocab_size), special)
    ids = rng.choice(regular, size=(n_rows, length)).astype(np.int32)
    words = np.full((n_rows, length), -1, np.int32)
    attention = np.ones((n_rows, length), np.int32)
    for r in range(n_rows):
        n_real = int(rng.integers(1, length + 1))
        word, pos = 0, 0
        while pos < n_real:
            if rng.random() < 0.15:
                ids[r, pos] = rng.choice(special)
                pos += 1
                continue
            size = min(int(rng.integers(1, 4)), n_real - pos)
            words[r, pos : pos + size] = word
            word, pos = word + 1, pos + size
        ids[r, n_real:], attention[r, n_real:] = pad_id, 0
    return {"input_ids": ids, "attention_mask": attention, "word_ids": words}


def mask_np(rows, spec, seed=0, epoch=0, row_offset=0):
    out = mk.mask_batch(
        rows["input_ids"],
        rows["attention_mask"],
        tf.range(row_offset, row_offset + len(rows["input_ids"]), dtype=tf.int64),
        mk.masking_key(seed, epoch),
        spec,
        rows["word_ids"],
        with_outcome=True,
    )
    return {name: value.numpy() for name, value in out.items()}


def z_bound(p: float, n: int, sigmas: float = 4.0) -> float:
    return sigmas * math.sqrt(p * (1 - p) / n)


def chi2_sf_even(x: float, dof: int) -> float:
    """Survival function of the chi-square distribution for an even number of degrees of freedom
    (exact: a Poisson tail), so the tests need no SciPy."""
    assert dof % 2 == 0
    half = x / 2
    return math.exp(-half) * sum(half**i / math.factorial(i) for i in range(dof // 2))


def homogeneity_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Chi-square test that two count vectors come from the same distribution (dof = k - 1)."""
    table = np.array([a, b], float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return chi2_sf_even(stat, table.shape[1] - 1)


# ------------------------------------------------------------------------------ statistics
def test_token_masking_statistics(big_chunks, big_masked, spec):
    counts = mk.count_outcomes(big_masked, spec)
    n_chosen = counts["chosen"]
    assert abs(counts["chosen_share"] - 0.15) < z_bound(0.15, counts["maskable"])
    assert abs(counts["mask_share"] - 0.8) < z_bound(0.8, n_chosen)
    assert abs(counts["random_share"] - 0.1) < z_bound(0.1, n_chosen)
    assert abs(counts["kept_share"] - 0.1) < z_bound(0.1, n_chosen)

    random_ids = big_masked["input_ids"][big_masked["outcome"] == mk.RANDOM]
    assert random_ids.min() >= 0 and random_ids.max() < spec.vocab_size
    assert random_ids.min() < 5 and random_ids.max() >= spec.vocab_size - 5  # the whole range
    # Uniform over [0, vocab_size): chi-square goodness of fit on 11 bins (10 dof).
    observed = np.bincount(random_ids * 11 // spec.vocab_size, minlength=11)
    expected = np.bincount(np.arange(spec.vocab_size) * 11 // spec.vocab_size, minlength=11)
    expected = expected / expected.sum() * len(random_ids)
    stat = float(((observed - expected) ** 2 / expected).sum())
    assert chi2_sf_even(stat, 10) > 1e-3


def test_labels_and_unchanged_positions(big_chunks, big_masked):
    original, labels = big_chunks["input_ids"], big_masked["labels"]
    chosen = big_masked["outcome"] != mk.NOT_CHOSEN
    np.testing.assert_array_equal(labels == mk.IGNORE_INDEX, ~chosen)
    np.testing.assert_array_equal(labels[chosen], original[chosen])
    np.testing.assert_array_equal(big_masked["input_ids"][~chosen], original[~chosen])
    kept = big_masked["outcome"] == mk.KEPT
    np.testing.assert_array_equal(big_masked["input_ids"][kept], original[kept])


def test_whole_word_share_stays_close_to_p(big_chunks, spec):
    ww = spec.replace(kind="whole_word")
    masked = mk.mask_chunks(big_chunks, ww, seed=3)
    counts = mk.count_outcomes(masked, ww)
    # Tokens of one word move together (~1.7 pieces per word): widen the token-level bound.
    assert abs(counts["chosen_share"] - 0.15) < 2 * z_bound(0.15, counts["maskable"])
    # Per word: share of chosen words and their 80/10/10 split.
    words = big_chunks["word_ids"]
    first_piece = (words >= 0) & np.concatenate(
        [np.ones((len(words), 1), bool), words[:, 1:] != words[:, :-1]], axis=1
    )
    outcome = masked["outcome"][first_piece]
    n_words, n_chosen = outcome.size, int(np.sum(outcome != mk.NOT_CHOSEN))
    assert abs(n_chosen / n_words - 0.15) < z_bound(0.15, n_words)
    for code, share in ((mk.MASKED, 0.8), (mk.RANDOM, 0.1), (mk.KEPT, 0.1)):
        assert abs(np.sum(outcome == code) / n_chosen - share) < z_bound(share, n_chosen)


# ------------------------------------------------------------------------------ invariants
@PROPERTY
@given(
    shape_seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 4),
    length=st.integers(2, 40),
    seed=st.integers(0, 2**40),
    epoch=st.integers(0, 1000),
    probability=st.floats(0.01, 0.99),
    kind=st.sampled_from(MASKING_KINDS),
)
def test_special_tokens_and_padding_never_chosen(
    tokenizer, spec, shape_seed, n_rows, length, seed, epoch, probability, kind
):
    rows = random_rows(
        np.random.default_rng(shape_seed), spec, n_rows, length, tokenizer.pad_token_id
    )
    this = spec.replace(kind=kind, mlm_probability=probability)
    out = mask_np(rows, this, seed, epoch)
    maskable = mk.maskable_positions(rows["input_ids"], rows["attention_mask"], this)
    chosen = out["labels"] != mk.IGNORE_INDEX
    assert not np.any(chosen & ~maskable)
    assert not np.any(chosen & np.isin(rows["input_ids"], spec.special_ids))
    assert not np.any(chosen & (rows["attention_mask"] == 0))
    np.testing.assert_array_equal(chosen, out["outcome"] != mk.NOT_CHOSEN)
    np.testing.assert_array_equal(out["labels"][chosen], rows["input_ids"][chosen])
    np.testing.assert_array_equal(out["input_ids"][~chosen], rows["input_ids"][~chosen])
    assert np.all(out["input_ids"][out["outcome"] == mk.MASKED] == spec.mask_token_id)
    np.testing.assert_array_equal(
        out["input_ids"][out["outcome"] == mk.KEPT], rows["input_ids"][out["outcome"] == mk.KEPT]
    )
    randomised = out["input_ids"][out["outcome"] == mk.RANDOM]
    assert np.all((randomised >= 0) & (randomised < spec.vocab_size))


@PROPERTY
@given(
    shape_seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 4),
    length=st.integers(2, 40),
    seed=st.integers(0, 2**40),
    probability=st.floats(0.05, 0.95),
)
def test_whole_word_masks_cover_whole_words(
    tokenizer, spec, shape_seed, n_rows, length, seed, probability
):
    rows = random_rows(
        np.random.default_rng(shape_seed), spec, n_rows, length, tokenizer.pad_token_id
    )
    this = spec.replace(kind="whole_word", mlm_probability=probability)
    out = mask_np(rows, this, seed)
    for r in range(n_rows):
        for word in np.unique(rows["word_ids"][r][rows["word_ids"][r] >= 0]):
            pieces = rows["word_ids"][r] == word
            outcomes = set(out["outcome"][r][pieces].tolist())
            assert len(outcomes) == 1, f"word {word} of row {r} is partly masked: {outcomes}"
    assert np.all(out["outcome"][rows["word_ids"] < 0] == mk.NOT_CHOSEN)


# ------------------------------------------------------------------------------ reproducibility
def test_same_seed_same_masks_and_seed_or_epoch_changes_them(text_chunks, spec):
    first = mk.mask_chunks(text_chunks, spec, seed=7, epoch=2)
    again = mk.mask_chunks(text_chunks, spec, seed=7, epoch=2, batch_size=5)  # other batching
    for name in ("input_ids", "labels", "outcome"):
        np.testing.assert_array_equal(first[name], again[name])
    other_seed = mk.mask_chunks(text_chunks, spec, seed=8, epoch=2)
    other_epoch = mk.mask_chunks(text_chunks, spec, seed=7, epoch=3)
    for other in (other_seed, other_epoch):
        same = np.mean(first["labels"] == other["labels"])
        chosen = first["labels"] != mk.IGNORE_INDEX
        overlap = np.mean((other["labels"] != mk.IGNORE_INDEX)[chosen])
        assert same < 1.0 and overlap < 0.3  # independent draws overlap ~15%


def test_row_masks_depend_on_row_index_not_on_position_in_batch(text_chunks, spec):
    rows = {name: a[:6] for name, a in text_chunks.items()}
    whole = mask_np(rows, spec, seed=4, epoch=1)
    reversed_rows = {name: a[::-1].copy() for name, a in rows.items()}
    out = mk.mask_batch(
        reversed_rows["input_ids"],
        reversed_rows["attention_mask"],
        tf.constant([5, 4, 3, 2, 1, 0], tf.int64),
        mk.masking_key(4, 1),
        spec,
        with_outcome=True,
    )
    np.testing.assert_array_equal(out["labels"].numpy()[::-1], whole["labels"])


def test_epoch_permutation_is_a_seeded_permutation():
    first = mk.epoch_permutation(1000, seed=1, epoch=0).numpy()
    assert sorted(first.tolist()) == list(range(1000))
    np.testing.assert_array_equal(first, mk.epoch_permutation(1000, seed=1, epoch=0).numpy())
    assert not np.array_equal(first, mk.epoch_permutation(1000, seed=1, epoch=1).numpy())
    assert not np.array_equal(first, mk.epoch_permutation(1000, seed=2, epoch=0).numpy())
    tf.random.set_seed(123)  # TensorFlow's global seed plays no part
    np.testing.assert_array_equal(first, mk.epoch_permutation(1000, seed=1, epoch=0).numpy())


# ------------------------------------------------------------------------------ the builder
def collect(dataset) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [(x["input_ids"].numpy(), x["attention_mask"].numpy(), y.numpy()) for x, y in dataset]


@pytest.fixture(scope="module")
def built(tokenizer, text_chunks):
    train = {name: a[:-12] for name, a in text_chunks.items()}
    held_out = {name: a[-12:] for name, a in text_chunks.items()}
    config = RunConfig(batch_size=8, epochs=3, seed=9)
    return mk.build_datasets(train, held_out, config, tokenizer), train, held_out


def test_training_batches_have_fixed_shapes_and_keras_form(built):
    data, train, _ = built
    n_rows, length = train["input_ids"].shape
    assert data.steps_per_epoch == n_rows // 8 and data.total_steps == 3 * data.steps_per_epoch
    assert data.train.cardinality().numpy() == data.total_steps
    batches = list(data.train)
    assert len(batches) == data.total_steps
    x, y = batches[0]
    assert set(x) == {"input_ids", "attention_mask"}
    for tensor in (x["input_ids"], x["attention_mask"], y):
        assert tensor.dtype == tf.int32 and tuple(tensor.shape) == (8, length)
    assert data.train.element_spec[1].shape.as_list() == [8, length]  # static: fine for XLA


def test_each_epoch_is_a_new_permutation_with_the_masks_of_mask_chunks(built, spec):
    data, train, _ = built
    steps = data.steps_per_epoch
    for epoch in (0, 2):
        order = mk.epoch_permutation(len(train["input_ids"]), 9, epoch).numpy()[: steps * 8]
        expected = mk.mask_chunks(train, spec, seed=9, epoch=epoch)
        batches = collect(data.train_from(epoch).take(steps))
        ids = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[2] for b in batches])
        np.testing.assert_array_equal(ids, expected["input_ids"][order])
        np.testing.assert_array_equal(labels, expected["labels"][order])
        assert len(set(order.tolist())) == steps * 8
    assert not np.array_equal(
        mk.epoch_permutation(len(train["input_ids"]), 9, 0).numpy(),
        mk.epoch_permutation(len(train["input_ids"]), 9, 1).numpy(),
    )


@pytest.mark.parametrize("epoch,skip", [(0, 3), (1, 0), (2, 1)])
def test_resume_equals_the_uninterrupted_stream(built, epoch, skip):
    data, _, _ = built
    uninterrupted = collect(data.train.skip(epoch * data.steps_per_epoch + skip))
    resumed_ds = data.train_from(epoch, skip)
    assert resumed_ds.cardinality().numpy() == len(uninterrupted)
    resumed = collect(resumed_ds)
    assert len(resumed) == len(uninterrupted)
    for a, b in zip(resumed, uninterrupted, strict=True):
        for left, right in zip(a, b, strict=True):
            np.testing.assert_array_equal(left, right)


def test_fixed_eval_masks_are_identical_across_passes(built, tokenizer):
    data, _, held_out = built
    first, second = collect(data.eval), collect(data.eval)
    assert sum(len(b[2]) for b in first) == len(held_out["input_ids"])  # every row, last batch
    assert len(first) == data.eval_steps == 2 and len(first[-1][2]) == 4  # partial, kept
    for a, b in zip(first, second, strict=True):
        for left, right in zip(a, b, strict=True):
            np.testing.assert_array_equal(left, right)
    again = mk.fixed_eval_masks(held_out, data.spec, seed=9)  # e.g. after a restart
    np.testing.assert_array_equal(np.concatenate([b[2] for b in first]), again["labels"])
    np.testing.assert_array_equal(data.eval_arrays["input_ids"], again["input_ids"])
    training_epoch0 = mk.mask_chunks(held_out, data.spec, seed=9, epoch=0)
    assert not np.array_equal(training_epoch0["labels"], again["labels"])  # its own stream
    assert np.any(again["labels"] != mk.IGNORE_INDEX)


def test_whole_word_pipeline_from_a_datasets_dataset(tokenizer, text_chunks):
    import datasets

    table = datasets.Dataset.from_dict({name: a.tolist() for name, a in text_chunks.items()})
    table = table.select(range(len(table) - 1, -1, -1))  # an indices mapping must be honoured
    arrays = mk.chunk_arrays(table, need_word_ids=True)
    for name, a in text_chunks.items():
        np.testing.assert_array_equal(arrays[name], a[::-1])
    config = RunConfig(batch_size=4, epochs=1, masking="whole_word", seed=1)
    data = mk.build_datasets(table, table.select(range(6)), config, tokenizer)
    assert data.spec.kind == "whole_word"
    x, y = next(iter(data.train))
    assert tuple(y.shape) == (4, 64)


# ------------------------------------------------------------------------------ vs the collator
def test_statistics_match_transformers_collator(tokenizer, spec):
    from transformers import DataCollatorForLanguageModeling

    chunks = synthetic_chunks(tokenizer, 1500, 128, seed=21)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.15, return_tensors="np", seed=0
    )
    features = [
        {"input_ids": row, "attention_mask": mask}
        for row, mask in zip(
            chunks["input_ids"].tolist(), chunks["attention_mask"].tolist(), strict=True
        )
    ]
    theirs = collator(features)
    ours = mk.mask_chunks(chunks, spec, seed=0)
    maskable = mk.maskable_positions(chunks["input_ids"], chunks["attention_mask"], spec)
    n = int(maskable.sum())

    # Read both the same way (from ids and labels), as one would read the collator's output.
    a = mk.count_outcomes({"input_ids": ours["input_ids"], "labels": ours["labels"]}, spec)
    b = mk.count_outcomes({"input_ids": theirs["input_ids"], "labels": theirs["labels"]}, spec)
    assert a["maskable"] == b["maskable"] == n  # the original rows, recovered from ids and labels
    assert not np.any((theirs["labels"] != mk.IGNORE_INDEX) & ~maskable)  # same maskable set
    # 1. Share of chosen tokens: two-proportion z-test.
    pooled = (a["chosen"] + b["chosen"]) / (2 * n)
    z = (a["chosen"] - b["chosen"]) / n / math.sqrt(2 * pooled * (1 - pooled) / n)
    assert abs(z) < 3.3, z  # two-sided p > 0.001
    # 2. The 80/10/10 split: chi-square homogeneity test (2 dof).
    split_a = np.array([a["mask"], a["random"], a["kept"]])
    split_b = np.array([b["mask"], b["random"], b["kept"]])
    assert homogeneity_p_value(split_a, split_b) > 1e-3, (split_a, split_b)

    # 3. The random ids: same distribution over [0, vocab_size) (5 bins, 4 dof).
    def random_ids(masked, labels):
        chosen = labels != mk.IGNORE_INDEX
        picked = chosen & (masked != spec.mask_token_id) & (masked != labels)
        return masked[picked]

    ids_a = random_ids(ours["input_ids"], ours["labels"])
    ids_b = random_ids(theirs["input_ids"], theirs["labels"])
    assert ids_a.max() < spec.vocab_size and ids_b.max() < spec.vocab_size
    bins_a = np.bincount(ids_a * 5 // spec.vocab_size, minlength=5)
    bins_b = np.bincount(ids_b * 5 // spec.vocab_size, minlength=5)
    assert homogeneity_p_value(bins_a, bins_b) > 1e-3, (bins_a, bins_b)
    # 4. Chosen tokens per row: same distribution (chi-square on 7 bins, 6 dof).
    per_row_a = (ours["labels"] != mk.IGNORE_INDEX).sum(1)
    per_row_b = (theirs["labels"] != mk.IGNORE_INDEX).sum(1)
    edges = [-1, 13, 15, 17, 19, 21, 23, 200]
    hist_a, hist_b = np.histogram(per_row_a, edges)[0], np.histogram(per_row_b, edges)[0]
    assert homogeneity_p_value(hist_a, hist_b) > 1e-3, (hist_a, hist_b)


def test_collator_trap_torch_by_default_and_our_pipeline_never_imports_torch(tokenizer):
    from transformers import DataCollatorForLanguageModeling

    assert DataCollatorForLanguageModeling(tokenizer).return_tensors == "pt"
    # Our pipeline, run in a fresh interpreter where importing torch (or transformers) fails:
    script = textwrap.dedent("""
        import sys, importlib.abc

        class Refuse(importlib.abc.MetaPathFinder):
            tried = []
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers"):
                    self.tried.append(name)
                    raise ImportError(f"blocked import of {name}")
                return None

        sys.meta_path.insert(0, Refuse())
        import numpy as np
        from mlm_helpers import RunConfig
        from mlm_helpers import masking as mk

        spec = mk.MaskingSpec(mask_token_id=4, vocab_size=50, special_ids=(0, 1, 2, 3, 4))
        rng = np.random.default_rng(0)
        chunks = {"input_ids": rng.integers(5, 50, (40, 16)).astype("int32"),
                  "attention_mask": np.ones((40, 16), "int32")}
        data = mk.build_datasets(chunks, chunks, RunConfig(batch_size=8, epochs=2), spec=spec)
        n = sum(1 for _ in data.train) + sum(1 for _ in data.eval)
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        print("batches", n, "tried", Refuse.tried)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batches 15 tried []" in done.stdout


# ------------------------------------------------------------------------------ errors
def test_clear_errors_on_bad_input(tokenizer, spec, text_chunks):
    config = RunConfig(batch_size=8, epochs=1)
    missing = {k: v for k, v in text_chunks.items() if k != "attention_mask"}
    with pytest.raises(ValueError, match="no column.*attention_mask"):
        mk.build_datasets(missing, text_chunks, config, tokenizer)
    no_words = {k: v for k, v in text_chunks.items() if k != "word_ids"}
    with pytest.raises(ValueError, match="word_ids"):
        mk.build_datasets(no_words, no_words, config.replace(masking="whole_word"), tokenizer)
    empty = {k: v[:0] for k, v in text_chunks.items()}
    with pytest.raises(ValueError, match="empty"):
        mk.build_datasets(empty, text_chunks, config, tokenizer)
    short = dict(text_chunks, attention_mask=text_chunks["attention_mask"][:-1])
    with pytest.raises(ValueError, match="mismatched shapes"):
        mk.chunk_arrays(short)
    ragged = dict(text_chunks, input_ids=[[5, 6, 7], [5, 6]])
    with pytest.raises(ValueError, match="different lengths"):
        mk.chunk_arrays(ragged)
    with pytest.raises(ValueError, match="batch_size=500 is larger"):
        mk.build_datasets(text_chunks, text_chunks, config.replace(batch_size=500), tokenizer)
    too_big = dict(text_chunks, input_ids=text_chunks["input_ids"] + spec.vocab_size)
    with pytest.raises(ValueError, match="different tokenizer"):
        mk.build_datasets(too_big, text_chunks, config, tokenizer)
    with pytest.raises(TypeError, match="datasets.Dataset or a dict"):
        mk.chunk_arrays([1, 2, 3])
    with pytest.raises(ValueError, match="skip_batches"):
        mk.build_datasets(text_chunks, text_chunks, config, tokenizer).train_from(0, 10_000)


@pytest.mark.parametrize("value", [1.0, 0.0, "0.15"])
def test_spec_rejects_bad_mlm_probability_through_check_masking(spec, value):
    with pytest.raises(ValueError, match="mlm_probability") as from_spec:
        spec.replace(mlm_probability=value)
    with pytest.raises(ValueError) as from_config:
        check_masking(spec.kind, value)
    assert str(from_spec.value) == str(from_config.value)  # the one check, not a copy of it
    with pytest.raises(ValueError, match="choose one of"):
        spec.replace(kind="span")


def test_from_tokenizer_without_mask_token_raises_data_error(tokenizer):
    from transformers import PreTrainedTokenizerFast

    no_mask = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer)
    assert no_mask.mask_token is None
    with pytest.raises(DataError, match="has no mask token.*add_special_tokens"):
        mk.MaskingSpec.from_tokenizer(no_mask)


def test_datasets_dataset_with_ragged_rows_is_refused():
    import datasets

    table = datasets.Dataset.from_dict(
        {"input_ids": [[5, 6, 7], [5, 6]], "attention_mask": [[1, 1, 1], [1, 1]]}
    )
    with pytest.raises(ValueError, match="different lengths"):
        mk.chunk_arrays(table)
    with pytest.raises(ValueError, match="empty"):
        mk.chunk_arrays(table.select([]))


# ------------------------------------------------------------------------------ notebook helpers
def test_decode_masked_row_shows_masks_random_and_kept(tokenizer):
    vocab = tokenizer.get_vocab()
    pieces = [t for t in vocab if t.startswith("##")][:1] + ["ka", "ba", "lo"]
    ids = tokenizer.convert_tokens_to_ids(["[CLS]", "ka", pieces[0], "ba", "lo", "[SEP]", "[PAD]"])
    masked = [ids[0], ids[1], tokenizer.mask_token_id, vocab["lo"], ids[4], ids[5], ids[6]]
    labels = [-100, -100, ids[2], ids[3], ids[4], -100, -100]
    row = {"input_ids": [masked], "labels": [labels], "attention_mask": [[1, 1, 1, 1, 1, 1, 0]]}
    assert mk.decode_masked_rows(tokenizer, row, [0]) == ["[CLS] ka[MASK] <lo|was ba> {lo} [SEP]"]
    row = {"input_ids": [masked], "labels": [labels], "outcome": [[0, 0, 1, 2, 3, 0, 0]]}
    assert mk.decode_masked_rows(tokenizer, row, [0])[0].endswith("[SEP] [PAD]")


def test_count_outcomes_from_ids_agrees_with_exact_outcome(big_masked, spec):
    exact = mk.count_outcomes(big_masked, spec)
    read = mk.count_outcomes(
        {"input_ids": big_masked["input_ids"], "labels": big_masked["labels"]}, spec
    )
    assert read["maskable"] == exact["maskable"]  # original rows recovered from ids and labels
    assert exact["chosen"] == read["chosen"] and exact["mask"] <= read["mask"]
    # Only random draws that hit the original id (or the mask id) are read differently.
    assert 0 <= exact["random"] - read["random"] <= 4 * exact["random"] * 2 / spec.vocab_size + 5


def test_model_fit_reads_each_epoch_once_and_resumes(built):
    """`train_from` + `steps_per_epoch` give Keras the contract it needs (a multi-epoch stream)."""
    from mlm_helpers.runtime import import_keras

    keras = import_keras()
    data, _, _ = built
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in mk.MODEL_INPUTS}
    hidden = keras.layers.Embedding(data.spec.vocab_size, 8)(inputs["input_ids"])
    model = keras.Model(inputs, keras.layers.Dense(data.spec.vocab_size)(hidden))

    def loss(labels, logits):
        labels = tf.cast(labels, tf.int32)
        weight = tf.cast(labels != mk.IGNORE_INDEX, tf.float32)
        per_token = keras.losses.sparse_categorical_crossentropy(
            tf.maximum(labels, 0), logits, from_logits=True
        )
        return tf.reduce_sum(per_token * weight) / tf.maximum(tf.reduce_sum(weight), 1.0)

    model.compile(optimizer="sgd", loss=loss)
    for first_epoch in (0, 2):
        steps: list[int] = []
        counter = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, _, seen=steps: seen.append(b)
        )
        history = model.fit(
            data.train_from(first_epoch),
            epochs=data.epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=data.steps_per_epoch,
            validation_data=data.eval,
            callbacks=[counter],
            verbose=0,
        )
        assert len(history.history["val_loss"]) == data.epochs - first_epoch
        assert len(steps) == (data.epochs - first_epoch) * data.steps_per_epoch


def test_count_outcomes_counts_exactly_on_the_original_rows():
    """A hand-made `mask_chunks` result whose counts are known: a masked position (whose new id is
    the special mask id) still counts as maskable, and a random draw that hit the original id
    counts as random - only the outcome array tells."""
    small = mk.MaskingSpec(mask_token_id=4, vocab_size=50, special_ids=(0, 1, 2, 3, 4))
    original = np.array([[2, 10, 11, 12, 13, 14, 3, 0]], np.int32)  # [CLS] 5 tokens [SEP] [PAD]
    masked = {
        "original_ids": original,
        "attention_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]], np.int32),
        "input_ids": np.array([[2, 4, 11, 12, 20, 14, 3, 0]], np.int32),
        "labels": np.array([[-100, 10, 11, 12, 13, -100, -100, -100]], np.int32),
        "outcome": np.array([[0, mk.MASKED, mk.RANDOM, mk.KEPT, mk.RANDOM, 0, 0, 0]], np.int8),
    }
    counts = mk.count_outcomes(masked, small)
    assert counts == {
        "chosen": 4,
        "mask": 1,
        "random": 2,
        "kept": 1,
        "mask_share": 0.25,
        "random_share": 0.5,
        "kept_share": 0.25,
        "maskable": 5,
        "chosen_share": 0.8,
    }


# ------------------------------------------------------------------------------ uniform_draws
def test_uniform_draws_are_the_numbers_token_masking_decides_with(big_chunks, big_masked, spec):
    """Notebook 03's rule on these numbers - chosen if u < p; of the chosen, r = u / p below 0.8
    is [MASK], below 0.9 random (the id read off r's place in that slice), else kept - gives
    `mask_chunks`' masks exactly."""
    ids, attention = big_chunks["input_ids"], big_chunks["attention_mask"]
    u = mk.uniform_draws(np.arange(len(ids)), ids.shape[1], seed=11).numpy()
    assert u.shape == ids.shape and 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01
    maskable = mk.maskable_positions(ids, attention, spec)
    p, r = spec.mlm_probability, u / spec.mlm_probability
    outcome = np.select(
        [~maskable | (u >= p), r < 0.8, r < 0.9], [mk.NOT_CHOSEN, mk.MASKED, mk.RANDOM], mk.KEPT
    )
    np.testing.assert_array_equal(outcome, big_masked["outcome"])
    random_ids = ((r - 0.8) / 0.1 * spec.vocab_size).astype(np.int32)
    is_random = outcome == mk.RANDOM
    np.testing.assert_array_equal(random_ids[is_random], big_masked["input_ids"][is_random])


def test_uniform_draws_per_word_and_replacement_give_whole_word_masks(big_chunks, spec):
    whole = spec.replace(kind="whole_word")
    rows = np.arange(40, 90)  # not the first rows: the row index is part of every draw
    chunk = {name: np.asarray(big_chunks[name])[rows] for name in big_chunks}
    out = mk.mask_batch(
        chunk["input_ids"],
        chunk["attention_mask"],
        rows,
        mk.masking_key(3, 1),
        whole,
        chunk["word_ids"],
        with_outcome=True,
    )
    words = chunk["word_ids"]
    per_word = mk.uniform_draws(rows, int(words.max()) + 1, seed=3, epoch=1, per="word").numpy()
    u = np.take_along_axis(per_word, np.maximum(words, 0), axis=1)
    maskable = mk.maskable_positions(chunk["input_ids"], chunk["attention_mask"], whole)
    maskable &= words >= 0
    p, r = whole.mlm_probability, u / whole.mlm_probability
    outcome = np.select(
        [~maskable | (u >= p), r < 0.8, r < 0.9], [mk.NOT_CHOSEN, mk.MASKED, mk.RANDOM], mk.KEPT
    )
    np.testing.assert_array_equal(outcome, out["outcome"].numpy())
    spare = mk.uniform_draws(rows, words.shape[1], seed=3, epoch=1, per="replacement").numpy()
    is_random = outcome == mk.RANDOM
    assert is_random.any()
    np.testing.assert_array_equal(
        (spare * whole.vocab_size).astype(np.int32)[is_random], out["input_ids"].numpy()[is_random]
    )


def test_uniform_draws_refuses_an_unknown_kind_of_draw():
    with pytest.raises(ValueError, match="per='words' is unknown"):
        mk.uniform_draws([0], 8, seed=0, per="words")
    with pytest.raises(ValueError, match="size"):
        mk.uniform_draws([0], 0, seed=0)


# ------------------------------------------------------------------------------ the token grid
def test_masked_chunk_grid_colours_each_token_by_its_outcome(tokenizer, text_chunks, spec):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from mlm_helpers.masking.inspection import OUTCOME_STYLE

    masked = {
        "token masking": mk.mask_chunks(text_chunks, spec, seed=4),
        "whole-word masking": mk.mask_chunks(text_chunks, spec.replace(kind="whole_word"), seed=4),
    }
    row = 2
    fig = mk.plot_masked_chunk(tokenizer, masked, row, columns=8)
    assert len(fig.axes) == 2
    for ax, (title, arrays) in zip(fig.axes, masked.items(), strict=True):
        real = arrays["attention_mask"][row] == 1
        outcome = arrays["outcome"][row][real]
        colours = [to_hex(p.get_facecolor()) for p in ax.patches]
        assert len(colours) == real.sum()  # one cell per real token, none for padding
        for code, (_, face, _) in OUTCOME_STYLE.items():
            assert colours.count(face) == np.sum(outcome == code), (title, code)
        texts = [t.get_text() for t in ax.texts]
        assert sum("→" in t for t in texts) == np.sum(outcome == mk.RANDOM)
        assert ax.get_title().startswith(f"{title}: {np.sum(outcome != 0)} of {real.sum()}")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][1] == "[MASK]"
    plt.close("all")
