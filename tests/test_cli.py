"""``python -m mlm_helpers``: one run per folder, one clear last line per failure, documented exit
codes, ``--version``, and the ``evaluate`` and ``publish`` commands (notebooks 05 and 06 headless).
Real processes where the behaviour is about processes (two trainings started together, Ctrl-C)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_runs import TINY_MODEL

from mlm_helpers import cli, exits, run_folder, run_lock
from mlm_helpers.cli import main
from mlm_helpers.exits import EXIT_BUSY, EXIT_CODES, EXIT_INTERRUPTED, EXIT_NO_SPACE, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
TINY = json.dumps({**TINY_MODEL, "dropout": 0.0, "attention_dropout": 0.0})
SETS = [
    "chunk_size=32",
    "train_chunks=32",
    "eval_chunks=8",
    "batch_size=8",
    "model=scratch",
    "max_reviews=40",
    f"tiny_model={TINY}",
]


def tiny_train_args(runs: Path, name: str = "cli", *extra: str) -> list[str]:
    """A CLI training of a few seconds: 4 steps of batch 8 per epoch."""
    sets = [arg for s in SETS for arg in ("--set", s)]
    return [
        "train",
        "--profile",
        "embedded",
        "--runs-dir",
        str(runs),
        "--run-name",
        name,
        *sets,
        *extra,
    ]


def environment() -> dict[str, str]:
    # CPU runs, whatever the machine; the embedded profile is named explicitly.
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLM_PROFILE": "",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": str(ROOT),
    }


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlm_helpers", *args],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, out, err


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- one run per folder
def test_two_trainings_started_together_on_one_folder_one_is_refused_at_once(tmp_path):
    """Why: both exited 0 and mixed their records (one's config.json beside the other's history and
    model, two TensorBoard files); with equal settings the second died in a raw TF traceback."""
    first = tiny_train_args(tmp_path, "clash", "--set", "learning_rate=0.005")
    second = tiny_train_args(tmp_path, "clash", "--set", "learning_rate=0.002")
    processes = [start(first), start(second)]
    try:
        ended = [finish(p) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    codes = sorted(code for code, _, _ in ended)
    assert codes == [0, EXIT_BUSY], [(c, e[-2000:]) for c, _, e in ended]
    winner = next(i for i, (code, _, _) in enumerate(ended) if code == 0)
    _, _, refused = ended[1 - winner]
    line = last_line(refused)
    assert line.startswith("error: ") and "claimed by another training run" in line
    assert f"on host {socket.gethostname()!r}" in line and "--run-name" in line
    assert "Traceback" not in refused
    # The folder holds the winner's run only: its config, one TensorBoard file, no lock left.
    run_dir = tmp_path / "clash"
    rate = [0.005, 0.002][winner]
    assert json.loads((run_dir / "config.json").read_text())["learning_rate"] == rate
    assert len(list((run_dir / "logs").iterdir())) == 1
    assert run_folder.is_finished(run_dir) and not run_lock.lock_path(run_dir).exists()


@pytest.mark.parametrize("how", ["read-only", "under-a-file"])
def test_a_runs_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, how):
    """Why: a read-only runs folder was found only after data preparation and model build."""
    if how == "read-only" and (os.name != "posix" or os.geteuid() == 0):
        pytest.skip("root writes into read-only folders")
    parent = tmp_path / "parent"
    parent.mkdir()
    runs = parent / "runs"
    if how == "read-only":
        runs.mkdir()
        runs.chmod(0o555)
    else:
        (parent / "file").write_text("not a folder")
        runs = parent / "file" / "runs"
    try:
        started = time.perf_counter()
        code = main(tiny_train_args(runs, "ro"))
        seconds = time.perf_counter() - started
    finally:
        if how == "read-only":
            runs.chmod(0o755)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and sorted(p.name for p in parent.rglob("*")) in (
        [],
        ["file"],
        ["runs"],
    )
    assert last_line(err).startswith("error: the runs folder ") and "is not writable" in err
    assert "--runs-dir" in last_line(err) and seconds < 20  # before the data is prepared


# ----------------------------------------------------------------------------- last lines
@pytest.mark.parametrize(
    "signum, code, said",
    [
        (signal.SIGINT, EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
        (signal.SIGTERM, exits.EXIT_TERMINATED, "terminated (SIGTERM)"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_ends_with_the_exact_resume_command_which_finishes_the_run(
    tmp_path, signum, code, said
):
    """Why: Ctrl-C showed a raw traceback and never said that --resume recovers the run."""
    args = tiny_train_args(tmp_path, "cut", "--epochs", "40", "--set", "checkpoint_every_steps=2")
    process = start(args)
    state = run_folder.state_path(tmp_path / "cut")
    deadline = time.monotonic() + 240
    try:
        while not (state.is_file() and json.loads(state.read_text()).get("checkpoint")):
            assert process.poll() is None and time.monotonic() < deadline, finish(process)
            time.sleep(0.2)
        process.send_signal(signum)
        ended, _, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert ended == code, err[-2000:]
    line = last_line(err)
    assert line.startswith(f"{said}: the run folder keeps everything up to")
    assert "Traceback" not in err and not run_lock.lock_path(tmp_path / "cut").exists()
    command = line.split("Resume it with: ", 1)[1]
    assert command.startswith("python -m mlm_helpers train --profile embedded --runs-dir ")
    assert command.endswith(" --resume")
    resumed = start(shlex.split(command)[3:])
    ended, out, err = finish(resumed)
    assert ended == 0, err[-2000:]
    results = json.loads((tmp_path / "cut" / "all_results.json").read_text())
    assert results["global_step"] == 40 * 4
    steps = [r["step"] for r in run_folder.load_run(tmp_path / "cut").steps]
    assert steps == list(range(1, 161))


def test_disk_full_at_checkpoint_time_ends_with_one_line_and_resumes(tmp_path, capsys, monkeypatch):
    """Why: a full disk at checkpoint time showed TensorFlow's ResourceExhaustedError traceback."""
    from mlm_helpers import recorder

    tf = recorder.tf
    real_save = tf.train.CheckpointManager.save

    def full_disk(self, checkpoint_number=None, **kwargs):
        if checkpoint_number and checkpoint_number >= 3:
            raise tf.errors.ResourceExhaustedError(
                None, None, f"{self.directory}/ckpt-3_temp/part-0; No space left on device"
            )
        return real_save(self, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    args = tiny_train_args(tmp_path, "full", "--set", "checkpoint_every_steps=2")
    assert main(args) == EXIT_NO_SPACE
    line = last_line(capsys.readouterr().err)
    assert line.startswith("error: out of disk space while writing (") and "GB free in" in line
    assert f"python -m mlm_helpers train --profile embedded --runs-dir {tmp_path} " in line
    assert line.endswith(" --resume") and "Nothing already saved was changed" in line
    assert json.loads(run_folder.state_path(tmp_path / "full").read_text())["global_step"] == 2
    monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)
    assert main([*args, "--resume"]) == 0
    assert json.loads((tmp_path / "full" / "all_results.json").read_text())["global_step"] == 12


