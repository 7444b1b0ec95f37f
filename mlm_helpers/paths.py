"""Where things are: the shipped model and corpus, the project root, `figures/` and the runs folder.

Names of models and datasets are resolved here, once: ``"embedded"`` means the copy shipped in the
package, a path means a local folder in Hub format, anything else a Hub id (`local_folder`).

Notebooks run from `notebooks/`, scripts from the repository root, Colab from `/content`; all of them
should write figures into the same `figures/` folder and runs into the same `runs/` folder. Both can be
redirected with environment variables (e.g. to Google Drive): `MLM_FIGURES_DIR`, `MLM_RUNS_DIR`.
"""

from __future__ import annotations

import os
from pathlib import Path

FIGURES_ENV = "MLM_FIGURES_DIR"
RUNS_ENV = "MLM_RUNS_DIR"

EMBEDDED = "embedded"  # dataset / tokenizer / model name: the copy shipped in the package
SCRATCH = "scratch"  # model name: a fresh random DistilBERT (it uses the shipped model's tokenizer)
PACKAGE_DIR = Path(__file__).parent
EMBEDDED_DATASET_DIR = PACKAGE_DIR / "corpus" / "imdb-mini"  # the review corpus, Hub layout
# The general-language tiny DistilBERT the embedded profile adapts, with its tokenizer (Hub layout).
EMBEDDED_MODEL_DIR = PACKAGE_DIR / "models" / "distilbert-tiny-general"
SOURCE_KINDS = ("model", "dataset")


def looks_like_path(name: str) -> bool:
    """Whether `name` is written as a path rather than a Hub id ("name" or "owner/name")."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def local_folder(name: str, *, kind: str) -> Path | None:
    """The local folder a model or dataset name stands for; None when `name` is a Hub id.

    - ``"embedded"``: the shipped model (`kind="model"`) or review corpus (`kind="dataset"`);
      ``"scratch"`` (models only) the shipped model's folder too, whose tokenizer it uses;
    - an existing folder or file: its path;
    - a name written as a path (`looks_like_path`) that does not exist: FileNotFoundError;
    - anything else: None, a Hub id such as ``"distilbert-base-uncased"`` or ``"stanfordnlp/imdb"``.
    """
    if kind not in SOURCE_KINDS:
        raise ValueError(f"kind={kind!r}: choose one of {SOURCE_KINDS}")
    if name == EMBEDDED:
        return EMBEDDED_MODEL_DIR if kind == "model" else EMBEDDED_DATASET_DIR
    if name == SCRATCH and kind == "model":
        return EMBEDDED_MODEL_DIR
    path = Path(name).expanduser()
    if path.exists():
        return path
    if looks_like_path(name):
        raise FileNotFoundError(
            f"{kind} folder not found: {name!r}. Give an existing folder in Hub format, a Hub "
            f"{kind} id (such as {'distilbert-base-uncased' if kind == 'model' else 'imdb'}) or "
            f"{EMBEDDED!r}"
        )
    return None


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
