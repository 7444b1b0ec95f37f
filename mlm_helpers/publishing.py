"""Stage 06: the Hub token and a safe upload of a Hub folder (notebook 06_publish_to_hub).

    publish(folder, "you/distilbert-imdb", dry_run=True)   # what would be sent, nothing sent
    publish(folder, "you/distilbert-imdb")    # create the repo (private by default) and upload

The folder is the run's Hub folder (`hub_folder`), with the card that
`model_card.write_model_card` wrote.
Safety rules kept here so that no notebook has to remember them: the Hub token is read from the
environment, a Colab secret or the cached login, and is never printed, logged or written to a file;
every check that can fail runs before anything is sent; a failed upload never touches the local
folder. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hub_folder import check_hub_folder, upload_listing

TOKEN_ENV = "HF_TOKEN"
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")
DEFAULT_COMMIT_MESSAGE = "Upload masked-LM model, tokenizer and model card (mlm_helpers)"
HUB_URL = "https://huggingface.co"
# Files small and textual enough to scan for a pasted token before uploading them.
_TEXT_SUFFIXES = {".md", ".json", ".txt", ".yaml", ".yml", ".py", ".ipynb", ".cfg", ".toml", ""}

_NO_TOKEN_HELP = (
    "No Hugging Face token was found, so nothing was sent and the local folder is unchanged.\n"
    "Create a token with 'write' access at https://huggingface.co/settings/tokens, then either\n"
    "  - on Colab: add it as a secret named HF_TOKEN (key icon in the left bar) and allow this "
    "notebook to read it,\n"
    "  - elsewhere: set the environment variable HF_TOKEN before starting Jupyter, or run "
    "`huggingface-cli login` (or `publishing.login_interactively()` in the notebook) once,\n"
    "and run this cell again. Never paste the token into a notebook cell."
)


class PublishError(RuntimeError):
    """The upload did not happen (or did not finish); the message says how to retry."""


# ----------------------------------------------------------------------------- tokens
def _token_from_colab() -> str | None:
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return userdata.get(TOKEN_ENV)
    except Exception:  # secret missing, or access refused by the user: treat as "no token"
        return None


def _token_from_cache() -> str | None:
    import huggingface_hub

    try:
        return huggingface_hub.get_token()
    except Exception:  # an unreadable token file is the same as no login here
        return None


def find_token() -> tuple[str | None, str]:
    """(token, where it came from) — the source is safe to show, the token never is. Looks in
    $HF_TOKEN, then the Colab secret HF_TOKEN, then the cached login (`publish` without a token)."""
    for source, reader in (
        (f"the {TOKEN_ENV} environment variable", lambda: os.environ.get(TOKEN_ENV)),
        ("the Colab secret HF_TOKEN", _token_from_colab),
        ("the cached Hugging Face login", _token_from_cache),
    ):
        token = (reader() or "").strip()
        if token:
            return token, source
    return None, "nowhere"


def login_interactively() -> None:
    """Ask for a token (a widget in notebooks, a prompt in a terminal) and cache it locally.

    The token goes to huggingface_hub's own token file, not to the notebook (the fallback that
    `_NO_TOKEN_HELP` offers when no token is found).
    """
    import huggingface_hub

    if "ipykernel" in sys.modules:
        huggingface_hub.notebook_login()
    else:
        huggingface_hub.login()


def _redact(text: str, token: str | None) -> str:
    """`text` with the token (and anything shaped like a Hub token) replaced by ***."""
    if token:
        text = text.replace(token, "***")
    return TOKEN_PATTERN.sub("hf_***", text)


# ----------------------------------------------------------------------------- upload
def find_token_leaks(
    paths: Iterable[str | os.PathLike], token: str | None = None
) -> list[tuple[Path, int]]:
    """(file, line number) of every text line holding `token` or something shaped like a Hub
    token (`hf_` + 30 or more letters/digits). `publish` runs it before uploading; the tests run it
    on the committed notebooks."""
    leaks = []
    for path in map(Path, paths):
        if path.suffix not in _TEXT_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), start=1):  # editor line numbers
            if (token and token in line) or TOKEN_PATTERN.search(line):
                leaks.append((path, number))
    return leaks


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


@dataclass
class PublishResult:
    """What `publish` did. status: "dry_run", "no_token" or "uploaded"; nothing secret inside."""

    status: str
    repo_id: str
    files: list[tuple[str, int]] = field(default_factory=list)
    url: str | None = None
    commit_url: str | None = None
    message: str = ""

    @property
    def sent(self) -> bool:
        return self.status == "uploaded"

    def __str__(self) -> str:
        return self.message


def _checked_files(folder: Path, repo_id: str, token: str | None) -> list[tuple[str, int]]:
    """What `publish` would send, once the repo id, the folder and its text files are checked."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(
            f"repo_id={repo_id!r} is not a valid Hub model id ({error}). Use "
            "'<your-username>/<model-name>' with letters, digits, '-', '_', '.'."
        ) from None
    check_hub_folder(folder)
    files = upload_listing(folder)
    leaks = find_token_leaks((folder / name for name, _ in files), token)
    if leaks:
        where = ", ".join(f"{p.relative_to(folder)} line {n}" for p, n in leaks)
        raise PublishError(
            f"Refusing to upload: something that looks like a Hub token is written "
            f"in {where}. Remove it from the file(s) (and revoke the token at "
            f"{HUB_URL}/settings/tokens if it was real), then retry."
        )
    return files


