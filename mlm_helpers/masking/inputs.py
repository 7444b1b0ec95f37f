"""Masking's input: stage 02's chunks checked and turned into 2-D int32 arrays (`chunk_arrays`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .spec import MODEL_INPUTS


def _column_from_dataset(table: Any, name: str) -> np.ndarray | list:
    """A list column of a pyarrow table as a 2-D array (or the row lengths when ragged)."""
    import pyarrow.compute as pc

    column = table.column(name).combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (np.any(lengths != lengths[0])):
        return list(lengths)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(lengths), int(lengths[0]) if len(lengths) else 0)


def _column(chunks: Any, table: Any, name: str) -> np.ndarray:
    """One chunk column as a 2-D int32 array; ValueError when its rows are ragged, not lists of
    ids, or not integers."""
    if table is not None:
        values: Any = _column_from_dataset(table, name)
    elif isinstance(chunks, Mapping):
        try:
            values = np.asarray(chunks[name])
        except ValueError:  # inhomogeneous nested lists
            values = [len(row) for row in chunks[name]]
    else:  # a Dataset without rows
        values = np.zeros((0, 0), np.int32)
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
    return values.astype(np.int32, copy=False)


def chunk_arrays(
    chunks: Any, *, need_word_ids: bool = False, vocab_size: int | None = None
) -> dict[str, np.ndarray]:
    """Check stage 02's chunks and return their columns as 2-D int32 arrays.

    `chunks` is a `datasets.Dataset`, a pyarrow Table (a slice of one, as `store.ChunkStore`
    writes them) or a mapping of equal-length arrays/lists. Raises ValueError
    naming the problem: a missing column, no rows, ragged rows or columns of different shapes, ids
    outside ``[0, vocab_size)``. Used by `build_datasets` and `mask_chunks`.
    """
    wanted = MODEL_INPUTS + (("word_ids",) if need_word_ids else ())
    optional = () if need_word_ids else ("word_ids",)
    table = None
    if hasattr(chunks, "column_names") and hasattr(chunks, "with_format"):
        names = list(chunks.column_names)
        table = chunks.with_format("arrow")[:] if len(chunks) else None
    elif hasattr(chunks, "column_names") and hasattr(chunks, "combine_chunks"):  # a pyarrow Table
        names = list(chunks.column_names)
        table = chunks if chunks.num_rows else None
    elif isinstance(chunks, Mapping):
        names = list(chunks)
    else:
        raise TypeError(
            f"chunks must be a datasets.Dataset or a dict of arrays, got {type(chunks).__name__}"
        )
    missing = [c for c in wanted if c not in names]
    if missing:
        hint = " (whole-word masking needs word_ids: keep them when chunking)"
        hint = hint if "word_ids" in missing else ""
        raise ValueError(f"chunks have no column(s) {missing}; they have {names}{hint}")

    kept = wanted + tuple(c for c in optional if c in names)
    arrays = {name: _column(chunks, table, name) for name in kept}
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
