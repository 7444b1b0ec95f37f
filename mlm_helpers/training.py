"""Stage 04 — fine-tuning: `fine_tune(config)` trains a masked-LM model and writes its run folder.

It is the one call notebook 04 and ``python -m mlm_helpers train`` make. In order:

1. **Data** (`prepare_data`): stages 01-03 — training chunks from the training splits only,
   evaluation chunks from the held-out split, masked inside `tf.data`.
2. **Schedule** (`schedule.Schedule`, stepped by `KerasSchedule`): total steps = batches per epoch × epochs; a warmup
   that is not shorter than that is refused before any work.
3. **Hardware** (`hardware.Hardware`): precision, XLA, replicas, determinism — decided once.
4. **Check the run folder** (`run_folder`), changing nothing: refuse to clobber a run; for a resumed
   one, check its configuration and every run file (all or nothing).
5. **Build** under the precision policy and in the strategy's scope: the model (`build_model`),
   AdamWeightDecay (no decay on LayerNorm weights and biases; loss scaling under mixed_float16), and
   `MaskedLMTrainer`, whose train step takes the float32 loss per masked token of the global batch
   (`evaluation.masked_lm_loss`).
6. **Open the run folder**, now that every check has passed: move an overwritten run aside, remove
   orphans of a killed write, save config.json; restore the newest readable checkpoint.
7. **Evaluate before** training on the held-out chunks with fixed masks (kept in state.json, so a
   resumed run reports the true "before"; never measured again on restored weights).
8. **Fit**, recorded by `recorder.RunRecorder`: history, TensorBoard, checkpoints, dropout
   re-seeding, NaN detection. A resumed run finishes its interrupted epoch first, bit for bit.
9. **Finish**: save the model and tokenizer in Hub format and write all_results.json.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _compat, runtime
from .config import PROFILES, SCRATCH, RunConfig
from .cost import estimate, utilisation_line
from .evaluation import MaskedLMEvaluator, fill_mask, masked_lm_loss, unigram_perplexity
from .hardware import Hardware
from .hub_folder import save_for_hub
from .paths import local_folder
from .recorder import RunRecorder, finite_or_none
from .run_folder import (
    CONFIG_FILE,
    PREVIOUS_SUFFIX,
    RESULTS_FILE,
    ResumeError,
    Run,
    check_run_dir,
    config_differences,
    holds_run,
    is_finished,
    load_run,
    model_dir,
    move_aside,
    open_published,
    remove_orphans,
    resume_files,
    state_path,
    write_json_atomic,
)
from .schedule import Schedule

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

__all__ = [
    "MaskedLMTrainer",
    "ResumeError",
    "RunNotFound",
    "SimulatedDisconnect",
    "TrainResult",
    "TrainingDiverged",
    "build_model",
    "fine_tune",
    "interrupt_at",
    "make_optimizer",
    "make_trainer",
    "open_run",
    "prepare_data",
    "train_or_resume",
]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint was kept."""


class SimulatedDisconnect(RuntimeError):
    """Raised by `interrupt_at`'s callback: stands for a Colab runtime lost mid-training."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ----------------------------------------------------------------------------------- the model
def build_model(config: RunConfig, tokenizer: Any) -> Any:
    """The masked-LM model a run trains (build it under `Hardware.policies()`, in the strategy scope).

    ``config.model``: ``"scratch"`` is a fresh `TFDistilBertForMaskedLM` sized by
    ``config.tiny_model`` with the tokenizer's vocabulary (how the shipped model was pre-trained);
    anything else is loaded with `from_pretrained` from the folder or Hub id `paths.local_folder`
    resolves (``"embedded"``: the tiny general-language DistilBERT shipped in the package).
    """
    from transformers import DistilBertConfig, TFAutoModelForMaskedLM, TFDistilBertForMaskedLM

    if config.model == SCRATCH:
        model_config = DistilBertConfig(
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **config.tiny_model
        )
        model = TFDistilBertForMaskedLM(model_config)
    else:
        folder = local_folder(config.model, kind="model")
        if folder is not None and not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{config.model!r} has no config.json, so it is not a model folder in Hub format: "
                "save the model there with model.save_pretrained(folder)"
            )
        try:
            model = TFAutoModelForMaskedLM.from_pretrained(str(folder or config.model))
        except OSError as err:
            raise OSError(
                f"could not load the model {config.model!r}: {err}\nOffline? Use the 'embedded' "
                "profile or a local folder in Hub format."
            ) from err
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


class InterruptAt(keras.callbacks.Callback):
    """Raises `SimulatedDisconnect` once the optimizer has made `step` steps."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise SimulatedDisconnect(f"simulated disconnect after step {self.step}")