def _upload(api: Any, folder: Path, repo_id: str, token: str, **options: Any) -> tuple[str, Any]:
    """create_repo (if missing) and upload_folder; (repo URL, commit info). PublishError, with the
    token redacted and how to retry, when either fails."""
    step = "creating the repository"
    try:
        url = api.create_repo(
            repo_id, token=token, private=options["private"], exist_ok=True, repo_type="model"
        )
        step = "uploading the files"
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            token=token,
            repo_type="model",
            commit_message=options["commit_message"],
        )
    except Exception as error:
        reason = _redact(f"{type(error).__name__}: {error}", token)
        raise PublishError(
            f"The upload to {options['url']} failed while {step}: {reason}\n"
            f"The local folder {folder} is complete and unchanged; nothing was deleted. Check the "
            "connection and that the token has 'write' access to this namespace, then run "
            "publish(...) again: uploading is idempotent (the repo is created only if missing, "
            "and files that are already there are not sent twice)."
        ) from None
    return str(url) if url else options["url"], info


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    dry_run: bool = False,
    api: Any = None,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
) -> PublishResult:
    """Upload a Hub folder to the model repo `repo_id` ("user/name"), safely.

    Order: check the folder (`hub_folder.check_hub_folder`) and scan its text files for a pasted
    token; list what would be sent; with `dry_run` stop there. Without a token (argument,
    $HF_TOKEN, Colab secret, cached login) print how to provide one and stop. Otherwise
    `create_repo(exist_ok=True, private=private)` (an existing repo keeps its visibility) and
    `upload_folder`. A failure raises PublishError saying the local folder is complete and how to
    retry; the folder is only ever read. `api` is an `HfApi` (injectable for tests).
    Used in notebook 06.
    """
    from huggingface_hub import HfApi, constants

    folder = Path(folder)
    token, source = (token, "the token argument") if token is not None else find_token()
    files = _checked_files(folder, repo_id, token)
    if api is None and not dry_run and token:
        api = HfApi()
    url = f"{getattr(api, 'endpoint', None) or constants.ENDPOINT}/{repo_id}"
    listing = "\n".join(f"  {name:<40} {_human(size):>10}" for name, size in files)
    summary = (
        f"{len(files)} files, {_human(sum(s for _, s in files))} -> {url} "
        f"({'private' if private else 'public'} model repo)"
    )
    if dry_run:
        found = (
            f"Token: present (from {source})."
            if token
            else f"Token: absent; set {TOKEN_ENV} (or the Colab secret {TOKEN_ENV}) before "
            "publishing."
        )
        message = f"Dry run: nothing was sent. Would upload {summary}\n{listing}\n{found}"
        print(message)
        return PublishResult("dry_run", repo_id, files, message=message)
    if not token:
        print(_NO_TOKEN_HELP)
        return PublishResult("no_token", repo_id, files, message=_NO_TOKEN_HELP)
    print(f"Token: present (from {source}). Uploading {summary} ...")
    options = {"private": private, "commit_message": commit_message, "url": url}
    repo_url, info = _upload(api, folder, repo_id, token, **options)
    message = f"Uploaded {summary}\nModel page: {repo_url}"
    print(message)
    commit_url = getattr(info, "commit_url", None)
    return PublishResult("uploaded", repo_id, files, repo_url, commit_url, message)


__all__ = [
    "PublishError",
    "PublishResult",
    "find_token",
    "find_token_leaks",
    "login_interactively",
    "publish",
]