@pytest.mark.parametrize(
    "error, code, fragment",
    [
        (OSError(28, "No space left on device"), EXIT_NO_SPACE, "error: out of disk space"),
        (run_lock.RunFolderBusy("x is claimed"), EXIT_BUSY, "error: x is claimed"),
        (ValueError("chunk_size=128 exceeds\nthe model's 64 positions"), 2, "error: chunk_size"),
        (KeyError("surprise"), 1, "error: unexpected KeyError: 'surprise'. Run again with --trace"),
        (exits.Terminated(), 143, "terminated (SIGTERM): run the same command again"),
        (
            run_lock.RunsFolderNotWritable("the runs folder /x is not writable"),
            2,
            "error: the runs folder /x",
        ),
    ],
)
def test_every_failure_is_one_line_with_its_exit_code(tmp_path, error, code, fragment):
    got, line = exits.failure(error, None, ["train"])
    assert got == code and line.startswith(fragment) and "\n" not in line


def test_tensorflow_errors_become_one_line_naming_the_fix():
    """Why: out-of-range positions and a full disk ended in raw TensorFlow tracebacks."""
    from mlm_helpers import recorder

    errors = recorder.tf.errors
    trace = "\n\t [[{{node GatherV2}}]] [Op:__inference_train_function_1234]\n" * 20
    cases = [
        (
            errors.InvalidArgumentError(None, None, f"indices[0,64] = 64 is not in [0, 64){trace}"),
            2,
            "error: a token position or id is outside the model's range (indices[0,64] = 64",
        ),
        (
            errors.ResourceExhaustedError(None, None, f"OOM when allocating tensor{trace}"),
            1,
            "error: out of accelerator memory (OOM when allocating tensor). Train again",
        ),
        (
            errors.ResourceExhaustedError(
                None, None, f"/d/ckpt-3_temp; No space left on device{trace}"
            ),
            4,
            "error: out of disk space while writing (/d/ckpt-3_temp; No space left on device)",
        ),
    ]
    for error, code, fragment in cases:
        got, line = exits.failure(error, None, ["train"])
        assert got == code and line.startswith(fragment) and "\n" not in line and len(line) < 700


