"""Stage 02 — tokenizing reviews with word ids and cutting them into fixed-length chunks (notebook 02).

The recipe: tokenize every review with a fast tokenizer (keeping ``word_ids``, which whole-word masking
in notebook 03 needs), concatenate the token streams of many reviews and cut them into blocks of
``chunk_size`` tokens. Every block is full, so batches have one shape (no padding, no XLA recompiles)
and no review text is truncated away.

Pieces (the tokenizer itself is checked by `data.check_tokenizer`):
- `check_chunk_size`: a clear error before any work is done;
- `tokenize_reviews`: tokenization inside ``datasets.map(batched=True)`` (cached, ``num_proc`` works);
- `chunk_stream`: the pure-NumPy core (concatenate + reshape, word ids renumbered per chunk);
- `chunk_tokens`: `chunk_stream` applied per map batch to a tokenized Dataset / DatasetDict;
- `prepare_chunks`: the one call notebooks 03 and 04 use — reviews in, ``{"train", "eval"}`` chunks out;
- for notebook 02: `token_table` (one review, token by token) and `plot_chunk_layout`.

Chunk columns and their contract (the masking stage relies on it):

    input_ids       int32, exactly ``chunk_size`` per row
    attention_mask  int8, 1 for real tokens (0 only for padding, which the default policy never makes)
    word_ids        int32, -1 for special tokens and padding; otherwise the index of the token's word
                    *local to the chunk*: 0, 1, 2, ... non-decreasing along the row. Pieces of one word
                    share an id; different words never do, even if they come from different reviews or
                    one of them was cut by the chunk boundary (its remaining pieces start the next row
                    as a word of their own).

Tail policy (``tail="drop"``, the default, as in the Hugging Face course): each map batch of
``batch_size`` reviews is concatenated and cut; the last ``< chunk_size`` tokens of the batch are
dropped. With the default batch of 1,000 reviews that loses on average ``chunk_size / 2`` tokens per
1,000 reviews (well under 0.1% of the tokens; notebook 02 counts them). ``tail="pad"``
keeps them instead in one padded row per map batch (attention_mask 0, word_ids -1).

No TensorFlow here: this module is usable (and tested) without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._pages import release
from .checks import one_of, positive_int
from .config import SCRATCH, RunConfig
from .data import check_tokenizer

TOKENIZE_BATCH = 1_000  # reviews per map batch when tokenizing
CHUNK_BATCH = (
    1_000  # reviews per map batch when chunking: one tail of < chunk_size tokens per batch
)
TAIL_POLICIES = ("drop", "pad")
TOKEN_COLUMNS = ("input_ids", "attention_mask", "word_ids")
_ARROW_TYPES = {"input_ids": "int32", "attention_mask": "int8", "word_ids": "int32"}
_NO_LIMIT = 1_000_000  # transformers uses a huge int as model_max_length when none is known
# Below this many reviews per process, starting processes costs more than it saves
# (benchmarks/scale.py measures both): a small corpus is tokenized in this process.
MIN_REVIEWS_PER_PROCESS = 10_000


# --------------------------------------------------------------------------- checks
def max_positions_of(tokenizer: Any = None, max_positions: int | None = None) -> int | None:
    """The longest input the model takes: `max_positions` if given, else the tokenizer's
    ``model_max_length`` (None when the tokenizer does not know one)."""
    if max_positions is not None:
        return int(max_positions)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit is not None and limit < _NO_LIMIT else None


def check_chunk_size(
    chunk_size: Any, tokenizer: Any = None, *, max_positions: int | None = None
) -> int:
    """Return `chunk_size` if it is an int in [2, the model's maximum positions]; else raise ValueError.

    The limit is `max_positions` when given (e.g. the model config's ``max_position_embeddings``),
    otherwise ``tokenizer.model_max_length``.
    """
    if isinstance(chunk_size, np.integer):
        chunk_size = int(chunk_size)
    positive_int(chunk_size, "chunk_size", minimum=2)
    limit = max_positions_of(tokenizer, max_positions)
    if limit is not None and chunk_size > limit:
        source = "max_positions" if max_positions is not None else "tokenizer.model_max_length"
        raise ValueError(
            f"chunk_size={chunk_size} is larger than the model's maximum of {limit} "
            f"positions ({source}); choose chunk_size <= {limit}"
        )
    return chunk_size


# --------------------------------------------------------------------------- tokenizing
def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, which a batch scheduler or a
    container sets; ``os.cpu_count()`` where the system does not say)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def tokenizing_processes(num_proc: int | None, reviews: int) -> int:
    """How many processes tokenize `reviews` reviews: `num_proc` (`RunConfig.num_proc`; None:
    every available core), at most one per `MIN_REVIEWS_PER_PROCESS` reviews, at least one."""
    wanted = available_cores() if num_proc is None else num_proc
    return max(1, min(wanted, reviews // MIN_REVIEWS_PER_PROCESS))


@contextlib.contextmanager
def _tokenizer_threads_off(num_proc: int | None) -> Iterator[None]:
    """With several processes, each one tokenizes on one thread (``TOKENIZERS_PARALLELISM=false``
    while they run): the processes already fill the cores, and a fast tokenizer that used its
    threads before the fork would otherwise warn and turn them off itself."""
    if not num_proc or num_proc < 2:
        yield
        return
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TOKENIZERS_PARALLELISM"]
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = previous


def _token_features():
    import datasets

    return datasets.Features(
        {name: datasets.List(datasets.Value(_ARROW_TYPES[name])) for name in TOKEN_COLUMNS}
    )


def tokenize_reviews(
    reviews,
    tokenizer,
    *,
    text_column: str = "text",
    batch_size: int = TOKENIZE_BATCH,
    num_proc: int | None = None,
):
    """Tokenize a review Dataset or DatasetDict inside ``map(batched=True)``; returns the same kind.

    Output columns (all others removed): ``input_ids``, ``attention_mask`` and ``word_ids`` (-1 for
    the special tokens), one row per review, with ``[CLS]``/``[SEP]`` and no truncation — chunking
    cuts long reviews instead. `num_proc` processes share the work (each row is tokenized alone,
    so the rows are the same for any `num_proc`). Used in notebook 02 and by `prepare_chunks`.
    """
    check_tokenizer(tokenizer)

    def tokenize_batch(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch[text_column], truncation=False, verbose=False)
        word_ids = [
            [-1 if w is None else w for w in encoded.word_ids(i)]
            for i in range(len(batch[text_column]))
        ]
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "word_ids": word_ids,
        }

    columns = _column_names(reviews)
    if text_column not in columns:
        raise ValueError(
            f"no {text_column!r} column to tokenize (columns: {columns}); pass "
            "text_column=... or load the reviews with mlm_helpers.data.load_reviews"
        )
    with _tokenizer_threads_off(num_proc):
        return reviews.map(
            tokenize_batch,
            batched=True,
            batch_size=batch_size,
            num_proc=num_proc,
            remove_columns=columns,
            features=_token_features(),
            desc="tokenizing",
        )


def _column_names(dataset) -> list[str]:
    """Column names of a Dataset, or of the first split of a DatasetDict."""
    names = dataset.column_names
    if isinstance(names, dict):
        names = next(iter(names.values()), [])
    return list(names)


# --------------------------------------------------------------------------- the NumPy core
def chunk_stream(
    input_ids: Any,
    word_ids: Any,
    chunk_size: int,
    *,
    attention_mask: Any = None,
    lengths: Sequence[int] | np.ndarray | None = None,
    pad_id: int | None = None,
) -> dict[str, np.ndarray]:
    """Cut one concatenated token stream into rows of `chunk_size` tokens (pure NumPy).

    `input_ids` and `word_ids` are 1-D and aligned (word ids as a tokenizer gives them per sequence,
    -1 for special tokens); `lengths` (optional) are the lengths of the sequences that were
    concatenated, so that a word that ends one sequence is never merged with the first word of the
    next even when no special token separates them. With `pad_id` None the last ``len % chunk_size``
    tokens are dropped; otherwise they fill one more row padded with `pad_id` (attention_mask 0,
    word_ids -1). Returns 2-D ``input_ids``, ``attention_mask`` and ``word_ids`` (word ids renumbered
    per row; see the module doc). Used by `chunk_tokens`.
    """
    ids = np.asarray(input_ids)
    words = np.asarray(word_ids, dtype=np.int64)
    mask = (
        np.ones(ids.shape, dtype=np.int8)
        if attention_mask is None
        else np.asarray(attention_mask, dtype=np.int8)
    )
    if ids.ndim != 1 or ids.shape != words.shape or ids.shape != mask.shape:
        raise ValueError(
            f"input_ids, word_ids and attention_mask must be 1-D and of one length, got "
            f"shapes {ids.shape}, {words.shape} and {mask.shape}"
        )
    chunk_size = check_chunk_size(chunk_size)
    is_word = words >= 0
    # A token starts a new word unless it continues the previous token's word.
    starts = is_word.copy()
    starts[1:] &= ~(is_word[:-1] & (words[1:] == words[:-1]))
    if lengths is not None:
        bounds = np.cumsum(np.asarray(lengths, dtype=np.int64))
        if bounds.size and bounds[-1] != ids.size:
            raise ValueError(
                f"lengths add up to {int(bounds[-1])} tokens but the stream has {ids.size}"
            )
        first = bounds[:-1][bounds[:-1] < ids.size]
        starts[first] = is_word[first]
    n_rows, rest = divmod(ids.size, chunk_size)
    n_keep = n_rows * chunk_size
    if pad_id is not None and rest:
        fill = chunk_size - rest
        ids = np.concatenate([ids, np.full(fill, pad_id, dtype=ids.dtype)])
        mask = np.concatenate([mask, np.zeros(fill, dtype=np.int8)])
        is_word = np.concatenate([is_word, np.zeros(fill, dtype=bool)])
        starts = np.concatenate([starts, np.zeros(fill, dtype=bool)])
        n_rows, n_keep = n_rows + 1, ids.size
    starts = starts[:n_keep].reshape(n_rows, chunk_size)
    is_word = is_word[:n_keep].reshape(n_rows, chunk_size)
    starts[:, 0] = is_word[:, 0]  # a word cut by the boundary starts the next row afresh
    local = np.cumsum(starts, axis=1, dtype=np.int32) - 1
    local[~is_word] = -1
    return {
        "input_ids": ids[:n_keep].reshape(n_rows, chunk_size).astype(np.int32, copy=False),
        "attention_mask": mask[:n_keep].reshape(n_rows, chunk_size),
        "word_ids": local,
    }


# --------------------------------------------------------------------------- chunking datasets
def _chunk_features(chunk_size: int):
    import datasets

    return datasets.Features(
        {
            name: datasets.List(datasets.Value(_ARROW_TYPES[name]), length=chunk_size)
            for name in TOKEN_COLUMNS
        }
    )


def _flat(table, name: str) -> np.ndarray:
    """All values of a list column of an Arrow table, as one NumPy array (no Python lists)."""
    import pyarrow.compute as pc

    return pc.list_flatten(table.column(name)).to_numpy()


def chunk_tokens(
    tokenized,
    chunk_size: int = 128,
    *,
    tail: str = "drop",
    pad_id: int | None = None,
    batch_size: int = CHUNK_BATCH,
    num_proc: int | None = None,
    max_positions: int | None = None,
):
    """Chunk a tokenized Dataset / DatasetDict (from `tokenize_reviews`) into `chunk_size`-token rows.

    Each map batch of `batch_size` reviews is concatenated and cut by `chunk_stream`, reading and
    writing Arrow buffers directly. `tail` is "drop" (default) or "pad" (give
    ``pad_id=tokenizer.pad_token_id``); see the module doc. `max_positions` bounds `chunk_size` (the model's maximum positions). Used in
    `prepare_chunks` (notebook 02 shows it on reviews).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunk_size = check_chunk_size(chunk_size, max_positions=max_positions)
    one_of(tail, "tail", TAIL_POLICIES)
    missing = [c for c in TOKEN_COLUMNS if c not in _column_names(tokenized)]
    if missing:
        raise ValueError(f"columns {missing} missing: chunk the output of tokenize_reviews")
    if tail == "pad" and pad_id is None:
        raise ValueError(
            "tail='pad' needs the padding token's id: pass pad_id=tokenizer.pad_token_id"
        )
    pad = pad_id if tail == "pad" else None

    def chunk_batch(table: pa.Table) -> pa.Table:
        rows = chunk_stream(
            _flat(table, "input_ids"),
            _flat(table, "word_ids"),
            chunk_size,
            attention_mask=_flat(table, "attention_mask"),
            lengths=pc.list_value_length(table.column("input_ids")).to_numpy(),
            pad_id=pad,
        )
        release(table)  # its memory-mapped pages: read once, not kept (flat memory)
        return pa.table(
            {
                name: pa.FixedSizeListArray.from_arrays(pa.array(rows[name].ravel()), chunk_size)
                for name in TOKEN_COLUMNS
            }
        )

    formatted = tokenized.with_format("arrow")
    chunks = formatted.map(
        chunk_batch,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=_column_names(tokenized),
        features=_chunk_features(chunk_size),
        desc="chunking",
    )
    return chunks.with_format(None)


# --------------------------------------------------------------------------- one call for 03 / 04
SAMPLE_MARGIN = 0.1  # tokenize ~10% more chunks than sampled, so the draw is a sample of a pool
_PROBE_REVIEWS = 200  # reviews tokenized (without datasets) to estimate chunks per review


def _sample(dataset, n: int | None, seed: int):
    """`n` rows drawn with `seed` (all rows, in order, when `n` is None or exceeds the rows)."""
    if n is None or n >= dataset.num_rows:
        return dataset
    return dataset.shuffle(seed=seed).select(range(n)).flatten_indices()


def sample_chunks(
    parts: Sequence[Any], n: int | None, seed: int, make_chunks, tokenizer, chunk_size: int
):
    """`n` chunks of the review Datasets `parts` drawn with `seed`, tokenizing only the reviews
    they need.

    `make_chunks` turns a Dataset of reviews into chunks (`tokenize_reviews` then `chunk_tokens`).
    With `n` None every part is chunked, in order. Otherwise the reviews are shuffled with `seed`
    and a prefix of them is chunked, sized from the chunks per review of a small probe, grown until
    it gives ``n`` chunks plus `SAMPLE_MARGIN`; `n` of those are drawn with `seed` (all of them when
    the whole corpus gives fewer). The result is a function of the reviews, `n`, `seed` and the
    tokenizer only. `prepare_chunks` uses it for both the training and the evaluation chunks.
    """
    import math

    import datasets

    if n is None:
        return datasets.concatenate_datasets([make_chunks(part) for part in parts])
    texts = datasets.concatenate_datasets([part.select_columns("text") for part in parts])
    shuffled = texts.shuffle(seed=seed)
    total, want = shuffled.num_rows, n + math.ceil(SAMPLE_MARGIN * n)
    probe = list(shuffled.select(range(min(_PROBE_REVIEWS, total)))["text"])
    tokens = sum(len(ids) for ids in tokenizer(probe, verbose=False)["input_ids"])
    per_review = max(tokens / max(len(probe), 1) / chunk_size, 1e-3)
    pieces, have, done = [], 0, 0
    while have < want and done < total:
        take = min(total - done, max(math.ceil((want - have) / per_review * 1.05), 1))
        piece = make_chunks(shuffled.select(range(done, done + take)))
        pieces.append(piece)
        done, have = done + take, have + piece.num_rows
        per_review = max(have / done, 1e-3)
    pool = pieces[0] if len(pieces) == 1 else datasets.concatenate_datasets(pieces)
    return _sample(pool, n, seed)


def _rows(source):
    yield from source


def _on_disk(split):
    """A split as a `datasets.Dataset`: a streaming one (an ``IterableDataset``, which has no
    ``num_rows`` to sample from) is written once, row by row, to an Arrow file in a temporary
    folder (removed at exit), in bounded memory; any other is returned as it is."""
    import shutil
    import tempfile
    import weakref

    import datasets

    if not isinstance(split, datasets.IterableDataset):
        return split
    folder = tempfile.mkdtemp(prefix="mlm-streamed-reviews-")
    weakref.finalize(_on_disk, shutil.rmtree, folder, True)
    return datasets.Dataset.from_generator(
        _rows, gen_kwargs={"source": split}, features=split.features, cache_dir=folder
    )


def prepare_chunks(
    config: RunConfig,
    tokenizer: Any = None,
    reviews: Any = None,
    *,
    num_proc: int | None = None,
    batch_size: int = CHUNK_BATCH,
):
    """Reviews → ``DatasetDict({"train": chunks, "eval": chunks})`` for a run configuration.

    Loads the reviews (`data.load_reviews(config)`) and the tokenizer (`data.load_tokenizer(config)`)
    unless given. `data.hold_out` first removes the eval reviews whose text occurs in a training
    split; then ``config.train_chunks`` chunks are drawn with ``config.seed`` from the reviews of
    ``config.train_splits`` and ``config.eval_chunks`` from ``config.eval_split`` (held out) by
    `sample_chunks`, which tokenizes only the shuffled reviews those chunks need (all reviews, in
    order, when the count is None). A sampled chunk is still a full window of real text.
    Tokenizing runs in `tokenizing_processes` processes (`num_proc`, else ``config.num_proc``);
    chunking in this one, so the chunks are the same whatever the number. `reviews` may be
    streamed (``load_dataset(..., streaming=True)``): each split is then written once to disk.
    Notebook 03 calls it; notebook 04 through `training.prepare_data`.
    """
    import datasets

    from .data import hold_out, load_reviews, load_tokenizer

    if tokenizer is None:
        tokenizer = load_tokenizer(config)
    check_tokenizer(tokenizer)
    limit = config.tiny_model.get("max_position_embeddings") if config.model == SCRATCH else None
    chunk_size = check_chunk_size(config.chunk_size, tokenizer, max_positions=limit)
    splits = (*config.train_splits, config.eval_split)
    if reviews is None:
        reviews = load_reviews(config)
    missing = [s for s in splits if s not in reviews]
    if missing:
        raise ValueError(
            f"split(s) {missing} not in the reviews (have {list(reviews)}); set "
            "RunConfig.train_splits / eval_split to splits that exist"
        )
    needed = hold_out(datasets.DatasetDict({s: _on_disk(reviews[s]) for s in splits}), config)
    num_proc = config.num_proc if num_proc is None else num_proc

    def make_chunks(texts):
        processes = tokenizing_processes(num_proc, texts.num_rows)
        return chunk_tokens(  # one process: num_proc=None, the very call it always was
            tokenize_reviews(texts, tokenizer, num_proc=processes if processes > 1 else None),
            chunk_size,
            batch_size=batch_size,
            max_positions=max_positions_of(tokenizer, limit),
        )

    train = [needed[s] for s in config.train_splits]
    eval_texts = [needed[config.eval_split]]
    prepared = datasets.DatasetDict(
        {
            "train": sample_chunks(
                train, config.train_chunks, config.seed, make_chunks, tokenizer, chunk_size
            ),
            "eval": sample_chunks(
                eval_texts, config.eval_chunks, config.seed, make_chunks, tokenizer, chunk_size
            ),
        }
    )
    # What the chunks were made from, as config.json records it (`data.load_reviews` marks the
    # reviews it loads; None: reviews made otherwise); `training.prepare_data` refuses chunks
    # made from another dataset than the run's.
    prepared.dataset = getattr(reviews, "dataset", None)
    return prepared


# --------------------------------------------------------------------------- notebook 02 helpers
def token_table(text: str, tokenizer: Any, *, max_tokens: int | None = None):
    """One review as a pandas DataFrame, a row per token: token, id, word_id (-1 = special) and
    kind ("special", "word", or "##piece" for a continuation). Notebook 02."""
    import pandas as pd

    check_tokenizer(tokenizer)
    encoded = tokenizer(text, truncation=False, verbose=False)
    word_ids = [-1 if w is None else w for w in encoded.word_ids()]
    kinds = [
        "special" if w < 0 else "##piece" if i and w == word_ids[i - 1] else "word"
        for i, w in enumerate(word_ids)
    ]
    table = pd.DataFrame(
        {"token": encoded.tokens(), "id": encoded["input_ids"], "word_id": word_ids, "kind": kinds}
    )
    return table.head(max_tokens) if max_tokens is not None else table


def plot_chunk_layout(chunks, *, rows: int = 8):
    """Figure: the first `rows` chunks as a grid of tokens coloured by the review they come from
    (special tokens dark), showing how reviews are packed and cut. Notebook 02."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    rows = min(rows, chunks.num_rows)
    if rows < 1:
        raise ValueError("no chunks to draw: the chunked dataset is empty")
    words = np.asarray(chunks.with_format("numpy").select(range(rows))[:]["word_ids"])
    chunk_size = words.shape[1]
    flat = words.ravel()
    special = flat < 0
    # A review starts at each word token that follows a special token ([CLS] ... [SEP] [CLS] ...).
    new_review = np.zeros(flat.shape, dtype=bool)
    new_review[1:] = ~special[1:] & special[:-1]
    review = np.cumsum(new_review)
    colour = np.where(special, 0, 1 + review % 6).reshape(rows, chunk_size)
    palette = ["#222222", "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]
    fig, ax = plt.subplots(figsize=(9, 0.45 * rows + 1.6))
    ax.imshow(
        colour, cmap=ListedColormap(palette), vmin=0, vmax=6, aspect="auto", interpolation="nearest"
    )
    ax.hlines(np.arange(rows - 1) + 0.5, -0.5, chunk_size - 0.5, colors="white", linewidth=2)
    ax.set_xlabel(f"token position in the chunk (0-{chunk_size - 1})")
    ax.set_ylabel("chunk (row)")
    ax.set_yticks(range(rows))
    ax.grid(False)
    ax.set_title(
        f"Reviews packed into {chunk_size}-token chunks\n"
        "(one colour per review, dark = [CLS]/[SEP])"
    )
    return fig
