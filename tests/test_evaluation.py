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
    check_adaptation,
    fill_mask,
    format_fill_mask,
    masked_lm_loss,
    masked_lm_loss_terms,
    perplexity,
    perplexity_by_token_group,
    prediction_slots,
    unigram_perplexity,
)

tf = runtime.import_tensorflow()


@pytest.fixture(autouse=True, scope="module")
def full_float32_matmuls():
    """On an Ampere or later GPU, TensorFlow multiplies float32 matrices in TF32 (a 10-bit mantissa)
    by default; the comparisons here hold to 1e-5, so they run in full float32 on every device."""
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(before)


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


def test_unigram_perplexity_by_hand():
    train = np.array([[0, 2, 2, 3, 1]])  # [CLS] 2 2 3 [SEP] in a vocabulary of 4 ids
    labels = np.array([[IGNORE_INDEX, 2, 3, IGNORE_INDEX]])
    # without [CLS] (0) and [SEP] (1): 3 tokens counted, p(2) = (2+1)/(3+4), p(3) = (1+1)/(3+4);
    # perplexity = (3/7 · 2/7) ** (-1/2)
    assert unigram_perplexity(train, labels, 4, special_ids=(0, 1)) == pytest.approx(
        7 / math.sqrt(6)
    )
    # counting them: p(2) = 3/9, p(3) = 2/9
    assert unigram_perplexity(train, labels, 4) == pytest.approx(9 / math.sqrt(6))


def eval_labels(data, vocab: int) -> np.ndarray:
    """Labels with at least one scored token among some -100s."""
    scored = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=30))
    ignored = data.draw(st.integers(0, 10))
    return np.array(data.draw(st.permutations(scored + [IGNORE_INDEX] * ignored)))


@settings(max_examples=50, deadline=None)
@given(data=st.data(), vocab=st.integers(1, 60), copies=st.integers(0, 4))
def test_unigram_perplexity_of_uniform_counts_is_the_vocabulary_size(data, vocab, copies):
    train = np.repeat(np.arange(vocab), copies)  # every id `copies` times (none at all for 0)
    result = unigram_perplexity(train, eval_labels(data, vocab), vocab)
    assert result == pytest.approx(vocab, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(tokens=st.lists(st.integers(0, 40), min_size=1, max_size=200), extra=st.integers(0, 20))
def test_unigram_perplexity_on_its_training_tokens_beats_uniform_guessing(tokens, extra):
    """Scored on the tokens it counted, the model is never worse than guessing uniformly among
    the `vocab_size` ids (equal when every id is equally common), and never below 1."""
    vocab = max(tokens) + 1 + extra
    result = unigram_perplexity(np.array(tokens), np.array(tokens), vocab)
    assert 1.0 <= result <= vocab * (1 + 1e-9)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), tokens=st.lists(st.integers(2, 30), max_size=100))
def test_unigram_perplexity_ignores_special_tokens(data, tokens):
    """[CLS] (0) and [SEP] (1) anywhere in the training ids change nothing when they are named."""
    with_specials = list(tokens)
    for special in data.draw(st.lists(st.sampled_from([0, 1]), max_size=20)):
        with_specials.insert(data.draw(st.integers(0, len(with_specials))), special)
    labels = eval_labels(data, 31)
    assert unigram_perplexity(with_specials, labels, 31, special_ids=(0, 1)) == pytest.approx(
        unigram_perplexity(tokens, labels, 31), rel=1e-12
    )


def test_unigram_perplexity_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no scored tokens"):
        unigram_perplexity([[5, 6]], [[IGNORE_INDEX, IGNORE_INDEX]], 10)
    with pytest.raises(ValueError, match=r"vocab_size=7 is too small for token id 9.*len\(tok"):
        unigram_perplexity([[9, 2]], [[2, IGNORE_INDEX]], 7)
    with pytest.raises(ValueError, match="vocab_size=7 is too small for token id 8"):
        unigram_perplexity([[2, 3]], [[8, IGNORE_INDEX]], 7)
    with pytest.raises(ValueError, match="token id -3 is negative"):
        unigram_perplexity([[2, -3]], [[2, IGNORE_INDEX]], 7)


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
    training-mode forward pass is a function of the inputs), weights 10 times wider than
    DistilBERT's initializer: with the default 0.02 attention is almost uniform and the query
    weights' gradients are 1e-5 of the whole gradient, too small for a comparison to notice them."""
    return make_tiny_mlm(
        embedded_tokenizer,
        n_layers=2,
        seed=3,
        dropout=0.0,
        attention_dropout=0.0,
        initializer_range=0.2,
    )


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


