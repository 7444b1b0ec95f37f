"""Stage 04 — measuring a masked-language model: perplexity per masked token and fill-mask (notebooks 04, 05).

Both work on any `TFDistilBertForMaskedLM`-like model (anything whose call returns ``.logits``),
before and after training, in float32 or mixed precision, with or without a distribution strategy.

- `masked_lm_loss_terms` is the one definition of the loss, shared with training: cross-entropy from
  logits cast to **float32** (under mixed precision the model returns float16 logits; a softmax over
  the whole vocabulary in half precision loses accuracy and can overflow), summed over the positions
  whose label is not -100, together with how many such positions there were.
- `perplexity` sums that loss over every masked token of the evaluation set and divides by their
  number — a mean per masked token, not a mean of per-batch means (batches hold different numbers of
  masked tokens, so the two differ). On fixed masks the result is the same every time it is computed.
- `fill_mask` shows what the model predicts for a ``[MASK]`` in a few prompts.
- `unigram_perplexity` is the baseline that knows word frequencies and no context: a model whose
  perplexity is not far below it has learned little beyond which words are common.
- `check_adaptation` checks the lesson's claims on a finished run (threshold: the profile's `min_gain`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _compat
from .checks import positive_int
from .config import MASK_PLACEHOLDER, profile_of
from .data import check_tokenizer, token_text
from .masking import IGNORE_INDEX, MaskingSpec, fixed_eval_masks, keras_batches
from .preflight import check_prompt
from .runtime import import_tensorflow

tf = import_tensorflow()


def masked_lm_loss_terms(labels: Any, logits: Any) -> tuple[Any, Any]:
    """Sum of the masked-LM cross-entropy over predicted positions, and their count (float32 both).

    `labels` ``[B, L]`` hold the original token id where a token was chosen for prediction and -100
    elsewhere; `logits` ``[B, L, V]`` may be float16/bfloat16: they are cast to float32 first. The
    loss is ``logsumexp(logits) - logit[label]`` per position (no sparse-softmax kernel, so it is also
    deterministic on GPUs). Used by `masked_lm_loss` (training) and by `perplexity`.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    chosen = tf.not_equal(labels, IGNORE_INDEX)
    safe_labels = tf.where(chosen, labels, tf.zeros_like(labels))
    picked = tf.gather(logits, safe_labels, axis=-1, batch_dims=labels.shape.rank)
    token_loss = tf.reduce_logsumexp(logits, axis=-1) - picked
    weights = tf.cast(chosen, tf.float32)
    return tf.reduce_sum(token_loss * weights), tf.reduce_sum(weights)


def prediction_slots(positions: int, share: float) -> int:
    """How many positions the vocabulary head scores per batch of `positions` tokens: the expected
    number of masked tokens plus 8 standard deviations (whole-word masking is burstier than token
    masking), rounded up to a multiple of 8 and at most `positions`."""
    share = min(max(share, 0.0), 1.0)
    mean = positions * share
    spread = 8.0 * math.sqrt(max(positions * share * (1.0 - share), 1.0))
    return min(positions, int(math.ceil((mean + spread) / 8.0)) * 8)


