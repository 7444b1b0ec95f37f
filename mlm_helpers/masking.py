"""Stage 03: masking inside the tf.data input pipeline (notebook 03_masking).

Chunks from stage 02 (`input_ids`, `attention_mask`, `word_ids`; one row per chunk) become Keras
batches ``({"input_ids", "attention_mask"}, labels)`` for `model.fit`, masked on the fly by
TensorFlow ops inside `tf.data` - no Python collator, no PyTorch.

How a row is masked (the statistics of transformers' `DataCollatorForLanguageModeling`):

- ``token`` masking chooses each *maskable* position (attention_mask == 1 and not a special token
  id) with probability `mlm_probability`; ``whole_word`` masking chooses each *word* (a `word_ids`
  value >= 0) with that probability and takes all of its pieces, so the expected share of masked
  tokens is still `mlm_probability`.
- Of the chosen, 80% become the mask token, 10% a random id in ``[0, vocab_size)``, 10% stay as they
  are. With whole-word masking this draw is made **per word**: all pieces of a chosen word are masked,
  or all replaced by random ids (one random id per piece), or all kept - a word is never half
  hidden.
- ``labels`` hold the original id at chosen positions and -100 everywhere else.

Randomness: every draw is a function of ``(seed, stream, epoch, row index, position)`` - of the
word id instead of the position for whole-word masking - computed by a counter-based hash (the
SplitMix64 finaliser) in uint64 TF ops; one 32-bit draw decides both "chosen?" (h < p * 2**32)
and, among the chosen, mask / random / kept. So a row's masks never depend on thread scheduling,
batch size, shuffle order or how many batches were read before: resuming at epoch e (and batch k)
gives exactly the batches an uninterrupted run would have seen. (TensorFlow's stateless ops take one
seed per call, so per-row seeds would need one call per row - `tf.vectorized_map` falls back to a
loop for them; the hash keeps the masking vectorised over blocks of rows, which is what makes it
fast.) The shuffle order of an epoch is a permutation drawn the same way from ``(seed, epoch)``,
independent of TensorFlow's global seed.

Evaluation uses fixed masks: the held-out chunks are masked once (`fixed_eval_masks`, stream
`EVAL_STREAM`, epoch 0) and every evaluation reads the same arrays, so perplexities are comparable
between epochs and runs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import MASKING_KINDS, RunConfig
from .runtime import import_tensorflow

IGNORE_INDEX = -100  # label of positions that are not predicted (Keras/transformers convention)
REQUIRED_COLUMNS = ("input_ids", "attention_mask")
MODEL_INPUTS = ("input_ids", "attention_mask")

# Outcome codes stored in the "outcome" array of `mask_chunks` / `fixed_eval_masks`.
NOT_CHOSEN, MASKED, RANDOM, KEPT = 0, 1, 2, 3
OUTCOMES = {MASKED: "mask", RANDOM: "random", KEPT: "kept"}

# Independent random streams: training masks, evaluation masks.
TRAIN_STREAM, EVAL_STREAM = 0, 1
# Sub-streams of one (stream, epoch) key.
_CHOOSE, _REPLACE, _SHUFFLE = 0, 1, 2

# SplitMix64 constants (Steele, Lea & Flood 2014; the finaliser of Java's SplittableRandom).
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_TWO32 = 2**32
_BLOCK_ROWS = 512  # rows masked per tf.data map call in the training stream


@functools.cache
def _tf() -> Any:
    """TensorFlow, imported once through the runtime guard (not on every op-building call)."""
    return import_tensorflow()


# ------------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class MaskingSpec:
    """What masking needs to know: the tokenizer's ids and the masking recipe.

    Build it with `MaskingSpec.from_tokenizer` (or `from_config`); used by every function here.
    """

    mask_token_id: int
    vocab_size: int
    special_ids: tuple[int, ...]
    mlm_probability: float = 0.15
    kind: str = "token"
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "special_ids", tuple(sorted({int(i) for i in self.special_ids})))
        if not isinstance(self.vocab_size, int | np.integer) or self.vocab_size < 2:
            raise ValueError(f"vocab_size={self.vocab_size!r} is invalid: give len(tokenizer)")
        if not 0 <= self.mask_token_id < self.vocab_size:
            raise ValueError(
                f"mask_token_id={self.mask_token_id!r} is outside the vocabulary [0, "
                f"{self.vocab_size}): pass the tokenizer's mask_token_id and len(tokenizer)"
            )
        bad = [i for i in self.special_ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"special ids {bad} are outside the vocabulary [0, {self.vocab_size})")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(
                f"mlm_probability={self.mlm_probability!r} must lie strictly between 0 and 1 "
                "(0.15 is the usual value)"
            )
        if self.kind not in MASKING_KINDS:
            raise ValueError(
                f"masking kind {self.kind!r} is unknown: choose one of {MASKING_KINDS}"
            )
        probs = (self.mask_replace_prob, self.random_replace_prob)
        if min(probs) < 0 or sum(probs) > 1:
            raise ValueError(
                f"mask_replace_prob={probs[0]!r} and random_replace_prob={probs[1]!r} must be >= 0 "
                "and add up to at most 1 (the rest stays unchanged); the usual values are 0.8 and 0.1"
            )

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, *, kind: str = "token", mlm_probability: float = 0.15
    ) -> MaskingSpec:
        """The spec for a (fast) BERT-style tokenizer: its mask id, `len(tokenizer)` and its special
        ids (the same ids the collator refuses to mask). Raises if it has no mask token."""
        mask_id = getattr(tokenizer, "mask_token_id", None)
        if mask_id is None:
            raise ValueError(
                f"{type(tokenizer).__name__} has no mask token, so it cannot be used for masked "
                "language modelling: use a BERT/DistilBERT tokenizer, or add one with "
                "tokenizer.add_special_tokens({'mask_token': '[MASK]'}) (and resize the model)"
            )
        return cls(
            mask_token_id=int(mask_id),
            vocab_size=len(tokenizer),
            special_ids=tuple(int(i) for i in tokenizer.all_special_ids),
            mlm_probability=float(mlm_probability),
            kind=kind,
        )

    @classmethod
    def from_config(cls, config: RunConfig, tokenizer: Any) -> MaskingSpec:
        """The spec a run uses: `config.masking` and `config.mlm_probability` with the tokenizer."""
        return cls.from_tokenizer(
            tokenizer, kind=config.masking, mlm_probability=config.mlm_probability
        )

    def replace(self, **changes: Any) -> MaskingSpec:
        """A copy with some fields changed (validated), e.g. ``spec.replace(kind="whole_word")``."""
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------------------------ inputs
def _column_from_dataset(table: Any, name: str) -> np.ndarray | list:
    """A list column of a pyarrow table as a 2-D array (or the row lengths when ragged)."""
    import pyarrow.compute as pc

    column = table.column(name).combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (np.any(lengths != lengths[0])):
        return list(lengths)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(lengths), int(lengths[0]) if len(lengths) else 0)


def chunk_arrays(
    chunks: Any, *, need_word_ids: bool = False, vocab_size: int | None = None
) -> dict[str, np.ndarray]:
    """Check stage 02's chunks and return their columns as 2-D int32 arrays.

    `chunks` is a `datasets.Dataset` or a mapping of equal-length arrays/lists. Raises ValueError
    naming the problem: a missing column, no rows, ragged rows or columns of different shapes, ids
    outside ``[0, vocab_size)``. Used by `build_datasets` and `mask_chunks` (notebook 03).
    """
    wanted = REQUIRED_COLUMNS + (("word_ids",) if need_word_ids else ())
    optional = () if need_word_ids else ("word_ids",)
    table = None
    if hasattr(chunks, "column_names") and hasattr(chunks, "with_format"):
        names = list(chunks.column_names)
        table = chunks.with_format("arrow")[:] if len(chunks) else None
    elif isinstance(chunks, Mapping):
        names = list(chunks)
    else:
        raise TypeError(
            f"chunks must be a datasets.Dataset or a dict of arrays, got {type(chunks).__name__}"
        )
    missing = [c for c in wanted if c not in names]
    if missing:
        hint = (
            " (whole-word masking needs word_ids: keep them when chunking)"
            if ("word_ids" in missing)
            else ""
        )
        raise ValueError(f"chunks have no column(s) {missing}; they have {names}{hint}")

    arrays: dict[str, np.ndarray] = {}
    for name in wanted + tuple(c for c in optional if c in names):
        if table is None and isinstance(chunks, Mapping):
            try:
                values: Any = np.asarray(chunks[name])
            except ValueError:  # inhomogeneous nested lists
                values = [len(row) for row in chunks[name]]
        elif table is None:
            values = np.zeros((0, 0), np.int32)
        else:
            values = _column_from_dataset(table, name)
        if isinstance(values, list) or values.dtype == object:
            lengths = values if isinstance(values, list) else [len(r) for r in values]
            raise ValueError(
                f"column {name!r} has rows of different lengths ({sorted(set(lengths))[:5]}...): "
                "chunks must all have the same length (chunk_size); re-run the chunking step"
            )
        if values.ndim != 2:
            raise ValueError(
                f"column {name!r} must hold one list of token ids per row (a 2-D array), got shape "
                f"{values.shape}"
            )
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"column {name!r} must hold integers, got dtype {values.dtype}")
        arrays[name] = values.astype(np.int32, copy=False)

    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f"the chunk columns have mismatched shapes {shapes}: every column needs one row per "
            "chunk and chunk_size values per row"
        )
    n_rows, length = arrays["input_ids"].shape
    if n_rows == 0 or length == 0:
        raise ValueError("chunks are empty (no rows or zero-length rows): nothing to mask")
    mask_values = np.unique(arrays["attention_mask"])
    if not set(mask_values.tolist()) <= {0, 1}:
        raise ValueError(f"attention_mask must hold only 0 and 1, found {mask_values[:5]}")
    ids = arrays["input_ids"]
    if ids.min() < 0 or (vocab_size is not None and ids.max() >= vocab_size):
        raise ValueError(
            f"input_ids range over [{ids.min()}, {ids.max()}] but the tokenizer has {vocab_size} "
            "ids: were the chunks made with a different tokenizer?"
        )
    return arrays


def synthetic_chunks(
    tokenizer: Any, n_rows: int, chunk_size: int = 128, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Chunks in stage 02's layout made of random word pieces: fake reviews ``[CLS] ... [SEP]``
    concatenated and cut into rows, with chunk-local `word_ids` (words of 1-3 pieces).

    For speed comparisons and tests that need many rows without a corpus (the benchmark and
    notebook 03's timing cell).
    """
    if n_rows < 1 or chunk_size < 2:
        raise ValueError(f"need n_rows >= 1 and chunk_size >= 2, got {n_rows} and {chunk_size}")
    rng = np.random.default_rng(seed)
    special = set(int(i) for i in tokenizer.all_special_ids)
    regular = np.array([i for i in range(len(tokenizer)) if i not in special], np.int32)
    total = n_rows * chunk_size
    ids, words = [], []
    produced, next_word = 0, 0
    while produced < total:
        n_words = int(rng.integers(30, 300))
        pieces = rng.choice([1, 1, 1, 2, 2, 3], size=n_words)  # mean ~1.7 pieces per word
        word_of_piece = np.repeat(np.arange(next_word, next_word + n_words), pieces)
        next_word += n_words
        ids.append(
            np.concatenate(
                (
                    [tokenizer.cls_token_id],
                    rng.choice(regular, size=len(word_of_piece)),
                    [tokenizer.sep_token_id],
                )
            )
        )
        words.append(np.concatenate(([-1], word_of_piece, [-1])))
        produced += len(word_of_piece) + 2
    flat_ids = np.concatenate(ids)[:total].reshape(n_rows, chunk_size).astype(np.int32)
    flat_words = np.concatenate(words)[:total].reshape(n_rows, chunk_size)
    real = flat_words >= 0
    first = np.where(real, flat_words, np.iinfo(np.int64).max).min(axis=1, keepdims=True)
    local = np.where(real, flat_words - first, -1).astype(np.int32)
    return {
        "input_ids": flat_ids,
        "attention_mask": np.ones_like(flat_ids),
        "word_ids": local,
    }


