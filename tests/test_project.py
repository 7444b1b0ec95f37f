"""Project hygiene: committed notebooks, the shipped corpus, and pinned dependencies agree."""

from __future__ import annotations

import json
import secrets
import string
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from mlm_helpers.paths import EMBEDDED_DATASET_DIR, EMBEDDED_MODEL_DIR
from mlm_helpers.publishing import find_token_leaks

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_series_is_there():
    names = [nb.name for nb in NOTEBOOKS]
    assert names and names[0] == "01_explore_dataset.ipynb"
    assert names == sorted(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    # the check `publish` runs before an upload (test_token_check_finds_a_token_in_a_notebook
    # shows that it would catch one here)
    assert find_token_leaks([path]) == [], f"{path.name} contains something like a Hub token"
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code cells"
    counts = [c["execution_count"] for c in code]
    # Stored outputs come from one real top-to-bottom run: every cell ran, in order.
    assert None not in counts, f"{path.name}: cells that were never executed"
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    for cell in code:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name}: stored error output"
    # Conventions set in notebook 01: Colab badge, setup cell, parameters cell.
    first = "".join(notebook["cells"][0]["source"])
    assert "colab-badge.svg" in first and path.name in first
    sources = ["".join(c["source"]) for c in code]
    assert any("colab.prepare(" in s and "runtime.setup_notebook" in s for s in sources)
    assert any("get_config(PROFILE" in s for s in sources)


def test_token_check_finds_a_token_in_a_notebook(tmp_path):
    """The control of test_notebook_is_clean: a token pasted into a cell of a committed notebook,
    saved as Jupyter saves it, is found at its line."""
    alphabet = string.ascii_letters + string.digits
    fake = "hf_" + "".join(secrets.choice(alphabet) for _ in range(34))  # made now: no literal here
    notebook = json.loads(NOTEBOOKS[-1].read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["source"] = [f'token = "{fake}"\n', *cell["source"]]
    copy = tmp_path / NOTEBOOKS[-1].name
    copy.write_text(json.dumps(notebook, indent=1))
    line = next(n for n, text in enumerate(copy.read_text().split("\n"), 1) if fake in text)
    assert find_token_leaks([copy]) == [(copy, line)]


def _pins(lines):
    return {
        Requirement(line).name.lower().replace("_", "-"): Requirement(line)
        for line in lines
        if isinstance(line, str) and "==" in line and not line.startswith("-")
    }


def test_environment_yml_agrees_with_pyproject_and_constraints():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ranges = {
        Requirement(d).name.lower().replace("_", "-"): Requirement(d)
        for d in pyproject["project"]["dependencies"]
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .[dev]" in pip_section and "-c mlm_helpers/constraints.txt" in pip_section
    env_pins = _pins(pip_section)
    constraint_pins = _pins((ROOT / "mlm_helpers" / "constraints.txt").read_text().splitlines())
    assert env_pins, "environment.yml pins nothing"
    for name, pin in env_pins.items():
        version = next(iter(pin.specifier)).version
        assert name in ranges, f"{name} is pinned in environment.yml but not a dependency"
        assert ranges[name].specifier.contains(version), f"{name}=={version} outside {ranges[name]}"
        assert constraint_pins[name].specifier == pin.specifier, f"{name}: constraints.txt differs"
    for name, requirement in ranges.items():
        version = next(iter(constraint_pins[name].specifier)).version
        assert requirement.specifier.contains(version), (
            f"constraints.txt {name} outside {requirement}"
        )
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert pyproject["project"]["requires-python"] == ">=3.10" and python >= "python=3.10"


def test_shipped_corpus_and_tokenizer_are_reproducible(tmp_path):
    """`python -m tools.embedded.build corpus` and `... vocab` rebuild the shipped files exactly
    (the corpus with its cues.json)."""
    from tools.embedded.build import build_reviews, build_vocab

    build_reviews(tmp_path / "reviews")
    shipped = sorted((EMBEDDED_DATASET_DIR / "data").glob("*.parquet"))
    assert [p.name for p in shipped] == sorted(
        p.name for p in (tmp_path / "reviews/data").iterdir()
    )
    for path in shipped:
        rebuilt = tmp_path / "reviews" / "data" / path.name
        assert rebuilt.read_bytes() == path.read_bytes(), f"{path.name} differs when rebuilt"
    cues = EMBEDDED_DATASET_DIR / "cues.json"  # which labelled reviews carry only idioms
    assert (tmp_path / "reviews" / cues.name).read_bytes() == cues.read_bytes()
    build_vocab(tmp_path / "model")
    for rebuilt in sorted((tmp_path / "model").iterdir()):
        shipped_file = EMBEDDED_MODEL_DIR / rebuilt.name
        assert rebuilt.read_bytes() == shipped_file.read_bytes(), f"{rebuilt.name} differs"


def test_shipped_files_are_small():
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    assert size(EMBEDDED_DATASET_DIR) < 3 * 2**20
    assert (EMBEDDED_MODEL_DIR / "tf_model.h5").is_file()
    assert size(EMBEDDED_MODEL_DIR) <= 10 * 2**20


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_every_notebook_asks_colab_for_a_gpu(notebook):
    metadata = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["metadata"]
    assert metadata.get("accelerator") == "GPU" and metadata["colab"].get("gpuType") == "T4"


def test_every_notebook_has_the_one_setup_cell_the_readme_explains():
    """The seven setup cells are the same cell (tools/setup_cells.py writes them), and the anchor
    they link to exists in the README."""
    import subprocess

    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "setup_cells.py"), "--check", *notebooks],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\n### The setup cell\n" in (ROOT / "README.md").read_text()
