"""The run folder: its file names, how its JSON files are written and read, and `load_run`.

Training (notebook 04) writes one folder per run; plotting (05), publishing (06) and the tools only
read it. This module is the only place that knows the layout (docs/run-folder.md describes it) and
imports no TensorFlow or network, so a run trained elsewhere can be read on any machine.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .checks import is_finite
from .config import RunConfig

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
RESULTS_FILE = "all_results.json"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"  # inside checkpoints/
CHECKPOINT_INDEX = "checkpoint"  # inside checkpoints/: tf.train.CheckpointManager's list
MODEL_DIR = "model"
# Inside a Hub folder: copies of the run's records, written with the model card (notebook 06), so
# that a published model can be opened as a run (`open_folder`, `runs.open_run`).
RECORDS_DIR = "run"
RECORD_FILES = (CONFIG_FILE, HISTORY_FILE, RESULTS_FILE)
LOGS_DIR = "logs"
CLASSIFICATION_FILE = "classification.json"  # notebook 07's learning curve (mlm_helpers.classify)
PREVIOUS_SUFFIX = ".previous-"  # mode="afresh" renames the earlier run <run_dir>.previous-<UTC>
# How `runs.open_run` (and ``train --mode``) may treat a run folder; the table is in runs.py.
OPEN_MODES = ("auto", "train", "resume", "reopen", "afresh", "resave")
TRAINING_OUTPUTS = (HISTORY_FILE, RESULTS_FILE, CHECKPOINT_DIR, MODEL_DIR, LOGS_DIR)
TRAIN_HINT = "run notebook 04_finetune, or `python -m mlm_helpers train` with the same run_name"
RESUME_FIX = (
    "Restore it (from a backup, or wait until Google Drive has finished syncing) and resume again, "
    'or start the run again with mode="afresh" (--mode afresh), which keeps this folder as '
    f"<run>{PREVIOUS_SUFFIX}<time>"
)

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
    "num_proc",
)


class ResumeError(RuntimeError):
    """A run folder cannot be resumed with this configuration."""


def state_path(run_dir: str | os.PathLike) -> Path:
    """checkpoints/state.json of a run: training progress and the before-training evaluation."""
    return Path(run_dir) / CHECKPOINT_DIR / STATE_FILE


@dataclass(frozen=True)
class RunState:
    """checkpoints/state.json: what a run needs to resume (docs/run-folder.md). Training writes it
    when it starts (after the evaluation before training), at every checkpoint and at the end.

    `steps_per_epoch` is `masking.MLMDatasets.steps_per_epoch`; with `total_steps` and
    `warmup_steps` it is the schedule, fixed when training starts. `before` is the untrained
    model's evaluation, never measured again on restored weights.
    """

    precision: str
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    before: dict[str, Any]
    global_step: int = 0
    epochs_completed: int = 0
    batches_into_epoch: int = 0
    checkpoint: str | None = None
    train_seconds: float = 0.0
    status: str = "running"  # "running", "finished" or "diverged"
    previous_run: str | None = None

    def at_checkpoint(self, step: int, checkpoint: str, train_seconds: float) -> RunState:
        """The state once checkpoint `checkpoint` of optimizer step `step` is saved."""
        epochs, into = divmod(step, self.steps_per_epoch)
        return replace(
            self,
            global_step=step,
            epochs_completed=epochs,
            batches_into_epoch=into,
            checkpoint=checkpoint,
            train_seconds=train_seconds,
            status="running",
        )

    def write(self, run_dir: str | os.PathLike, **changes: Any) -> RunState:
        """Write state.json atomically (with `changes`, e.g. ``status="finished"``); returns it."""
        state = replace(self, **changes)
        write_json_atomic(
            state_path(run_dir), {k: v for k, v in asdict(state).items() if v is not None}
        )
        return state

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunState:
        """state.json's content as a `RunState`; ValueError naming a missing field."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:  # a required field is missing
            raise ValueError(f"is incomplete ({err}); see docs/run-folder.md") from None


def model_dir(run_dir: str | os.PathLike) -> Path:
    """The Hub-format folder of a run: `<run_dir>/model`."""
    return Path(run_dir) / MODEL_DIR


