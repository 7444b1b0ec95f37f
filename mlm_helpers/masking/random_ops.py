"""The masks themselves: counter-based hash random ops in TensorFlow, and their numpy front end.

Every draw is a function of ``(seed, stream, epoch, row index, position)`` - of the word id instead
of the position for whole-word masking - computed by a counter-based hash (the SplitMix64
finaliser) in uint64 TF ops; one 32-bit draw decides both "chosen?" (h < p * 2**32) and, among the
chosen, mask / random / kept. So a row's masks never depend on thread scheduling, batch size,
shuffle order or how many batches were read before: resuming at epoch e (and batch k) gives exactly
the batches an uninterrupted run would have seen. (TensorFlow's stateless ops take one seed per
call, so per-row seeds would need one call per row - `tf.vectorized_map` falls back to a loop for
them; the hash keeps the masking vectorised over blocks of rows, which is what makes it fast.) The
shuffle order of an epoch (`epoch_permutation`) is a permutation drawn the same way from
``(seed, epoch)``, independent of TensorFlow's global seed.

`mask_batch` is the graph-safe op the tf.data stream maps; `mask_chunks` and `fixed_eval_masks`
run it over whole chunk sets and return numpy arrays; `uniform_draws` hands out the same draws as
uniform numbers, for notebook 03's teaching version of the masking.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..checks import positive_int
from ..runtime import import_tensorflow
from .inputs import chunk_arrays
from .spec import IGNORE_INDEX, KEPT, MASKED, NOT_CHOSEN, RANDOM, MaskingSpec

tf = import_tensorflow()

# Independent random streams: training masks, evaluation masks.
TRAIN_STREAM, EVAL_STREAM = 0, 1
# Sub-streams of one (stream, epoch) key.
_CHOOSE, _REPLACE, _SHUFFLE = 0, 1, 2

# SplitMix64 constants (Steele, Lea & Flood 2014; the finaliser of Java's SplittableRandom).
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_TWO32 = 2**32


# ------------------------------------------------------------------------------------ the hash
def _u64(value: Any):
    if isinstance(value, int):
        return tf.constant(value % 2**64, tf.uint64)
    return tf.cast(value, tf.uint64)  # int32/int64 tensors; -1 wraps to 2**64 - 1 (never used)


def _mix64(z):
    """SplitMix64's finaliser: a bijection on uint64 that scatters every input bit."""
    b = tf.bitwise
    z = b.bitwise_xor(z, b.right_shift(z, _u64(30))) * _u64(_MIX1)
    z = b.bitwise_xor(z, b.right_shift(z, _u64(27))) * _u64(_MIX2)
    return b.bitwise_xor(z, b.right_shift(z, _u64(31)))


def _combine(key, counter):
    """The `counter`-th output of a SplitMix64 stream keyed by `key` (both uint64, broadcast)."""
    return _mix64(key + _u64(_GAMMA) * (counter + _u64(1)))