def masked_lm_loss(
    model: Any,
    inputs: Mapping[str, Any],
    labels: Any,
    *,
    training: bool,
    prediction_share: float = 0.15,
) -> tuple[Any, Any]:
    """`masked_lm_loss_terms` of `model` on one batch, computing only what the masked tokens need.

    For DistilBERT, the work after the last block's self-attention — its layer norms and
    feed-forward network, and the vocabulary head (``dim × vocab``, a third of distilbert-base's
    FLOPs) — is done for a fixed number of positions (`prediction_slots`), not all of them; attention
    still runs everywhere (masked positions attend to every token). The slots hold every masked
    position (``top_k`` of the label mask) padded with weight-0 ones, so shapes stay static for XLA;
    a batch with more masked tokens than slots takes the all-positions branch. Either way the result
    is ``masked_lm_loss_terms(labels, model(inputs).logits)`` up to float rounding (a test compares
    losses and gradients). The blocks are called through `_compat` as `TFDistilBertMainLayer` calls
    them. Other models use full logits. Used by the train step and `MaskedLMEvaluator`.
    """
    labels = tf.cast(labels, tf.int32)
    if not _compat.is_distilbert_mlm(model) or labels.shape.num_elements() is None:
        return masked_lm_loss_terms(labels, model(inputs, training=training).logits)

    base = model.distilbert
    input_ids = inputs["input_ids"]
    attention_mask = inputs.get("attention_mask")
    if attention_mask is None:
        attention_mask = tf.ones(tf.shape(input_ids))
    attention_mask = tf.cast(attention_mask, tf.float32)
    hidden = base.embeddings(input_ids, training=training)
    *blocks, last = base.transformer.layer
    for block in blocks:
        hidden = _compat.distilbert_block(block, hidden, attention_mask, training=training)
    attended = _compat.distilbert_self_attention(last, hidden, attention_mask, training=training)
    residual = attended + hidden  # the input of the last block's first layer norm

    def rest_of_model(x: Any) -> Any:
        """The last block after its attention, then the vocabulary head: position by position."""
        x = last.sa_layer_norm(x)
        x = last.output_layer_norm(last.ffn(x, training=training) + x)
        x = model.act(model.vocab_transform(x))
        return model.vocab_projector(model.vocab_layer_norm(x))

    def everywhere() -> tuple[Any, Any]:
        return masked_lm_loss_terms(labels, rest_of_model(residual))

    positions = labels.shape.num_elements()
    slots = prediction_slots(positions, prediction_share)
    if slots >= positions:
        return everywhere()
    flat_labels = tf.reshape(labels, [-1])
    chosen = tf.cast(tf.not_equal(flat_labels, IGNORE_INDEX), tf.float32)

    def selected() -> tuple[Any, Any]:
        _, index = tf.math.top_k(chosen, k=slots, sorted=False)
        picked = tf.gather(tf.reshape(residual, [positions, -1]), index)
        logits = rest_of_model(picked[tf.newaxis])[0]
        return masked_lm_loss_terms(tf.gather(flat_labels, index), logits)

    return tf.cond(tf.reduce_sum(chosen) <= float(slots), selected, everywhere)


@dataclass(frozen=True)
class EvalResult:
    """Mean loss per masked token on an evaluation set, its perplexity and the token count."""

    loss: float
    perplexity: float
    masked_tokens: int

    def __str__(self) -> str:
        return (
            f"eval loss {self.loss:.4f} per masked token, perplexity {self.perplexity:.2f} "
            f"({self.masked_tokens:,} masked tokens)"
        )


class MaskedLMEvaluator:
    """Evaluates one model on fixed-mask batches; traces its step once and reuses it.

    Training evaluates after every epoch with one evaluator, so the step is not retraced (or
    recompiled with XLA) each time. Batches are Keras ``(inputs, labels)`` pairs, as built by
    `masking.build_datasets` (its ``.eval``). Runs under the strategy the model was built in.
    """

    def __init__(
        self, model: Any, *, jit_compile: bool = False, prediction_share: float = 0.15
    ) -> None:
        self.model = model
        self.strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()

        def replica_step(inputs: Any, labels: Any) -> tuple[Any, Any]:
            return masked_lm_loss(
                model, inputs, labels, training=False, prediction_share=prediction_share
            )

        step = tf.function(replica_step, jit_compile=jit_compile, autograph=False)

        @functools.partial(tf.function, autograph=False)
        def distributed_step(batch: Any) -> tuple[Any, Any]:
            inputs, labels = batch
            loss_sum, count = self.strategy.run(step, args=(inputs, labels))
            reduce = tf.distribute.ReduceOp.SUM
            return (
                self.strategy.reduce(reduce, loss_sum, axis=None),
                self.strategy.reduce(reduce, count, axis=None),
            )

        self._step = distributed_step

    def evaluate(self, eval_dataset: Iterable) -> EvalResult:
        """Loss per masked token over all of `eval_dataset` (float64 accumulation on the host)."""
        total, count = 0.0, 0.0
        distributed = self.strategy.experimental_distribute_dataset(eval_dataset)
        for batch in distributed:
            loss_sum, n = self._step(batch)
            total += float(loss_sum)
            count += float(n)
        if count == 0:
            raise ValueError(
                "the evaluation set has no masked tokens (every label is -100): "
                "build it with masking.build_datasets / fixed_eval_masks"
            )
        loss = total / count
        return EvalResult(loss=loss, perplexity=safe_exp(loss), masked_tokens=int(count))