# ------------------------------------------------------------------------------------ TF ops
def _u64(value: Any):
    tf = _tf()
    if isinstance(value, int):
        return tf.constant(value % 2**64, tf.uint64)
    return tf.cast(value, tf.uint64)  # int32/int64 tensors; -1 wraps to 2**64 - 1 (never used)


def _mix64(z):
    """SplitMix64's finaliser: a bijection on uint64 that scatters every input bit."""
    tf = _tf()
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


def _special_table(spec: MaskingSpec) -> np.ndarray:
    table = np.zeros(spec.vocab_size, bool)
    table[list(spec.special_ids)] = True
    return table


def _position_bits(row_keys: Any, length: Any) -> Any:
    """32 random bits per position ``[B, length]`` (uint32) from the rows' uint64 keys ``[B, 1]``.

    One 64-bit draw feeds two neighbouring positions (its two halves, via a bitcast), which halves
    the hashing work.
    """
    tf = _tf()
    half = (length + 1) // 2
    draw = _combine(row_keys, _u64(tf.range(half))[tf.newaxis, :])
    bits = tf.reshape(tf.bitcast(draw, tf.uint32), tf.stack([tf.shape(draw)[0], 2 * half]))
    if isinstance(length, int) and length % 2 == 0:
        return bits
    return bits[:, :length]


