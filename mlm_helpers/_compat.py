"""Every reach into another library's private or undocumented API, in one place.

The rest of the package calls these functions and never touches a private name itself. Each reach
was written against the pinned stack (mlm_helpers/constraints.txt: tf-keras 2.21, transformers 4.57.6,
huggingface_hub 0.36); `check()` tries every one of them, and `runtime.check_stack` turns a failure
into an error that names the reach and the fix, instead of a confusing AttributeError mid-training.

| reach | why there is no public way |
|---|---|
| `Dropout._random_generator._generator` | the `tf.random.Generator` behind dropout: its state goes into checkpoints, so a resumed run drops the same units |
| `optimizer._create_all_weights` | creates Adam's slots before the first trace of the train step, which would otherwise be traced twice |
| DistilBERT's blocks and self-attention called with positional arguments | `evaluation.masked_lm_loss` runs the last block after its attention only at the masked positions |
| `huggingface_hub.utils._paths.DEFAULT_IGNORE_PATTERNS` | the files `upload_folder` skips, so a dry run lists exactly what would be sent |
| `tensorflow.core.framework.summary_pb2` | scalar metadata for `tf.summary.write`, so TensorBoard logs need no `tensorboard` package |
"""

from __future__ import annotations

import inspect
from typing import Any

PINNED = "tf-keras 2.21, transformers 4.57.6, huggingface_hub 0.36 (mlm_helpers/constraints.txt)"
_BLOCK_ARGS = ["self", "x", "attn_mask", "head_mask", "output_attentions", "training"]
_ATTENTION_ARGS = [
    "self",
    "query",
    "key",
    "value",
    "mask",
    "head_mask",
    "output_attentions",
    "training",
]
DISTILBERT_HEAD = ("distilbert", "vocab_transform", "act", "vocab_layer_norm", "vocab_projector")
DISTILBERT_BLOCK = ("attention", "sa_layer_norm", "ffn", "output_layer_norm")


# ----------------------------------------------------------------------------------- tf-keras
def dropout_generator(layer: Any) -> Any | None:
    """The `tf.random.Generator` behind a Keras Dropout layer; None when the layer uses the legacy
    stateless ops (built outside `keras.backend.experimental.enable_tf_random_generator`)."""
    return getattr(getattr(layer, "_random_generator", None), "_generator", None)


def create_optimizer_slots(optimizer: Any, variables: Any) -> None:
    """Create the optimizer's slot variables for `variables` now (legacy Keras optimizers), also
    inside a LossScaleOptimizer. Does nothing for optimizers that create them lazily."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    create = getattr(inner, "_create_all_weights", None)
    if create is not None:
        create(variables)


def scalar_summary_metadata() -> bytes:
    """Serialized metadata that marks a `tf.summary.write` value as a TensorBoard scalar."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
    metadata.plugin_data.plugin_name = "scalars"
    return metadata.SerializeToString()


# ----------------------------------------------------------------------------------- transformers
def is_distilbert_mlm(model: Any) -> bool:
    """Whether `model` has the parts of a `TFDistilBertForMaskedLM` that `evaluation.masked_lm_loss`
    calls one by one (embeddings, transformer blocks, vocabulary head)."""
    if not all(hasattr(model, name) for name in DISTILBERT_HEAD):
        return False
    base = model.distilbert
    blocks = getattr(getattr(base, "transformer", None), "layer", None)
    return (
        hasattr(base, "embeddings")
        and bool(blocks)
        and all(hasattr(blocks[-1], name) for name in DISTILBERT_BLOCK)
    )


def distilbert_block(block: Any, hidden: Any, attention_mask: Any, *, training: bool) -> Any:
    """One DistilBERT transformer block, called as `TFTransformer` calls it (no head mask, no
    attention weights); returns its output."""
    return block(hidden, attention_mask, None, False, training=training)[-1]


def distilbert_self_attention(
    block: Any, hidden: Any, attention_mask: Any, *, training: bool
) -> Any:
    """The self-attention of a DistilBERT block (before its residual and layer norm)."""
    return block.attention(hidden, hidden, hidden, attention_mask, None, False, training=training)[
        0
    ]


# ----------------------------------------------------------------------------------- huggingface_hub
def hub_ignore_patterns() -> list[str]:
    """The patterns `HfApi.upload_folder` always skips (e.g. ``.git``, ``.cache/huggingface``)."""
    from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

    return list(DEFAULT_IGNORE_PATTERNS)


# ----------------------------------------------------------------------------------- the check
def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def check(keras: Any) -> list[str]:
    """Try every reach above against the installed libraries; return what is broken (empty: all
    fine). `keras` is tf-keras as `runtime.import_keras` returns it (`runtime.check_stack` passes
    it, so this module imports nothing of the package); imports transformers and huggingface_hub."""
    problems = []
    was_on = keras.backend.experimental.is_tf_random_generator_enabled()
    keras.backend.experimental.enable_tf_random_generator()
    try:
        dropout = keras.layers.Dropout(0.1, seed=1)
        dropout(keras.backend.ones((1, 2)), training=True)
        if dropout_generator(dropout) is None:
            problems.append(
                "tf-keras Dropout no longer keeps its generator at _random_generator._generator"
            )
    finally:
        if not was_on:
            keras.backend.experimental.disable_tf_random_generator()

    from transformers import AdamWeightDecay, DistilBertConfig, TFDistilBertForMaskedLM
    from transformers.models.distilbert import modeling_tf_distilbert as distilbert

    if not callable(getattr(AdamWeightDecay, "_create_all_weights", None)):
        problems.append(
            "transformers' AdamWeightDecay (a legacy Keras optimizer) has no _create_all_weights"
        )
    if _parameters(distilbert.TFTransformerBlock.call) != _BLOCK_ARGS:
        problems.append(f"TFTransformerBlock.call's parameters are no longer {_BLOCK_ARGS[1:]}")
    if _parameters(distilbert.TFMultiHeadSelfAttention.call) != _ATTENTION_ARGS:
        problems.append(
            f"TFMultiHeadSelfAttention.call's parameters are no longer {_ATTENTION_ARGS[1:]}"
        )
    tiny = DistilBertConfig(vocab_size=8, dim=8, n_layers=1, n_heads=2, hidden_dim=8)
    model = TFDistilBertForMaskedLM(tiny)
    if not is_distilbert_mlm(model):
        problems.append(
            f"TFDistilBertForMaskedLM no longer has the parts {DISTILBERT_HEAD} and blocks with "
            f"{DISTILBERT_BLOCK}"
        )
    try:
        if not hub_ignore_patterns():
            problems.append("huggingface_hub's DEFAULT_IGNORE_PATTERNS is empty")
    except ImportError:
        problems.append("huggingface_hub.utils._paths.DEFAULT_IGNORE_PATTERNS is gone")
    try:
        scalar_summary_metadata()
    except (ImportError, AttributeError):
        problems.append("tensorflow.core.framework.summary_pb2 has no scalar SummaryMetadata")
    return problems