def masking_key(seed: int, epoch: Any, stream: int = TRAIN_STREAM):
    """The uint64 key of one (seed, stream, epoch): all randomness of that epoch derives from it.

    `epoch` may be a Python int or an integer tensor (inside `tf.data`).
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    key = _combine(_u64(int(seed)), _u64(int(stream)))
    return _combine(key, _u64(epoch))


def _position_bits(row_keys: Any, length: Any) -> Any:
    """32 random bits per position ``[B, length]`` (uint32) from the rows' uint64 keys ``[B, 1]``.

    One 64-bit draw feeds two neighbouring positions (its two halves, via a bitcast), which halves
    the hashing work.
    """
    half = (length + 1) // 2
    draw = _combine(row_keys, _u64(tf.range(half))[tf.newaxis, :])
    bits = tf.reshape(tf.bitcast(draw, tf.uint32), tf.stack([tf.shape(draw)[0], 2 * half]))
    if isinstance(length, int) and length % 2 == 0:
        return bits
    return bits[:, :length]


def _row_keys(key: Any, sub_stream: int, rows: Any) -> Any:
    """The uint64 keys ``[B, 1]`` of the rows' draws in one sub-stream (`_CHOOSE`, `_REPLACE`) of an
    epoch's key; `rows` are the rows' uint64 indices ``[B, 1]``."""
    return _combine(_combine(key, _u64(sub_stream)), rows)


def _word_bits(row_keys: Any, words: Any) -> Any:
    """32 random bits (uint32, the hash's low half) per word id, from the rows' keys ``[B, 1]``."""
    return tf.cast(_combine(row_keys, _u64(words)), tf.uint32)


def _thresholds(spec: MaskingSpec) -> tuple[int, int, int]:
    """uint32 thresholds on one 32-bit draw h: chosen iff h < t_chosen; of the chosen, [MASK] iff
    h < t_mask, random iff t_mask <= h < t_random, else kept (so the split is exact to 2**-32)."""
    t_chosen = min(int(round(spec.mlm_probability * _TWO32)), _TWO32 - 1)
    t_mask = int(round(t_chosen * spec.mask_replace_prob))
    t_random = min(
        int(round(t_chosen * (spec.mask_replace_prob + spec.random_replace_prob))), t_chosen
    )
    return t_chosen, t_mask, t_random


# ------------------------------------------------------------------------------------ TF ops
def mask_batch(
    input_ids: Any,
    attention_mask: Any,
    row_ids: Any,
    key: Any,
    spec: MaskingSpec,
    word_ids: Any = None,
    *,
    maskable: Any = None,
    with_outcome: bool = False,
) -> dict[str, Any]:
    """Mask a batch ``[B, L]`` with TF ops (graph-safe: for `tf.data.Dataset.map`).

    `row_ids` ``[B]`` are the rows' indices in their chunk set and `key` comes from
    `masking_key`; together they fix every draw. Returns int32 ``input_ids`` (masked) and int32
    ``labels`` (original id where chosen, -100 elsewhere), plus with `with_outcome` an int8
    ``outcome`` (0 not chosen, 1 mask, 2 random, 3 kept). `word_ids` is required for
    ``spec.kind == "whole_word"``. `maskable` (bool ``[B, L]``, see `maskable_positions`) may be
    passed precomputed to save work; it is derived from the ids otherwise.
    """
    ids = tf.cast(input_ids, tf.int32)
    length = ids.shape[-1] if ids.shape[-1] is not None else tf.shape(ids)[-1]
    rows = _u64(row_ids)[:, tf.newaxis]
    if maskable is None:
        is_special = tf.gather(tf.constant(spec.special_table()), ids)
        maskable = tf.logical_and(tf.equal(tf.cast(attention_mask, tf.int32), 1), ~is_special)
    t_chosen, t_mask, t_random = _thresholds(spec)
    choose_keys = _row_keys(key, _CHOOSE, rows)

    # One 32-bit draw h per position (token masking) or per word (whole-word masking) decides
    # both whether it is chosen and, among the chosen, mask / random / kept.
    if spec.kind == "whole_word":
        if word_ids is None:
            raise ValueError("whole-word masking needs word_ids: pass the chunks' word_ids column")
        words = tf.cast(word_ids, tf.int32)
        maskable = tf.logical_and(maskable, words >= 0)  # no-op for a precomputed `maskable`
        draw = _word_bits(choose_keys, words)
    else:
        draw = _position_bits(choose_keys, length)
    chosen = tf.logical_and(maskable, draw < tf.constant(t_chosen, tf.uint32))
    to_mask = tf.logical_and(maskable, draw < tf.constant(t_mask, tf.uint32))
    masked = tf.where(to_mask, tf.constant(spec.mask_token_id, tf.int32), ids)
    to_random = None
    if t_random > t_mask:
        # h - t_mask wraps around below t_mask, so one unsigned compare finds [t_mask, t_random).
        offset = draw - tf.constant(t_mask, tf.uint32)
        width = t_random - t_mask
        to_random = tf.logical_and(maskable, offset < tf.constant(width, tf.uint32))
        if spec.kind == "whole_word":
            # Every piece of a randomised word gets its own id: a second draw per position.
            source = _position_bits(_row_keys(key, _REPLACE, rows), length)
            scale = spec.vocab_size / _TWO32
        else:
            # Given "random", the offset is uniform on [0, width): rescaled to [0, vocab_size) it
            # is uniform up to a relative bias of vocab_size / width (5e-4 for BERT at p=0.15).
            source, scale = offset, spec.vocab_size / width
        random_ids = tf.cast(tf.cast(source, tf.float64) * scale, tf.int32)  # floor, < vocab_size
        masked = tf.where(to_random, random_ids, masked)
    out = {
        "input_ids": masked,
        "labels": tf.where(chosen, ids, tf.constant(IGNORE_INDEX, tf.int32)),
    }
    if with_outcome:
        code = tf.where(to_mask, tf.constant(MASKED, tf.int8), tf.constant(KEPT, tf.int8))
        if to_random is not None:
            code = tf.where(to_random, tf.constant(RANDOM, tf.int8), code)
        out["outcome"] = tf.where(chosen, code, tf.constant(NOT_CHOSEN, tf.int8))
    return out


_DRAWS = ("position", "word", "replacement")


def uniform_draws(
    row_ids: Any,
    size: int,
    *,
    seed: int,
    epoch: int = 0,
    stream: int = TRAIN_STREAM,
    per: str = "position",
):
    """The random numbers `mask_batch` draws for rows `row_ids` of a chunk set, as float64
    uniforms in [0, 1): shape ``[len(row_ids), size]`` (notebook 03 masks a batch with them).

    ``per="position"``: token masking's one number per position - it decides "chosen?" and,
    among the chosen, mask / random / kept and the random id. ``per="word"``: whole-word masking's
    one number per word id ``0 .. size - 1`` (every piece of a word uses its word's). ``per=
    "replacement"``: whole-word masking's second number per position, which picks the random id
    of each piece of a randomised word. Each is the 32-bit hash draw divided by 2**32 (exact in
    float64); `mask_batch` compares the integers with thresholds rounded to 2**-32, so ``u < p``
    on these numbers makes the same choices unless a draw lies on the very edge of a slice.
    """
    if per not in _DRAWS:
        raise ValueError(f"per={per!r} is unknown: choose one of {', '.join(_DRAWS)}")
    positive_int(size, "size")
    key = masking_key(seed, int(epoch), stream)
    rows = _u64(tf.reshape(tf.convert_to_tensor(row_ids), [-1]))[:, tf.newaxis]
    if per == "replacement":
        bits = _position_bits(_row_keys(key, _REPLACE, rows), size)
    elif per == "word":
        bits = _word_bits(_row_keys(key, _CHOOSE, rows), tf.range(size)[tf.newaxis, :])
    else:
        bits = _position_bits(_row_keys(key, _CHOOSE, rows), size)
    return tf.cast(bits, tf.float64) / _TWO32


def epoch_permutation(n_rows: int, seed: int, epoch: Any):
    """The shuffle order of one epoch: a permutation of ``range(n_rows)`` fixed by (seed, epoch)."""
    key = _combine(masking_key(seed, epoch, TRAIN_STREAM), _u64(_SHUFFLE))
    scores = _combine(key, _u64(tf.range(n_rows, dtype=tf.int64)))
    return tf.argsort(tf.cast(tf.bitwise.right_shift(scores, _u64(1)), tf.int64), stable=True)


# ------------------------------------------------------------------------------------ numpy API
@functools.lru_cache(maxsize=16)
def _compiled_masker(spec: MaskingSpec):
    """`mask_batch` as one tf.function per spec, reused across calls: the key is an argument, so
    masking another seed or epoch does not trace again (shapes vary only in the batch size)."""

    @tf.function(autograph=False, reduce_retracing=True)
    def run(batch, rows, key):
        return mask_batch(
            batch["input_ids"],
            batch["attention_mask"],
            rows,
            key,
            spec,
            batch.get("word_ids"),
            with_outcome=True,
        )

    return run


def mask_chunks(
    chunks: Any,
    spec: MaskingSpec,
    *,
    seed: int,
    epoch: int = 0,
    stream: int = TRAIN_STREAM,
    batch_size: int = 2048,
) -> dict[str, np.ndarray]:
    """Mask every row of `chunks` once and return numpy arrays.

    Keys: ``input_ids`` (masked), ``attention_mask``, ``labels``, ``outcome`` and
    ``original_ids``. Row i gets exactly the masks it gets in training epoch `epoch` (stream
    `TRAIN_STREAM`), whatever the batch it lands in. Used in notebook 03 to look at masks, and by
    `fixed_eval_masks`.
    """
    arrays = chunk_arrays(
        chunks, need_word_ids=spec.kind == "whole_word", vocab_size=spec.vocab_size
    )
    n_rows = len(arrays["input_ids"])
    columns = {
        name: arrays[name] for name in ("input_ids", "attention_mask", "word_ids") if name in arrays
    }
    key = masking_key(seed, int(epoch), stream)
    run = _compiled_masker(spec)

    pieces: dict[str, list[np.ndarray]] = {"input_ids": [], "labels": [], "outcome": []}
    for start in range(0, n_rows, batch_size):
        stop = min(start + batch_size, n_rows)
        batch = {name: tf.constant(a[start:stop]) for name, a in columns.items()}
        out = run(batch, tf.range(start, stop, dtype=tf.int64), key)
        for name in pieces:
            pieces[name].append(out[name].numpy())
    result = {name: np.concatenate(parts) for name, parts in pieces.items()}
    result["attention_mask"] = arrays["attention_mask"]
    result["original_ids"] = arrays["input_ids"]
    return result


def fixed_eval_masks(eval_chunks: Any, spec: MaskingSpec, *, seed: int) -> dict[str, np.ndarray]:
    """Mask the evaluation chunks once, reproducibly (stream `EVAL_STREAM`, epoch 0).

    Every evaluation that reads these arrays scores the same positions, so eval losses of
    different epochs - and of a resumed run, which recomputes them bit-identically from `seed` -
    are comparable. Used by `build_datasets` (notebook 03 shows that its batches never change).
    """
    return mask_chunks(eval_chunks, spec, seed=seed, epoch=0, stream=EVAL_STREAM)
