"""Prose that quotes a number or a model's words must agree with what the notebook shows.

A number in a notebook's markdown is checked when it reads as a measurement: it has a decimal
point or a thousands separator, is 100 or more, or carries a unit (``%``, ``s``, ``×``, ``min``).
It must occur, rounded as written, in that notebook's code or stored outputs (as a share, ``56%``
also matches ``0.562``). A number that comes from elsewhere (a benchmark, a paper, a range over
seeds measured outside the notebook) is allowed in a sentence that names its source, with a link
or a path in code (`benchmarks/adaptation.py`). Years and version numbers are not measurements.
In a sentence about what a model predicts or completes, a list of three or more italic words
(*film, movie, story*) reads as its answers and must occur in the outputs, word for word.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

NUMBER = re.compile(r"(?<![\w.,/#=+-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w/]|\.\d|,\d{3})")
UNIT = re.compile(r"\s?(%|×|s\b|min\b|minutes\b|seconds\b)")
VERSIONED = re.compile(
    r"(transformers|python|tensorflow|tf_keras|tf-keras|keras|huggingface_hub|datasets|numpy|"
    r"pandas|torch|pytorch|protobuf|nbval|v)\s*(?:[<>=≥≤~]+\s*)?$",
    re.IGNORECASE,
)
SOURCED = re.compile(r"\]\(|`[^`\s]*(?:/|\.py)[^`\s]*`")
ANSWERS = re.compile(r"mask|predict|complet|guess|top|answer|fill", re.IGNORECASE)
ITALIC_LIST = re.compile(
    r"\*[\w#'’]+\*(?:,\s*(?:and |or )?\*[\w#'’]+\*){2,}|\*[\w#'’]+(?:,\s*(?:and |or )?[\w#'’]+){2,}\*"
)


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _prose(markdown: str) -> str:
    """Markdown without what is not prose: code, math, link targets, HTML tags."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    markdown = re.sub(r"`[^`]*`", " ", markdown)
    markdown = re.sub(r"\$[^$]*\$", " ", markdown)
    markdown = re.sub(r"<[^>]+>", " ", markdown)
    return markdown


def _sentences(markdown: str) -> list[str]:
    """Table rows and list items one by one, paragraphs split at sentence ends."""
    units: list[str] = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = block.splitlines()
        if any(re.match(r"\s*(\||[-*+]\s|\d+\.\s)", line) for line in lines):
            units.extend(lines)
        else:
            units.extend(re.split(r"(?<=[.!?])\s+(?=[A-Z(*])", " ".join(lines)))
    return units


def _is_measurement(sentence: str, match: re.Match) -> bool:
    whole, decimals = match.group(1), match.group(2)
    before, after = sentence[: match.start()], sentence[match.end() :]
    if VERSIONED.search(before) or re.match(r"\.\d", after):
        return False
    value = int(whole.replace(",", ""))
    if not decimals and "," not in whole and 1900 <= value <= 2099:
        return False
    return bool(decimals or "," in whole or value >= 100 or UNIT.match(after))


def quoted_numbers(markdown: str) -> list[tuple[str, str, bool]]:
    """(number as written, its sentence, whether followed by %) for each measurement quoted in
    `markdown` whose sentence links no source."""
    found = []
    for sentence in _sentences(markdown):
        if SOURCED.search(sentence):
            continue
        prose = _prose(sentence)
        for match in NUMBER.finditer(prose):
            if _is_measurement(prose, match):
                percent = prose[match.end() :].lstrip().startswith("%")
                found.append((match.group(0), sentence.strip(), percent))
    return found


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(_text(output["text"]))
        for kind in ("text/plain", "text/markdown", "text/html"):
            if kind in output.get("data", {}):
                parts.append(re.sub(r"<[^>]+>", " ", _text(output["data"][kind])))
    return "\n".join(parts)


def shown(notebook: dict) -> str:
    """Everything the notebook's code cells hold: their source and stored outputs."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return "\n".join(_text(c["source"]) + "\n" + _output_text(c) for c in cells)


def shown_numbers(text: str) -> list[float]:
    pattern = r"(?<![\w.])\d[\d,_]*(?:\.\d+)?(?:e[-+]?\d+)?"
    numbers = []
    for token in re.findall(pattern, text):
        try:
            numbers.append(float(token.replace(",", "").replace("_", "")))
        except ValueError:
            continue
    return numbers


def agrees(written: str, percent: bool, pool: list[float]) -> bool:
    """Whether some shown number, rounded as `written` is, equals it (or, for a percentage,
    some share does)."""
    digits = len(written.split(".")[1]) if "." in written else 0
    value = float(written.replace(",", ""))
    scales = (1, 100) if percent else (1,)
    return any(round(y * s, digits) == value for y in pool for s in scales)


def _unsupported(notebook: dict) -> list[str]:
    text = shown(notebook)
    pool = sorted(set(shown_numbers(text)))
    words = set(re.findall(r"[\w#'’]+", text.lower()))
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        markdown = _text(cell["source"])
        for written, sentence, percent in quoted_numbers(markdown):
            if not agrees(written, percent, pool):
                problems.append(f"cell {index}: {written!r} is in no output or code: {sentence}")
        answers = [_prose(s) for s in _sentences(markdown) if ANSWERS.search(s)]
        for listed in ITALIC_LIST.findall(" ".join(answers)):
            missing = [w for w in re.findall(r"[\w#'’]+", listed.lower()) if w not in words]
            missing = [w for w in missing if w not in ("and", "or")]
            if missing:
                problems.append(f"cell {index}: {listed} — {missing} in no output")
    return problems


def test_the_checker_catches_a_number_and_words_no_output_shows():
    """The rule itself, on a made-up notebook: a number rounded from an output passes, one
    nowhere in it fails, a linked source excuses it, a model's answers must be shown."""

    def notebook(markdown: str) -> dict:
        output = {"output_type": "stream", "name": "stdout", "text": ["ppl 18.734 top: film movie"]}
        code = {"cell_type": "code", "source": ["x = 3_000"], "outputs": [output]}
        return {"cells": [code, {"cell_type": "markdown", "source": [markdown]}]}

    assert _unsupported(notebook("Perplexity fell to 18.7 on 3,000 chunks.")) == []
    assert _unsupported(notebook("Then it completes it with *film*, *movie*, *plot*."))
    assert _unsupported(notebook("Training took 110 s."))
    assert _unsupported(notebook("Over seeds: 18.7–19.3 ([benchmark](../benchmarks/x.py)).")) == []
    (problem,) = _unsupported(notebook("BERT (2019) masks 15% of tokens in transformers 4.57."))
    assert "'15'" in problem
    assert _unsupported(notebook("It predicts *film, movie, plot*."))
    assert _unsupported(notebook("Reviews speak of *cast*, *plot*, *sequel*.")) == []
    assert _unsupported(notebook("About 19 after (18.7–19.3, `benchmarks/adaptation.py`).")) == []
    assert _unsupported(notebook("It predicts *film, movie* and more.")) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_numbers_and_words_quoted_in_prose_are_what_the_notebook_shows(path):
    problems = _unsupported(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name}: prose quotes what the notebook does not show " + (
        "(round it as an output shows it, link its source, or drop it):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_test_harness_stays_out_of_the_learners_view(path):
    """nbval's markers are cell tags (``nbval-ignore-output``), not comments in the code a learner
    reads."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    marked = [i for i, c in enumerate(cells) if "NBVAL_" in _text(c["source"]).upper()]
    assert not marked, f"{path.name}: cells {marked} carry an nbval comment; tag them instead"
