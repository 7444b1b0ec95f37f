"""Every check of a run that can be made before any work: `check_run(config)`.

`training.train` calls it first, and `runs.open_run` before it claims or changes a run folder, so
a run that cannot work stops in a second, with the fix, before data preparation, a model build or
a file: the model and tokenizer names (a Hub id that is not cached while the Hub cannot be reached
fails at once instead of after a minute of retries: `runtime.hub_reachable`, the package's one
probe), the scratch model's shape, the chunk size against the positions of the model trained
(any model: on a GPU, `tf.gather` returns zeros for a position out of range instead of failing,
so such a run would train on wrong positions), the fill-mask prompts (each needs the mask), and
the split names of a local corpus. No TensorFlow here.
"""

from __future__ import annotations

from typing import Any

from . import runtime
from .config import MASK_PLACEHOLDER, RunConfig
from .data import check_splits, split_names
from .paths import EMBEDDED, SCRATCH, local_folder

# Models whose positions start after the padding id (RoBERTa's layout): pad_token_id + 1 fewer.
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer")


def check_run(config: RunConfig, *, tokenizer: Any = None) -> None:
    """Raise ValueError (`data.DataError` for the corpus) naming the problem and the fix, for
    anything in `config` that would fail later. `tokenizer`: the one the run will use, if already
    loaded (else it is loaded only when a prompt lacks ``[MASK]``, to read its mask token)."""
    for name in dict.fromkeys((config.model, config.tokenizer_name)):
        check_model_name(name)
    check_tiny_model(config)
    check_positions(config, model_configuration(config))
    _check_prompts(config, tokenizer)
    available = split_names(config.dataset)
    if available is not None:
        check_splits(config, available, (*config.train_splits, config.eval_split))


def check_model_name(name: str) -> None:
    """A model name the run can load: "embedded", "scratch", an existing folder, or a Hub id that
    is cached or reachable. Offline, an uncached Hub id fails here at once (ValueError); a name
    written as a path whose folder does not exist raises FileNotFoundError (`paths.local_folder`)."""
    folder = local_folder(name, kind="model")
    if folder is not None or _cached_config(name) is not None or runtime.hub_reachable():
        return
    raise ValueError(
        f"model {name!r} is not a local folder and not in the Hugging Face cache, and the Hub "
        "cannot be reached (offline or HF_HUB_OFFLINE=1). Fix: check the id, connect once so that "
        f"it is downloaded, or give a local folder in Hub format, {EMBEDDED!r} or {SCRATCH!r} "
        "(RunConfig.model / tokenizer)"
    )


def _cached_config(name: str) -> str | None:
    """The cached config.json of Hub model `name`, or None (read from the cache: no network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        return None
    return found if isinstance(found, str) else None


def check_tiny_model(config: RunConfig) -> None:
    """The scratch model's shape (`RunConfig.tiny_model`) can be built: positive integer sizes, and
    a width that the attention heads divide (DistilBERT asserts it, without a message)."""
    if config.model != SCRATCH:
        return
    shape = dict(config.tiny_model)
    for key in ("n_layers", "dim", "n_heads", "hidden_dim", "max_position_embeddings"):
        value = shape.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ValueError(
                f"RunConfig.tiny_model {key}={value!r} is invalid: it must be a positive integer"
            )
    dim, heads = shape.get("dim", 768), shape.get("n_heads", 12)
    if dim % heads:
        raise ValueError(
            f"RunConfig.tiny_model dim={dim} is not a multiple of n_heads={heads} (each attention "
            f"head takes dim / n_heads features): choose dim={heads * max(dim // heads, 1)} or "
            f"n_heads dividing {dim} (--set tiny_model.dim=...)"
        )


def model_configuration(config: RunConfig) -> Any:
    """The transformers configuration of the model `config` trains, read without weights or
    network where possible (a Hub id: from the cache, else fetched); None when unknowable here."""
    from transformers import AutoConfig, DistilBertConfig

    if config.model == SCRATCH:
        return DistilBertConfig(**config.tiny_model)
    folder = local_folder(config.model, kind="model")
    if folder is None:
        cached = _cached_config(config.model)
        if cached is None and not runtime.hub_reachable():
            return None
        folder = cached.rsplit("/", 1)[0] if cached else config.model
    try:
        return AutoConfig.from_pretrained(str(folder))
    except (OSError, ValueError):
        return None  # `hub_folder.load_model` says what is wrong with it


def max_positions(model_config: Any) -> int | None:
    """The longest input `model_config`'s model takes (RoBERTa-like models lose pad_token_id + 1
    of their ``max_position_embeddings``); None when it does not say."""
    limit = getattr(model_config, "max_position_embeddings", None)
    if limit is None:
        return None
    if getattr(model_config, "model_type", None) in OFFSET_POSITIONS:
        limit -= (getattr(model_config, "pad_token_id", None) or 0) + 1
    return int(limit)


def check_positions(config: RunConfig, model_config: Any) -> None:
    """`config.chunk_size` fits the positions of the model trained (`max_positions`)."""
    limit = None if model_config is None else max_positions(model_config)
    if limit is not None and config.chunk_size > limit:
        raise ValueError(
            f"chunk_size={config.chunk_size} is larger than the {limit} positions of the model "
            f"{config.model!r} (its max_position_embeddings): choose RunConfig.chunk_size <= "
            f"{limit} (--set chunk_size={limit}). On a GPU a position out of range is no error: "
            "the model would silently read zeros for it"
        )


def check_prompt(prompt: str, mask_token: str | None = None) -> None:
    """A fill-mask prompt names the word to predict: ``[MASK]`` (or the tokenizer's own mask)."""
    if MASK_PLACEHOLDER in prompt or (mask_token and mask_token in prompt):
        return
    raise ValueError(
        f"prompt {prompt!r} has no {MASK_PLACEHOLDER}: write the word to predict as "
        f"{MASK_PLACEHOLDER}, e.g. 'This is a great {MASK_PLACEHOLDER}.' "
        "(RunConfig.fill_mask_prompts)"
    )


def _check_prompts(config: RunConfig, tokenizer: Any) -> None:
    lacking = [p for p in config.fill_mask_prompts if MASK_PLACEHOLDER not in p]
    if lacking and tokenizer is None:
        from .data import load_tokenizer

        tokenizer = load_tokenizer(config)
    for prompt in lacking:
        check_prompt(prompt, getattr(tokenizer, "mask_token", None))
