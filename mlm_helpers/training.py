"""Stage 04 — fine-tuning: model, precision, strategy, optimizer + schedule, fit, checkpoints, resume.

`fine_tune(config)` is the one call notebook 04 and the command line (`python -m mlm_helpers train`)
make. What it does, in order, and why:

1. **Hardware first.** The precision policy (auto: mixed_float16 on a GPU, mixed_bfloat16 on a TPU,
   float32 on a CPU) is set *before* the model exists — a policy set afterwards leaves the model in
   float32. XLA (`jit_compile`) is on for GPU/TPU. The model and the optimizer are created inside
   the distribution strategy's scope.
2. **A schedule with the right numbers.** Total steps = the real number of batches per epoch ×
   epochs; warmup (a fraction or a step count) must be shorter than that, otherwise a ValueError says
   so — the decay never gets negative steps (the bug that froze the original model card's learning
   rate at 0 for half its epochs). AdamWeightDecay skips LayerNorm weights and biases.
3. **The loss in float32**, per masked token (`evaluation.masked_lm_loss`, which also runs the
   last block's feed-forward network and the vocabulary head only at masked positions), with loss
   scaling under mixed_float16.
4. **A run folder that survives a disconnect** (docs/run-folder.md): config.json, history.json
   rewritten atomically as training goes, TensorBoard logs, checkpoints with the weights, optimizer
   state, step and dropout random state. ``resume=True`` continues bit-for-bit where the last
   checkpoint left off: the input stream restarts at the same epoch and batch (stage 03 makes epoch
   e's order and masks a function of (seed, e) only), and dropout is re-seeded from (seed, epoch) at
   every epoch start, its generator state being part of mid-epoch checkpoints.
5. A NaN/inf loss stops the run with `TrainingDiverged`; the last good checkpoint and the history
   stay on disk. At the end the model and tokenizer are saved in Hub format and all_results.json
   records before/after perplexity and fill-mask, throughput and versions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import runtime
from .config import EMBEDDED, SCRATCH, RunConfig
from .evaluation import (
    EvalResult,
    MaskedLMEvaluator,
    fill_mask,
    masked_lm_loss,
    unigram_perplexity,
)

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
RESULTS_FILE = "all_results.json"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"  # inside checkpoints/: progress and the before-training evaluation
MODEL_DIR = "model"
PREVIOUS_SUFFIX = ".previous"  # overwrite=True moves the earlier run to <run_dir>.previous
LOGS_DIR = "logs"
TRAINING_OUTPUTS = (HISTORY_FILE, RESULTS_FILE, CHECKPOINT_DIR, MODEL_DIR, LOGS_DIR)

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
STEP_FLUSH_EVERY = 25  # history.json is rewritten at least every this many steps
CHECKPOINTS_KEPT = 3

# XLA on the CPU: measured with benchmarks/training.py on the embedded tiny model (2 cores, batch
# 32 × 128 tokens) it compiles for ~10 s and then trains no faster (≈570 rows/s with or without it,
# 2026-11-26), so the CPU default is off.
CPU_JIT_DEFAULT = False

# Dense 16-bit tensor-core peak and float32 peak, in TFLOPS, for the model-FLOPs-utilisation line.
PEAK_TFLOPS: dict[str, tuple[float, float]] = {
    "T4": (65.0, 8.1),
    "L4": (121.0, 30.3),
    "A100": (312.0, 19.5),
    "V100": (125.0, 15.7),
    "H100": (989.0, 67.0),
}


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint was kept."""


class ResumeError(RuntimeError):
    """A run folder cannot be resumed with this configuration."""


class SimulatedDisconnect(RuntimeError):
    """Raised by `interrupt_at`'s callback: stands for a Colab runtime lost mid-training."""


# ----------------------------------------------------------------------------------- hardware
def resolve_precision(precision: str, accelerator: str) -> str:
    """The Keras mixed-precision policy for `precision` ("auto" picks by accelerator)."""
    if precision != "auto":
        return precision
    return {"gpu": "mixed_float16", "tpu": "mixed_bfloat16"}.get(accelerator, "float32")


def resolve_jit(jit_compile: bool | str, accelerator: str) -> bool:
    """Whether to compile the training step with XLA ("auto": on for GPU/TPU, `CPU_JIT_DEFAULT` on
    a CPU)."""
    if jit_compile == "auto":
        return accelerator in ("gpu", "tpu") or CPU_JIT_DEFAULT
    return bool(jit_compile)


