"""The Colab twin's checks (issue 24), run with the twin's Python by tools/colab_twin/run.sh.

    python tools/colab_twin/twin.py standin DIR   write the google-colab stand-in wheel into DIR
    python tools/colab_twin/twin.py prepare       play a fresh Colab runtime's setup cell
    python tools/colab_twin/twin.py helpers SPEC  the setup cell's update_helpers(SPEC), twice

`prepare` fakes `google.colab` (with `drive.mount`), runs `colab.prepare()` as a notebook's setup cell
does and asserts: no restart required, no conflict in pip's output, `pip check` clean, only the
packages that must change changed, and `runtime.check_stack()` passes. `helpers` checks that a
second run of the setup cell does not reinstall the helpers when they already are SPEC's commit.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = HERE / "versions.txt"
STANDIN = "google_colab-1.0.0"
MUST_CHANGE = {"transformers", "huggingface-hub"}  # colab-constraints.txt's pins


def colab_versions(path: Path = VERSIONS) -> dict[str, str]:
    """{name: line} of versions.txt (its requirement lines, comments stripped)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {re.split(r"[=<> ]", line)[0]: line for line in lines if line}


def colab_pins(path: Path = VERSIONS) -> list[str]:
    """The requirements google-colab itself pins (versions.txt's lines marked so)."""
    return [
        line.split("#")[0].strip()
        for line in path.read_text().splitlines()
        if line.endswith("# pinned by google-colab")
    ]


def write_standin(folder: Path) -> Path:
    """A metadata-only wheel named google-colab that requires exactly Colab's pins: it makes pip
    and `pip check` see what google-colab would say about a replaced pandas or requests."""
    metadata = "\n".join(
        ["Metadata-Version: 2.1", "Name: google-colab", "Version: 1.0.0"]
        + [f"Requires-Dist: {pin}" for pin in colab_pins()]
    )
    files = {
        f"{STANDIN}.dist-info/METADATA": metadata + "\n",
        f"{STANDIN}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: colab-twin\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{STANDIN}.dist-info/RECORD,,")
    files[f"{STANDIN}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{STANDIN}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def fake_colab(drive_folder: Path) -> list[str]:
    """Put a `google.colab` with `drive.mount` into sys.modules; returns the list of mounts."""
    mounts: list[str] = []

    def mount(path: str) -> None:
        mounts.append(path)
        (drive_folder / "MyDrive").mkdir(parents=True, exist_ok=True)

    module = types.ModuleType("google.colab")
    module.drive = types.SimpleNamespace(mount=mount)
    sys.modules["google.colab"] = module
    return mounts


def check_prepare() -> None:
    from mlm_helpers import colab, runtime

    drive = Path(tempfile.mkdtemp(prefix="drive-", dir=Path.cwd()))  # run.sh's scratch folder
    mounts = fake_colab(drive)
    colab.DRIVE_MOUNT, colab.DRIVE_RUNS = drive, drive / "MyDrive" / "mlm-runs"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        try:
            colab.prepare(drive=True)
        finally:
            print(said.getvalue(), file=sys.__stdout__)
    printed = said.getvalue()
    changed = re.findall(r"(\S+) (\S+) → (\S+)", printed)
    assert "pip reported dependency conflicts" not in printed, "pip reported conflicts"
    assert "pip check: no conflicts." in printed, "pip check is not clean"
    assert {name for name, _, _ in changed} <= MUST_CHANGE, f"more than must changed: {changed}"
    assert mounts == [str(drive)] and colab.DRIVE_RUNS.is_dir(), "Drive was not mounted"
    versions = runtime.check_stack()
    wanted = colab_versions()
    for dist in ("tensorflow", "tf_keras", "datasets"):
        assert wanted[dist] == f"{dist}=={versions[dist]}", f"Colab's {dist} was replaced"
    print(f"twin: prepare() changed {len(changed)} packages, no restart, no conflict; {versions}")


def check_helpers(spec: str) -> None:
    """update_helpers(spec) in two fresh processes: the first may reinstall (and asks for a
    restart), the second must find the helpers at spec's commit and run no pip."""
    code = (
        "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab');"
        "from mlm_helpers import colab;"
        f"print('reinstalled' if colab.update_helpers({spec!r}) else 'kept')"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.returncode == 0 or "RestartRequired" in first.stderr, first.stderr[-2000:]
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip().endswith("kept"), second.stdout
    print(f"twin: the second update_helpers({spec!r}) kept the installed copy: {second.stdout}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["standin"] and len(argv) == 2:
        print(write_standin(Path(argv[1])))
    elif argv == ["prepare"]:
        check_prepare()
    elif argv[:1] == ["helpers"] and len(argv) == 2:
        check_helpers(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
