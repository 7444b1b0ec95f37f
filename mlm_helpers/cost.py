"""What a run costs in compute, and what share of a GPU's peak it used — arithmetic only (notebook 04).

- `estimate(config, steps_per_epoch, model_config)` → `CostEstimate`: the FLOPs of a run (6 per
  parameter and trained token, 2 per evaluated one) and its expected time on a T4, an A100 and the
  reference CPU. Notebook 04 prints it before training; a missing run's message quotes `short()`.
- `utilisation_line`: after training on a GPU, the share of its peak the run reached.

No TensorFlow and no network: the caller passes the steps per epoch the data decided and the model
configuration it resolved (a Hub model's configuration is read where the run is opened), so printing
an estimate costs nothing. `resolve_precision`, the "auto" rule, lives here so that `hardware` (for
the run) and the estimate (for each device listed) apply the same one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .checks import positive_int
from .config import RunConfig

# Dense 16-bit tensor-core peak and float32 peak, in TFLOPS, for the model-FLOPs-utilisation line.
PEAK_TFLOPS: dict[str, tuple[float, float]] = {
    "T4": (65.0, 8.1),
    "L4": (121.0, 30.3),
    "A100": (312.0, 19.5),
    "V100": (125.0, 15.7),
    "H100": (989.0, 67.0),
}
# Tensor cores that do bfloat16 (Ampere and later); a T4's (Turing) and a V100's (Volta) do float16 only.
BFLOAT16_GPUS = ("L4", "A100", "H100")

# The time estimates assume that this share of a GPU's peak goes into the model: an assumption, not a
# measurement, in the range usual for BERT-sized models trained in mixed precision with XLA. On a GPU,
# training prints the share it reached (`utilisation_line`), so a learner can compare.
ASSUMED_MFU = (0.2, 0.4)
ESTIMATE_GPUS = ("T4", "A100")
# The developer's machine, measured on the embedded profile (notebook 04, 2026-11-27): 15,639 tokens/s
# × 6 × 292,436 parameters ≈ 27 GFLOP/s, in float32. CPU estimates divide by this rate.
REFERENCE_CPU = ("a 2-core AMD EPYC (AVX2)", 27e9)
# Model types whose masked-LM layout `parameter_count` knows besides DistilBERT's.
BERT_LIKE = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "albert")
SMALL_FOR_A_GPU = 10_000_000  # parameters: below this, GPU time is overheads, not FLOPs


def resolve_precision(precision: str, accelerator: str) -> str:
    """The Keras mixed-precision policy for `precision` on `accelerator` ("auto": mixed_float16 on
    a GPU, mixed_bfloat16 on a TPU, float32 on a CPU)."""
    if precision != "auto":
        return precision
    return {"gpu": "mixed_float16", "tpu": "mixed_bfloat16"}.get(accelerator, "float32")


def arithmetic(gpu: str, precision: str) -> str:
    """What `gpu`'s matrix units compute in under policy `precision`: "float16", "bfloat16" or
    "float32" (bfloat16 on a GPU without bfloat16 tensor cores runs at no more than its float32 peak)."""
    if precision == "mixed_float16":
        return "float16"
    if precision == "mixed_bfloat16":
        return "bfloat16" if gpu in BFLOAT16_GPUS else "float32"
    return "float32"


def peak_tflops(gpu: str, precision: str) -> float:
    """`gpu`'s peak for `precision` (a resolved policy), from `PEAK_TFLOPS`."""
    half, single = PEAK_TFLOPS[gpu]
    return single if arithmetic(gpu, precision) == "float32" else half


def model_flops_utilisation(params: int, tokens_per_sec: float, tflops: float) -> float:
    """≈ 6 × parameters × tokens/s ÷ peak: the share of a device's `tflops` spent on the model
    (forward 2 and backward 4 FLOPs per parameter and token; attention's own FLOPs left out)."""
    return 6.0 * params * tokens_per_sec / (tflops * 1e12)


def gpu_model(device_name: str) -> str | None:
    """The `PEAK_TFLOPS` key of a GPU named `device_name` ("Tesla T4", "NVIDIA A100-SXM4-40GB"),
    matched as a whole word of the name: an "NVIDIA L40S" is not an L4, an "NVIDIA RTX A1000" not
    an A100. None for a GPU not listed (or no name: a CPU)."""
    words = set(re.split(r"[\s\-_/]+", device_name.upper()))
    return next((key for key in PEAK_TFLOPS if key in words), None)


def utilisation_line(
    params: int, tokens_per_sec: float | None, precision: str, device_name: str
) -> str | None:
    """ "model FLOPs utilisation ≈ …" for a GPU named `device_name` (`Hardware.device`) listed in
    `PEAK_TFLOPS`, trained under policy `precision`; None for other devices or without a speed."""
    gpu = gpu_model(device_name)
    if gpu is None or not tokens_per_sec:
        return None
    tflops = peak_tflops(gpu, precision)
    share = model_flops_utilisation(params, tokens_per_sec, tflops)
    return (
        f"model FLOPs utilisation ≈ {share:.0%} of the {device_name}'s {tflops:g} TFLOPS "
        f"(6 × {params:,} parameters × {tokens_per_sec:,.0f} tokens/s)"
    )


