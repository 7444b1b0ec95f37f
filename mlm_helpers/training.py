"""Stage 04 — fine-tuning: `train(config)` trains a masked-LM model and writes its run folder.

Notebook 04 and ``python -m mlm_helpers train`` reach it through `runs.open_run`, which decides
from the run folder whether to train, resume or reopen. In order: **data** (`prepare_data`, stages
01-03; `MLMDatasets.steps_per_epoch` sizes everything after); **schedule** (a warmup not shorter
than training is refused); **hardware** (`hardware.Hardware`: precision, XLA, replicas,
determinism); **check the run folder**, changing nothing (a resume all or nothing); **build**
under the precision policy in the strategy's scope (`build_model`, `make_optimizer`, and
`make_trainer`'s `MaskedLMTrainer`, whose step takes the float32 loss per masked token of the
global batch); **open the folder** once every check passed (move an earlier run aside, remove
orphans, save config.json, restore the newest readable checkpoint); **evaluate before** (kept in
state.json); **fit**, recorded by `recorder.RunRecorder` (a resumed run finishes its interrupted
epoch first, bit for bit); **finish**: the model in Hub format and all_results.json.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _compat, preflight, runtime
from .checks import one_of
from .config import SCRATCH, RunConfig
from .cost import utilisation_line
from .evaluation import EvalResult, MaskedLMEvaluator, fill_mask, masked_lm_loss, unigram_perplexity
from .hardware import Hardware
from .hub_folder import load_model, save_for_hub
from .recorder import RunRecorder, finite_or_none
from .run_folder import (
    CONFIG_FILE,
    RESULTS_FILE,
    ResumeError,
    RunState,
    holds_run,
    model_dir,
    move_aside,
    remove_orphans,
    resume_files,
    write_json_atomic,
)
from .schedule import Schedule

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

__all__ = [
    "MaskedLMTrainer",
    "Trained",
    "TrainingDiverged",
    "build_model",
    "make_optimizer",
    "make_trainer",
    "prepare_data",
    "train",
]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint was kept."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ----------------------------------------------------------------------------------- the model
def build_model(config: RunConfig, tokenizer: Any) -> Any:
    """The masked-LM model a run trains (build it under `Hardware.policies()`, in the strategy scope).

    ``config.model``: ``"scratch"`` is a fresh `TFDistilBertForMaskedLM` sized by
    ``config.tiny_model`` with the tokenizer's vocabulary (how the shipped model was pre-trained);
    anything else by `hub_folder.load_model` (``"embedded"``: the tiny general-language DistilBERT
    shipped in the package).
    """
    from transformers import DistilBertConfig, TFDistilBertForMaskedLM

    if config.model == SCRATCH:
        model_config = DistilBertConfig(
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **config.tiny_model
        )
        model = TFDistilBertForMaskedLM(model_config)
    else:
        model = load_model(config.model)
        if len(tokenizer) > model.config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model {config.model!r} only "
                f"{model.config.vocab_size}: use the model's own tokenizer (RunConfig.tokenizer=None)"
            )
    # One tiny forward pass, so that every layer (and every dropout generator) exists.
    model({"input_ids": np.zeros((1, 2), np.int32), "attention_mask": np.ones((1, 2), np.int32)})
    return model


class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` as the optimizer steps with it: Keras calls it with the 0-based iteration i, and it
    looks up the rate of step i + 1 in `schedule.curve()` (0 after the last step), so the rates
    trained with are those plotted, logged and described."""

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        self.schedule = schedule
        self.rates = tf.constant(np.append(schedule.curve(), np.float32(0)))

    def __call__(self, step: Any) -> Any:
        return tf.gather(self.rates, tf.minimum(tf.cast(step, tf.int32), self.schedule.total_steps))


def make_optimizer(config: RunConfig, schedule: Schedule, precision: str) -> Any:
    """AdamWeightDecay stepping with `schedule` (`KerasSchedule`; no decay on LayerNorm weights and
    biases, global-norm clipping), wrapped in a LossScaleOptimizer under mixed_float16. Create it in
    the strategy scope.
    """
    from transformers import AdamWeightDecay

    optimizer = AdamWeightDecay(
        learning_rate=KerasSchedule(schedule),
        weight_decay_rate=config.weight_decay,
        beta_1=config.adam_beta1,
        beta_2=config.adam_beta2,
        epsilon=config.adam_epsilon,
        global_clipnorm=config.clip_norm,
        exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"],
    )
    if precision == "mixed_float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


