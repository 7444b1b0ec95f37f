"""Tests for mlm_helpers.publishing (notebook 06): token handling and the upload.

Nothing here talks to the Hub: uploads go to a recording fake of `HfApi` whose calls are checked
against the real `HfApi` signatures, or to a local stand-in of the Hub's endpoints.
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import string
import sys
import types
from pathlib import Path

import pytest
from hub_runs import fake_token, hashes, loaded_after
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers import publishing
from mlm_helpers.hub_folder import upload_listing
from mlm_helpers.paths import project_root
from mlm_helpers.publishing import PublishError, find_token_leaks, publish


def get_token() -> str | None:
    return publishing.find_token()[0]


@pytest.fixture
def no_cached_login(monkeypatch):
    """No token anywhere: no env variable, no Colab, no cached login on this machine."""
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", None)  # makes the import fail
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)


class FakeApi:
    """Records create_repo / upload_folder calls; checks them against the real HfApi signatures;
    can be told to fail at one of them."""

    def __init__(self, fail_at: str | None = None, error: Exception | None = None):
        from huggingface_hub import HfApi

        self.calls: list[tuple[str, tuple, dict]] = []
        self.fail_at, self.error = fail_at, error
        self._real = HfApi

    def _record(self, name: str, args: tuple, kwargs: dict) -> None:
        inspect.signature(getattr(self._real, name)).bind(
            None, *args, **kwargs
        )  # TypeError if wrong
        self.calls.append((name, args, kwargs))
        if name == self.fail_at:
            raise self.error

    def create_repo(self, *args, **kwargs):
        self._record("create_repo", args, kwargs)
        return f"https://huggingface.co/{kwargs.get('repo_id', args[0] if args else '')}"

    def upload_folder(self, *args, **kwargs):
        self._record("upload_folder", args, kwargs)
        return types.SimpleNamespace(commit_url="https://huggingface.co/x/commit/abc")


def test_importing_and_the_upload_path_leave_tensorflow_out(ready_folder):
    """The module docstring's claim: nothing here imports TensorFlow."""
    code = (
        "from mlm_helpers import publishing\n"
        "publishing.find_token()\n"
        "publishing.publish(sys.argv[1], 'someone/x', dry_run=True)\n"
    )
    assert loaded_after(code, ready_folder) == []


# ----------------------------------------------------------------------------- tokens
def test_token_sources_in_order(monkeypatch, no_cached_login):
    import huggingface_hub

    assert get_token() is None
    cached, colab, env = fake_token(), fake_token(), fake_token()
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: cached)
    assert get_token() == cached
    userdata = types.SimpleNamespace(get=lambda name: colab if name == "HF_TOKEN" else None)
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(userdata=userdata))
    assert get_token() == colab
    monkeypatch.setenv("HF_TOKEN", f"  {env}\n")
    assert get_token() == env
    assert publishing.find_token()[1] == "the HF_TOKEN environment variable"


def test_colab_secret_refused_falls_through(monkeypatch, no_cached_login):
    def refuse(name):
        raise PermissionError("the user did not grant access")

    colab = types.SimpleNamespace(userdata=types.SimpleNamespace(get=refuse))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setenv("HF_TOKEN", "   ")  # blank counts as unset
    assert get_token() is None


