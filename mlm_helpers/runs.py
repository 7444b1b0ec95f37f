"""The run life cycle (notebooks 04-07, ``python -m mlm_helpers train``): `open_run`.

One answer to "the folder already holds a run", the same for the notebooks and the command line:

| mode       | no run      | interrupted run | finished, same config | finished, other config | finished, model lost |
|------------|-------------|-----------------|-----------------------|------------------------|----------------------|
| ``auto``   | train       | resume          | reopen                | refused                | ModelMissing         |
| ``train``  | train       | refused         | refused               | refused                | refused              |
| ``resume`` | RunNotFound | resume          | reopen                | refused                | ModelMissing         |
| ``reopen`` | RunNotFound | RunNotFound     | reopen                | refused                | ModelMissing         |
| ``afresh`` | train       | train again     | train again           | train again            | train again          |
| ``resave`` | RunNotFound | RunNotFound     | reopen                | refused                | re-save              |

"Refused" names the fields that differ (or the mode that would do it); "train again" keeps the
earlier run as ``<run>.previous-<UTC time>``; `RunNotFound` says how to get the run and what
training costs. "Finished, model lost": all_results.json is there but model/ holds no loadable
model (`run_folder.model_problem`: deleted, cut off, or only a model card); ``resave`` loads the
trained weights from the newest checkpoint and saves the model again (nothing is trained,
all_results.json is kept), and `ModelMissing` says so. Every mode that may write first claims the
run folder (`run_lock.claim`): a second run on the same folder is refused at once. Notebook 04 and the CLI default to ``auto`` (running them again never repeats or
loses work); `open_run` itself, and so notebooks 05-07, default to ``reopen`` (reading a run never
spends training time unless asked). A published model (a folder or a Hub id) is only reopened; one
downloaded from the Hub is copied out of the Hub cache first, so later writes (the model card,
figures, classification.json) never reach the cache.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import preflight, runtime, training
from .checks import one_of
from .config import PROFILES, SCRATCH, RunConfig
from .cost import estimate
from .hub_folder import load_from_folder
from .paths import local_folder, looks_like_path
from .run_folder import (
    OPEN_MODES,
    PREVIOUS_SUFFIX,
    RESULTS_FILE,
    ResumeError,
    Run,
    config_differences,
    describe_differences,
    holds_run,
    is_finished,
    load_run,
    model_dir,
    model_problem,
    open_folder,
    resume_files,
)
from .run_lock import claim

HUB_COPIES_DIR = "hub"  # <runs_dir>/hub/<owner>--<name>-<revision>: models downloaded by Hub id
AFRESH = f"mode='afresh' trains it again (the earlier run is kept as <run>{PREVIOUS_SUFFIX}<time>)"

__all__ = ["ModelMissing", "OpenedRun", "RunNotFound", "open_run"]


class RunNotFound(FileNotFoundError):
    """No run to reopen or resume where one was asked for."""


class ModelMissing(RunNotFound):
    """A finished run whose model/ holds no loadable model: ``mode="resave"`` saves it again."""


def _number(value: Any, spec: str) -> str:
    """A result for printing: None (a non-finite value, or one not recorded) is shown as inf."""
    return "inf" if value is None else format(value, spec)


@dataclass(frozen=True)
class OpenedRun(Run):
    """A run's records (`run_folder.Run`) plus its model and tokenizer, and `notices`: what was
    done to the run folder besides training (an earlier run moved aside, a checkpoint fallback,
    orphans removed, a reopen). A reopened run loads its model from `model_dir` when first used."""

    notices: tuple[str, ...] = ()
    loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def model(self) -> Any:
        if "model" not in self.loaded:
            model, tokenizer = load_from_folder(self.model_dir)
            self.loaded.setdefault("tokenizer", tokenizer)
            self.loaded["model"] = model
        return self.loaded["model"]

    @property
    def tokenizer(self) -> Any:
        if "tokenizer" not in self.loaded:
            self.model  # loads both  # noqa: B018
        return self.loaded["tokenizer"]

    def __str__(self) -> str:
        r, epochs = self.results, self.results.get("epochs_completed")
        return (
            f"{self.name}: {epochs} epoch{'' if epochs == 1 else 's'}, {r.get('global_step')} "
            f"steps; eval loss {_number(r.get('eval_loss_before'), '.4f')} -> "
            f"{_number(r.get('eval_loss_after'), '.4f')}, perplexity "
            f"{_number(r.get('perplexity_before'), '.2f')} -> "
            f"{_number(r.get('perplexity_after'), '.2f')}"
        )


def open_run(
    config: RunConfig,
    source: str | os.PathLike | None = None,
    *,
    mode: str = "reopen",
    verbose: int = 2,
    **train: Any,
) -> OpenedRun:
    """The run of `config` (or `source`), trained, resumed or reopened as `mode` says (the table in
    the module docstring). `source`: a run folder, a Hub folder written by notebook 06, or the
    Hub id of a model published from one (downloaded, then copied under ``<runs_dir>/hub/``);
    only ``auto`` and ``reopen`` take one. `train` goes to `training.train` (``tokenizer``,
    ``chunks``, ``data``, ``callbacks``, ``deterministic``); `verbose` too. Notebooks 04-07, CLI.
    """
    one_of(mode, "open_run(mode=...)", OPEN_MODES)
    if source is not None:
        if mode not in ("auto", "reopen"):
            raise ValueError(
                f"mode={mode!r} trains, but {source!r} is a published model: reopen it"
            )
        return OpenedRun(**vars(open_folder(_local_copy(source, config.run_dir.parent))))
    team = runtime.get_strategy(config.strategy) if config.strategy == MULTI_WORKER else None
    if team is not None and not team.extended.should_checkpoint:
        return _follow_chief(config, team, verbose, train)
    said: list[str] = []

    def say(action: str) -> None:
        """With several workers, tell them once what the chief does (they wait for it)."""
        if team is not None and not said:
            said.append(action)
            _chief_says(team, ACTIONS.index(action) if action in ACTIONS else REFUSED)

    try:
        if _decide(config, mode) == "reopen":  # reading only: no claim (may be read-only)
            say("reopen")
            return _reopen(config, verbose and mode != "reopen", train.get("tokenizer"))
        preflight.check_run(config, tokenizer=train.get("tokenizer"))  # before any file or work
        taken_over: list[str] = []
        with claim(config.run_dir, taken_over):  # before anything is written
            if verbose and taken_over:
                print(*taken_over, sep="\n")
            action = _decide(config, mode)  # again: the folder may have changed before the claim
            say(action)
            if action == "reopen":
                return _reopen(config, verbose and mode != "reopen", train.get("tokenizer"))
            if action == "resave":
                return _resave(config, verbose, taken_over)
            if verbose and mode != "train" and action != "afresh":
                doing = "Resuming" if action == "resume" else "Training"
                cost = _cost(config, getattr(train.get("data"), "steps_per_epoch", None))
                print(f"{doing} {config.run_name!r} here, as asked (mode={mode!r}): {cost}.")
            start = {"train": "fresh"}.get(action, action)
            trained = training.train(config, start=start, verbose=verbose, **train)
    except BaseException:
        say("refused")  # the other workers stop too, instead of waiting for a run that never comes
        raise
    if team is not None:
        _chief_says(team, 0)  # every file is written: the other workers may read the run
    run = load_run(config.run_dir)
    loaded = {"model": trained.model, "tokenizer": trained.tokenizer}
    return OpenedRun(**vars(run), notices=(*taken_over, *trained.notices), loaded=loaded)


# ------------------------------------------------------------------------- several workers
MULTI_WORKER = "multi_worker"
ACTIONS = ("train", "resume", "afresh", "reopen", "resave")  # what the chief may decide
REFUSED = -1


def _chief_says(strategy: Any, code: int) -> int:
    """The chief's `code` on every worker: a sum over all replicas, to which only the chief's
    first replica adds its code (a collective, so it also waits for every worker)."""
    tf = runtime.import_tensorflow()
    mine = code if strategy.extended.should_checkpoint else 0

    def value() -> Any:
        first = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
        return tf.where(first, tf.constant(mine, tf.int64), tf.constant(0, tf.int64))

    total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(value), axis=None)
    return int(total.numpy())


def _follow_chief(config: RunConfig, strategy: Any, verbose: int, train: dict) -> OpenedRun:
    """A worker other than the chief: do what the chief decided (`_chief_says`), training with
    it into a temporary folder (`hardware.Hardware.write_dir`); the run folder is the chief's."""
    code = _chief_says(strategy, 0)
    if code == REFUSED:
        raise RuntimeError(
            f"the chief worker stopped before training {config.run_name!r} (its output says why); "
            "nothing was written by this worker"
        )
    action = ACTIONS[code]
    if action in ("reopen", "resave"):  # nothing to train: the chief reads or re-saves the run
        return _reopen(config, False, train.get("tokenizer"))
    resolver = strategy.cluster_resolver
    if verbose:
        print(
            f"{resolver.task_type} {resolver.task_id}: training {config.run_name!r} with the "
            "chief, which writes the run folder; this worker writes only to a temporary folder, "
            "removed at the end"
        )
    start = {"train": "fresh"}.get(action, action)
    trained = training.train(config, start=start, verbose=0, **train)
    _chief_says(strategy, 0)  # wait until the chief has written every file of the run
    loaded = {"model": trained.model, "tokenizer": trained.tokenizer}
    return OpenedRun(**vars(load_run(config.run_dir)), loaded=loaded)


