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


# ----------------------------------------------------------------------------------- expected time
# The time estimates assume that this share of a GPU's peak goes into the model: an assumption, not a
# measurement, in the range usual for BERT-sized models trained in mixed precision with XLA. On a GPU,
# training prints the share it reached (`utilisation_line`), so a learner can compare.
ASSUMED_MFU = (0.2, 0.4)
ESTIMATE_GPUS = ("T4", "A100")
# The developer's machine, measured on the embedded profile (notebook 04, 2026-11-27): 15,639 tokens/s
# × 6 × 292,436 parameters ≈ 27 GFLOP/s. CPU estimates divide by this rate.
REFERENCE_CPU = ("a 2-core AMD EPYC (AVX2)", 27e9)
HUB_DEFAULT_MODEL = "distilbert-base-uncased"
SMALL_FOR_A_GPU = 10_000_000  # parameters: below this, GPU time is overheads, not FLOPs


def parameter_count(model_config: Any) -> int:
    """The parameters of a DistilBERT masked-LM model, from its configuration alone (no weights).

    Word and position embeddings with their LayerNorm; per layer the four attention projections, the
    two feed-forward matrices and two LayerNorms; the head's transform, LayerNorm and output bias
    (its output matrix is the word embeddings, tied). distilbert-base-uncased: 66,985,530.
    """
    if getattr(model_config, "model_type", None) != "distilbert":
        raise ValueError(
            f"parameter_count knows DistilBERT only, not {getattr(model_config, 'model_type', '?')!r}: "
            "build the model and use model.count_params()"
        )
    vocab, dim, hidden = model_config.vocab_size, model_config.dim, model_config.hidden_dim
    embeddings = vocab * dim + model_config.max_position_embeddings * dim + 2 * dim
    layer = 4 * (dim * dim + dim) + (dim * hidden + hidden) + (hidden * dim + dim) + 2 * 2 * dim
    head = dim * dim + dim + 2 * dim + vocab
    return embeddings + model_config.n_layers * layer + head


def model_config_for(config: RunConfig) -> Any:
    """The transformers configuration of the model `config` trains, read without loading weights.

    distilbert-base-uncased is answered offline: transformers documents `DistilBertConfig()`'s
    defaults as that model's architecture.
    """
    from transformers import AutoConfig, DistilBertConfig

    from .paths import EMBEDDED_MODEL_DIR, SCRATCH, local_folder

    if config.model == HUB_DEFAULT_MODEL:
        return DistilBertConfig()
    if config.model == SCRATCH:  # the shipped tokenizer's vocabulary, the tiny_model shape
        vocab = AutoConfig.from_pretrained(EMBEDDED_MODEL_DIR).vocab_size
        return DistilBertConfig(vocab_size=vocab, **config.tiny_model)
    return AutoConfig.from_pretrained(str(local_folder(config.model, kind="model") or config.model))


@dataclass(frozen=True)
class CostEstimate:
    """The compute a run needs, and the time it takes at an assumed share of a device's peak."""

    run_name: str
    profile: str
    parameters: int
    epochs: int
    steps_per_epoch: int
    batch_size: int
    chunk_size: int
    eval_tokens: int  # evaluated tokens over the whole run (before training and after each epoch)
    half_precision: bool

    @property
    def train_tokens(self) -> int:
        return self.epochs * self.steps_per_epoch * self.batch_size * self.chunk_size

    @property
    def flops(self) -> float:
        """6 FLOPs per parameter and trained token (2 forward, 4 backward), 2 per evaluated one."""
        return 6.0 * self.parameters * self.train_tokens + 2.0 * self.parameters * self.eval_tokens

    def gpu_seconds(self, gpu: str) -> tuple[float, float]:
        """(fastest, slowest) compute time on `gpu` at the `ASSUMED_MFU` shares of its peak."""
        half, single = PEAK_TFLOPS[gpu]
        peak = (half if self.half_precision else single) * 1e12
        return self.flops / (peak * ASSUMED_MFU[1]), self.flops / (peak * ASSUMED_MFU[0])

    def cpu_seconds(self) -> float:
        return self.flops / REFERENCE_CPU[1]

    def __str__(self) -> str:
        low, high = ASSUMED_MFU
        kind = "float16" if self.half_precision else "float32"
        lines = [
            f"{self.run_name} ({self.profile} profile): {self.epochs} epochs × "
            f"{self.steps_per_epoch:,} steps × {self.batch_size} chunks × {self.chunk_size} tokens "
            f"= {self.train_tokens:,} tokens trained, {self.eval_tokens:,} evaluated",
            f"compute: 6 × {self.parameters:,} parameters × tokens trained + 2 × parameters × "
            f"tokens evaluated ≈ {self.flops:.3g} FLOP",
        ]
        if self.parameters < SMALL_FOR_A_GPU:
            lines.append(
                f"  a GPU: no estimate, a model of {self.parameters:,} parameters cannot keep one "
                "busy (its time goes to overheads, not to FLOPs)"
            )
        for gpu in ESTIMATE_GPUS if self.parameters >= SMALL_FOR_A_GPU else ():
            fast, slow = self.gpu_seconds(gpu)
            peak = PEAK_TFLOPS[gpu][0 if self.half_precision else 1]
            lines.append(
                f"  {gpu} ({peak:g} TFLOPS in {kind}) at {low:.0%}–{high:.0%} of peak: "
                f"{_duration(fast)} – {_duration(slow)}"
            )
        cpu, rate = REFERENCE_CPU
        lines.append(
            f"  {cpu} at the {rate / 1e9:.0f} GFLOP/s it reached on the embedded profile: "
            f"{_duration(self.cpu_seconds())}"
        )
        return "\n".join(lines)

    def short(self) -> str:
        """One phrase for messages: the time on the hardware the profile is meant for."""
        if self.profile == "embedded":
            return f"about {_duration(self.cpu_seconds())} on {REFERENCE_CPU[0]} CPU"
        fast, slow = self.gpu_seconds("T4")
        return f"about {_duration(fast)} – {_duration(slow)} of compute on a T4 GPU"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(
    config: RunConfig, steps_per_epoch: int | None = None, *, model_config: Any = None
) -> CostEstimate:
    """The compute of `config`'s run and its expected time on a T4, an A100 and the reference CPU
    (notebook 04 prints it before training; `training.open_run` quotes it before training a
    missing run).

    `steps_per_epoch` defaults to ``train_chunks // batch_size`` (what training does when the data
    holds that many chunks); `model_config` to `model_config_for(config)`. Loading, tokenizing and
    compiling are not included.
    """
    if steps_per_epoch is None:
        if config.train_chunks is None:
            raise ValueError(
                "train_chunks=None (all chunks): pass steps_per_epoch, which the data decides"
            )
        steps_per_epoch = config.train_chunks // config.batch_size
    model_config = model_config if model_config is not None else model_config_for(config)
    eval_chunks = config.eval_chunks or 0
    return CostEstimate(
        run_name=config.run_name,
        profile=config.profile,
        parameters=parameter_count(model_config),
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        batch_size=config.batch_size,
        chunk_size=config.chunk_size,
        eval_tokens=eval_chunks * config.chunk_size * (config.epochs + 1),
        half_precision=config.precision != "float32",
    )
