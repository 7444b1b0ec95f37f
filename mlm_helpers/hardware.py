"""What a run trains on: device, precision, XLA and replicas, resolved once into a `Hardware` value.

`Hardware.resolve(config)` turns the config's "auto" settings into decisions for this machine:

- **precision**: mixed_float16 on a GPU, mixed_bfloat16 on a TPU, float32 on a CPU. The policy must be
  in effect *while the model is built* (`Hardware.policies()`); one set afterwards leaves the model
  in float32 — a trap of the recipe this replaces.
- **XLA** (`jit_compile`): on for GPU/TPU; off on a CPU, where it compiles for ~10 s and then trains no
  faster (benchmarks/training.py, tiny model, 2 cores, 2026-11-26), and off across several logical
  CPUs, whose variables one XLA cluster cannot reach.
- **replicas**: the `tf.distribute` strategy's; the model and optimizer are created in its scope.
- **determinism**: TensorFlow op determinism on a CPU (bit-identical reruns), off on GPU/TPU for speed.

Notebook 04 prints these decisions before training. `model_flops_utilisation` says how much of a
GPU's peak a run used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import runtime
from .config import RunConfig

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

CPU_JIT_DEFAULT = False  # see the module docstring

# Dense 16-bit tensor-core peak and float32 peak, in TFLOPS, for the model-FLOPs-utilisation line.
PEAK_TFLOPS: dict[str, tuple[float, float]] = {
    "T4": (65.0, 8.1),
    "L4": (121.0, 30.3),
    "A100": (312.0, 19.5),
    "V100": (125.0, 15.7),
    "H100": (989.0, 67.0),
}


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

    @classmethod
    def resolve(cls, config: RunConfig, *, deterministic: bool | None = None) -> Hardware:
        """This machine's decisions for `config` (see the module docstring). Creates the strategy."""
        accelerator = runtime.detect_accelerator()
        strategy = runtime.get_strategy(config.strategy)
        replicas = strategy.num_replicas_in_sync
        jit = resolve_jit(config.jit_compile, accelerator)
        notes = ()
        if jit and accelerator == "cpu" and replicas > 1:
            jit = False
            notes = ("XLA is off: it cannot compile across several logical CPU devices.",)
        return cls(
            accelerator=accelerator,
            precision=resolve_precision(config.precision, accelerator),
            jit=jit,
            replicas=replicas,
            deterministic=accelerator == "cpu" if deterministic is None else deterministic,
            strategy=strategy,
            notes=notes,
        )

    def __str__(self) -> str:
        replicas = f"{self.replicas} replica{'s' if self.replicas > 1 else ''}"
        return (
            f"{self.accelerator}: {self.precision}, XLA {'on' if self.jit else 'off'}, {replicas}"
        )

    def policies(self) -> contextlib.AbstractContextManager[None]:
        """`training_policies` for this precision: build the model inside it."""
        return training_policies(self.precision)

    def record(self) -> dict[str, Any]:
        """The fields all_results.json records."""
        return {
            "precision": self.precision,
            "jit_compile": self.jit,
            "replicas": self.replicas,
            "accelerator": self.accelerator,
        }


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


# ----------------------------------------------------------------------------------- utilisation
def gpu_peak(precision: str) -> tuple[str, float] | None:
    """(GPU name, peak TFLOPS for `precision`) from `PEAK_TFLOPS`, or None if unknown."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    for key, (half, single) in PEAK_TFLOPS.items():
        if key in name.upper().replace("TESLA ", ""):
            return name, half if precision.startswith("mixed") else single
    return None


def model_flops_utilisation(params: int, tokens_per_sec: float, peak_tflops: float) -> float:
    """≈ 6 × parameters × tokens/s ÷ peak: the share of the device's peak spent on the model
    (forward 2 and backward 4 FLOPs per parameter and token; attention's own FLOPs left out)."""
    return 6.0 * params * tokens_per_sec / (peak_tflops * 1e12)


def utilisation_line(params: int, tokens_per_sec: float | None, precision: str) -> str | None:
    """ "model FLOPs utilisation ≈ …" on a GPU listed in `PEAK_TFLOPS`; None elsewhere."""
    peak = gpu_peak(precision)
    if peak is None or not tokens_per_sec:
        return None
    name, tflops = peak
    share = model_flops_utilisation(params, tokens_per_sec, tflops)
    return (
        f"model FLOPs utilisation ≈ {share:.0%} of the {name}'s {tflops:g} TFLOPS "
        f"(6 × {params:,} parameters × {tokens_per_sec:,.0f} tokens/s)"
    )