# ----------------------------------------------------------------------------------- the step
class MaskedLMTrainer(keras.Model):
    """Wraps a transformers masked-LM model with our train step for `fit`.

    The loss is `evaluation.masked_lm_loss` (float32, per masked token of the *global* batch: each
    replica divides its sum by the all-replica count, and gradients are summed across replicas).
    `optimizer.minimize` applies loss scaling when the optimizer is a LossScaleOptimizer. Logs the
    batch's loss and masked-token count, identical on all replicas.
    """

    def __init__(self, mlm: Any, prediction_share: float = 0.15, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlm = mlm
        self.prediction_share = prediction_share
        self.distribute_reduction_method = "first"  # outputs are already all-reduced

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.mlm(inputs, training=training).logits

    @tf.autograph.experimental.do_not_convert  # plain graph code; converting the whole
    def train_step(self, data: Any) -> dict[str, Any]:  # model costs seconds per trace
        inputs, labels = data
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            loss_sum, count = masked_lm_loss(
                self.mlm, inputs, labels, training=True, prediction_share=self.prediction_share
            )
            global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            loss = loss_sum / tf.maximum(global_count, 1.0)
        self.optimizer.minimize(loss, self.mlm.trainable_variables, tape=tape)
        return {
            "loss": context.all_reduce(tf.distribute.ReduceOp.SUM, loss),
            "masked_tokens": global_count,
        }


def make_trainer(
    model: Any, optimizer: Any, *, jit_compile: bool, prediction_share: float = 0.15
) -> MaskedLMTrainer:
    """The compiled Keras model `fit` runs (create it in the strategy scope). `prediction_share`
    (the masking probability) sizes the vocabulary head's slots (`evaluation.masked_lm_loss`)."""
    # Adam's slots created inside the first trace of the train step would make it trace twice.
    _compat.create_optimizer_slots(optimizer, model.trainable_variables)
    trainer = MaskedLMTrainer(model, prediction_share)
    trainer.compile(optimizer=optimizer, jit_compile=jit_compile)
    return trainer


# ----------------------------------------------------------------------------------- data
def prepare_data(
    config: RunConfig,
    *,
    tokenizer: Any = None,
    chunks: Any = None,
    reviews: Any = None,
    in_memory: bool | None = None,
) -> tuple[Any, Any]:
    """(tokenizer, `masking.MLMDatasets`) for a run: stages 01-03 in one call (notebook 04).

    Training chunks come only from ``config.train_splits`` and evaluation chunks only from
    ``config.eval_split`` (RunConfig refuses an eval split that is also a training split), and
    evaluation reviews whose text occurs in a training split are dropped first
    (`data.hold_out`), so the evaluation is held out in content, not only by name. `chunks` (stage
    02's ``{"train", "eval"}``) or `reviews` skip the steps already done; chunks prepared from
    another dataset than ``config.dataset`` are refused (the run's records would name the wrong one).
    `in_memory`: as `masking.build_datasets` (None: training chunks beyond
    `masking.stream.IN_MEMORY_ROWS` are streamed from disk; the batches are the same).
    """
    from .chunking import prepare_chunks
    from .data import load_tokenizer
    from .masking import build_datasets

    if tokenizer is None:
        tokenizer = load_tokenizer(config)
    if chunks is None:
        chunks = prepare_chunks(config, tokenizer, reviews)
    missing = [name for name in ("train", "eval") if name not in chunks]
    if missing:
        raise ValueError(
            f"chunks must hold 'train' and 'eval' (as chunking.prepare_chunks "
            f"returns them); {missing} missing"
        )
    made_from, dataset = getattr(chunks, "dataset", None), config.to_dict()["dataset"]
    if made_from is not None and made_from != dataset:
        raise ValueError(
            f"these chunks were prepared from the dataset {made_from!r}, but RunConfig.dataset is "
            f"{dataset!r}, which config.json and the model card would name: set "
            f"RunConfig.dataset={made_from!r} (with its text_column and splits), or prepare the "
            "chunks with prepare_chunks(config)"
        )
    return tokenizer, build_datasets(
        chunks["train"], chunks["eval"], config, tokenizer, in_memory=in_memory
    )


def _check_data(data: Any, config: RunConfig, tokenizer: Any) -> None:
    """Refuse datasets built for another configuration (their stream has its own epochs/batch)."""
    if tokenizer is None:
        raise ValueError("data= needs the tokenizer too: pass tokenizer=")
    built = {"epochs": data.epochs, "batch_size": data.batch_size, "seed": data.seed}
    wanted = {"epochs": config.epochs, "batch_size": config.batch_size, "seed": config.seed}
    if built != wanted:
        raise ValueError(
            f"the datasets were built for {built} but the config says {wanted}: "
            "rebuild them with prepare_data(config) (or drop data=)"
        )


def _train_data(parts: _Parts, epoch: int, skip: int = 0) -> Any:
    """The training stream from (epoch, skip); with several workers, each worker's own share of
    every batch (`masking.MLMDatasets.train_from`'s ``shard``), through
    ``distribute_datasets_from_function``."""
    data, hardware = parts.data, parts.hardware
    if hardware.workers == 1:
        return data.train_from(epoch, skip)

    def per_worker(context: Any) -> Any:
        shard = (
            context.num_input_pipelines,
            context.input_pipeline_id,
            context.num_replicas_in_sync,
        )
        return data.train_from(epoch, skip, shard=shard)

    return hardware.strategy.distribute_datasets_from_function(per_worker)


def _fit(parts: _Parts, recorder: RunRecorder, callbacks: Sequence[Any], verbose: int):
    """Run `fit` from the recorder's step to the last epoch, finishing an interrupted epoch first
    (the stream restarts at that epoch's batch); the history is on disk whatever happens."""
    trainer = parts.trainer
    epochs, per_epoch = recorder.config.epochs, recorder.steps_per_epoch
    first_epoch, skip = divmod(recorder.global_step, per_epoch)
    fit = dict(callbacks=[recorder, *callbacks], verbose=1 if verbose == 1 else 0)
    try:
        if skip:
            trainer.fit(
                _train_data(parts, first_epoch, skip),
                epochs=first_epoch + 1,
                initial_epoch=first_epoch,
                steps_per_epoch=per_epoch - skip,
                **fit,
            )
            first_epoch += 1
        if first_epoch < epochs and not recorder.diverged:
            trainer.fit(
                _train_data(parts, first_epoch),
                epochs=epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=per_epoch,
                **fit,
            )
    except BaseException:
        recorder.close()
        raise
    recorder.flush()


# ----------------------------------------------------------------------------------- train
STARTS = ("fresh", "resume", "afresh")


class Trained(NamedTuple):
    """`train`'s model and tokenizer, and `notices`: what was done to the run folder besides
    training (an earlier run moved aside, a checkpoint fallback, orphans removed)."""

    model: Any
    tokenizer: Any
    notices: list[str]


@dataclass(frozen=True)
class _Parts:
    """What one `train` call builds, in the order it builds it."""

    config: RunConfig
    tokenizer: Any
    data: Any  # masking.MLMDatasets
    schedule: Schedule
    hardware: Hardware
    model: Any
    optimizer: Any
    trainer: MaskedLMTrainer
    evaluator: MaskedLMEvaluator
    write_dir: Path  # the run folder (a non-chief worker: its temporary folder)

    def evaluate(self) -> EvalResult:
        return self.evaluator.evaluate(self.data.eval)

    def fill_mask(self) -> dict[str, list[dict[str, Any]]]:
        return fill_mask(
            self.model, self.tokenizer, self.config.fill_mask_prompts, self.config.top_k
        )


def train(
    config: RunConfig,
    *,
    start: str = "fresh",
    tokenizer: Any = None,
    chunks: Any = None,
    data: Any = None,
    verbose: int = 2,
    callbacks: Sequence[Any] = (),
    deterministic: bool | None = None,
) -> Trained:
    """Train the masked-LM model of `config` into its run folder (`config.run_dir`).

    `runs.open_run` calls it, having decided from the folder what to do (notebook 04 and
    ``python -m mlm_helpers train`` both go through it); `start` is that decision:
    - ``"fresh"``: an empty run folder (an existing run is refused: FileExistsError);
    - ``"resume"``: continue from the newest readable checkpoint, all or nothing
      (`run_folder.resume_files`, `recorder.RunRecorder.restore`); afresh when there is none yet;
    - ``"afresh"``: once every check of the new run has passed (the model built), an earlier run
      is renamed `<run_dir>.previous-<UTC time>` (`run_folder.move_aside`): never deleted.
    `tokenizer`, `chunks` and `data` reuse what earlier steps built (``chunks`` = stage 02's
    ``{"train", "eval"}``, ``data`` = `prepare_data`'s datasets for this `config`). `verbose`: 0
    silent; 1 Keras progress bars + a line per epoch; 2 a line per epoch (no timings). `callbacks`
    go to `fit`; `deterministic`: TensorFlow op determinism (default: on for a CPU only).
    Raises `TrainingDiverged` on a NaN/inf loss (keeping the last good checkpoint).
    """
    one_of(verbose, "verbose", (0, 1, 2))
    one_of(start, "train(start=...)", STARTS)
    preflight.check_run(config, tokenizer=tokenizer)  # before any work or any file
    # The strategy first: MultiWorkerMirroredStrategy must exist before TensorFlow runs an op.
    hardware = Hardware.resolve(config, deterministic=deterministic)
    if data is None:
        tokenizer, data = prepare_data(config, tokenizer=tokenizer, chunks=chunks)
    else:
        _check_data(data, config, tokenizer)
    schedule = Schedule.from_config(config, data.steps_per_epoch)  # before any work
    saved, history = _check_run(config, hardware, start)
    runtime.seed_everything(config.seed, deterministic=hardware.deterministic, tensorflow=True)
    write_dir = hardware.write_dir(config.run_dir)  # the run folder, except on a non-chief worker
    verbose = verbose if hardware.chief else 0
    try:
        with hardware.policies():
            parts = _build(config, tokenizer, data, schedule, hardware, write_dir)
            notices, previous = _prepare_folder(config, start) if hardware.chief else ([], None)
            recorder = RunRecorder(
                config=config,
                steps_per_epoch=data.steps_per_epoch,
                run_dir=write_dir,
                mlm=parts.model,
                optimizer=parts.optimizer,
                evaluate=parts.evaluate,
                history=history,
                verbose=verbose,
                restore_dir=config.run_dir,  # every worker resumes from the chief's checkpoint
            )
            restored = start == "resume" and recorder.restore()
            notices += recorder.notices + _restart_notice(config, start, restored, history)
            if verbose:
                print(*notices, *hardware.notes, _announce(parts, restored), sep="\n")
            if restored:
                recorder.state = saved
            else:  # a fresh model: nothing trained in this folder counts
                history.update(steps=[], epochs=[])
                recorder.state = _start_state(parts, previous, verbose)
            _fit(parts, recorder, callbacks, verbose)
            _finish(parts, recorder)
    finally:
        if write_dir != config.run_dir:  # a non-chief worker's temporary folder
            shutil.rmtree(write_dir, ignore_errors=True)
    return Trained(parts.model, tokenizer, notices)


def _check_run(
    config: RunConfig, hardware: Hardware, start: str
) -> tuple[RunState | None, dict[str, list]]:
    """Check the run folder for `start`, changing nothing, and return the saved state and history
    (`run_folder.resume_files`; none unless resuming). A resumed run keeps its precision."""
    run_dir = config.run_dir
    if start == "fresh" and hardware.chief and holds_run(run_dir):  # others follow the chief
        raise FileExistsError(
            f"{run_dir} already holds a run: resume it or start it afresh (runs.open_run's mode)"
        )
    if start != "resume":
        return None, {"steps": [], "epochs": []}
    saved, history = resume_files(config)
    if saved is not None and saved.precision != hardware.precision:
        raise ResumeError(
            f"{run_dir} was trained with precision {saved.precision!r} but this run would use "
            f"{hardware.precision!r} (on {hardware.accelerator}): set RunConfig.precision="
            f"{saved.precision!r} to resume it"
        )
    return saved, history


def _prepare_folder(config: RunConfig, start: str) -> tuple[list[str], str | None]:
    """Change the run folder, once every check has passed: move an earlier run aside (``afresh``),
    remove orphans of a killed write, save config.json. Returns what was done, as lines to print,
    and where the earlier run went."""
    run_dir, notices, previous = config.run_dir, [], None
    if start == "afresh" and holds_run(run_dir):
        previous = str(move_aside(run_dir))
        notices.append(f"moved the earlier run aside: {run_dir} -> {previous}")
    notices += [
        f"removed {orphan} (left by a write that was killed)" for orphan in remove_orphans(run_dir)
    ]
    config.save(run_dir / CONFIG_FILE)
    return notices, previous


def _restart_notice(config: RunConfig, start: str, restored: bool, history: dict) -> list[str]:
    """A resumed folder with steps but no checkpoint yet starts again: say so."""
    if start != "resume" or restored or not history["steps"]:
        return []
    dropped = _plural(len(history["steps"]), "step")
    return [
        f"{config.run_dir} has no checkpoint yet: training from the start again (the {dropped} "
        "recorded are dropped)"
    ]


def _build(
    config: RunConfig,
    tokenizer: Any,
    data: Any,
    schedule: Schedule,
    hardware: Hardware,
    write_dir: Path,
) -> _Parts:
    """Model, optimizer and trainer, created in the strategy's scope, and the evaluator (call
    under `hardware.policies()`)."""
    with hardware.strategy.scope():
        model = build_model(config, tokenizer)
        optimizer = make_optimizer(config, schedule, hardware.precision)
        trainer = make_trainer(
            model, optimizer, jit_compile=hardware.jit, prediction_share=config.mlm_probability
        )
    evaluator = MaskedLMEvaluator(
        model, jit_compile=hardware.jit, prediction_share=config.mlm_probability
    )
    return _Parts(
        config, tokenizer, data, schedule, hardware, model, optimizer, trainer, evaluator, write_dir
    )


def _announce(parts: _Parts, restored: bool) -> str:
    """The line printed before training starts."""
    config, schedule = parts.config, parts.schedule
    return (
        f"{'Resuming' if restored else 'Training'} {config.run_name}: "
        f"{_plural(config.epochs, 'epoch')} × {parts.data.steps_per_epoch} steps (batch "
        f"{config.batch_size}, {schedule.total_steps} steps, warmup {schedule.warmup_steps}) "
        f"on {parts.hardware}"
    )


def _start_state(parts: _Parts, previous: str | None, verbose: int) -> RunState:
    """Evaluate the untrained model and write the run's first state.json (a resumed run reports
    this "before"; it is never measured again on trained weights)."""
    before = parts.evaluate()
    state = RunState(
        precision=parts.hardware.precision,
        steps_per_epoch=parts.data.steps_per_epoch,
        total_steps=parts.schedule.total_steps,
        warmup_steps=parts.schedule.warmup_steps,
        before={
            "eval_loss": before.loss,
            "perplexity": finite_or_none(before.perplexity),
            "fill_mask": parts.fill_mask(),
        },
        previous_run=previous,
    )
    if verbose:
        print(f"before training: {before}", flush=True)
    return state.write(parts.write_dir)


def _results(parts: _Parts, state: RunState, after: EvalResult) -> dict[str, Any]:
    """all_results.json (docs/run-folder.md) of a run that ended at `state`."""
    config, data, model = parts.config, parts.data, parts.model
    step, seconds = state.global_step, state.train_seconds
    rows = step * config.batch_size
    return {
        "eval_loss_before": state.before["eval_loss"],
        "perplexity_before": state.before["perplexity"],
        "eval_loss_after": after.loss,
        "perplexity_after": finite_or_none(after.perplexity),
        "fill_mask_before": state.before["fill_mask"],
        "fill_mask_after": parts.fill_mask(),
        "train_rows": int(state.steps_per_epoch * config.batch_size),
        "eval_rows": int(len(data.eval_arrays["labels"])),
        "eval_masked_tokens": after.masked_tokens,
        "unigram_perplexity": unigram_perplexity(
            data.train_input_ids(),
            data.eval_arrays["labels"],
            model.config.vocab_size,
            special_ids=data.spec.special_ids,
        ),
        "steps_per_epoch": state.steps_per_epoch,
        "total_steps": state.total_steps,
        "warmup_steps": state.warmup_steps,
        "epochs_completed": state.epochs_completed,
        "global_step": step,
        "train_runtime_seconds": seconds,
        "train_rows_per_sec": rows / seconds if seconds else None,
        "train_tokens_per_sec": rows * config.chunk_size / seconds if seconds else None,
        "parameters": int(model.count_params()),
        **parts.hardware.record(),
        "versions": runtime.library_versions(),
    }


def _finish(parts: _Parts, recorder: RunRecorder) -> None:
    """End the run: on a diverged loss, mark it so and raise `TrainingDiverged`; otherwise save
    the model and tokenizer in Hub format, write all_results.json and mark the run finished."""
    run_dir, state = parts.write_dir, recorder.state
    recorder.close()
    if recorder.diverged:
        state.write(run_dir, status="diverged")
        raise TrainingDiverged(recorder.diverged)
    after = recorder.last_eval or parts.evaluate()
    results = _results(parts, state, after)
    save_for_hub(parts.model, parts.tokenizer, model_dir(run_dir))
    write_json_atomic(run_dir / RESULTS_FILE, results)
    state.write(run_dir, status="finished")
    if recorder.verbose:
        print(f"after training: {after}", flush=True)
        epochs = recorder.history["epochs"]  # the last epoch's speed: the first includes compiling
        speed = epochs[-1].get("tokens_per_sec") if epochs else None
        hw = parts.hardware
        line = utilisation_line(results["parameters"], speed, hw.precision, hw.device)
        if line:  # on a GPU listed in cost.PEAK_TFLOPS
            print(line)