def _decide(config: RunConfig, mode: str) -> str:
    """What `mode` does with the folder of `config`: "train", "resume", "afresh" or "reopen";
    the refusals of the module docstring's table."""
    run_dir = config.run_dir
    finished, partial = is_finished(run_dir), holds_run(run_dir)
    if mode == "afresh":
        return "afresh"
    lost = not finished and (run_dir / RESULTS_FILE).is_file()  # trained, but model/ unloadable
    if lost and mode not in ("train", "resave"):
        raise ModelMissing(
            f"{config.run_name!r} finished training ({run_dir / RESULTS_FILE}), but its model is "
            f"not loadable: {model_problem(model_dir(run_dir))}. Its checkpoints hold the trained "
            "weights: re-save the model from them with mode='resave' (--mode resave); nothing is "
            "trained again and the run's records are kept"
        )
    if lost:  # mode "resave"
        _refuse_other_config(config, mode)
        return "resave"
    if mode == "train":
        if partial:
            raise FileExistsError(
                f"{run_dir} already holds {'a finished' if finished else 'an interrupted'} run: "
                f"mode='auto' {'reopens' if finished else 'resumes'} it, {AFRESH}; or choose "
                "another RunConfig.run_name"
            )
        return "train"
    if finished:
        _refuse_other_config(config, mode)
        return "reopen"
    if mode in ("reopen", "resave") or (mode == "resume" and not partial):
        raise RunNotFound(_missing(config, partial, mode))
    return "resume" if partial else "train"