@given(
    token=st.text(string.ascii_letters + string.digits, min_size=30, max_size=60),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_redact_removes_any_token(token, before, after):
    token = "hf_" + token
    redacted = publishing._redact(before + token + after, token)
    assert token not in redacted


@given(
    lines=st.lists(
        st.text(string.printable.replace("\r", "").replace("\n", ""), max_size=50),
        min_size=1,
        max_size=8,
    ),
    where=st.integers(min_value=0),
)
@settings(max_examples=50, deadline=None)
def test_find_token_leaks_reports_the_line(tmp_path_factory, lines, where):
    assert len(find_token_leaks([_write(tmp_path_factory, lines)])) == sum(
        bool(publishing.TOKEN_PATTERN.search(line)) for line in lines
    )
    index = where % len(lines)
    lines = [*lines[:index], f"token = '{fake_token()}'", *lines[index:]]
    leaks = find_token_leaks([_write(tmp_path_factory, lines)])
    assert index + 1 in [number for _, number in leaks]


def _write(factory, lines: list[str]) -> Path:
    path = factory.mktemp("leak") / "notes.md"
    path.write_text("\n".join(lines))
    return path


def test_notebooks_hold_no_token(tmp_path):
    notebooks = sorted((project_root(Path(__file__).parent) / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 6, f"expected the six notebooks of the series, found {notebooks}"
    # control: a copy of one with a token pasted into a cell is the only file reported
    lines = notebooks[-1].read_text().split("\n")
    cell = next(i for i, line in enumerate(lines) if line.strip() == '"source": [')
    lines.insert(cell + 1, f"    \"token = '{fake_token()}'\\n\",")
    planted = tmp_path / notebooks[-1].name
    planted.write_text("\n".join(lines))
    json.loads(planted.read_text())  # still a valid notebook file
    assert find_token_leaks([*notebooks, planted]) == [(planted, cell + 2)]


# ----------------------------------------------------------------------------- publish
def _assert_token_only_in_token_kwarg(api: FakeApi, token: str) -> None:
    for name, args, kwargs in api.calls:
        assert kwargs.get("token") == token, name
        others = [*args, *(v for k, v in kwargs.items() if k != "token")]
        assert not any(token in str(value) for value in others), name


def test_publish_sends_the_folder_with_the_token_only_where_it_belongs(
    ready_folder, monkeypatch, capfd, caplog, no_cached_login
):
    caplog.set_level(logging.DEBUG)
    token = fake_token()
    monkeypatch.setenv("HF_TOKEN", token)
    api = FakeApi()
    result = publish(ready_folder, "someone/distilbert-imdb-test", api=api)

    assert [name for name, _, _ in api.calls] == ["create_repo", "upload_folder"]
    _, args, create = api.calls[0]
    assert (args, create["private"], create["exist_ok"]) == (
        ("someone/distilbert-imdb-test",),
        True,
        True,
    )
    upload = api.calls[1][2]
    assert upload["repo_id"] == "someone/distilbert-imdb-test"
    assert Path(upload["folder_path"]) == ready_folder
    assert upload["commit_message"] == publishing.DEFAULT_COMMIT_MESSAGE
    _assert_token_only_in_token_kwarg(api, token)

    assert result.sent and result.status == "uploaded"
    assert result.url == "https://huggingface.co/someone/distilbert-imdb-test"
    assert {name for name, _ in result.files} == {
        "README.md",
        "config.json",
        "tf_model.h5",
        "model.safetensors",  # the PyTorch-format weights (issue 23)
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "loss_curves.png",
        "run/config.json",  # the run's records, so that the model opens as a run (runs.open_run)
        "run/history.json",
        "run/all_results.json",
    }
    out, err = capfd.readouterr()
    assert "present" in out
    for text in (out, err, caplog.text, str(result), repr(result)):
        assert token not in text
    assert not find_token_leaks(ready_folder.rglob("*"), token)  # card and files: no token


def test_publish_public_flag_and_explicit_token(ready_folder, no_cached_login):
    token = fake_token()
    api = FakeApi()
    publish(ready_folder, "someone/x", token=token, private=False, api=api, commit_message="v2")
    assert api.calls[0][2]["private"] is False
    assert api.calls[1][2]["commit_message"] == "v2"
    _assert_token_only_in_token_kwarg(api, token)


def test_dry_run_lists_files_and_sends_nothing(ready_folder, capsys, monkeypatch):
    token = fake_token()
    monkeypatch.setenv("HF_TOKEN", token)
    api = FakeApi()
    before = hashes(ready_folder)
    result = publish(ready_folder, "someone/distilbert-imdb-test", dry_run=True, api=api)
    assert api.calls == []
    assert result.status == "dry_run" and not result.sent and result.url is None
    assert result.files == upload_listing(ready_folder)
    assert dict(result.files)["tf_model.h5"] == (ready_folder / "tf_model.h5").stat().st_size
    out = capsys.readouterr().out
    assert (
        "nothing was sent" in out and "https://huggingface.co/someone/distilbert-imdb-test" in out
    )
    assert all(name in out for name, _ in result.files)
    assert token not in out and "Token: present" in out
    assert hashes(ready_folder) == before


def test_no_token_explains_and_sends_nothing(ready_folder, capsys, no_cached_login):
    api = FakeApi()
    before = hashes(ready_folder)
    result = publish(ready_folder, "someone/distilbert-imdb-test", api=api)
    assert api.calls == [] and result.status == "no_token" and not result.sent
    out = capsys.readouterr().out
    assert "HF_TOKEN" in out and "Colab" in out and "nothing was sent" in out
    assert hashes(ready_folder) == before


@pytest.mark.parametrize("fail_at", ["create_repo", "upload_folder"])
def test_failed_upload_leaves_the_folder_untouched(ready_folder, fail_at, no_cached_login):
    token = fake_token()
    api = FakeApi(fail_at=fail_at, error=ConnectionError(f"connection reset (auth {token})"))
    before = hashes(ready_folder)
    with pytest.raises(PublishError) as caught:
        publish(ready_folder, "someone/distilbert-imdb-test", token=token, api=api)
    message = str(caught.value)
    assert "complete and unchanged" in message and "publish(" in message
    assert "connection reset" in message and token not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert hashes(ready_folder) == before


def test_incomplete_folder_names_what_is_missing(saved_model_dir, tmp_path, no_cached_login):
    folder = shutil.copytree(saved_model_dir, tmp_path / "model")
    (folder / "tf_model.h5").unlink()
    api = FakeApi()
    with pytest.raises(FileNotFoundError) as caught:
        publish(folder, "someone/x", token=fake_token(), api=api)
    assert "tf_model.h5" in str(caught.value) and "README.md" in str(caught.value)
    assert "write_model_card" in str(caught.value)
    assert api.calls == []


def test_token_pasted_into_a_file_blocks_the_upload(ready_folder, no_cached_login):
    token = fake_token()
    readme = ready_folder / "README.md"
    readme.write_text(readme.read_text() + f"\nlogin with {token}\n")
    api = FakeApi()
    with pytest.raises(PublishError, match="README.md line") as caught:
        publish(ready_folder, "someone/x", token=token, api=api)
    assert api.calls == [] and token not in str(caught.value)


@pytest.mark.parametrize("repo_id", ["", "a/b/c", "bad name/x", "x/--y"])
def test_invalid_repo_id_is_refused(ready_folder, repo_id):
    with pytest.raises(ValueError, match="repo_id"):
        publish(ready_folder, repo_id, dry_run=True)


# ----------------------------------------------------------------------------- a local "Hub"
class _LocalHub:
    """The four Hub endpoints an upload of small files uses, on 127.0.0.1; records every request.
    `refuse` makes the commit fail with 403, as the Hub does for a read-only token."""

    def __init__(self, refuse: bool = False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hub = self
        self.requests: list[tuple[str, dict, bytes]] = []
        self.files: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                import base64

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.requests.append((self.path, dict(self.headers), body))
                path, status, answer = self.path.split("?")[0], 200, {}
                if path == "/api/repos/create":
                    answer = {
                        "url": f"{hub.url}/{json.loads(body)['organization']}/"
                        f"{json.loads(body)['name']}"
                    }
                elif path == "/api/validate-yaml":
                    answer = {"errors": [], "warnings": []}
                elif "/preupload/" in path:
                    answer = {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in json.loads(body)["files"]
                        ]
                    }
                elif "/commit/" in path and refuse:
                    status, answer = 403, {"error": "You don't have the rights to write here"}
                elif "/commit/" in path:
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            value = item["value"]
                            hub.files[value["path"]] = base64.b64decode(value["content"])
                    repo = path.split("/api/models/")[1].split("/commit/")[0]
                    answer = {
                        "commitUrl": f"{hub.url}/{repo}/commit/{'0' * 40}",
                        "commitOid": "0" * 40,
                    }
                else:
                    status = 404
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.mark.parametrize("refuse", [False, True])
def test_publish_through_real_hfapi_to_a_local_endpoint(
    ready_folder, refuse, capfd, monkeypatch, no_cached_login
):
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        pytest.skip("HF_HUB_OFFLINE is set: huggingface_hub refuses all HTTP, even to 127.0.0.1")
    token = fake_token()
    before = hashes(ready_folder)
    with _LocalHub(refuse=refuse) as hub:
        # CommitInfo parses the commit URL against constants.ENDPOINT, whatever HfApi's endpoint
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        api = HfApi(endpoint=hub.url)
        if refuse:
            with pytest.raises(PublishError, match="complete and unchanged") as caught:
                publish(ready_folder, "someone/tiny", token=token, api=api)
            assert "403" in str(caught.value) and token not in str(caught.value)
        else:
            result = publish(ready_folder, "someone/tiny", token=token, api=api)
            assert result.url == f"{hub.url}/someone/tiny"
            assert hub.files == {
                name: (ready_folder / name).read_bytes() for name, _ in upload_listing(ready_folder)
            }
    create = json.loads(hub.requests[0][2])
    assert (create["name"], create["organization"], create["private"]) == ("tiny", "someone", True)
    for path, headers, body in hub.requests:
        assert headers.get("authorization") == f"Bearer {token}"  # the token travels only here
        assert token.encode() not in body and token not in path
    out, err = capfd.readouterr()
    assert token not in out + err
    assert hashes(ready_folder) == before
