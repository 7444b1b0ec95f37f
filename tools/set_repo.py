"""Point the project at another GitHub repository (a fork): every Colab badge, every install line and
`pyproject.toml`'s `[project.urls]`, which is the one source of the slug and the branch.

    python tools/set_repo.py you/your-fork            # keep the branch
    python tools/set_repo.py you/your-fork --ref dev  # and use another branch

`tests/test_repo_links.py` checks that README.md and every notebook agree with `[project.urls]`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def repository(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, str]:
    """(slug, ref) from `[project.urls]`: Repository = https://github.com/<slug>, Notebooks =
    https://github.com/<slug>/tree/<ref>/notebooks."""
    text = pyproject.read_text(encoding="utf-8")
    urls = dict(re.findall(r'^(Repository|Notebooks) = "([^"]+)"$', text, flags=re.MULTILINE))
    slug = urls.get("Repository", "").removeprefix("https://github.com/")
    notebooks = urls.get("Notebooks", "")
    match = re.fullmatch(
        rf"https://github\.com/{re.escape(slug)}/tree/([^/]+)/notebooks", notebooks
    )
    if not SLUG.match(slug) or match is None:
        raise ValueError(
            f"{pyproject}: [project.urls] Repository and Notebooks must name one slug and ref"
        )
    return slug, match.group(1)


def badge_url(slug: str, ref: str, notebook: str) -> str:
    """The Colab link of `notebook` (a file name) in the repository."""
    return f"https://colab.research.google.com/github/{slug}/blob/{ref}/notebooks/{notebook}"


def install_target(slug: str, ref: str) -> str:
    """What `pip install` gets on Colab: the package at `ref` of the repository."""
    return f"git+https://github.com/{slug}@{ref}"


def rewrite(text: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """`text` with the old slug/ref replaced in badges, install lines and the project URLs."""
    (old_slug, old_ref), (new_slug, new_ref) = old, new
    for before, after in (
        (f"github/{old_slug}/blob/{old_ref}/", f"github/{new_slug}/blob/{new_ref}/"),
        (install_target(old_slug, old_ref), install_target(new_slug, new_ref)),
        (f"github.com/{old_slug}/tree/{old_ref}/", f"github.com/{new_slug}/tree/{new_ref}/"),
        (f'"https://github.com/{old_slug}"', f'"https://github.com/{new_slug}"'),
    ):
        text = text.replace(before, after)
    return text


def files(root: Path = ROOT) -> list[Path]:
    """The files that name the repository."""
    return [
        root / "pyproject.toml",
        root / "README.md",
        *sorted((root / "notebooks").glob("*.ipynb")),
    ]


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slug", help="owner/name of the GitHub repository")
    parser.add_argument(
        "--ref", help="branch or tag the badges and install lines use (default: keep)"
    )
    args = parser.parse_args(argv)
    if not SLUG.match(args.slug):
        parser.error(f"{args.slug!r} is not owner/name")
    old = repository(root / "pyproject.toml")
    new = (args.slug, args.ref or old[1])
    for path in files(root):
        text = path.read_text(encoding="utf-8")
        changed = rewrite(text, old, new)
        if changed != text:
            path.write_text(changed, encoding="utf-8")
            print(f"updated {path.relative_to(root)}")
    print(f"now {new[0]} at {new[1]}; check with: make unit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