# ------------------------------------------------------------------------------------ JSON
def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON to a temporary file next to `path`, then rename it over `path`: a crash never
    leaves a half-written file (readers see the old or the new content). The file gets the mode of
    a plain write (0o666 less the umask), like every other file of a run folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # see `remove_orphans`
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
        if not (is_finite(value) and value == int(value)):
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
    # The model's folder when it is not `<path>/model`: a published model opened as a run.
    model_path: Path | None = None

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
        return self.model_path or model_dir(self.path)

    @property
    def steps_per_epoch(self) -> int | None:
        """Batches per epoch as training recorded them (`masking.MLMDatasets.steps_per_epoch`):
        all_results.json, else state.json (written when training starts); None when neither has it."""
        if self.results.get("steps_per_epoch") is not None:
            return self.results["steps_per_epoch"]
        state = read_json(state_path(self.path), required=False)
        return state.get("steps_per_epoch") if isinstance(state, dict) else None

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
    """Read a run folder into a `Run` (plotting, `runs.open_run`); a `Run` is returned as it is.

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


def copy_records(run: Run, folder: str | os.PathLike) -> Path:
    """Copy the run's records into `<folder>/run/` (the Hub folder: publishing does it with the
    model card), so that `open_folder` can read the run back from the Hub. Returns that folder."""
    target = Path(folder) / RECORDS_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES:
        source = run.path / name
        if source.is_file() and source.resolve() != (target / name).resolve():
            write_json_atomic(target / name, read_json(source))
    return target


def open_folder(source: str | os.PathLike) -> Run:
    """Open a run from a local folder: a run folder, or a Hub-format model folder holding `run/`
    records (`copy_records`, called with the model card). No network: a Hub id is downloaded and
    copied out of the Hub cache by `runs.open_run` first.

    The returned `Run`'s `model_dir` is the folder holding the model. A model without records (one
    not published by this series) raises FileNotFoundError saying what is missing.
    """
    path = Path(source).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{source} does not exist: give a run folder, a model folder written by notebook 06, "
            "or the Hub id of a model it published (such as 'your-username/distilbert-imdb-mlm')"
        )
    if (path / HISTORY_FILE).is_file():
        return load_run(path)
    records = path / RECORDS_DIR
    if not (records / HISTORY_FILE).is_file():
        raise FileNotFoundError(
            f"{source} holds a model but no run records ({RECORDS_DIR}/{HISTORY_FILE}): only a "
            "model published by notebook 06 of this series carries them. Open the run folder "
            "that trained it instead, or evaluate the model directly (evaluation.fill_mask)."
        )
    run = load_run(records)
    return Run(run.path, run.config, run.history, run.results, model_path=path)


def model_problem(folder: str | os.PathLike) -> str | None:
    """Why `folder` holds no loadable model, or None when it does: the model configuration, the
    TF weights (an HDF5 file that opens: a cut-off file does not) and the tokenizer must be there.
    A model card alone (README.md) is not a model. Cheap: no TensorFlow."""
    from .hub_folder import CARD_FILE, MODEL_CONFIG_FILE, REQUIRED_FILES, WEIGHTS_FILE
    from .pytorch_weights import PYTORCH_WEIGHTS_FILE  # TF loads without it (older runs lack it)

    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} does not exist"
    optional = {CARD_FILE, PYTORCH_WEIGHTS_FILE}
    missing = [
        " or ".join(names)
        for names, _ in REQUIRED_FILES
        if not optional & set(names) and not any((folder / name).is_file() for name in names)
    ]
    if missing:
        return f"{folder} lacks {', '.join(missing)}"
    try:  # a JSON object with a model_type
        model_type = json.loads((folder / MODEL_CONFIG_FILE).read_bytes()).get("model_type")
    except (ValueError, AttributeError):
        model_type = None
    if not model_type:
        return f"{folder / MODEL_CONFIG_FILE} is not a model configuration (no model_type)"
    import h5py  # TensorFlow's own dependency, light to import

    try:
        h5py.File(folder / WEIGHTS_FILE, "r").close()
    except OSError as error:
        return f"{folder / WEIGHTS_FILE} cannot be read ({error})"
    return None


def is_finished(run_dir: str | os.PathLike) -> bool:
    """Whether training finished in `run_dir`: all_results.json is there and model/ holds a
    loadable model (`model_problem`)."""
    run_dir = Path(run_dir)
    return (run_dir / RESULTS_FILE).is_file() and model_problem(model_dir(run_dir)) is None


# ------------------------------------------------------------------------------------ opening
def config_differences(saved: Mapping[str, Any], current: RunConfig) -> dict[str, tuple[Any, Any]]:
    """{field: (saved, current)} for fields that differ and matter for resuming."""
    now, defaults = current.to_dict(), RunConfig.defaults()  # a field newer than the saved run
    return {  # has its default there
        name: (saved.get(name, defaults.get(name)), value)
        for name, value in now.items()
        if name not in RESUMABLE_CHANGES and saved.get(name, defaults.get(name)) != value
    }


def describe_differences(differences: Mapping[str, tuple[Any, Any]]) -> str:
    """`config_differences` in words, for refusals: ``learning_rate: saved 0.005, now 0.001``."""
    return "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in differences.items())


def holds_run(run_dir: str | os.PathLike) -> bool:
    """Whether `run_dir` holds (part of) a run: any of the files or folders training writes."""
    return any((Path(run_dir) / name).exists() for name in TRAINING_OUTPUTS)


def move_aside(run_dir: str | os.PathLike) -> Path:
    """Rename the run folder to `<run_dir>.previous-<UTC time>` (a new name every time: no earlier
    run is ever replaced) and return the new path. One rename: a crash cannot leave half a move."""
    run_dir = Path(run_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    previous = run_dir.with_name(f"{run_dir.name}{PREVIOUS_SUFFIX}{stamp}")
    count = 1
    while previous.exists():  # two overwrites within one second
        count += 1
        previous = run_dir.with_name(f"{run_dir.name}{PREVIOUS_SUFFIX}{stamp}-{count}")
    run_dir.rename(previous)
    return previous


def _refuse(run_dir: Path, path: Path, what: str) -> ResumeError:
    return ResumeError(f"cannot resume {run_dir}: {path} {what}. {RESUME_FIX}")


def _read_for_resume(run_dir: Path, path: Path, *, required: bool, why: str) -> Any:
    """A JSON object of the run folder; ResumeError naming it when missing (if `required`),
    corrupt, or not an object."""
    if not path.is_file():
        if required:
            raise _refuse(run_dir, path, f"is missing ({why})")
        return None
    try:
        data = read_json(path)
    except ValueError as err:
        cause = err.__cause__ or err
        raise _refuse(
            run_dir, path, f"is not valid JSON ({cause}): it is corrupt or cut off"
        ) from err
    if not isinstance(data, dict):
        raise _refuse(run_dir, path, f"must hold a JSON object, not {type(data).__name__}")
    return data


def resume_files(config: RunConfig) -> tuple[RunState | None, dict[str, list]]:
    """(state.json as a `RunState`, history.json) of the run to resume, after checking every run
    file: all or nothing. (None, empty history) when the folder holds no run that began training
    (training then starts afresh).

    Refused with a `ResumeError` naming the file, what is wrong and the fix: config.json missing,
    corrupt or differing in a field outside `RESUMABLE_CHANGES`; state.json missing (or without its
    "before" evaluation, which cannot be measured again on trained weights) once training began;
    history.json or the checkpoint index missing while state.json records a checkpoint; any of
    them corrupt. The checkpoint files themselves are read by `recorder.RunRecorder.restore`.
    """
    run_dir = config.run_dir
    empty: dict[str, list] = {"steps": [], "epochs": []}
    if not holds_run(run_dir):
        return None, empty
    saved = _read_for_resume(
        run_dir, run_dir / CONFIG_FILE, required=True, why="the run's configuration"
    )
    differences = config_differences(saved, config)
    if differences:
        listed = describe_differences(differences)
        raise ResumeError(
            f"cannot resume {run_dir}: the configuration differs in fields that change what is "
            f"trained ({listed}). Use the saved configuration (RunConfig.load('{run_dir}/"
            f"{CONFIG_FILE}')) or start a new run with another run_name"
        )
    checkpoints = run_dir / CHECKPOINT_DIR
    index = checkpoints / CHECKPOINT_INDEX
    has_checkpoints = index.is_file() or any(checkpoints.glob("ckpt-*.index"))
    started = has_checkpoints or (run_dir / HISTORY_FILE).exists()  # state.json comes first
    state = _read_for_resume(
        run_dir,
        state_path(run_dir),
        required=started,
        why="it holds the evaluation before training, which cannot be measured again once "
        "training has begun",
    )
    if started and "before" not in (state or {}):
        raise _refuse(run_dir, state_path(run_dir), "has no 'before' evaluation")
    try:
        typed = RunState.from_dict(state) if state else None
    except ValueError as err:
        raise _refuse(run_dir, state_path(run_dir), str(err)) from None
    trained = typed is not None and typed.checkpoint is not None  # history and index must exist
    if trained and not index.is_file():
        raise _refuse(
            run_dir,
            index,
            f"is missing: there is no checkpoint to resume from, though {STATE_FILE} records "
            f"{typed.checkpoint}",
        )
    history = _read_for_resume(
        run_dir, run_dir / HISTORY_FILE, required=trained, why="the steps trained so far"
    )
    if history is None:
        return typed, empty
    try:
        for kind, key in (("steps", "step"), ("epochs", "epoch")):
            history[kind] = _check_records(history.get(kind), kind, key, "history")
    except ValueError as err:
        raise _refuse(run_dir, run_dir / HISTORY_FILE, f"is malformed ({err})") from err
    return typed, history


def remove_orphans(run_dir: str | os.PathLike) -> list[Path]:
    """Delete what a run killed while writing leaves behind: `ckpt-N_temp/` folders (a checkpoint
    being written) and `.<name>.<hex>.tmp` files (`write_json_atomic`). Returns what was removed."""
    run_dir = Path(run_dir)
    orphans = [
        *sorted((run_dir / CHECKPOINT_DIR).glob("*_temp")),
        *sorted(run_dir.glob(".*.tmp")),
        *sorted((run_dir / CHECKPOINT_DIR).glob(".*.tmp")),
    ]
    for orphan in orphans:
        if orphan.is_dir():
            shutil.rmtree(orphan)
        else:
            orphan.unlink()
    return orphans