GRADIENT_TOLERANCE = 1e-4  # of the whole gradient's norm; float32 rounding gives about 1e-7
ZERO_BY_CONSTRUCTION = "attention/k_lin/bias"  # its gradient is 0 in real arithmetic (see below)


def loss_gradients(fast_model, model, inputs, labels) -> tuple[dict, dict]:
    """Gradients of the fast path (`masked_lm_loss` of `fast_model`) and of the plain full-logits
    loss of `model`, for every trainable weight of `model`, by weight name, in float64."""
    weights = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fast_sum, _ = masked_lm_loss(fast_model, inputs, labels, training=True)
        full_sum, _ = masked_lm_loss_terms(labels, model(inputs, training=True).logits)

    def by_name(loss) -> dict[str, np.ndarray]:
        grads = tape.gradient(loss, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return {
            w.name: tf.convert_to_tensor(g).numpy().astype(np.float64)
            for w, g in zip(weights, grads, strict=True)
        }

    return by_name(fast_sum), by_name(full_sum)


def whole_norm(grads: dict[str, np.ndarray]) -> float:
    """The norm of the gradient of all weights concatenated."""
    return math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))


def gradient_mismatch(
    fast: dict[str, np.ndarray], full: dict[str, np.ndarray]
) -> tuple[float, str]:
    """The largest difference between the two gradients of one weight, ‖fast − full‖, as a share
    of the norm of the whole `full` gradient, and that weight's name.

    One scale for all weights: a weight whose gradient is 0 in real arithmetic (attention/k_lin/
    bias) is not compared with its own float noise, and a weight whose gradient is wrong by more
    than GRADIENT_TOLERANCE of the gradient as a whole is reported."""
    assert fast.keys() == full.keys()
    scale = whole_norm(full)
    worst = max(full, key=lambda name: np.linalg.norm(fast[name] - full[name]))
    return float(np.linalg.norm(fast[worst] - full[worst])) / scale, worst


@pytest.mark.parametrize("share", [0.15, 0.6])  # the masked-positions branch, then the fallback
def test_masked_positions_only_gives_the_full_gradients(two_block_model, share):
    """Training follows the fast path's gradients: they must equal those of the plain loss for
    every weight, embeddings and the tied vocabulary projection included.

    Every weight takes part, with a gradient well above the tolerance (so a gradient the fast path
    lost would be noticed), except the key biases: adding one bias to every key shifts all scores
    of a query equally, which softmax ignores, so their gradient is 0 up to float noise."""
    inputs, labels = random_batch(two_block_model.config.vocab_size, 11, share)
    fast, full = loss_gradients(two_block_model, two_block_model, inputs, labels)
    assert len(full) == len(two_block_model.trainable_variables) > 20
    scale = whole_norm(full)
    for name, grad in full.items():
        share_of_norm = np.linalg.norm(grad) / scale
        if ZERO_BY_CONSTRUCTION in name:
            assert share_of_norm < GRADIENT_TOLERANCE, name
        else:
            assert share_of_norm > 10 * GRADIENT_TOLERANCE, name
    mismatch, worst = gradient_mismatch(fast, full)
    assert mismatch < GRADIENT_TOLERANCE, f"{worst}: off by {mismatch:.2e} of the whole gradient"


class LastBlockReplaced:
    """`model` as `masked_lm_loss` sees it, with parts of its last block replaced: the fast path
    then computes the masked positions with a broken last block, the model itself is unchanged."""

    def __init__(self, model, **parts) -> None:
        self._model = model
        *blocks, last = model.distilbert.transformer.layer
        names = ("attention", "sa_layer_norm", "ffn", "output_layer_norm")
        broken = SimpleNamespace(**({name: getattr(last, name) for name in names} | parts))
        self.distilbert = SimpleNamespace(
            embeddings=model.distilbert.embeddings,
            transformer=SimpleNamespace(layer=[*blocks, broken]),
        )

    def __getattr__(self, name: str):  # the vocabulary head
        return getattr(self._model, name)


BROKEN_LAST_BLOCKS = {
    "output layer norm skipped": lambda last: {"output_layer_norm": lambda x: x},
    "feed-forward output 1% too large": lambda last: {
        "ffn": lambda x, training: 1.01 * last.ffn(x, training=training)
    },
}


