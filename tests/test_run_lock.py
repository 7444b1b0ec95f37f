"""`run_lock`: a run folder's claim, its holder's details, and stale locks (the process-level
test, two trainings started together, is in test_cli.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mlm_helpers import run_lock


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_named(tmp_path, capsys):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)  # that process has exited
    run_dir = tmp_path / "stale"
    holder = run_lock.Holder(pid, socket.gethostname(), "2026-01-01T00:00:00+00:00", "train", "x")
    lock = run_lock.lock_path(run_dir)
    lock.write_text(json.dumps(holder.__dict__))
    notices: list[str] = []
    with run_lock.claim(run_dir, notices) as me:
        assert me.pid == os.getpid() and json.loads(lock.read_text())["pid"] == os.getpid()
        assert notices == [
            f"took over the stale lock {lock} of {holder.describe()}: process {pid} no longer "
            "exists on this host"
        ]
        with pytest.raises(run_lock.RunFolderBusy, match=f"pid {os.getpid()} on host"):
            with run_lock.claim(run_dir):  # the same folder again, while held
                pass
    assert not lock.exists()


def test_a_lock_of_another_host_is_stale_only_without_heartbeat(tmp_path):
    run_dir = tmp_path / "drive"
    lock = run_lock.lock_path(run_dir)
    holder = run_lock.Holder(1, "colab-vm-1", "2026-01-01T00:00:00+00:00", "train", "y")
    lock.write_text(json.dumps(holder.__dict__))
    with pytest.raises(run_lock.RunFolderBusy, match="colab-vm-1.*counts as stale 10 minutes"):
        with run_lock.claim(run_dir):
            pass
    old = time.time() - run_lock.STALE_AFTER_SECONDS - 60
    os.utime(lock, (old, old))
    assert "has not touched it for 11 minutes" in run_lock.why_stale(lock, holder)
    with run_lock.claim(run_dir):
        assert json.loads(lock.read_text())["host"] == socket.gethostname()


def test_the_claim_is_released_on_an_error_and_never_removes_another_claim(tmp_path):
    run_dir = tmp_path / "run"
    lock = run_lock.lock_path(run_dir)
    with pytest.raises(KeyboardInterrupt):
        with run_lock.claim(run_dir):
            assert lock.is_file()
            raise KeyboardInterrupt
    assert not lock.exists()
    with run_lock.claim(run_dir):  # someone replaced our lock (deleted it by hand, then claimed)
        other = run_lock.Holder(1, "elsewhere", "2026-01-01T00:00:00+00:00", "train", "z")
        lock.write_text(json.dumps(other.__dict__))
    assert json.loads(lock.read_text())["token"] == "z"  # left alone


def test_a_lock_being_written_is_respected_and_a_cut_off_one_is_stale(tmp_path):
    run_dir = tmp_path / "run"
    lock = run_lock.lock_path(run_dir)
    lock.write_text("")  # created by O_EXCL, its holder not yet written
    with pytest.raises(run_lock.RunFolderBusy, match="writing the lock right now"):
        with run_lock.claim(run_dir):
            pass
    old = time.time() - 60
    os.utime(lock, (old, old))
    notices: list[str] = []
    with run_lock.claim(run_dir, notices):
        pass
    assert "it names no holder (cut off)" in notices[0]
