"""Every Colab badge and install line names the repository and branch of `[project.urls]`, and
`tools/set_repo.py` moves all of them to a fork at once."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tools import set_repo

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
INSTALL = re.compile(r"git\+https://github\.com/[^\s\"\\]+")


def stale_links(root: Path) -> list[str]:
    """Badges and install lines under `root` that do not match its pyproject's slug and ref, and
    notebooks without exactly one of each (a badge must open the notebook it sits in)."""
    slug, ref = set_repo.repository(root / "pyproject.toml")
    wanted_install = set_repo.install_target(slug, ref)
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    names = {path.name for path in notebooks}
    problems = []
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells)
        badges, installs = BADGE.findall(text), INSTALL.findall(text)
        if badges != [set_repo.badge_url(slug, ref, path.name)]:
            problems.append(f"{path.name}: badges {badges}")
        if installs != [wanted_install]:
            problems.append(f"{path.name}: install lines {installs}")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for url in BADGE.findall(readme):
        if url not in {set_repo.badge_url(slug, ref, name) for name in names}:
            problems.append(f"README.md: badge {url}")
    problems += [f"README.md: install {t}" for t in INSTALL.findall(readme) if t != wanted_install]
    return problems


def test_every_badge_and_install_line_uses_the_project_urls():
    assert set_repo.repository() == ("mlm-tutorial/distilbert-imdb-mlm", "main")
    assert stale_links(ROOT) == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(BADGE.findall(readme)) == 7 and "python tools/set_repo.py you/your-fork" in readme


def test_set_repo_moves_every_link_to_a_fork_and_the_check_sees_a_stale_one(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    assert set_repo.main(["someone/fork", "--ref", "dev"], root=tmp_path) == 0
    assert set_repo.repository(tmp_path / "pyproject.toml") == ("someone/fork", "dev")
    assert stale_links(tmp_path) == []
    assert "mlm-tutorial" not in (tmp_path / "notebooks" / "04_finetune.ipynb").read_text()
    # A link left behind is caught:
    readme = tmp_path / "README.md"
    readme.write_text(
        readme.read_text()
        + "\n[x](https://colab.research.google.com/github/a/b/blob/main/notebooks/01_explore_dataset.ipynb)\n"
    )
    assert stale_links(tmp_path) == [
        "README.md: badge https://colab.research.google.com/github/a/b/blob/main/notebooks/01_explore_dataset.ipynb"
    ]