def parameter_count(model_config: Any) -> int:
    """The parameters of a masked-LM model, from its configuration alone (no weights): DistilBERT,
    and the BERT family (BERT, RoBERTa, ELECTRA; ALBERT's factorised embeddings and shared
    layers), as transformers' TF masked-LM classes build them.

    Embeddings (word, position, token type) with their LayerNorm; per layer the four attention
    projections, the two feed-forward matrices and two LayerNorms; the head's transform,
    LayerNorm and output bias (its output matrix is the word embeddings, tied). No pooler: the
    masked-LM classes build none. distilbert-base-uncased: 66,985,530. Other layouts: ValueError.
    """
    kind = getattr(model_config, "model_type", None)
    if kind == "distilbert":
        vocab, dim, hidden = model_config.vocab_size, model_config.dim, model_config.hidden_dim
        layers, positions, types, width = (
            model_config.n_layers,
            model_config.max_position_embeddings,
            0,
            dim,
        )
    elif kind in BERT_LIKE:
        vocab, dim = model_config.vocab_size, model_config.hidden_size
        hidden, layers = model_config.intermediate_size, model_config.num_hidden_layers
        positions, types = model_config.max_position_embeddings, model_config.type_vocab_size
        width = getattr(model_config, "embedding_size", None) or dim  # ALBERT, ELECTRA: smaller
    else:
        raise ValueError(
            f"parameter_count knows DistilBERT and the BERT family {BERT_LIKE}, not {kind!r}: "
            "build the model and use model.count_params()"
        )
    embeddings = (vocab + positions + types) * width + 2 * width
    layer = 4 * (dim * dim + dim) + (dim * hidden + hidden) + (hidden * dim + dim) + 2 * 2 * dim
    head = dim * width + width + 2 * width + vocab
    projection = width * dim + dim if width != dim or kind == "albert" else 0  # embeddings to dim
    if kind == "albert":  # shared layers: one set per group; the head has a second output bias
        groups = model_config.num_hidden_groups * model_config.inner_group_num
        return embeddings + projection + groups * layer + head + vocab
    return embeddings + projection + layers * layer + head


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
    precision: str  # the config's: "auto" is resolved for each device the estimate lists

    @property
    def train_tokens(self) -> int:
        return self.epochs * self.steps_per_epoch * self.batch_size * self.chunk_size

    @property
    def flops(self) -> float:
        """6 FLOPs per parameter and trained token (2 forward, 4 backward), 2 per evaluated one."""
        return 6.0 * self.parameters * self.train_tokens + 2.0 * self.parameters * self.eval_tokens

    def gpu_seconds(self, gpu: str) -> tuple[float, float]:
        """(fastest, slowest) compute time on `gpu` at the `ASSUMED_MFU` shares of its peak."""
        peak = peak_tflops(gpu, resolve_precision(self.precision, "gpu")) * 1e12
        return self.flops / (peak * ASSUMED_MFU[1]), self.flops / (peak * ASSUMED_MFU[0])

    def cpu_seconds(self) -> float:
        return self.flops / REFERENCE_CPU[1]

    def __str__(self) -> str:
        low, high = ASSUMED_MFU
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
        on_gpu = resolve_precision(self.precision, "gpu")
        for gpu in ESTIMATE_GPUS if self.parameters >= SMALL_FOR_A_GPU else ():
            fast, slow = self.gpu_seconds(gpu)
            lines.append(
                f"  {gpu} ({peak_tflops(gpu, on_gpu):g} TFLOPS in {arithmetic(gpu, on_gpu)}) at "
                f"{low:.0%}–{high:.0%} of peak: {_duration(fast)} – {_duration(slow)}"
            )
        cpu, rate = REFERENCE_CPU
        lines.append(
            f"  {cpu} at the {rate / 1e9:.0f} GFLOP/s it reached on the embedded profile: "
            f"{_duration(self.cpu_seconds())}"
        )
        return "\n".join(lines)

    def short(self) -> str:
        """One phrase for messages: the time on a T4, or on the reference CPU for a model too small
        to keep a GPU busy."""
        if self.parameters < SMALL_FOR_A_GPU:
            return f"about {_duration(self.cpu_seconds())} on {REFERENCE_CPU[0]} CPU"
        fast, slow = self.gpu_seconds("T4")
        return f"about {_duration(fast)} – {_duration(slow)} of compute on a T4 GPU"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(config: RunConfig, steps_per_epoch: int, model_config: Any) -> CostEstimate:
    """The compute of `config`'s run and its expected time on a T4, an A100 and the reference CPU.

    `steps_per_epoch` is the data's (`MLMDatasets.steps_per_epoch`); `model_config` the transformers
    configuration of the model trained, which the caller reads (no download here). Loading,
    tokenizing and compiling are not included. Notebook 04 prints it before training.
    """
    positive_int(steps_per_epoch, "steps_per_epoch (the data's: MLMDatasets.steps_per_epoch)")
    return CostEstimate(
        run_name=config.run_name,
        profile=config.profile,
        parameters=parameter_count(model_config),
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        batch_size=config.batch_size,
        chunk_size=config.chunk_size,
        eval_tokens=(config.eval_chunks or 0) * config.chunk_size * (config.epochs + 1),
        precision=config.precision,
    )
