"""What a run trains on: device, precision, XLA and replicas, resolved once into a `Hardware` value.

`Hardware.resolve(config)` turns the config's "auto" settings into decisions for this machine:

- **precision**: mixed_float16 on a GPU, mixed_bfloat16 on a TPU, float32 on a CPU. The policy must be
  in effect *while the model is built* (`Hardware.policies()`); one set afterwards leaves the model
  in float32 — a trap of the recipe this replaces.
- **XLA** (`jit_compile`): on for GPU/TPU; off on a CPU, where it compiles for ~10 s and then trains no
  faster (benchmarks/training.py, tiny model, 2 cores, 2026-11-26), and off across several logical
  CPUs, whose variables one XLA cluster cannot reach.
- **replicas**: the `tf.distribute` strategy's; the model and optimizer are created in its scope.
- **workers** (``strategy="multi_worker"``, several machines through ``TF_CONFIG``): how many, and
  whether this one is the **chief**, the only one that writes the run folder; the others write
  what TensorFlow asks every worker to write (checkpoints, the saved model) to a temporary folder
  of their own (`Hardware.write_dir`), removed at the end.
- **determinism**: TensorFlow op determinism on a CPU (bit-identical reruns), off on GPU/TPU for speed.

Notebook 04 prints these decisions before training. The arithmetic of a run's cost (FLOPs, peaks,
utilisation) is `cost`'s, which needs no TensorFlow; `Hardware.device` names the GPU for its
utilisation line.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runtime
from .config import RunConfig
from .cost import resolve_precision

tf = runtime.import_tensorflow()
keras = runtime.import_keras()


def resolve_jit(jit_compile: bool | str, accelerator: str) -> bool:
    """Whether to compile the training step with XLA ("auto": on for GPU/TPU, off on a CPU, where
    it does not pay off; see the module docstring)."""
    if jit_compile == "auto":
        return accelerator in ("gpu", "tpu")
    return bool(jit_compile)


@dataclass(frozen=True)
class Hardware:
    """The decisions `fine_tune` makes about the machine, in one value (recorded in all_results.json)."""

    accelerator: str
    precision: str
    jit: bool
    replicas: int
    deterministic: bool
    strategy: Any = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = ()
    device: str = ""  # the first GPU's name ("Tesla T4"), for `cost.utilisation_line`
    workers: int = 1
    chief: bool = True  # the one worker that writes the run folder
    task: str = ""  # this worker's place in TF_CONFIG ("worker 1"), with several workers

    @classmethod
    def resolve(cls, config: RunConfig, *, deterministic: bool | None = None) -> Hardware:
        """This machine's decisions for `config` (see the module docstring). Creates the strategy."""
        accelerator = runtime.detect_accelerator()
        gpus = tf.config.list_physical_devices("GPU") if accelerator == "gpu" else []
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        strategy = runtime.get_strategy(config.strategy)
        replicas = strategy.num_replicas_in_sync
        jit = resolve_jit(config.jit_compile, accelerator)
        notes = ()
        if jit and accelerator == "cpu" and replicas > 1:
            jit = False
            notes = ("XLA is off: it cannot compile across several logical CPU devices.",)
        workers, task = _cluster(strategy)
        return cls(
            accelerator=accelerator,
            precision=resolve_precision(config.precision, accelerator),
            jit=jit,
            replicas=replicas,
            deterministic=accelerator == "cpu" if deterministic is None else deterministic,
            strategy=strategy,
            notes=notes,
            device=details.get("device_name", ""),
            workers=workers,
            chief=bool(strategy.extended.should_checkpoint),
            task=task,
        )

    def __str__(self) -> str:
        replicas = f"{self.replicas} replica{'s' if self.replicas > 1 else ''}"
        if self.workers > 1:
            replicas += f" on {self.workers} workers"
        return (
            f"{self.accelerator}: {self.precision}, XLA {'on' if self.jit else 'off'}, {replicas}"
        )

    def write_dir(self, run_dir: Path) -> Path:
        """Where this worker writes: the run folder on the chief; on any other worker a temporary
        folder of its own (the caller removes it), as TensorFlow asks of every worker's saves."""
        if self.chief:
            return run_dir
        return Path(tempfile.mkdtemp(prefix=f"{run_dir.name}-{self.task.replace(' ', '')}-"))

    def policies(self) -> contextlib.AbstractContextManager[None]:
        """`training_policies` for this precision: build the model inside it."""
        return training_policies(self.precision)

    def record(self) -> dict[str, Any]:
        """The fields all_results.json records (``workers`` only when there are several)."""
        record = {
            "precision": self.precision,
            "jit_compile": self.jit,
            "replicas": self.replicas,
            "accelerator": self.accelerator,
        }
        return record if self.workers == 1 else {**record, "workers": self.workers}


def _cluster(strategy: Any) -> tuple[int, str]:
    """(workers, this task as "worker 1" or "chief 0") of a multi-worker strategy; (1, "") else."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec() if resolver is not None else None
    if not spec or not spec.jobs:
        return 1, ""
    workers = sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs)
    return workers, f"{resolver.task_type} {resolver.task_id}"


@contextlib.contextmanager
def training_policies(precision: str) -> Iterator[None]:
    """Set the global Keras policies a model must be *built* under, and restore them on exit.

    - the mixed-precision policy `precision` ("float32", "mixed_float16", "mixed_bfloat16");
    - `tf.random.Generator`-backed dropout, whose state can be re-seeded per epoch and saved in
      checkpoints (the legacy random ops keep their state inside TensorFlow, out of reach).
    """
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
