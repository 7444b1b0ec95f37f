"""`_pages.release`: pages of a memory-mapped Arrow file that were read leave the process's resident
memory, and the data reads back the same (Linux; elsewhere release does nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlm_helpers._pages import release


def rss_file_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.mark.skipif(sys.platform != "linux", reason="madvise(MADV_PAGEOUT) is Linux's")
def test_release_drops_read_pages_and_keeps_the_data(tmp_path):
    values = np.arange(16 * 2**20, dtype=np.int32)  # 64 MiB
    path = tmp_path / "column.arrow"
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_stream(sink, pa.schema([("v", pa.int32())])) as w,
    ):
        w.write_table(pa.table({"v": values}))
    table = pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
    before = rss_file_kb()
    assert int(pa.compute.sum(table.column("v")).as_py()) == int(values.sum(dtype=np.int64))
    touched = rss_file_kb()
    assert touched - before > 50 * 1024  # reading mapped the file's pages in
    release(table)
    assert touched - rss_file_kb() > 50 * 1024  # ... and release let them go
    np.testing.assert_array_equal(table.column("v").to_numpy(), values)  # read again, the same
    release(None)  # nothing to do