def _refuse_other_config(config: RunConfig, mode: str) -> None:
    """Refuse a finished run of another configuration, naming the fields that differ
    (`ResumeError` for mode "resume", from `run_folder.resume_files`; FileExistsError else)."""
    if mode == "resume":
        resume_files(config)
        return
    changed = config_differences(load_run(config.run_dir).config, config)
    if changed:
        raise FileExistsError(
            f"{config.run_dir} holds a finished run of another configuration "
            f"({describe_differences(changed)}). Choose another run_name, or {AFRESH}"
        )


def _missing(config: RunConfig, partial: bool, mode: str) -> str:
    """RunNotFound's message: what is missing, how to get it, and what training costs."""
    what = "run to resume" if mode == "resume" else "finished run"
    return (
        f"no {what} {config.run_name!r} in {config.run_dir}"
        f"{' (an interrupted one is there)' if partial else ''}. Run notebook 04 first (it "
        f"{'resumes' if partial else 'trains'} it), open a published model with RUN = "
        "'<user>/<model>', or set TRAIN_IF_MISSING = True (mode='auto') to "
        f"{'resume' if partial else 'train'} it here: {_cost(config)}."
    )


def model_config_for(config: RunConfig) -> Any:
    """The transformers configuration of the model `config` trains, read without loading weights:
    from the Hub for a Hub id (the one network access of a cost estimate), except the hub profile's
    general model, distilbert-base-uncased, whose architecture transformers documents as
    `DistilBertConfig()`'s defaults."""
    from transformers import AutoConfig, DistilBertConfig

    from .paths import EMBEDDED_MODEL_DIR

    if config.model == PROFILES["hub"].general_model:
        return DistilBertConfig()
    if config.model == SCRATCH:  # the shipped tokenizer's vocabulary, the tiny_model shape
        vocab = AutoConfig.from_pretrained(EMBEDDED_MODEL_DIR).vocab_size
        return DistilBertConfig(vocab_size=vocab, **config.tiny_model)
    return AutoConfig.from_pretrained(str(local_folder(config.model, kind="model") or config.model))