@contextlib.contextmanager
def training_policies(precision: str) -> Iterator[None]:
    """Set the global Keras policies a model must be *built* under, and restore them on exit.

    - the mixed-precision policy `precision` ("float32", "mixed_float16", "mixed_bfloat16");
    - `tf.random.Generator`-backed dropout, whose state can be re-seeded per epoch and saved in
      checkpoints (the legacy random ops keep their state inside TensorFlow, out of reach).
    Build the model inside this block. Used by `fine_tune` and the tests.
    """
    keras = runtime.import_keras()
    previous_policy = keras.mixed_precision.global_policy()
    previous_rng = keras.backend.experimental.is_tf_random_generator_enabled()
    keras.mixed_precision.set_global_policy(precision)
    keras.backend.experimental.enable_tf_random_generator()
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        if not previous_rng:
            keras.backend.experimental.disable_tf_random_generator()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.strip("/")


def build_model(config: RunConfig, tokenizer: Any) -> Any:
    """The masked-LM model a run trains (call inside `training_policies` and the strategy scope).

    ``config.model``: ``"embedded"`` is the tiny general-language DistilBERT shipped in the package
    (`data.EMBEDDED_MODEL_DIR`), ``"scratch"`` a fresh `TFDistilBertForMaskedLM` sized by
    ``config.tiny_model`` with the tokenizer's vocabulary (how the shipped model was pre-trained),
    anything else `from_pretrained(config.model)` — a Hub id or a local folder in Hub format.
    Notebook 04.
    """
    from transformers import DistilBertConfig, TFAutoModelForMaskedLM, TFDistilBertForMaskedLM

    from .data import EMBEDDED_MODEL_DIR

    if config.model == SCRATCH:
        model_config = DistilBertConfig(
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **config.tiny_model
        )
        model = TFDistilBertForMaskedLM(model_config)
    else:
        name = str(EMBEDDED_MODEL_DIR) if config.model == EMBEDDED else config.model
        path = Path(name).expanduser()
        if _looks_like_path(name) and not path.exists():
            raise FileNotFoundError(
                f"model folder not found: {name!r}. Give a Hub model id (e.g. "
                "'distilbert-base-uncased'), a folder saved with save_pretrained, 'embedded' or "
                "'scratch'"
            )
        if path.is_dir() and not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{name!r} has no config.json, so it is not a model folder in Hub format: save the "
                "model there with model.save_pretrained(folder)"
            )
        try:
            model = TFAutoModelForMaskedLM.from_pretrained(str(path) if path.exists() else name)
        except OSError as err:
            raise OSError(
                f"could not load the model {name!r}: {err}\nOffline? Use the 'embedded' "
                "profile or a local folder in Hub format."
            ) from err
        vocab = model.config.vocab_size
        if len(tokenizer) > vocab:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model {name!r} only {vocab}: "
                "use the model's own tokenizer (RunConfig.tokenizer=None)"
            )
    _build_layers(model)
    return model


def _build_layers(model: Any) -> None:
    """Run one tiny forward pass so every layer (and every dropout generator) exists."""
    dummy = {"input_ids": np.zeros((1, 2), np.int32), "attention_mask": np.ones((1, 2), np.int32)}
    model(dummy, training=False)


def dropout_generators(model: Any) -> list[Any]:
    """The `tf.random.Generator` of every dropout layer of `model`, in a fixed order.

    Empty when the model was built without `training_policies` (legacy random ops).
    """
    keras = runtime.import_keras()
    generators = []
    for layer in model.submodules:
        if isinstance(layer, keras.layers.Dropout):
            # Keras keeps the generator private; there is no public accessor (tf-keras 2.21).
            generator = getattr(getattr(layer, "_random_generator", None), "_generator", None)
            if generator is not None:
                generators.append(generator)
    return generators


def reseed_dropout(generators: Sequence[Any], seed: int, epoch: int) -> None:
    """Reset every dropout generator to a state fixed by (seed, epoch, layer index).

    Called at the start of every epoch, so epoch e's dropout is the same whether the run went
    straight through or was resumed at epoch e.
    """
    for index, generator in enumerate(generators):
        derived = int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])
        generator.reset_from_seed(derived)


