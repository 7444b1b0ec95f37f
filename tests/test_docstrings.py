"""Docstrings that name a notebook tell the truth: the notebook calls the function (or a function the
same sentence names, e.g. "notebook 04 through `training.prepare_data`")."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MENTION = re.compile(r"[Nn]otebooks? (\d\d(?:(?:,| and| or|/| to|-) ?\d\d)*)")


def notebook_code() -> dict[str, str]:
    """{"01": all code cells of notebook 01, ...}."""
    code = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code[path.name[:2]] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
    return code


def false_mentions(source: str, code: dict[str, str]) -> list[tuple[str, str, str]]:
    """(function or class, notebook, sentence) for every mention the notebook does not back."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            continue
        text = " ".join((ast.get_docstring(node) or "").split())
        for sentence in re.split(r"(?<=[.;])\s", text):
            named = re.findall(r"`([\w.]+)(?:\(\))?`", sentence)
            names = {node.name} | {name.split(".")[-1] for name in named}
            for mention in MENTION.finditer(sentence):
                for number in re.findall(r"\d\d", mention.group(1)):
                    cells = code.get(number, "")
                    if not any(re.search(rf"\b{re.escape(n)}\b", cells) for n in names):
                        found.append((node.name, number, sentence))
    return found


def test_every_notebook_a_docstring_names_uses_the_function():
    code = notebook_code()
    assert len(code) >= 6
    wrong = {
        path.relative_to(ROOT).as_posix(): false_mentions(path.read_text(encoding="utf-8"), code)
        for path in sorted((ROOT / "mlm_helpers").rglob("*.py"))
    }
    assert {path: found for path, found in wrong.items() if found} == {}


def test_the_check_catches_a_false_claim():
    code = {"04": "result = training.fine_tune(config)", "05": "plotting.plot_epoch_loss(run)"}
    source = '''
def fine_tune():
    """Train. Used in notebook 04."""

def plot_epoch_loss():
    """Plot. Used in notebooks 04 and 05."""

def helper():
    """Shared. Notebook 04 uses it through `training.fine_tune`."""
'''
    assert false_mentions(source, code) == [
        ("plot_epoch_loss", "04", "Used in notebooks 04 and 05.")
    ]
