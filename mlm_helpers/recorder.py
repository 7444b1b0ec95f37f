"""What a run records while it trains, and how it picks up again: the `RunRecorder` callback.

During `fit`, the recorder
- appends every step's loss and learning rate to history.json (rewritten atomically at least every
  `STEP_FLUSH_EVERY` steps) and to TensorBoard's logs/;
- evaluates on the held-out chunks at every epoch end and records the epoch;
- checkpoints at every epoch end (and every `checkpoint_every_steps`): weights, optimizer, the
  dropout generators' state and the epoch's running sums, then notes progress in state.json;
- re-seeds dropout from (seed, epoch) at every epoch start, so a resumed epoch drops the same units;
- stops the run when the loss is NaN or infinite, keeping the last good checkpoint.

`interrupt_at(step)` is the other callback: a reproducible stand-in for a lost Colab runtime.

`restore()` loads the newest readable checkpoint back (an older one when the newest is corrupt,
saying so) and drops the history recorded after it. The run-folder format is `run_folder`'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _compat, runtime
from .config import RunConfig
from .evaluation import EvalResult
from .run_folder import (
    CHECKPOINT_DIR,
    HISTORY_FILE,
    LOGS_DIR,
    RESUME_FIX,
    ResumeError,
    RunState,
    write_json_atomic,
)

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

STEP_FLUSH_EVERY = 25  # history.json is rewritten at least every this many steps
CHECKPOINTS_KEPT = 3


def dropout_generators(model: Any) -> list[Any]:
    """The `tf.random.Generator` of every dropout layer of `model`, in a fixed order.

    Empty when the model was built without `hardware.training_policies` (legacy random ops).
    """
    dropouts = [layer for layer in model.submodules if isinstance(layer, keras.layers.Dropout)]
    generators = [_compat.dropout_generator(layer) for layer in dropouts]
    return [generator for generator in generators if generator is not None]


def reseed_dropout(generators: Sequence[Any], seed: int, epoch: int) -> None:
    """Reset every dropout generator to a state fixed by (seed, epoch, layer index).

    Called at the start of every epoch, so epoch e's dropout is the same whether the run went
    straight through or was resumed at epoch e.
    """
    for index, generator in enumerate(generators):
        derived = int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])
        generator.reset_from_seed(derived)


def finite_or_none(value: float) -> float | None:
    """`value`, or None for NaN/inf (JSON has no infinities)."""
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


class RunRecorder(keras.callbacks.Callback):
    """The bookkeeping of one training run, as a Keras callback (see the module docstring).

    `mlm` is the transformers model (Keras calls the compiled trainer `self.model`) and `optimizer`
    its optimizer: both go into the checkpoints. Everything is written to `run_dir`; `restore`
    reads the checkpoints of `restore_dir` (default: `run_dir`; a non-chief worker writes to its
    temporary folder and restores the chief's). `evaluate()` evaluates on the held-out chunks.
    `history` is history.json's content (updated in place); `state`, set before `fit` (the state
    restored, or the run's first), is state.json's, replaced by a new `RunState` at every checkpoint.
    """

    def __init__(
        self,
        *,
        config: RunConfig,
        steps_per_epoch: int,
        run_dir: Path,
        mlm: Any,
        optimizer: Any,
        evaluate: Callable[[], EvalResult],
        history: dict[str, list],
        verbose: int,
        restore_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.config, self.steps_per_epoch, self.run_dir = config, steps_per_epoch, run_dir
        self.restore_dir = run_dir if restore_dir is None else restore_dir
        # logged per step: the rate each step really used (the optimizer's KerasSchedule looks it up)
        self.rates = optimizer.learning_rate.schedule.curve()
        self.mlm, self.optimizer = mlm, optimizer
        self.evaluate = evaluate
        self.history, self.verbose = history, verbose
        self.state: RunState | None = None  # set by training before `fit`: the saved or first state
        self.generators = dropout_generators(mlm)
        # Progress that must survive a restart lives in the checkpoint: loss sum and masked tokens
        # of the current epoch so far, its training seconds, and all training seconds.
        self.progress = tf.Variable(np.zeros(4), dtype=tf.float64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            model=mlm,
            optimizer=optimizer,
            dropout_rng=list(self.generators),
            progress=self.progress,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(run_dir / CHECKPOINT_DIR), max_to_keep=CHECKPOINTS_KEPT
        )
        self.writer = tf.summary.create_file_writer(str(run_dir / LOGS_DIR))
        self.scalar_metadata = _compat.scalar_summary_metadata()
        self.epoch_loss = self.epoch_tokens = self.epoch_seconds = self.total_seconds = 0.0
        self.clock = time.perf_counter()
        self.unflushed = 0
        self.diverged: str | None = None
        self.last_eval: EvalResult | None = None
        self.notices: list[str] = []  # what `restore` had to do besides restoring (printed)

    # ---------------------------------------------------------------- progress
    @property
    def global_step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> bool:
        """Restore the newest readable checkpoint and drop the history recorded after its step
        (the resumed run records those steps again); False when there is no checkpoint.

        A checkpoint that cannot be read (cut off, files missing) is skipped for the next older
        one, with a notice in `notices`; ResumeError when none can be read.
        """
        candidates = list(reversed(self.manager.checkpoints))  # newest first
        if self.restore_dir != self.run_dir:  # a worker restores what the chief saved
            saved = tf.train.get_checkpoint_state(str(self.restore_dir / CHECKPOINT_DIR))
            candidates = list(reversed(saved.all_model_checkpoint_paths)) if saved else []
        if not candidates:
            return False
        path, failures = _newest_readable(self.checkpoint, candidates)
        if path is None:
            raise ResumeError(
                f"cannot resume {self.run_dir}: its newest checkpoint {candidates[0]} cannot be "
                f"read ({failures[0]}), nor can the older ones ({len(candidates) - 1}). "
                f"{RESUME_FIX}"
            )
        if failures:
            self.notices.append(
                f"checkpoint {candidates[0]} cannot be read ({failures[0]}): falling back to "
                f"{path} (step {self.global_step}); the steps after it are trained again"
            )
        loss, tokens, seconds, total = (float(v) for v in self.progress.numpy())
        self.epoch_loss, self.epoch_tokens, self.epoch_seconds = loss, tokens, seconds
        self.total_seconds = total
        step = self.global_step
        for kind in ("steps", "epochs"):
            self.history[kind][:] = [r for r in self.history[kind] if r["step"] <= step]
        self.flush()
        return True

    def save(self) -> None:
        """Checkpoint now and record where we are in state.json."""
        self.progress.assign(
            [self.epoch_loss, self.epoch_tokens, self.epoch_seconds, self.total_seconds]
        )
        step = self.global_step
        path = self.manager.save(checkpoint_number=step)
        self.state = self.state.at_checkpoint(step, Path(path).name, self.total_seconds)
        self.flush()
        self.state.write(self.run_dir)

    def flush(self) -> None:
        """Rewrite history.json and flush the TensorBoard events."""
        write_json_atomic(self.run_dir / HISTORY_FILE, self.history)
        self.writer.flush()
        self.unflushed = 0

    def close(self) -> None:
        """Write history.json and the TensorBoard events, and release the event file."""
        self.flush()
        self.writer.close()

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Write scalars for TensorBoard (logs/). `tf.summary.write` with the scalar plugin's
        metadata needs only TensorFlow; `tf.summary.scalar` would need the tensorboard package."""
        with self.writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.write(tag, tf.constant(value, tf.float32), metadata=self.scalar_metadata)

    def _elapsed(self) -> float:
        now = time.perf_counter()
        elapsed, self.clock = now - self.clock, now
        return elapsed

    # ---------------------------------------------------------------- Keras hooks
    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if self.global_step % self.steps_per_epoch == 0:  # a fresh epoch, not a resumed one
            reseed_dropout(self.generators, self.config.seed, epoch)
            self.epoch_loss = self.epoch_tokens = self.epoch_seconds = 0.0
        self.clock = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if not self.record_step(logs or {}):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.diverged:
            return
        self.clock = time.perf_counter()  # the epoch's seconds were counted step by step
        step = self.global_step
        result = self.evaluate()
        self.last_eval = result
        rows = self.steps_per_epoch * self.config.batch_size
        seconds = self.epoch_seconds
        record = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": self.epoch_loss / max(self.epoch_tokens, 1.0),
            "eval_loss": result.loss,
            "perplexity": finite_or_none(result.perplexity),
            "learning_rate": float(self.rates[step - 1]),
            "tokens_per_sec": rows * self.config.chunk_size / seconds if seconds else None,
            "seconds": seconds,
        }
        self.history["epochs"].append(record)
        shown = ("train_loss", "eval_loss", "perplexity", "tokens_per_sec")
        self.scalars(
            step, {f"epoch/{name}": record[name] for name in shown if record[name] is not None}
        )
        self.save()  # history first (inside save), then the checkpoint index is final
        if self.verbose:
            print(format_epoch(record, self.config.epochs), flush=True)

    def record_step(self, logs: Mapping[str, Any]) -> bool:
        """Record one optimizer step; False (stop) when its loss is not finite."""
        elapsed = self._elapsed()
        self.epoch_seconds += elapsed
        self.total_seconds += elapsed
        step = self.global_step
        loss = float(logs["loss"])
        epoch = (step - 1) // self.steps_per_epoch + 1
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
        rate = float(self.rates[step - 1])
        self.history["steps"].append(
            {"step": step, "epoch": epoch, "loss": loss, "learning_rate": rate}
        )
        self.scalars(step, {"train/loss": loss, "train/learning_rate": rate})
        self.unflushed += 1
        every = self.config.checkpoint_every_steps
        if every and step % every == 0 and step % self.steps_per_epoch != 0:
            self.save()
        elif self.unflushed >= STEP_FLUSH_EVERY:
            self.flush()
        return True


