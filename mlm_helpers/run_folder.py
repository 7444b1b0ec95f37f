"""The run folder: its file names, how its JSON files are written and read, and `load_run`.

Training (notebook 04) writes one folder per run; plotting (05), publishing (06) and the tools only
read it. This module is the only place that knows the layout (docs/run-folder.md describes it) and
imports no TensorFlow, so a run trained elsewhere can be read on any machine.

```
<runs_dir>/<run_name>/
  config.json             RunConfig.to_dict() of the run
  history.json            per-step and per-epoch metrics, rewritten atomically as training goes
  all_results.json        before/after evaluation, step counts, throughput, library versions
  checkpoints/            tf.train.Checkpoint files and state.json (progress, "before" evaluation)
  model/                  the Hub-format folder: model, tokenizer, later the model card
  logs/                   TensorBoard event files
```
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
RESULTS_FILE = "all_results.json"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"  # inside checkpoints/
MODEL_DIR = "model"
LOGS_DIR = "logs"
PREVIOUS_SUFFIX = ".previous"  # overwrite=True moves the earlier run to <run_dir>.previous
TRAINING_OUTPUTS = (HISTORY_FILE, RESULTS_FILE, CHECKPOINT_DIR, MODEL_DIR, LOGS_DIR)
TRAIN_HINT = "run notebook 04_finetune, or `python -m mlm_helpers train` with the same run_name"

# Fields that may change between a run and its resumption; every other field shapes the data, the
# model or the schedule, so a difference would silently train something else.
RESUMABLE_CHANGES = (
    "run_name",
    "runs_dir",
    "checkpoint_every_steps",
    "fill_mask_prompts",
    "top_k",
    "jit_compile",
    "strategy",
)


class ResumeError(RuntimeError):
    """A run folder cannot be resumed with this configuration."""


def state_path(run_dir: str | os.PathLike) -> Path:
    """checkpoints/state.json of a run: training progress and the before-training evaluation."""
    return Path(run_dir) / CHECKPOINT_DIR / STATE_FILE


def model_dir(run_dir: str | os.PathLike) -> Path:
    """The Hub-format folder of a run: `<run_dir>/model`."""
    return Path(run_dir) / MODEL_DIR


# ------------------------------------------------------------------------------------ JSON
def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON to a temporary file next to `path`, then rename it over `path`: a crash never
    leaves a half-written file (readers see the old or the new content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | os.PathLike, *, required: bool = True) -> Any:
    """Parse a run file. Absent: FileNotFoundError if `required`, else None. Corrupt: ValueError
    naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        if required:
            raise FileNotFoundError(
                f"{path} not found: this run has logged no training yet. To create it, {TRAIN_HINT}."
            )
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): the file is corrupt or cut off (a full disk, or "
            f"Google Drive still syncing?). Restore it, or delete the run folder and train again: "
            f"{TRAIN_HINT}."
        ) from err


# ------------------------------------------------------------------------------------ history
def _check_records(records: Any, kind: str, key: str, source: str) -> list[dict[str, Any]]:
    """Check that history[kind] is a list of objects, each with a whole-number `key`."""
    if records is None:
        return []
    if not isinstance(records, list):
        raise ValueError(
            f"{source}: '{kind}' must be a list of records, got {type(records).__name__}"
        )
    for i, record in enumerate(records):
        value = record.get(key) if isinstance(record, dict) else None
        whole = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value == int(value)
        )
        if not whole:
            raise ValueError(
                f"{source}: {kind}[{i}] = {record!r} needs a whole-number '{key}' "
                "(see docs/run-folder.md for the format)"
            )
    return records


def clean_history(history: Mapping[str, Any], *, source: str = "history") -> dict[str, list]:
    """Return {"steps", "epochs"} sorted by step / epoch, one record per step / epoch.

    A resumed run appends to history.json, so a step logged before a crash may appear again when
    the resumed run repeats it (after the last checkpoint). The last record of each step (epoch)
    wins: it belongs to the run the final model continues. Exact repeats simply collapse. Used by
    `load_run`; safe to call twice.
    """
    if not isinstance(history, Mapping):
        raise ValueError(
            f"{source}: expected a JSON object with 'steps' and 'epochs', got "
            f"{type(history).__name__}"
        )
    cleaned = {}
    for kind, key in (("steps", "step"), ("epochs", "epoch")):
        latest = {
            int(r[key]): r for r in _check_records(history.get(kind), kind, key, source)
        }  # later records overwrite earlier ones
        cleaned[kind] = [{**latest[k], key: k} for k in sorted(latest)]
    return cleaned


