"""Which `mlm_helpers` names the notebooks call: the package's public face (issue 20).

A name counts once for the series however often it is used: ``module.name`` for an `mlm_helpers`
module bound in a notebook (``from mlm_helpers import data`` then ``data.load_reviews``), and every
non-module name imported from the package (``from mlm_helpers import get_config``). Attributes of
objects (``config.replace``) are not package names and do not count.

    python tools/public_face.py            # per notebook, then the series' total
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mlm_helpers"


def _is_module(dotted: str) -> bool:
    """Whether `dotted` names a module of the package in this tree (nothing is imported)."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _code(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def names_used(source: str) -> set[str]:
    """The package names `source` (Python code) uses, as ``module.name`` strings."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local alias -> dotted module of the package
    used: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == PACKAGE
        ):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                else:
                    used.add(dotted)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = modules.get(node.value.id)
            if module is not None:
                used.add(f"{module}.{node.attr}")
    return {name.removeprefix(f"{PACKAGE}.") for name in used}


def public_face(notebooks: Iterable[Path]) -> dict[str, set[str]]:
    """Per notebook, the package names it uses."""
    return {path.name: names_used(_code(path)) for path in notebooks}


def main() -> int:
    faces = public_face(sorted((ROOT / "notebooks").glob("*.ipynb")))
    for name, used in faces.items():
        print(f"{name}: {len(used)}\n  " + ", ".join(sorted(used)))
    every = set().union(*faces.values())
    print(f"series: {len(every)} distinct names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
