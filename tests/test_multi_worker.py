"""Training on several workers (`RunConfig.strategy="multi_worker"`, TF_CONFIG): two worker
processes on 127.0.0.1 train the embedded profile together, end with the same weights, leave one
whole run folder written by the chief only, and a pair killed mid-epoch resumes from the chief's
checkpoint to the weights of a pair that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlm_helpers import run_folder

CHILD = Path(__file__).with_name("two_workers.py")
PAIR_TIMEOUT = 240  # seconds a pair may take (about 30-60 s on 2 cores)


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (bound, read, released together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _die_with_parent() -> None:
    """In the child, before it runs: on Linux, be killed when the test process dies, so that no
    worker outlives a test run that was itself killed."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_pair(runs_dir: Path, out: Path, *extra: str) -> list[subprocess.Popen]:
    """Two worker processes, worker 0 the chief, on fresh ports of 127.0.0.1."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(tf_config),
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
        )
        command = [sys.executable, str(CHILD), str(runs_dir), f"{out}.{index}", *extra]
        log = open(f"{out}.{index}.log", "w")  # noqa: SIM115 - closed with the process
        workers.append(
            subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads started here
            )
        )
    return workers


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
    for worker in workers:
        worker.wait(timeout=30)


def finish(workers: list[subprocess.Popen], out: Path) -> list[dict]:
    """Wait (bounded) for both workers to exit 0 and return what each wrote."""
    deadline = time.monotonic() + PAIR_TIMEOUT
    try:
        for index, worker in enumerate(workers):
            code = worker.wait(timeout=max(1.0, deadline - time.monotonic()))
            log = Path(f"{out}.{index}.log").read_text()[-3000:]
            assert code == 0, f"worker {index} exited {code}:\n{log}"
    except subprocess.TimeoutExpired:
        logs = "\n".join(Path(f"{out}.{i}.log").read_text()[-2000:] for i in range(2))
        pytest.fail(f"the pair did not finish within {PAIR_TIMEOUT} s:\n{logs}")
    finally:
        stop(workers)
    return [json.loads(Path(f"{out}.{index}").read_text()) for index in range(2)]


def wait_for(path: Path, workers: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        crashed = [w.returncode for w in workers if w.poll() is not None]
        assert not crashed, f"a worker exited ({crashed}) before pausing"
        assert time.monotonic() < deadline, f"no {path.name} within {timeout:.0f} s"
        time.sleep(0.5)


def run_folder_is_whole(run_dir: Path) -> None:
    """Everything a finished run folder holds, written once (by the chief), nothing else."""
    run = run_folder.load_run(run_dir)
    assert run_folder.is_finished(run_dir), run_folder.model_problem(run_folder.model_dir(run_dir))
    assert run.results["global_step"] == 8 and run.results["workers"] == 2
    steps = [record["step"] for record in run.history["steps"]]
    assert steps == list(range(1, 9))  # each step recorded once, by the chief
    assert not run_folder.remove_orphans(run_dir)  # no half-written file left
    names = {path.name for path in run_dir.iterdir()}
    assert names == {run_folder.CONFIG_FILE, *run_folder.TRAINING_OUTPUTS}, names


def test_two_workers_train_resume_and_agree(tmp_path):
    started = time.monotonic()
    # 1. An uninterrupted pair: both workers end with the same weights; the chief's folder is whole.
    whole = tmp_path / "whole"
    first = finish(start_pair(whole, tmp_path / "whole.out"), tmp_path / "whole.out")
    assert first[0]["sha256"] == first[1]["sha256"] and first[0]["step"] == 8
    run_folder_is_whole(whole / "two-workers")
    assert not list(whole.glob("two-workers-worker*"))  # the worker's temporary folder is gone
    # 2. A pair killed after step 5 (the chief's checkpoint of step 4 on disk) ...
    cut = tmp_path / "cut"
    workers = start_pair(cut, tmp_path / "cut.out", "--pause-after", "5")
    try:
        wait_for(Path(f"{tmp_path / 'cut.out'}.0.paused"), workers, PAIR_TIMEOUT)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
        stop(workers)
    state = json.loads(run_folder.state_path(cut / "two-workers").read_text())
    assert state["global_step"] == 4 and not run_folder.is_finished(cut / "two-workers")
    # 3. ... and started again resumes from the chief's checkpoint to the same weights.
    again = finish(start_pair(cut, tmp_path / "again.out"), tmp_path / "again.out")
    assert again[0]["sha256"] == again[1]["sha256"] == first[0]["sha256"]
    run_folder_is_whole(cut / "two-workers")
    print(f"two-worker test: {time.monotonic() - started:.0f} s")
