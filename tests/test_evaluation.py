"""Tests of mlm_helpers.evaluation: the float32 masked-LM loss, perplexity per masked token and
fill-mask (notebook 04)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlm_helpers import runtime
from mlm_helpers.evaluation import (
    IGNORE_INDEX,
    EvalResult,
    fill_mask,
    format_fill_mask,
    masked_lm_loss,
    masked_lm_loss_terms,
    perplexity,
    prediction_slots,
)

tf = runtime.import_tensorflow()


def numpy_token_losses(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Cross-entropy of every predicted position, by hand (float64)."""
    logits = logits.astype(np.float64)
    chosen = labels != IGNORE_INDEX
    log_z = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    picked = np.take_along_axis(logits, np.where(chosen, labels, 0)[..., None], -1)[..., 0]
    return (log_z - picked)[chosen]


class TableModel:
    """A stand-in model whose logits at a position depend only on the token there: logits =
    table[input_ids]. Enough to know every loss exactly."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = tf.constant(table, tf.float32)

    def __call__(self, inputs, training=False):
        return SimpleNamespace(logits=tf.gather(self.table, inputs["input_ids"]))


def keras_batches(ids: list[np.ndarray], labels: list[np.ndarray]):
    """A dataset yielding the given (uneven) batches, as masking.keras_batches would."""

    def gen():
        for i, lab in zip(ids, labels, strict=True):
            yield {"input_ids": i, "attention_mask": np.ones_like(i)}, lab

    spec = (
        {
            "input_ids": tf.TensorSpec([None, None], tf.int32),
            "attention_mask": tf.TensorSpec([None, None], tf.int32),
        },
        tf.TensorSpec([None, None], tf.int32),
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def test_loss_terms_equal_a_hand_computation():
    logits = np.array([[[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [[1.0, 3.0, 0.0], [0.0, 0.0, 9.0]]])
    labels = np.array([[0, IGNORE_INDEX], [2, 2]], np.int32)
    loss_sum, count = masked_lm_loss_terms(labels, logits.astype(np.float32))
    expected = numpy_token_losses(labels, logits)
    assert count.dtype == tf.float32 and float(count) == 3
    assert float(loss_sum) == pytest.approx(expected.sum(), rel=1e-6)
    # first row, position 0: -log softmax([2, 0, -1])[0]
    assert expected[0] == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-1))))


def test_loss_terms_are_float32_from_half_precision_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 50)).astype(np.float16) * 8  # large but representable
    labels = rng.integers(0, 50, size=(2, 4)).astype(np.int32)
    loss_sum, count = masked_lm_loss_terms(labels, tf.constant(logits))
    assert loss_sum.dtype == tf.float32
    expected = numpy_token_losses(labels, logits.astype(np.float32)).sum()
    assert float(loss_sum) == pytest.approx(expected, rel=1e-5)


def test_perplexity_is_per_masked_token_not_a_mean_of_batch_means():
    table = np.array(
        [[3.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 4.0, -2.0]],
        np.float32,
    )
    ids = [np.array([[0, 1, 2, 3]], np.int32), np.array([[3, 2, 1, 0], [0, 0, 1, 1]], np.int32)]
    labels = [
        np.array([[1, -100, -100, -100]], np.int32),  # one masked token
        np.array([[0, 2, 1, -100], [0, -100, 1, 3]], np.int32),
    ]  # six masked tokens
    result = perplexity(TableModel(table), keras_batches(ids, labels))

    per_batch = [numpy_token_losses(lab, table[i]) for i, lab in zip(ids, labels, strict=True)]
    per_token = np.concatenate(per_batch)
    batch_means = [losses.mean() for losses in per_batch]
    assert result.masked_tokens == 7
    assert result.loss == pytest.approx(per_token.mean(), rel=1e-6)
    assert result.perplexity == pytest.approx(math.exp(per_token.mean()), rel=1e-6)
    assert abs(np.mean(batch_means) - per_token.mean()) > 0.1  # the two really differ here


def test_perplexity_refuses_an_evaluation_set_without_masked_tokens():
    ids = [np.zeros((1, 3), np.int32)]
    with pytest.raises(ValueError, match="no masked tokens"):
        perplexity(
            TableModel(np.eye(2, dtype=np.float32)),
            keras_batches(ids, [np.full((1, 3), IGNORE_INDEX, np.int32)]),
        )


@given(positions=st.integers(1, 100_000), share=st.floats(0.01, 0.99))
def test_prediction_slots_cover_the_expected_masks(positions, share):
    slots = prediction_slots(positions, share)
    assert 1 <= slots <= positions
    assert slots >= min(positions, positions * share)
    assert slots == positions or slots % 8 == 0


@pytest.fixture(scope="module")
def tiny_model(embedded_tokenizer, make_tiny_mlm):
    return make_tiny_mlm(embedded_tokenizer, n_layers=1)


@pytest.fixture(scope="module")
def two_block_model(embedded_tokenizer, make_tiny_mlm):
    """Two transformer blocks (so one runs whole and the last one in part), no dropout (so a
    training-mode forward pass is a function of the inputs)."""
    return make_tiny_mlm(embedded_tokenizer, n_layers=2, seed=3, dropout=0.0, attention_dropout=0.0)


def random_batch(vocab: int, seed: int, share: float, shape=(4, 64)):
    """Token ids, an attention mask with some right padding, and labels on a `share` of the
    unpadded positions."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=shape).astype(np.int32)
    lengths = rng.integers(shape[1] // 2, shape[1] + 1, size=shape[0])
    attention_mask = (np.arange(shape[1]) < lengths[:, None]).astype(np.int32)
    chosen = (rng.random(shape) < share) & (attention_mask == 1)
    labels = np.where(chosen, ids, IGNORE_INDEX).astype(np.int32)
    return {"input_ids": ids, "attention_mask": attention_mask}, labels


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**16), share=st.sampled_from([0.0, 0.05, 0.15, 0.5, 1.0]))
def test_masked_positions_only_gives_the_full_loss(two_block_model, seed, share):
    """The fast path (last block after attention and vocabulary head on the masked positions only)
    and the plain full-logits loss agree, with padding, and on batches with more masked tokens than
    slots (the fallback branch)."""
    inputs, labels = random_batch(two_block_model.config.vocab_size, seed, share)
    fast_sum, fast_count = masked_lm_loss(
        two_block_model, inputs, labels, training=False, prediction_share=0.15
    )
    full_sum, full_count = masked_lm_loss_terms(labels, two_block_model(inputs).logits)
    assert float(fast_count) == float(full_count) == (labels != IGNORE_INDEX).sum()
    assert float(fast_sum) == pytest.approx(float(full_sum), rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("share", [0.15, 0.6])  # the masked-positions branch, then the fallback
def test_masked_positions_only_gives_the_full_gradients(two_block_model, share):
    """Training follows the fast path's gradients: they must equal those of the plain loss for
    every weight, embeddings and the tied vocabulary projection included."""
    inputs, labels = random_batch(two_block_model.config.vocab_size, 11, share)
    weights = two_block_model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fast_sum, _ = masked_lm_loss(two_block_model, inputs, labels, training=True)
        full_sum, _ = masked_lm_loss_terms(labels, two_block_model(inputs, training=True).logits)
    fast = tape.gradient(fast_sum, weights)
    full = tape.gradient(full_sum, weights)
    assert len(fast) == len(full) == len(weights) > 20
    for weight, a, b in zip(weights, fast, full, strict=True):
        a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()
        assert np.abs(b).max() > 0, weight.name  # every weight takes part in the loss
        np.testing.assert_allclose(
            a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max(), err_msg=weight.name
        )


def test_last_block_feed_forward_runs_on_the_slots_only(two_block_model):
    """What makes the step cheaper: in the traced graph the first block's feed-forward network
    multiplies every position, the last block's `prediction_slots` rows (the masked positions) or,
    in the fallback branch of the cond, every position."""
    inputs, labels = random_batch(two_block_model.config.vocab_size, 5, 0.15, shape=(8, 64))
    step = tf.function(
        lambda i, lab: masked_lm_loss(two_block_model, i, lab, training=True)
    ).get_concrete_function(
        {k: tf.TensorSpec(v.shape, tf.int32) for k, v in inputs.items()},
        tf.TensorSpec(labels.shape, tf.int32),
    )

    def feed_forward_rows(graph) -> set[int]:
        return {
            int(op.inputs[0].shape[0])
            for op in graph.get_operations()
            if op.type == "MatMul" and "ffn/lin1" in op.name
        }

    branches = set().union(*(feed_forward_rows(f.graph) for f in step.graph._functions.values()))
    slots = prediction_slots(labels.size, 0.15)
    assert slots < labels.size
    assert feed_forward_rows(step.graph) == {labels.size}  # the first block, outside the cond
    assert branches == {slots, labels.size}  # the masked positions; all of them in the fallback


def test_fill_mask_returns_top_k_tokens_with_descending_scores(tiny_model, embedded_tokenizer):
    prompts = ["This is a great [MASK].", "I would [MASK] this movie to anyone."]
    result = fill_mask(tiny_model, embedded_tokenizer, prompts, top_k=4)
    assert list(result) == prompts  # keys as written, in order
    for predictions in result.values():
        scores = [p["score"] for p in predictions]
        assert len(predictions) == 4
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 < s <= 1.0 for s in scores) and sum(scores) <= 1.0 + 1e-9
        assert all(isinstance(p["token"], str) and p["token"] for p in predictions)
    assert "This is a great [MASK]. ->" in format_fill_mask(result)