# ----------------------------------------------------------------------------------- schedule
def count_steps(config: RunConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(total optimizer steps, warmup steps) of a run with `steps_per_epoch` batches per epoch.

    `config.warmup` < 1 is a fraction of the total (rounded), >= 1 a number of steps. Raises
    ValueError, naming both numbers, when the warmup is not shorter than the run.
    """
    if not isinstance(steps_per_epoch, int | np.integer) or steps_per_epoch < 1:
        raise ValueError(
            f"steps_per_epoch={steps_per_epoch!r} must be a positive integer: with "
            f"batch_size={config.batch_size}, is there at least one full batch?"
        )
    total = int(steps_per_epoch) * config.epochs
    warmup = int(round(config.warmup * total)) if config.warmup < 1 else int(config.warmup)
    if warmup >= total:
        raise ValueError(
            f"warmup of {warmup} steps is not shorter than the {total} training steps "
            f"({steps_per_epoch} per epoch × {config.epochs} epochs), so the learning rate would "
            "never decay: lower RunConfig.warmup (e.g. a fraction such as 0.1) or train longer"
        )
    return total, warmup


@functools.cache
def _schedule_class() -> type:
    keras = runtime.import_keras()
    tf = runtime.import_tensorflow()

    class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warmup from 0 to `peak` over `warmup_steps`, then linear decay that reaches 0
        just as the last of `total_steps` is done.

        Called with the 0-based optimizer iteration; step n = iteration + 1 (1-based) gets
        ``peak·n/W`` while n <= W, then ``peak·(T+1-n)/(T+1-max(W, 1))``: the peak at step W
        (step 1 without warmup), a positive rate at every step, ``peak/(T+1-W)`` at the last
        one and 0 after it.
        """

        def __init__(self, peak: float, warmup_steps: int, total_steps: int) -> None:
            super().__init__()
            if not 0 <= warmup_steps < total_steps:
                raise ValueError(
                    f"need 0 <= warmup_steps ({warmup_steps}) < total_steps ({total_steps})"
                )
            self.peak = float(peak)
            self.warmup_steps = int(warmup_steps)
            self.total_steps = int(total_steps)

        def __call__(self, step: Any) -> Any:
            n = tf.cast(step, tf.float32) + 1.0
            warmup = float(self.warmup_steps)
            rising = self.peak * n / max(warmup, 1.0)
            span = float(self.total_steps + 1 - max(self.warmup_steps, 1))
            falling = self.peak * (float(self.total_steps) + 1.0 - n) / span
            return tf.maximum(tf.where(n <= warmup, rising, falling), 0.0)

        def get_config(self) -> dict[str, Any]:
            return {
                "peak": self.peak,
                "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps,
            }

    return LinearWarmupDecay


def make_schedule(config: RunConfig, steps_per_epoch: int) -> Any:
    """The learning-rate schedule of a run (a Keras `LearningRateSchedule`)."""
    total, warmup = count_steps(config, steps_per_epoch)
    return _schedule_class()(config.learning_rate, warmup, total)


def learning_rate_curve(config: RunConfig, steps_per_epoch: int) -> np.ndarray:
    """The learning rate used at every step 1..total, from the very schedule training uses.

    Notebook 04 plots it before training. Index i holds the rate of step i + 1; the rate after the
    last step (index total) is 0 and not included.
    """
    tf = runtime.import_tensorflow()
    schedule = make_schedule(config, steps_per_epoch)
    return schedule(tf.range(schedule.total_steps)).numpy().astype(np.float64)


def plot_learning_rate_schedule(config: RunConfig, steps_per_epoch: int) -> Any:
    """Figure: the learning rate per step, with warmup end and epoch boundaries marked (notebook 04)."""
    import matplotlib.pyplot as plt

    rates = learning_rate_curve(config, steps_per_epoch)
    total, warmup = count_steps(config, steps_per_epoch)
    steps = np.arange(1, total + 1)
    fig, ax = plt.subplots()
    ax.plot(steps, rates, color="tab:blue", label="learning rate")
    for epoch in range(1, config.epochs):
        ax.axvline(
            epoch * steps_per_epoch,
            color="grey",
            linestyle=":",
            linewidth=1,
            label="epoch boundary" if epoch == 1 else None,
        )
    if warmup:
        ax.axvline(
            warmup, color="tab:orange", linestyle="--", label=f"end of warmup (step {warmup})"
        )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, total + 1)
    ax.set_ylim(0, config.learning_rate * 1.08)
    ax.set_title(f"Linear warmup and decay: {total} steps, peak {config.learning_rate:g}")
    ax.legend(loc="upper right")
    return fig


