"""Where things go: the project root, `figures/` and the runs folder.

Notebooks run from `notebooks/`, scripts from the repository root, Colab from `/content`; all of them
should write figures into the same `figures/` folder and runs into the same `runs/` folder. Both can be
redirected with environment variables (e.g. to Google Drive): `MLM_FIGURES_DIR`, `MLM_RUNS_DIR`.
"""

from __future__ import annotations

import os
from pathlib import Path

FIGURES_ENV = "MLM_FIGURES_DIR"
RUNS_ENV = "MLM_RUNS_DIR"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working directory) holding both
    `notebooks/` and `pyproject.toml`; the working directory itself when there is none (Colab)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return here


def figures_dir() -> Path:
    """The folder figures are saved to (created on demand): `$MLM_FIGURES_DIR` or `<root>/figures`."""
    folder = Path(os.environ.get(FIGURES_ENV) or project_root() / "figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def resolve_runs_dir(runs_dir: str | os.PathLike) -> Path:
    """A relative runs folder is taken from the project root, so notebooks and scripts agree;
    `$MLM_RUNS_DIR` replaces the default "runs"."""
    runs_dir = Path(runs_dir)
    if str(runs_dir) == "runs" and os.environ.get(RUNS_ENV):
        runs_dir = Path(os.environ[RUNS_ENV])
    return runs_dir if runs_dir.is_absolute() else project_root() / runs_dir
