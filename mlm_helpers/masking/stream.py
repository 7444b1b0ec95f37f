"""The tf.data builder: Keras batches for `model.fit`, masked on the fly.

`build_datasets` turns stage 02's chunks into `MLMDatasets`: a training stream that reshuffles and
re-masks every epoch (order and masks from `random_ops`, so it can resume at any batch) and
fixed-mask evaluation batches (`keras_batches` of `fixed_eval_masks`). The training chunks are held
in memory up to `IN_MEMORY_ROWS`; more are written once to disk (`store.ChunkStore`) and each
batch's rows read back as the stream needs them, so memory stays flat in the corpus size. Both give
the same batches: the rows of a batch and their masks depend on (seed, epoch, position) only.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import positive_int
from ..config import RunConfig
from ..runtime import import_tensorflow
from .inputs import chunk_arrays
from .random_ops import (
    TRAIN_STREAM,
    epoch_permutation,
    fixed_eval_masks,
    mask_batch,
    masking_key,
)
from .spec import MODEL_INPUTS, MaskingSpec, maskable_positions
from .store import ChunkStore

tf = import_tensorflow()
_BLOCK_ROWS = 512  # rows masked per tf.data map call in the training stream
# Training chunks held in memory (about 58 MB at 128 tokens, held twice: NumPy and TensorFlow);
# beyond, they are streamed from a `ChunkStore` on disk. Either way the batches are the same.
IN_MEMORY_ROWS = 50_000


def keras_batches(arrays: Mapping[str, np.ndarray], batch_size: int):
    """A tf.data dataset of Keras ``(x, y)`` batches from masked arrays (e.g. `fixed_eval_masks`),
    keeping the last partial batch so every row is scored."""
    positive_int(batch_size, "batch_size")
    inputs = {name: np.asarray(arrays[name], np.int32) for name in MODEL_INPUTS}
    labels = np.asarray(arrays["labels"], np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass
class MLMDatasets:
    """The datasets `model.fit` needs, built by `build_datasets` (notebook 03 builds one; notebook
    04 gets one from `training.prepare_data`).

    - ``train``: the training stream for all epochs, ``steps_per_epoch`` batches per epoch, so
      ``model.fit(d.train, epochs=config.epochs, steps_per_epoch=d.steps_per_epoch,
      validation_data=d.eval)``;
    - ``train_from(epoch, skip_batches)``: the same stream starting later, for exact resume with
      ``fit(..., initial_epoch=epoch)``;
    - ``eval``: the fixed-mask evaluation batches (all rows), from ``eval_arrays``.

    The training chunks are ``train_arrays`` (in memory) or ``train_store`` (on disk).
    """

    eval: Any
    epochs: int
    batch_size: int
    seed: int
    spec: MaskingSpec
    eval_arrays: dict[str, np.ndarray]
    train_arrays: dict[str, np.ndarray] | None = dataclasses.field(default=None, repr=False)
    train_store: ChunkStore | None = dataclasses.field(default=None, repr=False)

    @property
    def train_rows(self) -> int:
        """Training chunks, in memory or on disk."""
        if self.train_store is not None:
            return self.train_store.n_rows
        return len(self.train_arrays["input_ids"])

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch: full batches only (every batch has one shape). The package
        computes it here and nowhere else; later stages receive it."""
        return self.train_rows // self.batch_size

    def train_input_ids(self) -> np.ndarray | Iterator[np.ndarray]:
        """The training chunks' input ids: one array in memory, else an iterator over blocks read
        from disk (for `evaluation.unigram_perplexity`, in bounded memory)."""
        if self.train_store is None:
            return self.train_arrays["input_ids"]
        return (block["input_ids"] for block in self.train_store.blocks())

    @property
    def eval_steps(self) -> int:
        """Evaluation batches: every held-out row, the last batch partial."""
        return -(-len(self.eval_arrays["labels"]) // self.batch_size)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run (for learning-rate schedules)."""
        return self.steps_per_epoch * self.epochs

    @functools.cached_property
    def train(self):
        """The training stream of the whole run: `train_from` its first batch."""
        return self.train_from(0)

    def train_from(
        self, epoch: int = 0, skip_batches: int = 0, *, shard: tuple[int, int, int] | None = None
    ):
        """The training stream from epoch `epoch` (0-based) and batch `skip_batches` of it to the
        end of the last epoch. Epoch e's order and masks depend only on (seed, e), so this equals
        the tail of `train`.

        `shard` = (input pipelines, this pipeline, replicas in sync), from a
        `tf.distribute.InputContext`: this worker's share of every global batch, as per-replica
        batches for its local replicas in turn (`training` passes it to
        ``distribute_datasets_from_function`` with several workers). Each worker reads only its
        own rows; together the workers see exactly the batches of one process."""
        if not 0 <= epoch < self.epochs:
            raise ValueError(f"epoch={epoch!r} is outside the run's epochs 0..{self.epochs - 1}")
        if not 0 <= skip_batches < self.steps_per_epoch:
            raise ValueError(
                f"skip_batches={skip_batches!r} must lie in [0, {self.steps_per_epoch}) "
                "(batches already trained in that epoch)"
            )
        return _train_stream(
            self.train_store if self.train_store is not None else self.train_arrays,
            self.spec,
            seed=self.seed,
            batch_size=self.batch_size,
            steps=self.steps_per_epoch,
            first_epoch=epoch,
            epochs=self.epochs,
            skip_batches=skip_batches,
            shard=shard,
        )


def _memory_rows(arrays: Mapping[str, np.ndarray], spec: MaskingSpec):
    """A function from row indices to the rows' columns, gathered from `arrays` held as
    constants, with the maskable positions computed once for all rows."""
    usable = maskable_positions(arrays["input_ids"], arrays["attention_mask"], spec)
    if spec.kind == "whole_word":
        usable &= arrays["word_ids"] >= 0
    columns = {
        name: tf.constant(arrays[name])
        for name in ("input_ids", "attention_mask", "word_ids")
        if name in arrays
    }
    columns["maskable"] = tf.constant(usable)  # computed once, not in every batch

    def gather(rows):
        return {name: tf.gather(a, rows) for name, a in columns.items()}

    return gather


def _stored_rows(store: ChunkStore, spec: MaskingSpec):
    """The same function as `_memory_rows`, reading the rows from `store` (one ``pread`` per
    row, in a `tf.numpy_function`), the maskable positions computed per block."""
    whole_word = spec.kind == "whole_word"

    def read(rows: np.ndarray):
        arrays = store.read(rows)
        usable = maskable_positions(arrays["input_ids"], arrays["attention_mask"], spec)
        if whole_word:
            usable &= arrays["word_ids"] >= 0
        return arrays["input_ids"], arrays["attention_mask"], arrays["word_ids"], usable

    def gather(rows):
        types = (tf.int32, tf.int32, tf.int32, tf.bool)
        read_out = tf.numpy_function(read, [rows], types, stateful=False)
        names = ("input_ids", "attention_mask", "word_ids", "maskable")
        batch = {}
        for name, tensor in zip(names, read_out, strict=True):
            tensor.set_shape([None, store.chunk_size])
            batch[name] = tensor
        if not whole_word:
            del batch["word_ids"]
        return batch

    return gather


def _train_stream(
    source: Mapping[str, np.ndarray] | ChunkStore,
    spec: MaskingSpec,
    *,
    seed: int,
    batch_size: int,
    steps: int,
    first_epoch: int,
    epochs: int,
    skip_batches: int = 0,
    shard: tuple[int, int, int] | None = None,
):
    """Epochs `first_epoch`..`epochs` - 1 of `steps` batches each (`MLMDatasets.steps_per_epoch`),
    the first `skip_batches` of the first epoch left out; the rows come from memory (`arrays`) or
    from a `ChunkStore`, the same either way. `shard`: see `MLMDatasets.train_from`."""
    rows_per_batch, local, first_row = batch_size, 1, 0
    if shard is not None:
        pipelines, pipeline, replicas = shard
        if batch_size % replicas:
            raise ValueError(
                f"batch_size={batch_size} cannot be split evenly over {replicas} replicas: "
                f"choose a RunConfig.batch_size that is a multiple of {replicas}"
            )
        rows_per_batch, local = batch_size // replicas, replicas // pipelines
        first_row = pipeline * local * rows_per_batch
    if isinstance(source, ChunkStore):
        n_rows, gather = source.n_rows, _stored_rows(source, spec)
    else:
        n_rows, gather = len(source["input_ids"]), _memory_rows(source, spec)

    # Work on blocks of several batches: one map call masks `group` batches at once, which
    # amortises the per-call cost of tf.data over ~512 rows; unbatch() then yields whole batches.
    group = max(1, _BLOCK_ROWS // rows_per_batch)

    def epoch_blocks(epoch):
        order = epoch_permutation(n_rows, seed, epoch)[: steps * batch_size]
        batches = tf.reshape(order, (steps, batch_size))
        if shard is not None:  # this worker's columns of every batch, one row per local replica
            mine = batches[:, first_row : first_row + local * rows_per_batch]
            batches = tf.reshape(mine, (steps * local, rows_per_batch))
        rows = tf.data.Dataset.from_tensor_slices(batches)
        skip = tf.where(
            tf.equal(epoch, first_epoch), tf.constant(skip_batches * local, tf.int64), 0
        )
        return rows.skip(skip).batch(group).map(lambda block: (epoch, block))

    def make_batches(epoch, block):
        rows = tf.reshape(block, [-1])
        batch = gather(rows)
        out = mask_batch(
            batch["input_ids"],
            batch["attention_mask"],
            rows,
            masking_key(seed, epoch, TRAIN_STREAM),
            spec,
            batch.get("word_ids"),
            maskable=batch["maskable"],
        )
        shape = tf.stack([tf.shape(block)[0], rows_per_batch, tf.shape(out["labels"])[-1]])
        inputs = {
            "input_ids": tf.reshape(out["input_ids"], shape),
            "attention_mask": tf.reshape(batch["attention_mask"], shape),
        }
        return inputs, tf.reshape(out["labels"], shape)

    stream = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_blocks)
    stream = stream.map(make_batches, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    stream = stream.unbatch()
    total = ((epochs - first_epoch) * steps - skip_batches) * local
    return stream.apply(tf.data.experimental.assert_cardinality(total)).prefetch(tf.data.AUTOTUNE)


def build_datasets(
    train_chunks: Any,
    eval_chunks: Any,
    config: RunConfig,
    tokenizer: Any = None,
    *,
    spec: MaskingSpec | None = None,
    in_memory: bool | None = None,
) -> MLMDatasets:
    """Training and evaluation datasets for `model.fit`, masked as `config` says.

    Uses ``config.batch_size``, ``seed``, ``masking``, ``mlm_probability`` and ``epochs``.
    Training batches are shuffled per epoch and have a fixed shape (drop_remainder); evaluation
    keeps every row and uses fixed masks. Give a `tokenizer` (or a ready `spec`). `in_memory`:
    hold the training chunks in memory (True), or write them once to disk and stream them (False,
    `store.ChunkStore`); None: in memory up to `IN_MEMORY_ROWS` chunks. The batches are the same
    either way. Notebook 03 builds them; notebook 04 trains on them (through
    `training.prepare_data`).
    """
    if spec is None:
        if tokenizer is None:
            raise ValueError("build_datasets needs the tokenizer (or a MaskingSpec as spec=)")
        spec = MaskingSpec.from_config(config, tokenizer)
    need_words = spec.kind == "whole_word"
    n_rows = train_chunks.num_rows if hasattr(train_chunks, "num_rows") else None
    if in_memory is None:
        in_memory = n_rows is None or n_rows <= IN_MEMORY_ROWS
    train, store = None, None
    if in_memory or not hasattr(train_chunks, "with_format"):  # a dict of arrays is in memory
        train = chunk_arrays(train_chunks, need_word_ids=need_words, vocab_size=spec.vocab_size)
        if not need_words:
            train.pop("word_ids", None)
        n_train = len(train["input_ids"])
    else:
        store = ChunkStore.write(train_chunks, vocab_size=spec.vocab_size, need_word_ids=need_words)
        n_train = store.n_rows
    if config.batch_size > n_train:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than the {n_train} training chunks, so "
            "not one full batch can be made: lower RunConfig.batch_size or use more chunks"
        )
    eval_arrays = fixed_eval_masks(eval_chunks, spec, seed=config.seed)
    return MLMDatasets(
        eval=keras_batches(eval_arrays, config.batch_size),
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        spec=spec,
        eval_arrays=eval_arrays,
        train_arrays=train,
        train_store=store,
    )