def _thresholds(spec: MaskingSpec) -> tuple[int, int, int]:
    """uint32 thresholds on one 32-bit draw h: chosen iff h < t_chosen; of the chosen, [MASK] iff
    h < t_mask, random iff t_mask <= h < t_random, else kept (so the split is exact to 2**-32)."""
    t_chosen = min(int(round(spec.mlm_probability * _TWO32)), _TWO32 - 1)
    t_mask = int(round(t_chosen * spec.mask_replace_prob))
    t_random = min(
        int(round(t_chosen * (spec.mask_replace_prob + spec.random_replace_prob))), t_chosen
    )
    return t_chosen, t_mask, t_random


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
    tf = _tf()
    ids = tf.cast(input_ids, tf.int32)
    length = ids.shape[-1] if ids.shape[-1] is not None else tf.shape(ids)[-1]
    rows = _u64(row_ids)[:, tf.newaxis]
    if maskable is None:
        is_special = tf.gather(tf.constant(_special_table(spec)), ids)
        maskable = tf.logical_and(tf.equal(tf.cast(attention_mask, tf.int32), 1), ~is_special)
    t_chosen, t_mask, t_random = _thresholds(spec)
    choose_keys = _combine(_combine(key, _u64(_CHOOSE)), rows)

    # One 32-bit draw h per position (token masking) or per word (whole-word masking) decides
    # both whether it is chosen and, among the chosen, mask / random / kept.
    if spec.kind == "whole_word":
        if word_ids is None:
            raise ValueError("whole-word masking needs word_ids: pass the chunks' word_ids column")
        words = tf.cast(word_ids, tf.int32)
        maskable = tf.logical_and(maskable, words >= 0)  # no-op for a precomputed `maskable`
        draw = tf.cast(_combine(choose_keys, _u64(words)), tf.uint32)  # the low 32 bits
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
            source = _position_bits(_combine(_combine(key, _u64(_REPLACE)), rows), length)
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