def test_fill_mask_reads_the_mask_position(embedded_tokenizer):
    """A model that puts all its mass on token 7 exactly where the input is the mask token, and on
    token 8 elsewhere: fill-mask must report token 7 first (the prompt's [MASK] became the
    tokenizer's mask token)."""
    vocab = len(embedded_tokenizer)
    table = np.zeros((vocab, vocab), np.float32)
    table[:, 8] = 20.0
    table[embedded_tokenizer.mask_token_id] = 0.0
    table[embedded_tokenizer.mask_token_id, 7] = 20.0
    result = fill_mask(TableModel(table), embedded_tokenizer, "a [MASK] film", top_k=2)
    best = result["a [MASK] film"][0]
    assert best["token"] == embedded_tokenizer.convert_ids_to_tokens(7)
    assert best["score"] > 0.99


def test_fill_mask_rejects_bad_prompts_and_top_k(tiny_model, embedded_tokenizer):
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        fill_mask(tiny_model, embedded_tokenizer, ["no mask here"])
    with pytest.raises(ValueError, match="top_k"):
        fill_mask(tiny_model, embedded_tokenizer, ["a [MASK]"], top_k=0)


def test_eval_result_prints_loss_and_perplexity():
    text = str(EvalResult(loss=2.0, perplexity=math.exp(2.0), masked_tokens=1234))
    assert "2.0000" in text and "7.39" in text and "1,234" in text