@pytest.mark.parametrize("broken", list(BROKEN_LAST_BLOCKS))
@pytest.mark.parametrize("share", [0.15, 0.6])
def test_gradient_comparison_notices_a_broken_fast_path(two_block_model, share, broken):
    """Control of the test above: the same comparison reports a fast path whose last block is
    wrong at the masked positions, even by 1%."""
    last = two_block_model.distilbert.transformer.layer[-1]
    fast_model = LastBlockReplaced(two_block_model, **BROKEN_LAST_BLOCKS[broken](last))
    inputs, labels = random_batch(two_block_model.config.vocab_size, 11, share)
    mismatch, worst = gradient_mismatch(
        *loss_gradients(fast_model, two_block_model, inputs, labels)
    )
    assert mismatch > GRADIENT_TOLERANCE, f"{broken} went unnoticed ({worst}: {mismatch:.2e})"


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


def adaptation_results(before: float, after: float, top_before: str, top_after: str) -> dict:
    prompt = "This is a great [MASK]."
    return {
        "perplexity_before": before,
        "perplexity_after": after,
        "fill_mask_before": {prompt: [{"token": top_before, "score": 0.3}]},
        "fill_mask_after": {prompt: [{"token": top_after, "score": 0.6}]},
    }


def test_check_adaptation_states_the_claims_of_a_run_that_adapted():
    assert check_adaptation(adaptation_results(40.0, 21.0, "deal", "movie"), min_gain=1.5)
    assert check_adaptation(adaptation_results(40.0, 21.0, "deal", "movie"), profile="hub")
    with pytest.raises(AssertionError, match="less than the 2-fold"):
        check_adaptation(adaptation_results(40.0, 21.0, "deal", "movie"), profile="embedded")
    claims = check_adaptation(adaptation_results(40.0, 12.0, "deal", "film"))
    assert claims == [
        "held-out perplexity fell at least 2-fold",
        "'This is a great [MASK].': a general word before training, movie or film after it",
    ]


@pytest.mark.parametrize(
    "results, message",
    [
        (adaptation_results(40.0, 21.0, "deal", "movie"), "less than the 2-fold"),
        (adaptation_results(40.0, None, "deal", "movie"), "less than the 2-fold"),
        (adaptation_results(40.0, 10.0, "movie", "movie"), "'movie' before"),
        (adaptation_results(40.0, 10.0, "deal", "idea"), "'idea' after"),
    ],
)
def test_check_adaptation_names_the_claim_that_failed(results, message):
    with pytest.raises(AssertionError, match=message):
        check_adaptation(results)


def test_perplexity_by_token_group_splits_the_loss_by_the_masked_token():
    """Each group's loss is the mean over its own masked tokens, by hand; two groups that cover
    every token give back `perplexity`'s total; a group never masked is refused."""
    table = np.array(
        [[3.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 4.0, -2.0]],
        np.float32,
    )
    ids = [np.array([[0, 1, 2, 3]], np.int32), np.array([[3, 2, 1, 0], [0, 0, 1, 1]], np.int32)]
    labels = [
        np.array([[1, -100, -100, -100]], np.int32),
        np.array([[0, 2, 1, -100], [0, -100, 1, 3]], np.int32),
    ]
    model, batches = TableModel(table), keras_batches(ids, labels)
    result = perplexity_by_token_group(model, batches, {"low": [0, 1], "high": {2, 3}})

    flat_ids = np.concatenate([i.ravel() for i in ids])
    flat_labels = np.concatenate([lab.ravel() for lab in labels])
    losses = numpy_token_losses(flat_labels[None], table[flat_ids][None])
    masked = flat_labels[flat_labels != IGNORE_INDEX]
    for name, members in (("low", [0, 1]), ("high", [2, 3])):
        mine = losses[np.isin(masked, members)]
        assert result[name].masked_tokens == mine.size
        assert result[name].loss == pytest.approx(mine.mean(), rel=1e-6)
        assert result[name].perplexity == pytest.approx(math.exp(mine.mean()), rel=1e-6)
    assert result["low"].loss != pytest.approx(result["high"].loss)  # the split matters here
    whole = perplexity(model, batches)
    parts = sum(r.loss * r.masked_tokens for r in result.values()) / whole.masked_tokens
    assert parts == pytest.approx(whole.loss, rel=1e-6)
    with pytest.raises(ValueError, match="'never'"):
        perplexity_by_token_group(model, batches, {"never": [1_000]})