def make_optimizer(config: RunConfig, schedule: Any, precision: str) -> Any:
    """AdamWeightDecay on `schedule` (no decay on LayerNorm weights and biases, global-norm
    clipping), wrapped in a LossScaleOptimizer under mixed_float16. Create it in the strategy scope.
    """
    from transformers import AdamWeightDecay

    keras = runtime.import_keras()
    optimizer = AdamWeightDecay(
        learning_rate=schedule,
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
@functools.cache
def _trainer_class() -> type:
    keras = runtime.import_keras()
    tf = runtime.import_tensorflow()

    class MaskedLMTrainer(keras.Model):
        """Wraps a transformers masked-LM model with our train step for `fit`.

        The loss is `evaluation.masked_lm_loss` (float32, per masked token of the *global* batch: each
        replica divides its sum by the all-replica count, and gradients are summed across
        replicas). `optimizer.minimize` applies loss scaling when the optimizer is a
        LossScaleOptimizer. Logs the batch's loss and masked-token count, identical on all replicas.
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

    return MaskedLMTrainer


def interrupt_at(step: int) -> Any:
    """A Keras callback that raises `SimulatedDisconnect` once the optimizer has made `step` steps:
    a reproducible stand-in for a lost runtime (notebook 04's resume demo and the tests)."""
    keras = runtime.import_keras()

    class InterruptAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if int(self.model.optimizer.iterations.numpy()) == step:
                raise SimulatedDisconnect(f"simulated disconnect after step {step}")

    return InterruptAt()


def make_trainer(
    model: Any, optimizer: Any, *, jit_compile: bool, prediction_share: float = 0.15
) -> Any:
    """The compiled Keras model `fit` runs (create it in the strategy scope). `prediction_share`
    (the masking probability) sizes the vocabulary head's slots (`evaluation.masked_lm_loss`)."""
    # Create Adam's slot variables now: created inside the first trace of the train step, they
    # make tf.function trace it a second time.
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # inside a LossScaleOptimizer
    create_slots = getattr(inner, "_create_all_weights", None)  # legacy Keras optimizers
    if create_slots is not None:
        create_slots(model.trainable_variables)
    trainer = _trainer_class()(model, prediction_share)
    trainer.compile(optimizer=optimizer, jit_compile=jit_compile)
    return trainer


# ----------------------------------------------------------------------------------- run folder
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


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def config_differences(saved: Mapping[str, Any], current: RunConfig) -> dict[str, tuple[Any, Any]]:
    """{field: (saved, current)} for fields that differ and matter for resuming."""
    now = current.to_dict()
    return {
        name: (saved.get(name), value)
        for name, value in now.items()
        if name not in RESUMABLE_CHANGES and saved.get(name) != value
    }


def _prepare_run_dir(config: RunConfig, *, resume: bool, overwrite: bool) -> Path:
    """Check the run folder against the request; clear it for `overwrite`. Returns its path."""
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
        # Starting again never destroys the previous run outright: it is moved aside, replacing
        # only an older copy moved there the same way.
        previous = run_dir.with_name(run_dir.name + PREVIOUS_SUFFIX)
        if previous.exists():
            shutil.rmtree(previous)
        previous.mkdir(parents=True)
        for name in (*TRAINING_OUTPUTS, CONFIG_FILE):
            target = run_dir / name
            if target.exists():
                shutil.move(str(target), str(previous / name))
    if resume and (run_dir / CONFIG_FILE).is_file():
        saved = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        differences = config_differences(saved, config)
        if differences:
            listed = "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in differences.items())
            raise ResumeError(
                f"cannot resume {run_dir}: the configuration differs in fields that change what is "
                f"trained ({listed}). Use the saved configuration (RunConfig.load('{run_dir}/"
                f"{CONFIG_FILE}')) or start a new run with another run_name"
            )
    return run_dir


@dataclass
class TrainResult:
    """What `fine_tune` returns: the run folder, the trained model and tokenizer, and the records
    written to history.json and all_results.json."""

    run_dir: Path
    config: RunConfig
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    history: dict[str, list[dict[str, Any]]] = field(repr=False)
    results: dict[str, Any] = field(repr=False)

    def __str__(self) -> str:
        r = self.results
        return (
            f"{self.run_dir.name}: {_plural(r['epochs_completed'], 'epoch')}, "
            f"{r['global_step']} steps; eval loss {r['eval_loss_before']:.4f} -> {r['eval_loss_after']:.4f}, "
            f"perplexity {r['perplexity_before']:.2f} -> {r['perplexity_after']:.2f}"
        )


# ----------------------------------------------------------------------------------- the loop
@dataclass
class _Plan:
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    rates: np.ndarray
    tokens_per_row: int
    batch_size: int
    epochs: int
    seed: int
    checkpoint_every: int | None


@functools.cache
def _callback_class() -> type:
    keras = runtime.import_keras()

    class RunRecorder(keras.callbacks.Callback):
        """Per-step and per-epoch bookkeeping during `fit`: history, TensorBoard, evaluation,
        checkpoints, dropout re-seeding and NaN detection (state lives in `_Session`)."""

        def __init__(self, session: _Session) -> None:
            super().__init__()
            self.session = session

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.session.epoch_begin(epoch)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if not self.session.batch_end(logs or {}):
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.session.epoch_end(epoch)

    return RunRecorder


class _Session:
    """The mutable state of one `fine_tune` call (kept out of the Keras callback for clarity)."""

    def __init__(
        self,
        *,
        config: RunConfig,
        plan: _Plan,
        run_dir: Path,
        model: Any,
        optimizer: Any,
        evaluator: MaskedLMEvaluator,
        eval_dataset: Any,
        generators: list[Any],
        history: dict[str, list],
        state: dict[str, Any],
        verbose: int,
    ) -> None:
        tf = runtime.import_tensorflow()
        self.tf = tf
        self.config, self.plan, self.run_dir = config, plan, run_dir
        self.model, self.optimizer = model, optimizer
        self.evaluator, self.eval_dataset = evaluator, eval_dataset
        self.generators, self.history, self.state = generators, history, state
        self.verbose = verbose
        # Progress that must survive a restart lives in the checkpoint: loss sum and masked tokens
        # of the current epoch so far, its training seconds, and all training seconds.
        self.progress = tf.Variable(np.zeros(4), dtype=tf.float64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, dropout_rng=list(generators), progress=self.progress
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(run_dir / CHECKPOINT_DIR), max_to_keep=CHECKPOINTS_KEPT
        )
        self.writer = tf.summary.create_file_writer(str(run_dir / LOGS_DIR))
        self.epoch_loss = self.epoch_tokens = self.epoch_seconds = self.total_seconds = 0.0
        self.clock = time.perf_counter()
        self.unflushed = 0
        self.diverged: str | None = None
        self.last_eval: EvalResult | None = None

    # ---------------------------------------------------------------- progress
    @property
    def global_step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> bool:
        """Restore the latest checkpoint; False when there is none."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        loss, tokens, seconds, total = (float(v) for v in self.progress.numpy())
        self.epoch_loss, self.epoch_tokens, self.epoch_seconds = loss, tokens, seconds
        self.total_seconds = total
        return True

    def _elapsed(self) -> float:
        now = time.perf_counter()
        elapsed, self.clock = now - self.clock, now
        return elapsed

    def save(self) -> None:
        """Checkpoint now and record where we are in state.json."""
        self.progress.assign(
            [self.epoch_loss, self.epoch_tokens, self.epoch_seconds, self.total_seconds]
        )
        step = self.global_step
        path = self.manager.save(checkpoint_number=step)
        spe = self.plan.steps_per_epoch
        self.state.update(
            global_step=step,
            epochs_completed=step // spe,
            batches_into_epoch=step % spe,
            checkpoint=Path(path).name,
            train_seconds=self.total_seconds,
            status="running",
        )
        self.flush()
        write_json_atomic(self.run_dir / CHECKPOINT_DIR / STATE_FILE, self.state)

    def close(self) -> None:
        """Write history.json and the TensorBoard events, and release the event file."""
        self.flush()
        self.writer.close()

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Write scalars for TensorBoard (logs/). `tf.summary.write` with the scalar plugin's
        metadata needs only TensorFlow; `tf.summary.scalar` would need the tensorboard package."""
        with self.writer.as_default(step=step):
            for tag, value in values.items():
                self.tf.summary.write(
                    tag, self.tf.constant(value, self.tf.float32), metadata=_SCALAR_METADATA()
                )

    def flush(self) -> None:
        write_json_atomic(self.run_dir / HISTORY_FILE, self.history)
        self.writer.flush()
        self.unflushed = 0

    # ---------------------------------------------------------------- callback hooks
    def epoch_begin(self, epoch: int) -> None:
        if self.global_step % self.plan.steps_per_epoch == 0:  # a fresh epoch, not a resumed one
            reseed_dropout(self.generators, self.plan.seed, epoch)
            self.epoch_loss = self.epoch_tokens = self.epoch_seconds = 0.0
        self.clock = time.perf_counter()

    def batch_end(self, logs: Mapping[str, Any]) -> bool:
        """Record one step; False (stop) when its loss is not finite."""
        elapsed = self._elapsed()
        self.epoch_seconds += elapsed
        self.total_seconds += elapsed
        step = self.global_step
        loss = float(logs["loss"])
        epoch = (step - 1) // self.plan.steps_per_epoch + 1
        if not math.isfinite(loss):
            self.diverged = (
                f"the training loss became {loss} at step {step} (epoch {epoch}). Training "
                f"stopped; the last good checkpoint ({self.manager.latest_checkpoint or 'none'}) "
                f"and history.json are kept in {self.run_dir}. Lower learning_rate (now "
                f"{self.config.learning_rate:g}) or clip_norm, or train in float32"
            )
            return False
        tokens = float(logs["masked_tokens"])
        self.epoch_loss += loss * tokens
        self.epoch_tokens += tokens
        rate = float(self.plan.rates[step - 1])
        self.history["steps"].append(
            {"step": step, "epoch": epoch, "loss": loss, "learning_rate": rate}
        )
        self.scalars(step, {"train/loss": loss, "train/learning_rate": rate})
        self.unflushed += 1
        every = self.plan.checkpoint_every
        if every and step % every == 0 and step % self.plan.steps_per_epoch != 0:
            self.save()
        elif self.unflushed >= STEP_FLUSH_EVERY:
            self.flush()
        return True

    def epoch_end(self, epoch: int) -> None:
        if self.diverged:
            return
        self.clock = time.perf_counter()  # the epoch's seconds were counted step by step
        step = self.global_step
        result = self.evaluator.evaluate(self.eval_dataset)
        self.last_eval = result
        rows = self.plan.steps_per_epoch * self.plan.batch_size
        seconds = self.epoch_seconds
        record = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": self.epoch_loss / max(self.epoch_tokens, 1.0),
            "eval_loss": result.loss,
            "perplexity": _finite_or_none(result.perplexity),
            "learning_rate": float(self.plan.rates[step - 1]),
            "tokens_per_sec": rows * self.plan.tokens_per_row / seconds if seconds else None,
            "seconds": seconds,
        }
        self.history["epochs"].append(record)
        self.scalars(
            step,
            {
                f"epoch/{name}": record[name]
                for name in ("train_loss", "eval_loss", "perplexity", "tokens_per_sec")
                if record[name] is not None
            },
        )
        self.save()  # history first (inside save), then the checkpoint index is final
        if self.verbose:
            print(format_epoch(record, self.plan.epochs), flush=True)


@functools.cache
def _SCALAR_METADATA() -> Any:  # noqa: N802 - a constant, built lazily (needs TensorFlow)
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
    metadata.plugin_data.plugin_name = "scalars"
    return metadata.SerializeToString()


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def format_epoch(record: Mapping[str, Any], epochs: int) -> str:
    """One line per epoch, without timings (so notebook output is the same on every run)."""
    perplexity = record["perplexity"]
    shown = f"{perplexity:.2f}" if perplexity is not None else "inf"
    return (
        f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4f}, "
        f"eval loss {record['eval_loss']:.4f}, perplexity {shown}, "
        f"learning rate {record['learning_rate']:.2e}"
    )