def interrupt_at(step: int) -> InterruptAt:
    """A callback that stops training like a lost runtime after `step` optimizer steps: a
    reproducible stand-in for a Colab disconnect (notebook 04's resume demo and the tests)."""
    return InterruptAt(step)


# ----------------------------------------------------------------------------------- fine_tune
@dataclass
class TrainResult:
    """What `fine_tune` returns: the run folder, the trained model and tokenizer, the records
    written to history.json and all_results.json, and `notices`: what was done to the run folder
    besides training (an earlier run moved aside, a checkpoint fallback, orphans removed)."""

    run_dir: Path
    config: RunConfig
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    history: dict[str, list[dict[str, Any]]] = field(repr=False)
    results: dict[str, Any] = field(repr=False)
    notices: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        r = self.results
        return (
            f"{self.run_dir.name}: {_plural(r['epochs_completed'], 'epoch')}, "
            f"{r['global_step']} steps; eval loss {r['eval_loss_before']:.4f} -> {r['eval_loss_after']:.4f}, "
            f"perplexity {r['perplexity_before']:.2f} -> {r['perplexity_after']:.2f}"
        )


def prepare_data(
    config: RunConfig, *, tokenizer: Any = None, chunks: Any = None, reviews: Any = None
) -> tuple[Any, Any]:
    """(tokenizer, `masking.MLMDatasets`) for a run: stages 01-03 in one call (notebook 04).

    Training chunks come only from ``config.train_splits`` and evaluation chunks only from
    ``config.eval_split`` (RunConfig refuses an eval split that is also a training split), and
    evaluation reviews whose text occurs in a training split are dropped first
    (`data.hold_out`), so the evaluation is held out in content, not only by name. `chunks` (stage 02's ``{"train", "eval"}``) or `reviews` skip the
    steps already done.
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
    return tokenizer, build_datasets(chunks["train"], chunks["eval"], config, tokenizer)


def _check_data(data: Any, config: RunConfig, tokenizer: Any) -> None:
    """Refuse datasets built for another configuration (their stream has its own epochs/batch)."""
    if tokenizer is None:
        raise ValueError("fine_tune(data=...) needs the tokenizer too: pass tokenizer=")
    built = {"epochs": data.epochs, "batch_size": data.batch_size, "seed": data.seed}
    wanted = {"epochs": config.epochs, "batch_size": config.batch_size, "seed": config.seed}
    if built != wanted:
        raise ValueError(
            f"the datasets were built for {built} but the config says {wanted}: "
            "rebuild them with prepare_data(config) (or drop data=)"
        )


def _fit(trainer: Any, data: Any, recorder: RunRecorder, callbacks: Sequence[Any], verbose: int):
    """Run `fit` from the recorder's step to the last epoch, finishing an interrupted epoch first
    (the stream restarts at that epoch's batch); the history is on disk whatever happens."""
    epochs, per_epoch = recorder.config.epochs, recorder.steps_per_epoch
    first_epoch, skip = divmod(recorder.global_step, per_epoch)
    fit = dict(callbacks=[recorder, *callbacks], verbose=1 if verbose == 1 else 0)
    try:
        if skip:
            trainer.fit(
                data.train_from(first_epoch, skip),
                epochs=first_epoch + 1,
                initial_epoch=first_epoch,
                steps_per_epoch=per_epoch - skip,
                **fit,
            )
            first_epoch += 1
        if first_epoch < epochs and not recorder.diverged:
            trainer.fit(
                data.train_from(first_epoch),
                epochs=epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=per_epoch,
                **fit,
            )
    except BaseException:
        recorder.close()
        raise
    recorder.flush()


def fine_tune(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    tokenizer: Any = None,
    chunks: Any = None,
    data: Any = None,
    verbose: int = 2,
    callbacks: Sequence[Any] = (),
    deterministic: bool | None = None,
) -> TrainResult:
    """Fine-tune the masked-LM model of `config` and write its run folder (`config.run_dir`).

    - `resume`: continue from the newest checkpoint of the run folder; starts afresh when the folder
      holds no checkpoint. All or nothing: a config.json that differs in a field that matters, or a
      missing or corrupt config.json, checkpoints/state.json or history.json, is refused
      (`ResumeError` naming the file and the fix); a newest checkpoint that cannot be read is
      skipped for the next older one, saying so (ResumeError when none can be read). History
      recorded after the restored step is dropped, and orphans of a killed write are removed.
    - `overwrite`: start again. Once every check of the new run has passed (the model built), an
      earlier run in the folder is renamed `<run_dir>.previous-<UTC time>`: a new name every time,
      so no earlier run is ever deleted. Without `resume` or `overwrite`, an existing run is never
      touched (FileExistsError).
    - `tokenizer`, `chunks`, `data`: reuse what earlier steps built (``chunks`` = stage 02's
      ``{"train", "eval"}``, ``data`` = `prepare_data`'s datasets, built for this `config`).
    - `verbose`: 0 silent; 1 Keras progress bars + one line per epoch; 2 one line per epoch only
      (no timings: the same text every run).
    - `callbacks`: extra Keras callbacks for `fit`.
    - `deterministic`: TensorFlow op determinism (default: on for a CPU, off on GPU/TPU for speed).

    What was done to the run folder besides training (a move, a fallback, a removal) is printed
    when `verbose` > 0 and listed in `TrainResult.notices`; a move is also recorded in state.json
    (`previous_run`). Raises `TrainingDiverged` on a NaN/inf loss (keeping the last good checkpoint
    and the history). Notebook 04 and ``python -m mlm_helpers train``.
    """
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose={verbose!r} must be 0, 1 or 2")
    if data is None:
        tokenizer, data = prepare_data(config, tokenizer=tokenizer, chunks=chunks)
    else:
        _check_data(data, config, tokenizer)
    schedule = Schedule.from_config(config, data.steps_per_epoch)  # before any work
    hardware = Hardware.resolve(config, deterministic=deterministic)
    state, history = _check_run(config, hardware, resume=resume, overwrite=overwrite)
    runtime.seed_everything(config.seed, deterministic=hardware.deterministic, tensorflow=True)
    with hardware.policies():
        model, optimizer, trainer, evaluator = _build(config, tokenizer, schedule, hardware)
        notices = _open_run(config, schedule, state, overwrite=overwrite)  # checks all passed
        recorder = RunRecorder(
            config=config,
            steps_per_epoch=data.steps_per_epoch,
            run_dir=config.run_dir,
            mlm=model,
            optimizer=optimizer,
            evaluator=evaluator,
            eval_dataset=data.eval,
            history=history,
            state=state,
            verbose=verbose,
        )
        restored = resume and recorder.restore()
        notices += recorder.notices
        if resume and not restored and history["steps"]:
            notices.append(
                f"{config.run_dir} has no checkpoint yet: training from the start again (the "
                f"{_plural(len(history['steps']), 'step')} recorded are dropped)"
            )
        if verbose:
            print(
                *notices, *hardware.notes, _announce(config, schedule, hardware, restored), sep="\n"
            )
        if not restored:  # a fresh model: nothing trained in this folder counts
            history.update(steps=[], epochs=[])
            _evaluate_before(evaluator, data, model, tokenizer, config, state, verbose)
        elif "before" not in state:  # resume_files refuses it: never measure it on trained weights
            raise ResumeError(f"cannot resume {config.run_dir}: state.json has no 'before'")
        _fit(trainer, data, recorder, callbacks, verbose)
        results = _finish(config, recorder, hardware, tokenizer, data)
    return TrainResult(config.run_dir, config, model, tokenizer, history, results, notices)


def _check_run(
    config: RunConfig, hardware: Hardware, *, resume: bool, overwrite: bool
) -> tuple[dict[str, Any], dict[str, list]]:
    """Check the run folder, changing nothing (`run_folder.check_run_dir`, and
    `run_folder.resume_files` when resuming), and return state.json's and history.json's content
    (empty unless resuming); a resumed run must keep the precision it was trained with."""
    check_run_dir(config, resume=resume, overwrite=overwrite)
    empty: dict[str, list] = {"steps": [], "epochs": []}
    state, history = resume_files(config) if resume else ({}, empty)
    if state and state.get("precision") != hardware.precision:
        raise ResumeError(
            f"{config.run_dir} was trained with precision {state.get('precision')!r} but this run "
            f"would use {hardware.precision!r} (on {hardware.accelerator}): set RunConfig.precision="
            f"{state.get('precision')!r} to resume it"
        )
    state["precision"] = hardware.precision
    return state, history


def _open_run(
    config: RunConfig, schedule: Schedule, state: dict[str, Any], *, overwrite: bool
) -> list[str]:
    """Change the run folder, once every check has passed: move an earlier run aside
    (`overwrite`), remove orphans of a killed write, record the schedule in `state`, save
    config.json. Returns what was done, as lines to print."""
    run_dir, notices = config.run_dir, []
    if overwrite and holds_run(run_dir):
        previous = move_aside(run_dir)
        state["previous_run"] = str(previous)
        notices.append(f"moved the earlier run aside: {run_dir} -> {previous}")
    notices += [
        f"removed {orphan} (left by a write that was killed)" for orphan in remove_orphans(run_dir)
    ]
    state.update(
        steps_per_epoch=schedule.total_steps // config.epochs,
        total_steps=schedule.total_steps,
        warmup_steps=schedule.warmup_steps,
    )
    config.save(run_dir / CONFIG_FILE)
    return notices


def _build(
    config: RunConfig, tokenizer: Any, schedule: Schedule, hardware: Hardware
) -> tuple[Any, Any, MaskedLMTrainer, MaskedLMEvaluator]:
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
    return model, optimizer, trainer, evaluator


def _announce(config: RunConfig, schedule: Schedule, hardware: Hardware, restored: bool) -> str:
    """The line printed before training starts."""
    per_epoch = schedule.total_steps // config.epochs
    return (
        f"{'Resuming' if restored else 'Training'} {config.run_name}: "
        f"{_plural(config.epochs, 'epoch')} × {per_epoch} steps (batch {config.batch_size}, "
        f"{schedule.total_steps} steps, warmup {schedule.warmup_steps}) on {hardware}"
    )


def _evaluate_before(evaluator, data, model, tokenizer, config, state, verbose) -> None:
    """Evaluate the untrained model and keep the result in state.json (a resumed run reports it)."""
    before = evaluator.evaluate(data.eval)
    state["before"] = {
        "eval_loss": before.loss,
        "perplexity": finite_or_none(before.perplexity),
        "fill_mask": fill_mask(model, tokenizer, config.fill_mask_prompts, config.top_k),
    }
    write_json_atomic(state_path(config.run_dir), state)
    if verbose:
        print(f"before training: {before}", flush=True)


def _finish(
    config: RunConfig, recorder: RunRecorder, hardware: Hardware, tokenizer: Any, data: Any
) -> dict[str, Any]:
    """End the run: on a diverged loss, mark it so and raise `TrainingDiverged`; otherwise save
    the model and tokenizer in Hub format, write all_results.json (docs/run-folder.md), mark the
    run finished, and return the results."""
    model, run_dir, state = recorder.mlm, recorder.run_dir, recorder.state
    if recorder.diverged:
        recorder.close()
        write_json_atomic(state_path(run_dir), {**state, "status": "diverged"})
        raise TrainingDiverged(recorder.diverged)
    after = recorder.last_eval or recorder.evaluator.evaluate(recorder.eval_dataset)
    step, seconds = recorder.global_step, recorder.total_seconds
    rows = step * config.batch_size
    before = state["before"]
    results = {
        "eval_loss_before": before["eval_loss"],
        "perplexity_before": before["perplexity"],
        "eval_loss_after": after.loss,
        "perplexity_after": finite_or_none(after.perplexity),
        "fill_mask_before": before["fill_mask"],
        "fill_mask_after": fill_mask(model, tokenizer, config.fill_mask_prompts, config.top_k),
        "train_rows": int(data.steps_per_epoch * config.batch_size),
        "eval_rows": int(len(data.eval_arrays["labels"])),
        "eval_masked_tokens": after.masked_tokens,
        "unigram_perplexity": unigram_perplexity(
            data.train_arrays["input_ids"],
            data.eval_arrays["labels"],
            model.config.vocab_size,
            special_ids=data.spec.special_ids,
        ),
        "steps_per_epoch": state["steps_per_epoch"],
        "total_steps": state["total_steps"],
        "warmup_steps": state["warmup_steps"],
        "epochs_completed": step // recorder.steps_per_epoch,
        "global_step": step,
        "train_runtime_seconds": seconds,
        "train_rows_per_sec": rows / seconds if seconds else None,
        "train_tokens_per_sec": rows * config.chunk_size / seconds if seconds else None,
        "parameters": int(model.count_params()),
        **hardware.record(),
        "versions": runtime.library_versions(),
    }
    save_for_hub(model, tokenizer, model_dir(run_dir))
    write_json_atomic(run_dir / RESULTS_FILE, results)
    state["status"] = "finished"
    write_json_atomic(state_path(run_dir), state)
    recorder.close()
    if recorder.verbose:
        print(f"after training: {after}", flush=True)
        epochs = recorder.history["epochs"]  # the last epoch's speed: the first includes compiling
        speed = epochs[-1].get("tokens_per_sec") if epochs else None
        line = utilisation_line(results["parameters"], speed, hardware.precision, hardware.device)
        if line:  # on a GPU listed in cost.PEAK_TFLOPS
            print(line)
    return results


class RunNotFound(FileNotFoundError):
    """No finished run where one was expected, and training it was not asked for."""


def _reopen(config: RunConfig, tokenizer: Any, verbose: int) -> TrainResult:
    """A `TrainResult` for the finished run of `config`, loaded from its folder (nothing trained)."""
    from .hub_folder import load_from_folder

    run = load_run(config.run_dir)
    changed = config_differences(run.config, config)
    if changed:
        fields = ", ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in changed.items())
        raise FileExistsError(
            f"{config.run_dir} holds a finished run of another configuration ({fields}). Choose "
            "another run_name, or start afresh (START_AFRESH = True; the finished run is kept as "
            f"<run>{PREVIOUS_SUFFIX}<time>)"
        )
    model, saved_tokenizer = load_from_folder(run.model_dir)
    notice = (
        f"{config.run_name} is already trained ({run.results.get('global_step')} steps): reopened "
        f"from {config.run_dir} without training. To train it again, start afresh "
        f"(START_AFRESH = True; the finished run is kept as <run>{PREVIOUS_SUFFIX}<time>)."
    )
    if verbose:
        print(notice)
    tokenizer = tokenizer if tokenizer is not None else saved_tokenizer
    return TrainResult(config.run_dir, config, model, tokenizer, run.history, run.results, [notice])


def train_or_resume(config: RunConfig, *, start_afresh: bool = False, **kwargs: Any) -> TrainResult:
    """Notebook 04's training cell: never lose or repeat work by accident.

    - no run yet: train it (`fine_tune`);
    - an interrupted run of the same config (a disconnect, a crash): resume it from its newest
      checkpoint (`fine_tune(resume=True)`, which refuses a run of another config);
    - a finished run of the same config: reopen it, training nothing (FileExistsError for a finished
      run of another config);
    - `start_afresh=True`: train again; an earlier run is kept as ``<run>.previous-<UTC time>``.

    `kwargs` go to `fine_tune` (`tokenizer`, `data`, `verbose`, `callbacks`, ...).
    """
    if start_afresh:
        return fine_tune(config, overwrite=True, **kwargs)
    if is_finished(config.run_dir):
        return _reopen(config, kwargs.get("tokenizer"), kwargs.get("verbose", 2))
    return fine_tune(config, resume=holds_run(config.run_dir), **kwargs)


def model_config_for(config: RunConfig) -> Any:
    """The transformers configuration of the model `config` trains, read without loading weights:
    from the Hub for a Hub id (the one network access here), except the hub profile's general model,
    distilbert-base-uncased, whose architecture transformers documents as `DistilBertConfig()`'s
    defaults."""
    from transformers import AutoConfig, DistilBertConfig

    from .paths import EMBEDDED_MODEL_DIR

    if config.model == PROFILES["hub"].general_model:
        return DistilBertConfig()
    if config.model == SCRATCH:  # the shipped tokenizer's vocabulary, the tiny_model shape
        vocab = AutoConfig.from_pretrained(EMBEDDED_MODEL_DIR).vocab_size
        return DistilBertConfig(vocab_size=vocab, **config.tiny_model)
    return AutoConfig.from_pretrained(str(local_folder(config.model, kind="model") or config.model))


def _training_cost(config: RunConfig) -> str:
    """`cost.estimate`'s phrase for a run, or a plain one when it cannot be worked out here (all
    chunks: the data decides the steps; a Hub model whose configuration cannot be read)."""
    try:
        steps = (config.train_chunks or 0) // config.batch_size  # what the data gives that many
        return estimate(config, steps, model_config_for(config)).short()
    except (ValueError, OSError):
        return "a full training run (notebook 04 prints its cost before training)"


def open_run(
    config: RunConfig,
    source: str | os.PathLike | None = None,
    *,
    train_if_missing: bool = False,
    **kwargs: Any,
) -> Run:
    """The finished run notebooks 05 and 06 read: the run of `config`, or `source`.

    - `source` None: `config.run_dir` (on Colab, Google Drive: `colab.keep_runs_on_drive`). When it
      holds no finished run, raise `RunNotFound` saying how to get one and what training costs,
      unless `train_if_missing`, which trains (or resumes) it with `train_or_resume`.
    - `source` a run folder, a Hub folder written by `model_card.write_model_card`, or the Hub id of
      a model published from one: `run_folder.open_published`.
    """
    if source is not None:
        return open_published(source)
    run_dir = config.run_dir
    if not is_finished(run_dir):
        partial = holds_run(run_dir)
        cost = _training_cost(config)
        if not train_if_missing:
            raise RunNotFound(
                f"no finished run {config.run_name!r} in {run_dir}"
                f"{' (an interrupted one is there)' if partial else ''}. Run notebook 04 first "
                f"(it {'resumes' if partial else 'trains'} it), open a published model with RUN = "
                "'<user>/<model>', or set TRAIN_IF_MISSING = True to "
                f"{'resume' if partial else 'train'} it here: {cost}."
            )
        print(
            f"{'Resuming' if partial else 'Training'} {config.run_name!r} here, as asked: {cost}."
        )
        train_or_resume(config, **kwargs)
    return load_run(run_dir)