# ------------------------------------------------------------------------------------ Run
@dataclass(frozen=True)
class Run:
    """A run folder's contents: `config` (config.json, {} if absent), `history` (history.json,
    cleaned by `clean_history`), `results` (all_results.json, {} until training finished)."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"steps": [], "epochs": []}
    )
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's name: `run_name` from its config, else the folder's name."""
        return str(self.config.get("run_name") or self.path.name)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.history["steps"]

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return self.history["epochs"]

    @property
    def model_dir(self) -> Path:
        return model_dir(self.path)

    def run_config(self) -> RunConfig:
        """config.json as a `RunConfig`; FileNotFoundError when the run has none."""
        if not self.config:
            raise FileNotFoundError(
                f"{self.path / CONFIG_FILE} is missing: this needs the run's configuration. "
                "Fix: point at the run folder that training (notebook 04) wrote."
            )
        return RunConfig.from_dict(self.config)


RunLike = Run | str | os.PathLike


def load_run(run_dir: RunLike) -> Run:
    """Read a run folder into a `Run` (notebook 05); a `Run` is returned as it is.

    history.json is required (FileNotFoundError saying how to train); config.json and
    all_results.json are optional (a run interrupted before the end has no all_results.json).
    A corrupt file raises ValueError naming it.
    """
    if isinstance(run_dir, Run):
        return run_dir
    path = Path(run_dir).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"run folder {path} does not exist. Check run_name and runs_dir (RunConfig.run_dir "
            f"gives the folder), or train the run first: {TRAIN_HINT}."
        )
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is a file; pass the run folder that holds {HISTORY_FILE}")
    history = clean_history(read_json(path / HISTORY_FILE), source=str(path / HISTORY_FILE))
    parts = {}
    for name in (CONFIG_FILE, RESULTS_FILE):
        data = read_json(path / name, required=False)
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{path / name} must hold a JSON object, got {type(data).__name__}")
        parts[name] = data or {}
    return Run(path=path, config=parts[CONFIG_FILE], history=history, results=parts[RESULTS_FILE])


def is_finished(run_dir: str | os.PathLike) -> bool:
    """Whether training finished in `run_dir`: all_results.json and the saved model are there."""
    run_dir = Path(run_dir)
    return (run_dir / RESULTS_FILE).is_file() and model_dir(run_dir).is_dir()


# ------------------------------------------------------------------------------------ opening
def config_differences(saved: Mapping[str, Any], current: RunConfig) -> dict[str, tuple[Any, Any]]:
    """{field: (saved, current)} for fields that differ and matter for resuming."""
    now = current.to_dict()
    return {
        name: (saved.get(name), value)
        for name, value in now.items()
        if name not in RESUMABLE_CHANGES and saved.get(name) != value
    }


def prepare_run_dir(config: RunConfig, *, resume: bool, overwrite: bool) -> Path:
    """Check the run folder of `config` against the request and return its path.

    A folder holding a run is refused unless `resume` (its config.json must then agree with
    `config` in every field outside `RESUMABLE_CHANGES`) or `overwrite` (the earlier run is moved
    to `<run_dir>.previous`, replacing an older copy there).
    """
    run_dir = config.run_dir
    existing = [name for name in TRAINING_OUTPUTS if (run_dir / name).exists()]
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True contradict each other: choose one")
    if existing and not resume and not overwrite:
        raise FileExistsError(
            f"{run_dir} already holds a run ({', '.join(existing)}). Pass resume=True to continue "
            "it, overwrite=True to start it again, or choose another RunConfig.run_name"
        )
    if overwrite and existing:
        previous = run_dir.with_name(run_dir.name + PREVIOUS_SUFFIX)
        if previous.exists():
            shutil.rmtree(previous)
        previous.mkdir(parents=True)
        for name in (*TRAINING_OUTPUTS, CONFIG_FILE):
            target = run_dir / name
            if target.exists():
                shutil.move(str(target), str(previous / name))
    if resume and (run_dir / CONFIG_FILE).is_file():
        differences = config_differences(read_json(run_dir / CONFIG_FILE), config)
        if differences:
            listed = "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in differences.items())
            raise ResumeError(
                f"cannot resume {run_dir}: the configuration differs in fields that change what is "
                f"trained ({listed}). Use the saved configuration (RunConfig.load('{run_dir}/"
                f"{CONFIG_FILE}')) or start a new run with another run_name"
            )
    return run_dir