def _gpu_peak(precision: str) -> tuple[str, float] | None:
    """(GPU name, peak TFLOPS for `precision`) from `PEAK_TFLOPS`, or None if unknown."""
    tf = runtime.import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    for key, (half, single) in PEAK_TFLOPS.items():
        if key in name.upper().replace("TESLA ", ""):
            return name, half if precision.startswith("mixed") else single
    return None


def model_flops_utilisation(params: int, tokens_per_sec: float, peak_tflops: float) -> float:
    """≈ 6 × parameters × tokens/s ÷ peak: the share of the device's peak spent on the model."""
    return 6.0 * params * tokens_per_sec / (peak_tflops * 1e12)


# ----------------------------------------------------------------------------------- fine_tune
def prepare_data(
    config: RunConfig, *, tokenizer: Any = None, chunks: Any = None, reviews: Any = None
) -> tuple[Any, Any]:
    """(tokenizer, `masking.MLMDatasets`) for a run: stages 01-03 in one call.

    Training chunks come only from ``config.train_splits`` and evaluation chunks only from
    ``config.eval_split`` (RunConfig refuses an eval split that is also a training split), so the
    evaluation is held out. `chunks` (stage 02's ``{"train", "eval"}``) or `reviews` skip the
    steps already done. Notebook 04 and `fine_tune`.
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

    - `resume`: continue from the last checkpoint of the run folder (refused if the saved
      config.json differs in a field that matters); starts afresh when there is no checkpoint.
    - `overwrite`: start again; an earlier run in the folder is first moved to
      `<run_dir>.previous` (replacing an older copy there). Without `resume` or `overwrite`, an
      existing run is never touched (FileExistsError).
    - `tokenizer`, `chunks`, `data`: reuse what earlier steps built (``chunks`` = stage 02's
      ``{"train", "eval"}``, ``data`` = `prepare_data`'s datasets, built for this `config`);
      rebuilt from `config` when omitted.
    - `verbose`: 0 silent; 1 Keras progress bars + one line per epoch; 2 one line per epoch only
      (no timings: the same text every run).
    - `callbacks`: extra Keras callbacks for `fit`.
    - `deterministic`: TensorFlow op determinism (default: on for a CPU, off on GPU/TPU for speed).

    Raises `TrainingDiverged` on a NaN/inf loss (keeping the last good checkpoint and the history).
    Notebook 04 and ``python -m mlm_helpers train``.
    """
    tf = runtime.import_tensorflow()
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose={verbose!r} must be 0, 1 or 2")
    config.validate()
    if data is None:
        tokenizer, data = prepare_data(config, tokenizer=tokenizer, chunks=chunks)
    else:
        _check_data(data, config, tokenizer)
    total, warmup = count_steps(config, data.steps_per_epoch)  # refuse bad numbers before any work
    run_dir = _prepare_run_dir(config, resume=resume, overwrite=overwrite)

    accelerator = runtime.detect_accelerator()
    precision = resolve_precision(config.precision, accelerator)
    jit = resolve_jit(config.jit_compile, accelerator)
    if deterministic is None:
        deterministic = accelerator == "cpu"
    state_path = run_dir / CHECKPOINT_DIR / STATE_FILE
    state = _read_json(state_path, {}) if resume else {}
    if state and state.get("precision") != precision:
        raise ResumeError(
            f"{run_dir} was trained with precision {state.get('precision')!r} but this run would "
            f"use {precision!r} (on {accelerator}): set RunConfig.precision="
            f"{state.get('precision')!r} to resume it"
        )

    config.save(run_dir / CONFIG_FILE)
    history = (
        _read_json(run_dir / HISTORY_FILE, {"steps": [], "epochs": []})
        if resume
        else {"steps": [], "epochs": []}
    )
    runtime.seed_everything(config.seed, deterministic=deterministic, tensorflow=True)
    strategy = runtime.get_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    if jit and accelerator == "cpu" and replicas > 1:
        # XLA compiles for one device and cannot reach variables on the other logical CPUs.
        jit = False
        if verbose:
            print("XLA is off: it cannot compile across several logical CPU devices.")
    plan = _Plan(
        steps_per_epoch=data.steps_per_epoch,
        total_steps=total,
        warmup_steps=warmup,
        rates=np.zeros(0),
        tokens_per_row=config.chunk_size,
        batch_size=config.batch_size,
        epochs=config.epochs,
        seed=config.seed,
        checkpoint_every=config.checkpoint_every_steps,
    )

    with training_policies(precision):
        with strategy.scope():
            model = build_model(config, tokenizer)
            schedule = _schedule_class()(config.learning_rate, warmup, total)
            optimizer = make_optimizer(config, schedule, precision)
            trainer = make_trainer(
                model, optimizer, jit_compile=jit, prediction_share=config.mlm_probability
            )
        plan.rates = schedule(tf.range(total)).numpy().astype(np.float64)
        generators = dropout_generators(model)
        evaluator = MaskedLMEvaluator(
            model, jit_compile=jit, prediction_share=config.mlm_probability
        )
        state.update(
            precision=precision,
            steps_per_epoch=plan.steps_per_epoch,
            total_steps=total,
            warmup_steps=warmup,
        )
        session = _Session(
            config=config,
            plan=plan,
            run_dir=run_dir,
            model=model,
            optimizer=optimizer,
            evaluator=evaluator,
            eval_dataset=data.eval,
            generators=generators,
            history=history,
            state=state,
            verbose=verbose,
        )
        restored = resume and session.restore()
        if verbose:
            what = "Resuming" if restored else "Training"
            print(
                f"{what} {run_dir.name}: {_plural(config.epochs, 'epoch')} × "
                f"{plan.steps_per_epoch} steps "
                f"(batch {config.batch_size}, {total} steps, warmup {warmup}) on {accelerator}: "
                f"{precision}, XLA {'on' if jit else 'off'}, {replicas} "
                f"replica{'s' if replicas > 1 else ''}",
                flush=True,
            )
        if "before" not in state or not restored:
            before = evaluator.evaluate(data.eval)
            state["before"] = {
                "eval_loss": before.loss,
                "perplexity": _finite_or_none(before.perplexity),
                "fill_mask": fill_mask(model, tokenizer, config.fill_mask_prompts, config.top_k),
            }
            write_json_atomic(state_path, state)
            if verbose:
                print(f"before training: {before}", flush=True)

        step = session.global_step
        recorder = _callback_class()(session)
        fit_callbacks = [recorder, *callbacks]
        keras_verbose = 1 if verbose == 1 else 0
        try:
            first_epoch, skip = divmod(step, plan.steps_per_epoch)
            if skip:  # finish the interrupted epoch first
                trainer.fit(
                    data.train_from(first_epoch, skip),
                    epochs=first_epoch + 1,
                    initial_epoch=first_epoch,
                    steps_per_epoch=plan.steps_per_epoch - skip,
                    callbacks=fit_callbacks,
                    verbose=keras_verbose,
                )
                first_epoch += 1
            if first_epoch < config.epochs and not session.diverged:
                trainer.fit(
                    data.train_from(first_epoch),
                    epochs=config.epochs,
                    initial_epoch=first_epoch,
                    steps_per_epoch=plan.steps_per_epoch,
                    callbacks=fit_callbacks,
                    verbose=keras_verbose,
                )
        except BaseException:
            session.close()  # whatever happened, the steps seen so far are on disk
            raise
        session.flush()
        if session.diverged:
            session.close()
            state["status"] = "diverged"
            write_json_atomic(state_path, state)
            raise TrainingDiverged(session.diverged)

        after = session.last_eval or evaluator.evaluate(data.eval)
        results = _final_results(
            config,
            session,
            state,
            after,
            model,
            tokenizer,
            data,
            precision=precision,
            jit=jit,
            replicas=replicas,
            accelerator=accelerator,
        )
        model.save_pretrained(str(run_dir / MODEL_DIR))
        tokenizer.save_pretrained(str(run_dir / MODEL_DIR))
        write_json_atomic(run_dir / RESULTS_FILE, results)
        state["status"] = "finished"
        write_json_atomic(state_path, state)
        session.close()
        if verbose:
            print(f"after training: {after}", flush=True)
            if accelerator == "gpu":  # last epoch's speed: the first one includes compiling
                last = history["epochs"][-1] if history["epochs"] else {}
                _print_mfu(results["parameters"], last.get("tokens_per_sec"), precision)
    return TrainResult(
        run_dir=run_dir,
        config=config,
        model=model,
        tokenizer=tokenizer,
        history=history,
        results=results,
    )


