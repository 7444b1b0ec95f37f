"""Figures: one plot style and one `save_fig` for the whole series (introduced in notebook 01).

Every notebook saves its figures through `save_fig`, into `figures/` at the project root (or
`$MLM_FIGURES_DIR`), as PNG at 150 dpi and optionally SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .paths import figures_dir, project_root


def set_plot_style() -> None:
    """Readable defaults for every figure of the series."""
    plt.rcParams.update(
        {
            "figure.figsize": (8, 4.5),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 13,
            "axes.labelsize": 11,
            "legend.frameon": False,
            "svg.hashsalt": "mlm-helpers",  # stable SVG ids, so re-running does not churn the files
        }
    )


def save_fig(
    fig: plt.Figure,
    name: str,
    *,
    folder: str | Path | None = None,
    svg: bool = False,
    dpi: int = 150,
    quiet: bool = False,
) -> None:
    """Save `fig` as `<folder>/<name>.png` (and `.svg` if asked) and say where.

    The message gives the path relative to the project root, so notebook outputs do not depend on
    where the repository was cloned. Returns nothing, so that it can end a notebook cell without
    printing a path object (`figure_path` gives the path)."""
    if not name or "/" in name or name.endswith((".png", ".svg")):
        raise ValueError(f"save_fig needs a bare name such as 'label_balance', got {name!r}")
    folder = Path(folder) if folder is not None else figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    png = folder / f"{name}.png"
    fig.savefig(png, dpi=dpi, metadata={"Software": None})
    if svg:
        fig.savefig(folder / f"{name}.svg", metadata={"Date": None, "Creator": None})
    if not quiet:
        try:
            shown = png.resolve().relative_to(project_root())
        except ValueError:
            shown = png
        print(f"saved {shown}" + (" (+ .svg)" if svg else ""))


def figure_path(name: str, *, folder: str | Path | None = None) -> Path:
    """Where `save_fig(fig, name)` writes the PNG."""
    return (Path(folder) if folder is not None else figures_dir()) / f"{name}.png"