def _newest_readable(
    checkpoint: Any, candidates: Sequence[str], *, partial: bool = False
) -> tuple[str | None, list[str]]:
    """Restore the first of `candidates` (newest first) that `checkpoint` can read: (its path, or
    None when none can be read; why each one before it could not). `partial`: `checkpoint` holds
    only part of what was saved (no warning about the rest)."""
    failures = []
    for path in candidates:
        try:
            status = checkpoint.restore(path).assert_existing_objects_matched()
            if partial:
                status.expect_partial()
            return path, failures
        except (IndexError, ValueError, AssertionError, tf.errors.OpError) as err:
            failures.append(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
    return None, failures


def restore_weights(run_dir: Path, model: Any) -> str:
    """Load the model weights of `run_dir`'s newest readable checkpoint into `model` (built as
    training built it; the optimizer and the rest are not read) and return the checkpoint's path:
    re-saving a finished run's lost model, `runs.open_run(mode="resave")`. ResumeError when no
    checkpoint can be read."""
    state = tf.train.get_checkpoint_state(str(run_dir / CHECKPOINT_DIR))
    candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
    weights_only = tf.train.Checkpoint(model=model)
    path, failures = _newest_readable(weights_only, candidates, partial=True)
    if path is None:
        why = f"none can be read ({failures[0]})" if failures else "it holds no checkpoint"
        raise ResumeError(
            f"cannot re-save the model of {run_dir} from {run_dir / CHECKPOINT_DIR}: {why}. "
            "Restore model/ or the checkpoints from a backup, or train the run again "
            '(mode="afresh", --mode afresh, keeps this folder)'
        )
    return path


class SimulatedDisconnect(ConnectionError):
    """Raised by `interrupt_at`'s callback: stands for a Colab runtime lost mid-training (a
    `ConnectionError`, so a notebook can catch it by that built-in name)."""


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