def epoch_permutation(n_rows: int, seed: int, epoch: Any):
    """The shuffle order of one epoch: a permutation of ``range(n_rows)`` fixed by (seed, epoch)."""
    tf = _tf()
    key = _combine(masking_key(seed, epoch, TRAIN_STREAM), _u64(_SHUFFLE))
    scores = _combine(key, _u64(tf.range(n_rows, dtype=tf.int64)))
    return tf.argsort(tf.cast(tf.bitwise.right_shift(scores, _u64(1)), tf.int64), stable=True)


# ------------------------------------------------------------------------------------ numpy API
@functools.lru_cache(maxsize=16)
def _compiled_masker(spec: MaskingSpec):
    """`mask_batch` as one tf.function per spec, reused across calls: the key is an argument, so
    masking another seed or epoch does not trace again (shapes vary only in the batch size)."""
    tf = _tf()

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
    tf = _tf()
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
    are comparable. Used by `build_datasets` and notebooks 03-04.
    """
    return mask_chunks(eval_chunks, spec, seed=seed, epoch=0, stream=EVAL_STREAM)


def keras_batches(arrays: Mapping[str, np.ndarray], batch_size: int):
    """A tf.data dataset of Keras ``(x, y)`` batches from masked arrays (e.g. `fixed_eval_masks`),
    keeping the last partial batch so every row is scored."""
    tf = _tf()
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
    inputs = {name: np.asarray(arrays[name], np.int32) for name in MODEL_INPUTS}
    labels = np.asarray(arrays["labels"], np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------------ builder
@dataclass
class MLMDatasets:
    """The datasets `model.fit` needs (built by `build_datasets`; used in notebooks 03 and 04).

    - ``train``: the training stream for all epochs, ``steps_per_epoch`` batches per epoch, so
      ``model.fit(d.train, epochs=config.epochs, steps_per_epoch=d.steps_per_epoch,
      validation_data=d.eval)``;
    - ``train_from(epoch, skip_batches)``: the same stream starting later, for exact resume with
      ``fit(..., initial_epoch=epoch)``;
    - ``eval``: the fixed-mask evaluation batches (all rows), from ``eval_arrays``.
    """

    train: Any
    eval: Any
    steps_per_epoch: int
    eval_steps: int
    epochs: int
    batch_size: int
    seed: int
    spec: MaskingSpec
    eval_arrays: dict[str, np.ndarray]
    train_arrays: dict[str, np.ndarray] = dataclasses.field(repr=False)

    def train_from(self, epoch: int = 0, skip_batches: int = 0):
        """The training stream from epoch `epoch` (0-based) and batch `skip_batches` of it to the
        end of the last epoch. Epoch e's order and masks depend only on (seed, e), so this equals
        the tail of `train`."""
        if not 0 <= epoch < self.epochs:
            raise ValueError(f"epoch={epoch!r} is outside the run's epochs 0..{self.epochs - 1}")
        if not 0 <= skip_batches < self.steps_per_epoch:
            raise ValueError(
                f"skip_batches={skip_batches!r} must lie in [0, {self.steps_per_epoch}) "
                "(batches already trained in that epoch)"
            )
        return _train_stream(
            self.train_arrays,
            self.spec,
            seed=self.seed,
            batch_size=self.batch_size,
            first_epoch=epoch,
            epochs=self.epochs,
            skip_batches=skip_batches,
        )

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run (for learning-rate schedules)."""
        return self.steps_per_epoch * self.epochs

    def fit_kwargs(self, initial_epoch: int = 0) -> dict[str, Any]:
        """Arguments for ``model.fit(**d.fit_kwargs(e))`` that start (or resume) at epoch `e`.

        `steps_per_epoch` must be passed: `train` holds all epochs back to back.
        """
        return {
            "x": self.train_from(initial_epoch),
            "epochs": self.epochs,
            "initial_epoch": initial_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "validation_data": self.eval,
        }

    def train_epoch(self, epoch: int):
        """The batches of one epoch only (for looking at them in notebook 03)."""
        return self.train_from(epoch).take(self.steps_per_epoch)


