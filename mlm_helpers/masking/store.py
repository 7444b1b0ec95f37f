"""Training chunks written once to disk and read back by row: the `ChunkStore` (no TensorFlow).

A corpus of any size trains in bounded memory when its chunks stay on disk: `ChunkStore.write`
copies stage 02's chunks, checked batch by batch (`chunk_arrays`), into one file of fixed-size
records (a chunk's ``input_ids`` and ``word_ids`` as int32, its ``attention_mask`` as int8), and
`ChunkStore.read` fetches any rows with one ``pread`` each. The training stream reads the rows of
each batch in the order of `random_ops.epoch_permutation`, exactly as it gathers them from memory,
so a stored set gives the same batches, masks and resume points as the in-memory one
(`stream.build_datasets` chooses between them by size; tests compare both).

Why not a memory map: every page a process touches stays in its resident memory while mapped, so
an epoch over a memory-mapped corpus would grow as the corpus does; ``pread`` goes through the
page cache, which the kernel shares and reclaims. Where: beside the chunks' own `datasets` cache
files, named by their fingerprint, so a second run on the same chunks reuses the file; chunks held
in memory (no cache file) get a temporary folder, removed when the process exits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._pages import release
from .inputs import chunk_arrays

WRITE_ROWS = 8_192  # chunks checked and written per step (about 9 MB at 128 tokens)
STORE_PREFIX = "mlm-chunk-store"


def record_type(chunk_size: int) -> np.dtype:
    """One chunk as stored: ``input_ids`` and ``word_ids`` int32, ``attention_mask`` int8."""
    return np.dtype(
        [
            ("input_ids", "<i4", (chunk_size,)),
            ("word_ids", "<i4", (chunk_size,)),
            ("attention_mask", "i1", (chunk_size,)),
        ]
    )


def _rows_of(chunks: Any) -> int:
    return chunks.num_rows if hasattr(chunks, "num_rows") else len(chunks)


@dataclass
class ChunkStore:
    """Chunks on disk, one record of `record_type` per row; `read` returns any rows as arrays."""

    path: Path
    n_rows: int
    chunk_size: int
    has_word_ids: bool
    _fd: int | None = field(default=None, repr=False, compare=False)

    @property
    def record(self) -> np.dtype:
        return record_type(self.chunk_size)

    @classmethod
    def write(
        cls,
        chunks: Any,
        *,
        vocab_size: int | None = None,
        need_word_ids: bool = False,
        folder: str | os.PathLike | None = None,
    ) -> ChunkStore:
        """Write `chunks` (a `datasets.Dataset` from stage 02) to a store, `WRITE_ROWS` at a time,
        each batch checked by `chunk_arrays` (its errors name the problem); reuse the file when
        these chunks were stored before. `folder`: where to write (default: beside the chunks'
        cache files; a temporary folder for chunks held in memory)."""
        n_rows = _rows_of(chunks)
        if n_rows == 0:
            raise ValueError("chunks are empty (no rows): nothing to train on")
        first = chunk_arrays(_batch(chunks, 0, 1), need_word_ids=need_word_ids)
        chunk_size = first["input_ids"].shape[1]
        has_words = "word_ids" in first
        path = _store_path(chunks, folder, vocab_size, has_words)
        store = cls(path, n_rows, chunk_size, has_words)
        if path.is_file() and path.stat().st_size == n_rows * store.record.itemsize:
            return store  # written once, by an earlier run on the same chunks
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        try:
            with partial.open("wb") as handle:
                for start in range(0, n_rows, WRITE_ROWS):
                    batch = _batch(chunks, start, min(start + WRITE_ROWS, n_rows))
                    arrays = chunk_arrays(batch, need_word_ids=need_word_ids, vocab_size=vocab_size)
                    handle.write(store._records(arrays).tobytes())
                    release(batch if hasattr(batch, "columns") else None)
            os.replace(partial, path)  # a killed write leaves no store that looks whole
        finally:
            partial.unlink(missing_ok=True)
        return store

    def _records(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        records = np.zeros(len(arrays["input_ids"]), self.record)
        records["input_ids"] = arrays["input_ids"]
        records["attention_mask"] = arrays["attention_mask"]
        records["word_ids"] = arrays["word_ids"] if self.has_word_ids else -1
        return records

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)
        return self._fd

    def read(self, rows: Any) -> dict[str, np.ndarray]:
        """The chunks at `rows` (any order, repeats allowed) as int32 arrays ``[len(rows),
        chunk_size]``: ``input_ids``, ``attention_mask`` and ``word_ids`` (-1 when none were
        stored), as `chunk_arrays` gives them from memory."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"rows outside [0, {self.n_rows}) of {self.path}")
        fd, size = self._descriptor(), self.record.itemsize
        data = b"".join(os.pread(fd, size, int(row) * size) for row in rows)
        records = np.frombuffer(data, self.record, count=rows.size)
        return {name: records[name].astype(np.int32) for name in self.record.names}

    def blocks(self, rows: int = WRITE_ROWS) -> Iterator[dict[str, np.ndarray]]:
        """Every chunk in stored order, `rows` at a time (read sequentially, bounded memory)."""
        size = self.record.itemsize
        with self.path.open("rb") as handle:
            for start in range(0, self.n_rows, rows):
                count = min(rows, self.n_rows - start)
                records = np.frombuffer(handle.read(count * size), self.record, count=count)
                yield {name: records[name].astype(np.int32) for name in self.record.names}


def _batch(chunks: Any, start: int, stop: int) -> Any:
    """Rows [start, stop) of a Dataset (as a pyarrow Table) or of a mapping of arrays."""
    if hasattr(chunks, "with_format"):
        return chunks.with_format("arrow")[start:stop]
    return {name: np.asarray(values)[start:stop] for name, values in chunks.items()}


def _store_path(
    chunks: Any, folder: str | os.PathLike | None, vocab_size: int | None, has_words: bool
) -> Path:
    """Beside the chunks' cache files (or in `folder`), named by their fingerprint (what
    `datasets` names its own cache files by), so that the same chunks find their store again;
    chunks without a fingerprint (a dict of arrays) get a new file, in a temporary folder removed
    at exit unless `folder` is given."""
    cache_files = getattr(chunks, "cache_files", None) or []
    fingerprint = getattr(chunks, "_fingerprint", None)
    if folder is None and cache_files and fingerprint:
        folder = Path(cache_files[0]["filename"]).parent
    elif folder is None:
        folder = tempfile.mkdtemp(prefix=f"{STORE_PREFIX}-")
        weakref.finalize(_TEMPORARY, shutil.rmtree, folder, True)
    if not fingerprint:
        fingerprint = uuid.uuid4().hex  # nothing names these chunks: never reuse a file
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"{STORE_PREFIX}-{fingerprint}-v{vocab_size}-w{int(has_words)}.bin"


class _Temporary:
    """Owner of the temporary folders of stores of in-memory chunks: removed at exit."""


_TEMPORARY = _Temporary()