def _final_results(
    config: RunConfig,
    session: _Session,
    state: dict[str, Any],
    after: EvalResult,
    model: Any,
    tokenizer: Any,
    data: Any,
    *,
    precision: str,
    jit: bool,
    replicas: int,
    accelerator: str,
) -> dict[str, Any]:
    """all_results.json's content (docs/run-folder.md)."""
    step = session.global_step
    seconds = session.total_seconds
    rows = step * config.batch_size
    before = state["before"]
    return {
        "eval_loss_before": before["eval_loss"],
        "perplexity_before": before["perplexity"],
        "eval_loss_after": after.loss,
        "perplexity_after": _finite_or_none(after.perplexity),
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
        "epochs_completed": step // session.plan.steps_per_epoch,
        "global_step": step,
        "train_runtime_seconds": seconds,
        "train_rows_per_sec": rows / seconds if seconds else None,
        "train_tokens_per_sec": rows * config.chunk_size / seconds if seconds else None,
        "parameters": int(model.count_params()),
        "precision": precision,
        "jit_compile": jit,
        "replicas": replicas,
        "accelerator": accelerator,
        "versions": runtime.library_versions(),
    }


def _print_mfu(params: int, tokens_per_sec: float | None, precision: str) -> None:
    """On a GPU listed in `PEAK_TFLOPS`, print the model FLOPs utilisation; otherwise nothing."""
    peak = _gpu_peak(precision)
    if peak is None or not tokens_per_sec:
        return
    name, tflops = peak
    share = model_flops_utilisation(params, tokens_per_sec, tflops)
    print(
        f"model FLOPs utilisation ≈ {share:.0%} of the {name}'s {tflops:g} TFLOPS "
        f"(6 × {params:,} parameters × {tokens_per_sec:,.0f} tokens/s)"
    )


def ensure_run(config: RunConfig, **kwargs: Any) -> Path:
    """The run folder of `config`, with a finished run in it: trained first if missing, resumed if
    interrupted. Lets notebooks 05 and 06 run on their own (e.g. fresh in Colab); `kwargs` go to
    `fine_tune`."""
    run_dir = config.run_dir
    if (run_dir / RESULTS_FILE).is_file() and (run_dir / MODEL_DIR).is_dir():
        return run_dir
    if (run_dir / CHECKPOINT_DIR).is_dir():
        print(f"Run {config.run_name!r} was interrupted: resuming it with notebook 04's code.")
        fine_tune(config, resume=True, **kwargs)
    else:
        print(f"No finished run {config.run_name!r} yet: training it with notebook 04's code.")
        fine_tune(config, **kwargs)
    return run_dir