def test_exit_codes_and_version_are_documented():
    help_text = cli.build_parser().format_help()
    readme = (ROOT / "README.md").read_text()
    for number, meaning in EXIT_CODES.items():
        assert f"{number:>3}  {meaning}" in help_text
        assert f"| {number} |" in readme
    done = subprocess.run(
        [sys.executable, "-m", "mlm_helpers", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment(),
    )
    from mlm_helpers import __version__

    assert done.returncode == 0 and done.stdout.startswith(f"mlm_helpers {__version__} (")
    assert "transformers 4." in done.stdout and "tensorflow 2." in done.stdout


# ----------------------------------------------------------------------------- evaluate, publish
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run, trained by the command line; its runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    assert main([*tiny_train_args(runs, "done"), "--quiet"]) == 0
    return runs


def test_evaluate_runs_notebook_05s_steps_headless(finished, capsys, tmp_path):
    """Why: there was no command to evaluate a run without a notebook."""
    args = ["evaluate", "--profile", "embedded", "--runs-dir", str(finished), "--run-name", "done"]
    sets = [arg for s in SETS for arg in ("--set", s)]
    assert main([*args, *sets, "--figures", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "done: 3 epochs, 12 steps logged" in out and "| Train Loss" in out
    assert last_line(out) == str(tmp_path / "figs")
    names = ["epoch_loss", "step_loss", "learning_rate", "perplexity", "fill_mask"]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(
        f"05_{n}.png" for n in names
    )
    # A tiny run of 12 steps does not reach the lesson's claims: said, and with --check an exit 1.
    assert "claim not met: held-out perplexity went from" in out
    assert main([*args, *sets, "--check", "--quiet"]) == cli.EXIT_FAILED
    assert last_line(capsys.readouterr().err).startswith("error: the lesson's claims do not hold")
    # Without a finished run it trains nothing and says how to get one.
    assert main([*args[:-1], "missing", *sets]) == EXIT_USAGE
    assert "Run notebook 04 first" in last_line(capsys.readouterr().err)


def test_publish_writes_the_card_and_is_a_dry_run_unless_asked(finished, capsys, monkeypatch):
    """Why: there was no command to publish a run without a notebook."""
    token = "hf_" + "a1B2c3D4e5" * 4
    monkeypatch.setenv("HF_TOKEN", token)
    args = ["publish", "--profile", "embedded", "--runs-dir", str(finished), "--run-name", "done"]
    args += [arg for s in SETS for arg in ("--set", s)]
    assert main([*args, "--repo-id", "someone/done"]) == 0
    captured = capsys.readouterr()
    model = finished / "done" / "model"
    assert (model / "README.md").is_file() and (model / "loss_curves.png").is_file()
    assert "Dry run: nothing was sent" in captured.out and "README.md" in captured.out
    assert "Token: present (from the HF_TOKEN environment variable)" in captured.out
    assert "Dry run only: add --upload to send these files." in captured.out
    assert token not in captured.out + captured.err
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("mlm_helpers.publishing._token_from_cache", lambda: None)
    assert main([*args, "--repo-id", "someone/done", "--upload"]) == cli.EXIT_FAILED
    assert "no Hugging Face token found, nothing was sent" in capsys.readouterr().err
    assert main([*args, "--repo-id", "not a repo id"]) == EXIT_USAGE
    assert "is not a valid Hub model id" in last_line(capsys.readouterr().err)


def test_num_proc_option_sets_the_config_field():
    """--num-proc is RunConfig.num_proc (the processes that tokenize); absent, every core."""
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--profile", "embedded", "--quiet", "--num-proc", "3"])
    assert cli.config_from_args(args).num_proc == 3
    args = parser.parse_args(["train", "--profile", "embedded", "--quiet"])
    assert cli.config_from_args(args).num_proc is None
