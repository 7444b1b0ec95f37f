"""The shape every notebook of the series keeps (issue 22; `../shared/STYLE.md`):

- code cells a learner can read at a glance: at most 15 lines, the setup cell aside (it is
  written by `tools/setup_cells.py` and explained once in the README);
- each stage that has a method writes it in the notebook and checks it against the package: a
  cell with an ``assert`` that calls the stage's helper module;
- it ends with "What we learned", then "Your turn" (two to four exercises, each with a collapsed
  solution), then where to go next: a link to the next notebook, or, in the last one, where to
  go from here;
- one name per thing: ``data`` is the module ``mlm_helpers.data`` everywhere, never a variable.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_LINES = 15
# The notebooks that write their stage's method in cells, and what each is checked against: the
# helper modules (or classes) whose calls an ``assert`` compares with the notebook's own code.
CHECKED_AGAINST = {
    "02": ("chunking",),
    "03": ("masking",),
    "04": ("evaluation", "Schedule"),  # the masked-LM loss; the warmup-then-decay schedule
    "05": ("evaluation",),
    "07": ("classify",),
}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def long_cells(cells: list[dict]) -> list[int]:
    """Indices of code cells longer than MAX_LINES, the setup cell aside."""
    return [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and "colab.prepare(" not in _source(cell)
        and len(_source(cell).strip().splitlines()) > MAX_LINES
    ]


def _parsed(cell: dict) -> ast.AST | None:
    if cell["cell_type"] != "code":
        return None
    try:
        return ast.parse(_source(cell))
    except SyntaxError:
        return None


def _modules_called(tree: ast.AST | None) -> set[str]:
    return {
        node.func.value.id
        for node in ast.walk(tree or ast.Module(body=[], type_ignores=[]))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }


def checks_against(cells: list[dict], module: str) -> bool:
    """Whether some code cell asserts something about a call of `module`'s helpers made in it or
    in the code cell just before it."""
    trees = [_parsed(cell) for cell in cells if cell["cell_type"] == "code"]
    for before, tree in zip([None, *trees], trees, strict=False):
        if tree is None or not any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
            continue
        if module in _modules_called(tree) | _modules_called(before):
            return True
    return False


def ending_problems(cells: list[dict], next_name: str | None) -> list[str]:
    """What is missing from the notebook's ending: What we learned, Your turn with 2-4 exercises
    each with a collapsed solution, then the next notebook (or, for the last, where to go)."""
    markdown = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    text = "\n".join(markdown)
    problems = []
    learned = text.find("## What we learned")
    turn = text.find("## Your turn")
    if learned < 0:
        problems.append("no '## What we learned'")
    if turn < 0:
        problems.append("no '## Your turn'")
    elif learned > turn:
        problems.append("'Your turn' comes before 'What we learned'")
    else:
        exercises = text[turn:]
        solutions = len(re.findall(r"<details>\s*<summary>", exercises))
        if not 2 <= solutions <= 4 or exercises.count("</details>") != solutions:
            problems.append(f"'Your turn' has {solutions} collapsed solutions (want 2 to 4)")
    last = markdown[-1] if markdown else ""
    if next_name is None:
        if "## Where to go from here" not in text:
            problems.append("the last notebook has no '## Where to go from here'")
    elif not re.search(rf"\*\*Next:\*\*.*\]\({re.escape(next_name)}\)", last):
        problems.append(f"the last cell does not say **Next:** with a link to {next_name}")
    return problems


def assigned_names(cells: list[dict]) -> set[str]:
    names: set[str] = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_code_cells_are_short(path):
    long = long_cells(_cells(path))
    assert not long, f"{path.name}: code cells {long} are over {MAX_LINES} lines; split them"


@pytest.mark.parametrize("number", sorted(CHECKED_AGAINST))
def test_the_method_in_cells_is_checked_against_the_package(number):
    (path,) = [p for p in NOTEBOOKS if p.name.startswith(number)]
    cells = _cells(path)
    for module in CHECKED_AGAINST[number]:
        assert checks_against(cells, module), (
            f"{path.name}: no cell asserts that its own code and `{module}` agree"
        )


@pytest.mark.parametrize("index", range(len(NOTEBOOKS)), ids=lambda i: NOTEBOOKS[i].name[:2])
def test_every_notebook_ends_with_what_was_learned_exercises_and_what_comes_next(index):
    following = NOTEBOOKS[index + 1].name if index + 1 < len(NOTEBOOKS) else None
    problems = ending_problems(_cells(NOTEBOOKS[index]), following)
    assert not problems, f"{NOTEBOOKS[index].name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_data_is_only_the_module(path):
    assert "data" not in assigned_names(_cells(path)), (
        f"{path.name} binds `data` to a value; `data` is the module mlm_helpers.data in every "
        "notebook (the masked-LM bundle is `mlm_data`, notebook 07's labelled data `labelled`)"
    )


def test_the_shape_checks_catch_what_they_are_for():
    """Each rule, on made-up cells: the broken form is caught, the intended one passes."""

    def md(text: str) -> dict:
        return {"cell_type": "markdown", "source": text}

    def code(text: str) -> dict:
        return {"cell_type": "code", "source": text}

    assert long_cells([code("x = 1\n" * 16), code("x = 1\n" * 15)]) == [0]
    assert long_cells([code("colab.prepare(h)\n" * 20)]) == []

    mine = code("ours = cut(ids)\nassert (ours == chunking.chunk_tokens(t, 128)).all()")
    assert checks_against([mine], "chunking")
    assert not checks_against([code("chunks = chunking.chunk_tokens(t, 128)")], "chunking")
    assert not checks_against([code("assert ours.shape == (3, 128)")], "chunking")
    theirs = code("theirs = chunking.chunk_tokens(t, 128)")
    assert checks_against([theirs, code("assert (ours == theirs).all()")], "chunking")
    assert not checks_against([theirs, code("x = 1"), code("assert ours == 1")], "chunking")

    solution = "<details><summary>Solution</summary>\n\nDo it.\n</details>\n"
    good = [
        md("## What we learned\n- a"),
        md("## Your turn\n1. one\n" + solution + "2. two\n" + solution),
        md("**Next:** [03 · masking](03_masking.ipynb) — how to hide tokens."),
    ]
    assert ending_problems(good, "03_masking.ipynb") == []
    assert ending_problems(good[:1] + good[2:], "03_masking.ipynb")  # no exercises
    assert ending_problems(good[:2], "03_masking.ipynb")  # no next
    one = [good[0], md("## Your turn\n1. one\n" + solution), good[2]]
    assert ending_problems(one, "03_masking.ipynb")  # a single exercise
    assert ending_problems(good, None)  # the last notebook says where to go instead
    last = good[:2] + [md("## Where to go from here\nRead more.")]
    assert ending_problems(last, None) == []

    assert "data" in assigned_names([code("tokenizer, data = training.prepare_data(config)")])
    assert "data" not in assigned_names([code("from mlm_helpers import data\nx = data.f()")])