def _cost(config: RunConfig, steps_per_epoch: int | None = None) -> str:
    """`cost.estimate`'s phrase for a run, or a plain one when it cannot be worked out here (all
    chunks and no data yet: the data decides the steps; a Hub model whose configuration cannot be
    read)."""
    if steps_per_epoch is None and config.train_chunks is not None:
        steps_per_epoch = config.train_chunks // config.batch_size  # what that many chunks give
    try:
        if not steps_per_epoch:
            raise ValueError("the data decides the steps")
        return estimate(config, steps_per_epoch, model_config_for(config)).short()
    except (ValueError, OSError):
        return "a full training run (notebook 04 prints its cost before training)"


def _reopen(config: RunConfig, say: bool, tokenizer: Any) -> OpenedRun:
    """The finished run of `config`, from its folder (its model loaded when first used); `say`:
    print that nothing was trained (not for mode "reopen", which only ever reopens)."""
    run = load_run(config.run_dir)
    notice = (
        f"{config.run_name} is already trained ({run.results.get('global_step')} steps): reopened "
        f"from {config.run_dir} without training. To train it again: {AFRESH}."
    )
    if say:
        print(notice)
    loaded = {} if tokenizer is None else {"tokenizer": tokenizer}
    return OpenedRun(**vars(run), notices=(notice,), loaded=loaded)


def _resave(config: RunConfig, verbose: int, notices: list[str]) -> OpenedRun:
    """Save the model of a finished run whose model/ was lost again, from its newest checkpoint,
    into model/ (a model card or figure already there stays); refused when that checkpoint is not
    the run's last step (it would be another model). Nothing else in the folder changes."""
    from .data import load_tokenizer
    from .hub_folder import load_from_folder, save_for_hub
    from .recorder import restore_weights

    run = load_run(config.run_dir)
    tokenizer = load_tokenizer(config)
    model = training.build_model(config, tokenizer)
    checkpoint = restore_weights(config.run_dir, model)
    step, last = int(checkpoint.rsplit("-", 1)[-1]), run.results.get("global_step")
    if step != last:
        raise ResumeError(
            f"cannot re-save the model of {config.run_dir}: its newest readable checkpoint is of "
            f"step {step}, but the run finished at step {last}, so it would be another model. "
            "Restore model/ from a backup, or train the run again (mode='afresh' keeps this folder)"
        )
    save_for_hub(model, tokenizer, model_dir(config.run_dir))
    problem = model_problem(model_dir(config.run_dir))
    if problem:  # pragma: no cover - save_for_hub writes every file model_problem checks
        raise OSError(f"re-saving the model failed: {problem}")
    notice = (
        f"re-saved the model of {config.run_name} from {checkpoint} (step {step}) into "
        f"{model_dir(config.run_dir)}; nothing was trained"
    )
    if verbose:
        print(notice)
    model, tokenizer = load_from_folder(model_dir(config.run_dir))  # what was saved loads back
    loaded = {"model": model, "tokenizer": tokenizer}
    return OpenedRun(**vars(run), notices=(*notices, notice), loaded=loaded)


def _local_copy(source: str | os.PathLike, runs_dir: Path) -> Path:
    """`source` as a local folder: itself when it exists; a Hub id downloaded with
    `huggingface_hub.snapshot_download` and copied, files not symlinks, to
    ``<runs_dir>/hub/<owner>--<name>-<revision>`` (once per revision), never the cache's snapshot."""
    path = Path(source).expanduser()
    if path.exists() or looks_like_path(str(source)):
        return path  # run_folder.open_folder says what is wrong with a missing one
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(repo_id=str(source), repo_type="model"))
    except Exception as error:
        raise FileNotFoundError(
            f"could not download the model {source!r} from the Hub ({type(error).__name__}: "
            f"{error}). Check the id and the connection; a private model needs a token "
            "($HF_TOKEN or the Colab secret HF_TOKEN)."
        ) from None
    target = runs_dir / HUB_COPIES_DIR / f"{str(source).replace('/', '--')}-{snapshot.name[:12]}"
    if not target.is_dir():
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        shutil.copytree(snapshot, partial, symlinks=False)  # the blobs' content, not links to it
        partial.rename(target)  # whole or not at all
    return target
