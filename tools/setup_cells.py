"""Keep the setup cells of the notebooks one and the same: the "## Setup" markdown cell and the
code cell that calls `colab.prepare`, leaving every other cell, all outputs and all metadata alone.

    python tools/setup_cells.py notebooks/0*.ipynb          # rewrite in place; prints what changed
    python tools/setup_cells.py --check notebooks/0*.ipynb  # exit 1 if a notebook is not up to date

The explanation lives once, in the README's "The setup cell" section, which the cell links to.

Idempotent: a notebook that already has these cells is not touched. What differs between notebooks
is read from the notebook's own setup cell and kept: the install line (repository and ref, as
tools/set_repo.py wrote it), `drive=` (False in 01-03, True from 04 on) and extra imports of the
setup cell (04 imports save_fig). The file is written as the notebooks are stored (JSON, indent 1,
UTF-8 unescaped, final newline).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

MARKDOWN_INSTALL = """\
## Setup
On Colab this cell installs the helpers, then the two libraries they need in place of Colab's own
(transformers 4.57.6, the last with TensorFlow models, and huggingface_hub 0.36.2): under a minute, no
restart. Elsewhere it installs nothing. What it checks and what to do when it stops:
[README, *The setup cell*](../README.md#the-setup-cell).
"""
MARKDOWN_DRIVE = """\

From this notebook on, runs are kept on your Google Drive, so that training survives a disconnect.
"""
MARKDOWN_LOCAL = ""

CODE = """\
import importlib.util
import subprocess
import sys

helpers = "{install}"
if "google.colab" in sys.modules and importlib.util.find_spec("mlm_helpers") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", helpers]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode:  # stop here, with pip's message (README: The setup cell)
        raise RuntimeError(f"pip could not install the helpers:\\n{{done.stderr}}")

from mlm_helpers import colab, get_config, runtime
{extra}
colab.prepare(helpers, drive={drive})  # Colab only: changes what must change, {comment}
runtime.setup_notebook(seed=42)"""
COMMENT = {False: "restarts only if needed", True: "runs on Drive"}
MAIN_IMPORT = "from mlm_helpers import colab, get_config, runtime"


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def setup_cells(cells: list[dict]) -> tuple[int, int]:
    """Indices of the setup markdown cell and the setup code cell."""
    code = next(
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code" and "runtime.setup_notebook" in _source(cell)
    )
    markdown = code - 1
    if cells[markdown]["cell_type"] != "markdown" or not _source(cells[markdown]).startswith(
        "## Setup"
    ):
        raise ValueError(f"cell {markdown} is not the '## Setup' markdown cell")
    return markdown, code


def new_cells(code: str) -> tuple[str, str]:
    """(markdown, code) of the new setup cells, from the old setup code cell's source."""
    install = re.search(r'"(mlm-helpers @ git\+[^"]+)"', code)
    drive = re.search(r"colab\.prepare\((?:helpers, )?drive=(True|False)\)", code)
    if install is None or drive is None:
        raise ValueError("the setup cell has no install line or no colab.prepare(drive=...)")
    uses_drive = drive.group(1) == "True"
    extra = [
        line
        for line in code.splitlines()
        if line.startswith(("from mlm_helpers", "import mlm_helpers")) and line != MAIN_IMPORT
    ]
    source = CODE.format(
        install=install.group(1),
        drive=uses_drive,
        comment=COMMENT[uses_drive],
        extra="".join(f"{line}\n" for line in extra),
    )
    markdown = MARKDOWN_INSTALL + (MARKDOWN_DRIVE if uses_drive else "") + MARKDOWN_LOCAL
    return markdown, source


def apply(path: Path, *, write: bool = True) -> bool:
    """Whether `path` needed the new setup cells (written when `write`)."""
    raw = path.read_text(encoding="utf-8")
    notebook = json.loads(raw)
    cells = notebook["cells"]
    markdown_at, code_at = setup_cells(cells)
    markdown, code = new_cells(_source(cells[code_at]))
    changed = _source(cells[markdown_at]) != markdown or _source(cells[code_at]) != code
    if changed and write:
        cells[markdown_at]["source"] = _lines(markdown)
        cells[code_at]["source"] = _lines(code)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    for path in args.notebooks:
        if apply(path, write=not args.check):
            stale.append(path)
            print(f"{path}: {'setup cells differ' if args.check else 'setup cells written'}")
        else:
            print(f"{path}: up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