def safe_exp(loss: float) -> float:
    """exp(loss), or inf when it overflows (a diverged or untrained model)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def perplexity(model: Any, eval_dataset: Iterable, *, jit_compile: bool = False) -> EvalResult:
    """Mean loss per masked token of `model` on fixed-mask `eval_dataset`, and exp of it.

    The sum of the loss over every masked token divided by their number (not a mean of batch means).
    Usable before and after training. Notebook 04.
    """
    return MaskedLMEvaluator(model, jit_compile=jit_compile).evaluate(eval_dataset)


def unigram_perplexity(
    train_ids: Any, eval_labels: Any, vocab_size: int, *, special_ids: Iterable[int] = ()
) -> float:
    """Perplexity per masked token of a model that ignores the context: every masked token is
    predicted from how often each token id occurs in the training chunks.

    `train_ids` are the training chunks' input ids (any shape, or an iterator of such blocks, read
    one at a time: `masking.MLMDatasets.train_input_ids` of chunks on disk; ids in `special_ids`,
    e.g. the tokenizer's ``all_special_ids`` for [CLS]/[SEP]/[PAD], are not counted);
    `eval_labels` hold the token to predict where a token was masked and -100 elsewhere, as for
    `perplexity`. The probability of id ``t`` is ``(count[t] + 1) / (counted + vocab_size)`` over
    the ``counted`` tokens (add-one smoothing: an id never seen in training is not infinitely
    surprising); the result is exp of the mean negative log-probability over the masked positions.
    The gap between it and the model's `perplexity` on the same labels is what the model gains from
    context rather than from knowing which words are common. Pure numpy (no TensorFlow).
    """
    labels = np.asarray(eval_labels, dtype=np.int64).ravel()
    scored = labels[labels != IGNORE_INDEX]
    if scored.size == 0:
        raise ValueError(
            "eval_labels have no scored tokens (every label is -100): pass the labels of "
            "fixed-mask evaluation batches (masking.build_datasets / fixed_eval_masks)"
        )
    blocks = train_ids if isinstance(train_ids, Iterator) else iter([train_ids])
    special = np.asarray(list(special_ids), dtype=np.int64)
    counts = np.zeros(vocab_size, dtype=np.int64)
    counted_size = 0
    _check_token_ids(scored, vocab_size)
    for block in blocks:
        ids = np.asarray(block, dtype=np.int64).ravel()
        _check_token_ids(ids, vocab_size)
        counted = ids[~np.isin(ids, special)]
        counts += np.bincount(counted, minlength=vocab_size)
        counted_size += counted.size
    log_probability = np.log(counts.astype(np.float64) + 1.0) - np.log(counted_size + vocab_size)
    return safe_exp(-float(log_probability[scored].mean()))


def _check_token_ids(ids: np.ndarray, vocab_size: int) -> None:
    """ValueError unless every id of `ids` lies in [0, vocab_size) (`unigram_perplexity`)."""
    lowest = int(ids.min(initial=0))
    if lowest < 0:
        raise ValueError(
            f"token id {lowest} is negative: train_ids must be input ids (no -100 there) and "
            f"eval_labels may use only -100 ({IGNORE_INDEX}) for positions that are not scored"
        )
    largest = int(ids.max(initial=0))
    if vocab_size <= largest:
        raise ValueError(
            f"vocab_size={vocab_size} is too small for token id {largest} (ids run from 0 to "
            f"vocab_size - 1): pass len(tokenizer)"
        )


def perplexity_by_masking(
    models: Mapping[str, Any],
    eval_chunks: Any,
    tokenizer: Any,
    config: Any,
    kinds: Sequence[str] = ("token", "whole_word"),
) -> dict[str, dict[str, float]]:
    """Held-out perplexity of every model under every masking kind: ``{model: {kind: perplexity}}``.

    All models are scored on the same evaluation chunks with the same fixed masks per kind (drawn
    with ``config.seed``), so runs trained with different masking can be compared: each run's own
    history scores it on its own kind of masks, and whole-word masks, which hide every piece of a
    word, are harder to fill than token masks. Notebook 05 compares its two runs this way.
    """
    table: dict[str, dict[str, float]] = {name: {} for name in models}
    for kind in kinds:
        spec = MaskingSpec.from_config(config.replace(masking=kind), tokenizer)
        arrays = fixed_eval_masks(eval_chunks, spec, seed=config.seed)
        batches = keras_batches(arrays, config.batch_size)
        for name, model in models.items():
            table[name][kind] = perplexity(model, batches).perplexity
    return table


DOMAIN_WORDS = ("movie", "film")  # what a review model puts in "This is a great [MASK]."
ADAPTATION_PROMPT = "This is a great [MASK]."


def check_adaptation(
    results: Mapping[str, Any],
    *,
    profile: str = "embedded",
    min_gain: float | None = None,
    prompt: str = ADAPTATION_PROMPT,
    domain_words: Sequence[str] = DOMAIN_WORDS,
) -> list[str]:
    """Check the lesson's claims on a finished run's results (all_results.json); return them as
    sentences, or raise AssertionError naming the claim that failed and the numbers.

    - held-out perplexity fell at least `min_gain`-fold (default: the profile's,
      `config.PROFILES[profile].min_gain`);
    - for `prompt`, the top-1 prediction was not one of `domain_words` before training (a general
      word) and is one of them after it (the domain's word).

    The numbers of a run differ in their last digits between CPUs; these claims do not, so
    notebooks 04 and 05 print them after their trajectory cells and `benchmarks/adaptation.py`
    checks them for several seeds.
    """
    if min_gain is None:
        min_gain = profile_of(profile).min_gain
    before, after = results["perplexity_before"], results["perplexity_after"]
    if before is None or after is None or not before >= min_gain * after:
        raise AssertionError(
            f"held-out perplexity went from {before} to {after}: less than the {min_gain:g}-fold "
            "drop adaptation should give; see the per-epoch losses (learning rate, epochs)"
        )
    top1 = {}
    for when in ("before", "after"):
        predictions = results[f"fill_mask_{when}"].get(prompt)
        if not predictions:
            raise AssertionError(f"no fill-mask predictions {when} training for {prompt!r}")
        top1[when] = predictions[0]["token"]
    if top1["before"] in domain_words or top1["after"] not in domain_words:
        raise AssertionError(
            f"{prompt!r}: top-1 {top1['before']!r} before and {top1['after']!r} after training; "
            f"expected a general word before and one of {list(domain_words)} after"
        )
    words = " or ".join(domain_words)
    return [
        f"held-out perplexity fell at least {min_gain:g}-fold",
        f"{prompt!r}: a general word before training, {words} after it",
    ]


def _prompt_text(prompt: str, mask_token: str) -> str:
    check_prompt(prompt, mask_token)
    return prompt.replace(MASK_PLACEHOLDER, mask_token)


def fill_mask(
    model: Any, tokenizer: Any, prompts: str | Sequence[str], top_k: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """The `top_k` most likely tokens for the first ``[MASK]`` of every prompt.

    Returns ``{prompt: [{"token": str, "score": float}, ...]}`` with scores (softmax probabilities,
    computed in float32) in descending order; prompts are keys as written (with ``[MASK]``), which
    is how all_results.json stores them. ``[MASK]`` is replaced by the tokenizer's own mask token;
    tokens are shown decoded (`data.token_text`: ``the``, not byte-level BPE's ``Ġthe``). Usable
    before and after training. Notebook 04.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    positive_int(top_k, "top_k")
    check_tokenizer(tokenizer, fast=False)
    texts = [_prompt_text(p, tokenizer.mask_token) for p in prompts]
    encoded = tokenizer(texts, padding=True, return_tensors="np")
    inputs = {
        "input_ids": encoded["input_ids"].astype(np.int32),
        "attention_mask": encoded["attention_mask"].astype(np.int32),
    }
    logits = np.asarray(model(inputs, training=False).logits, dtype=np.float32)
    results: dict[str, list[dict[str, Any]]] = {}
    for row, prompt in enumerate(prompts):
        positions = np.flatnonzero(inputs["input_ids"][row] == tokenizer.mask_token_id)
        if positions.size == 0:  # pragma: no cover - the tokenizer dropped the mask token
            raise ValueError(f"the tokenizer did not keep the mask token in {prompt!r}")
        scores = _softmax(logits[row, positions[0]])
        k = min(top_k, scores.size)
        best = np.argsort(-scores, kind="stable")[:k]
        tokens = [token_text(tokenizer, i) for i in best.tolist()]
        results[prompt] = [
            {"token": t, "score": float(scores[i])} for t, i in zip(tokens, best, strict=True)
        ]
    return results


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    exp = np.exp(shifted)
    return exp / exp.sum()


def format_fill_mask(
    predictions: Mapping[str, Sequence[Mapping[str, Any]]], *, decimals: int = 2
) -> str:
    """Fill-mask predictions as plain text, one prompt per line: ``prompt -> movie (0.31), ...``."""
    lines = []
    for prompt, preds in predictions.items():
        shown = ", ".join(f"{p['token']} ({p['score']:.{decimals}f})" for p in preds)
        lines.append(f"{prompt} -> {shown}")
    return "\n".join(lines)


# ----------------------------------------------------------- notebook 05: loss by kind of word


def perplexity_by_token_group(
    model: Any, eval_dataset: Iterable, groups: Mapping[str, Iterable[int]]
) -> dict[str, EvalResult]:
    """Held-out loss per masked token of `model`, apart for each group of token ids:
    ``{group: EvalResult}``.

    The loss of `perplexity` (`masked_lm_loss_terms` of the model's logits), summed over the masked
    positions whose original token (label) is in the group and divided by their number; a masked
    token in no group is not counted, one in two groups counts in both. `eval_dataset` holds Keras
    ``(inputs, labels)`` batches with fixed masks. Notebook 05 compares the loss on domain tokens
    (review words the general model does not expect) with the loss on the others, before and after
    adaptation. Raises ValueError for a group none of whose tokens was masked.
    """
    members = {
        name: np.unique(np.asarray(list(ids), dtype=np.int64)) for name, ids in groups.items()
    }
    totals = {name: [0.0, 0.0] for name in groups}
    forward = tf.function(lambda inputs: model(inputs, training=False).logits, autograph=False)
    for inputs, labels in eval_dataset:
        labels = np.asarray(labels, dtype=np.int64)
        chosen = labels != IGNORE_INDEX
        logits = tf.boolean_mask(forward(inputs), chosen)[tf.newaxis]  # [1, masked, vocab]
        hidden = labels[chosen]
        for name, ids in members.items():
            in_group = np.where(np.isin(hidden, ids), hidden, IGNORE_INDEX)[np.newaxis]
            loss_sum, count = masked_lm_loss_terms(in_group, logits)
            totals[name][0] += float(loss_sum)
            totals[name][1] += float(count)
    results = {}
    for name, (total, count) in totals.items():
        if count == 0:
            raise ValueError(
                f"no masked token of the evaluation set is in group {name!r}: give token ids "
                "that occur in the held-out chunks (tokenizer.convert_tokens_to_ids)"
            )
        loss = total / count
        results[name] = EvalResult(loss=loss, perplexity=safe_exp(loss), masked_tokens=int(count))
    return results
