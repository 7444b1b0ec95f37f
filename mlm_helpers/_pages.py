"""Memory-mapped Arrow data already read: ask the kernel to take its pages back (no TensorFlow).

`datasets` reads its cache files through memory maps, and every page a pass over a split touches
stays resident in the process while the map lives: a pass over a corpus of any size would grow the
process's memory as the corpus grows, though those pages are only page cache. `release` tells the
kernel, once a batch has been used, that its pages may go (``madvise(MADV_PAGEOUT)``, Linux 5.4 and
later): a hint that never changes data (pages read again are read from the file again; memory
that is not file-backed, and any other system, are left as they are). Used by the full passes of
`data` (validation, the held-out check), `chunking.chunk_tokens` and `masking.store.ChunkStore`.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from typing import Any

_MADV_PAGEOUT = 21  # linux/mman.h
_PAGE = mmap.PAGESIZE
_LIBC: list[Any] = []


def _madvise() -> Any:
    if not _LIBC:
        libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
        _LIBC.append(getattr(libc, "madvise", None))
    return _LIBC[0]


def release(table: Any) -> None:
    """Hint that the pages under every buffer of `table` (a pyarrow Table or RecordBatch, e.g. a
    batch `datasets` handed out) may leave this process's memory. Errors are ignored: a hint."""
    madvise = _madvise()
    if madvise is None or table is None:
        return
    columns = table.columns if hasattr(table, "columns") else []
    for column in columns:
        for chunk in getattr(column, "chunks", [column]):
            for buffer in chunk.buffers():
                if buffer is None or buffer.size < _PAGE:
                    continue
                start = buffer.address - buffer.address % _PAGE
                length = buffer.address + buffer.size - start
                madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), _MADV_PAGEOUT)