def _train_stream(
    arrays: Mapping[str, np.ndarray],
    spec: MaskingSpec,
    *,
    seed: int,
    batch_size: int,
    first_epoch: int,
    epochs: int,
    skip_batches: int = 0,
):
    tf = _tf()
    n_rows = len(arrays["input_ids"])
    steps = n_rows // batch_size
    usable = maskable_positions(arrays["input_ids"], arrays["attention_mask"], spec)
    if spec.kind == "whole_word":
        usable &= arrays["word_ids"] >= 0
    columns = {
        name: tf.constant(arrays[name])
        for name in ("input_ids", "attention_mask", "word_ids")
        if name in arrays
    }
    columns["maskable"] = tf.constant(usable)  # computed once, not in every batch

    # Work on blocks of several batches: one map call masks `group` batches at once, which
    # amortises the per-call cost of tf.data over ~512 rows; unbatch() then yields whole batches.
    group = max(1, _BLOCK_ROWS // batch_size)

    def epoch_blocks(epoch):
        order = epoch_permutation(n_rows, seed, epoch)[: steps * batch_size]
        rows = tf.data.Dataset.from_tensor_slices(tf.reshape(order, (steps, batch_size)))
        skip = tf.where(tf.equal(epoch, first_epoch), tf.constant(skip_batches, tf.int64), 0)
        return rows.skip(skip).batch(group).map(lambda block: (epoch, block))

    def make_batches(epoch, block):
        rows = tf.reshape(block, [-1])
        batch = {name: tf.gather(a, rows) for name, a in columns.items()}
        out = mask_batch(
            batch["input_ids"],
            batch["attention_mask"],
            rows,
            masking_key(seed, epoch, TRAIN_STREAM),
            spec,
            batch.get("word_ids"),
            maskable=batch["maskable"],
        )
        shape = tf.stack([tf.shape(block)[0], batch_size, tf.shape(out["labels"])[-1]])
        inputs = {
            "input_ids": tf.reshape(out["input_ids"], shape),
            "attention_mask": tf.reshape(batch["attention_mask"], shape),
        }
        return inputs, tf.reshape(out["labels"], shape)

    stream = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_blocks)
    stream = stream.map(make_batches, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    stream = stream.unbatch()
    total = (epochs - first_epoch) * steps - skip_batches
    return stream.apply(tf.data.experimental.assert_cardinality(total)).prefetch(tf.data.AUTOTUNE)


def build_datasets(
    train_chunks: Any,
    eval_chunks: Any,
    config: RunConfig,
    tokenizer: Any = None,
    *,
    spec: MaskingSpec | None = None,
) -> MLMDatasets:
    """Training and evaluation datasets for `model.fit`, masked as `config` says.

    Uses ``config.batch_size``, ``seed``, ``masking``, ``mlm_probability`` and ``epochs``.
    Training batches are shuffled per epoch and have a fixed shape (drop_remainder); evaluation
    keeps every row and uses fixed masks. Give a `tokenizer` (or a ready `spec`). Notebook 03
    builds them, notebook 04 trains on them.
    """
    if spec is None:
        if tokenizer is None:
            raise ValueError("build_datasets needs the tokenizer (or a MaskingSpec as spec=)")
        spec = MaskingSpec.from_config(config, tokenizer)
    need_words = spec.kind == "whole_word"
    train = chunk_arrays(train_chunks, need_word_ids=need_words, vocab_size=spec.vocab_size)
    if not need_words:
        train.pop("word_ids", None)
    n_train = len(train["input_ids"])
    if config.batch_size > n_train:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than the {n_train} training chunks, so "
            "not one full batch can be made: lower RunConfig.batch_size or use more chunks"
        )
    eval_arrays = fixed_eval_masks(eval_chunks, spec, seed=config.seed)
    steps = n_train // config.batch_size
    return MLMDatasets(
        train=_train_stream(
            train,
            spec,
            seed=config.seed,
            batch_size=config.batch_size,
            first_epoch=0,
            epochs=config.epochs,
        ),
        eval=keras_batches(eval_arrays, config.batch_size),
        steps_per_epoch=steps,
        eval_steps=-(-len(eval_arrays["labels"]) // config.batch_size),
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        spec=spec,
        eval_arrays=eval_arrays,
        train_arrays=train,
    )


# ------------------------------------------------------------------------------------ looking
def maskable_positions(
    input_ids: np.ndarray, attention_mask: np.ndarray, spec: MaskingSpec
) -> np.ndarray:
    """Where masking may choose: real tokens that are not special tokens (numpy, bool)."""
    ids = np.asarray(input_ids)
    return (np.asarray(attention_mask) == 1) & ~_special_table(spec)[ids]


def count_outcomes(
    masked_ids: np.ndarray,
    labels: np.ndarray,
    mask_token_id: int,
    *,
    outcome: np.ndarray | None = None,
    maskable: np.ndarray | None = None,
) -> dict[str, float]:
    """Count the 80/10/10 outcome over many rows (notebook 03's check of the recipe).

    Works for our arrays and for a collator's output alike. With `outcome` (from `mask_chunks`)
    the counts are exact; without it they are read off the ids, and a random replacement that
    happened to draw the original id (or the mask id) counts as kept (or masked) - about 1 in
    vocab_size of them. With `maskable` the share of chosen positions is reported too.
    """
    labels = np.asarray(labels)
    chosen = labels != IGNORE_INDEX
    if outcome is not None:
        outcome = np.asarray(outcome)
        n_mask = int(np.sum(outcome == MASKED))
        n_random = int(np.sum(outcome == RANDOM))
        n_kept = int(np.sum(outcome == KEPT))
    else:
        masked_ids = np.asarray(masked_ids)
        is_mask = chosen & (masked_ids == mask_token_id)
        is_kept = chosen & ~is_mask & (masked_ids == labels)
        n_mask, n_kept = int(is_mask.sum()), int(is_kept.sum())
        n_random = int(chosen.sum()) - n_mask - n_kept
    n_chosen = int(chosen.sum())
    counts: dict[str, float] = {
        "chosen": n_chosen,
        "mask": n_mask,
        "random": n_random,
        "kept": n_kept,
    }
    for name in OUTCOMES.values():
        counts[f"{name}_share"] = counts[name] / n_chosen if n_chosen else 0.0
    if maskable is not None:
        n_maskable = int(np.sum(maskable))
        counts["maskable"] = n_maskable
        counts["chosen_share"] = n_chosen / n_maskable if n_maskable else 0.0
    return counts


def masking_outcomes(masked: Mapping[str, np.ndarray], spec: MaskingSpec) -> dict[str, float]:
    """`count_outcomes` of a `mask_chunks` / `fixed_eval_masks` result, exact (from its outcome
    array) and with the share of maskable positions chosen (notebook 03's check of the recipe)."""
    return count_outcomes(
        masked["input_ids"],
        masked["labels"],
        spec.mask_token_id,
        outcome=masked["outcome"],
        maskable=maskable_positions(masked["original_ids"], masked["attention_mask"], spec),
    )


def decode_masked_row(
    tokenizer: Any,
    masked_ids: Sequence[int],
    labels: Sequence[int],
    attention_mask: Sequence[int] | None = None,
    *,
    outcome: Sequence[int] | None = None,
) -> str:
    """A masked row as readable text (notebook 03).

    ``[MASK]`` stays as is, a random replacement is shown as ``<new|was original>`` and a chosen
    token left unchanged as ``{token}``; pieces of one word are joined ("play##ing" -> "playing")
    and padding is dropped. Without `outcome` a position is read as random when its id differs
    from its label and is not the mask id.
    """
    ids = [int(i) for i in masked_ids]
    labs = [int(i) for i in labels]
    keep = [1] * len(ids) if attention_mask is None else [int(a) for a in attention_mask]
    mask_id = tokenizer.mask_token_id
    words: list[str] = []
    for pos, (token_id, label) in enumerate(zip(ids, labs, strict=True)):
        if not keep[pos]:
            continue
        original = token_id if label == IGNORE_INDEX else label
        text = tokenizer.convert_ids_to_tokens(original)
        glue = text.startswith("##")
        if label != IGNORE_INDEX:
            kind = (
                int(outcome[pos])
                if outcome is not None
                else (MASKED if token_id == mask_id else KEPT if token_id == label else RANDOM)
            )
            shown = text[2:] if glue else text
            if kind == MASKED:
                text = tokenizer.mask_token
            elif kind == RANDOM:
                text = f"<{tokenizer.convert_ids_to_tokens(token_id)}|was {shown}>"
            else:
                text = "{" + shown + "}"
        elif glue:
            text = text[2:]
        if glue and words:
            words[-1] += text
        else:
            words.append(text)
    return " ".join(words)


def decode_masked_rows(
    tokenizer: Any, masked: Mapping[str, np.ndarray], rows: Iterable[int]
) -> list[str]:
    """`decode_masked_row` for several rows of a `mask_chunks` / `fixed_eval_masks` result."""
    outcome = masked.get("outcome")
    return [
        decode_masked_row(
            tokenizer,
            masked["input_ids"][i],
            masked["labels"][i],
            masked["attention_mask"][i],
            outcome=None if outcome is None else outcome[i],
        )
        for i in rows
    ]


def plot_outcome_shares(
    counts: Mapping[str, Mapping[str, float]], *, mlm_probability: float = 0.15
):
    """Bar chart of the masking recipe as measured: the share of maskable tokens chosen, and how
    the chosen split into [MASK] / random / kept, one bar group per masking variant (notebook 03).

    `counts` maps a label (e.g. "token", "whole word", "collator") to a `count_outcomes` result
    computed with `maskable`. Dashed lines mark the target shares.
    """
    import matplotlib.pyplot as plt

    names = ["chosen_share", "mask_share", "random_share", "kept_share"]
    ticks = [
        "chosen\n(of maskable)",
        "[MASK]\n(of chosen)",
        "random\n(of chosen)",
        "kept\n(of chosen)",
    ]
    targets = [mlm_probability, 0.8, 0.1, 0.1]
    fig, ax = plt.subplots()
    x = np.arange(len(names))
    width = 0.8 / max(len(counts), 1)
    for i, (label, measured) in enumerate(counts.items()):
        if "chosen_share" not in measured:
            raise ValueError(
                f"counts for {label!r} lack chosen_share: pass maskable= to count_outcomes"
            )
        offset = (i - (len(counts) - 1) / 2) * width
        ax.bar(x + offset, [measured[n] for n in names], width, label=label)
    for xi, target in zip(x, targets, strict=True):
        ax.hlines(target, xi - 0.45, xi + 0.45, colors="black", linestyles="--", linewidth=1)
    ax.set_xticks(x, ticks)
    ax.set_ylabel("share")
    ax.set_title("Masking recipe as measured (dashed: target)")
    ax.legend()
    return fig
