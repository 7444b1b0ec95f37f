"""Stage 06: a Hub-ready folder, its model card, and a safe upload (notebook 06_publish_to_hub).

The flow of notebook 06:

    folder = run_folder.model_dir(run_dir)    # training saved the model and tokenizer there
    write_model_card(run_dir, folder)         # README.md (+ the loss figure) from the run folder
    publish(folder, "you/distilbert-imdb", dry_run=True)   # what would be sent, nothing sent
    publish(folder, "you/distilbert-imdb")    # create the repo (private by default) and upload

The run folder is read through `run_folder` (its format lives there). The model card's
learning-rate line is the `describe()` of the very schedule training used
(`schedule.LinearWarmupDecay.from_config`), so the card cannot name a schedule the code did not run.

Safety rules kept here so that no notebook has to remember them: the Hub token is read from the
environment, a Colab secret or the cached login, and is never printed, logged or written to a file;
every check that can fail runs before anything is sent; a failed upload never touches the local
folder.

TensorFlow is imported only by `save_for_hub`/`load_from_folder` (the model itself) and by the model
card of a run whose steps per epoch are recorded (for its schedule sentence); importing this module,
the token functions, the folder checks and `publish` do not import it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _compat, run_folder
from .config import RunConfig
from .paths import EMBEDDED, EMBEDDED_DATASET_DIR, SCRATCH, local_folder

MODEL_CONFIG_FILE = "config.json"  # transformers' model configuration (not the run's config.json)
CARD_FILE = "README.md"
LOSS_FIGURE = "loss_curves.png"
WEIGHTS_FILE = "tf_model.h5"
TOKEN_ENV = "HF_TOKEN"
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")
DEFAULT_COMMIT_MESSAGE = "Upload masked-LM model, tokenizer and model card (mlm_helpers)"
HUB_URL = "https://huggingface.co"
# Files small and textual enough to scan for a pasted token before uploading them.
_TEXT_SUFFIXES = {".md", ".json", ".txt", ".yaml", ".yml", ".py", ".ipynb", ".cfg", ".toml", ""}

_NO_TOKEN_HELP = (
    "No Hugging Face token was found, so nothing was sent and the local folder is unchanged.\n"
    "Create a token with 'write' access at https://huggingface.co/settings/tokens, then either\n"
    "  - on Colab: add it as a secret named HF_TOKEN (key icon in the left bar) and allow this "
    "notebook to read it,\n"
    "  - elsewhere: set the environment variable HF_TOKEN before starting Jupyter, or run "
    "`huggingface-cli login` (or `login_interactively()` in the notebook) once,\n"
    "and run this cell again. Never paste the token into a notebook cell."
)


class PublishError(RuntimeError):
    """The upload did not happen (or did not finish); the message says how to retry."""


# ----------------------------------------------------------------------------- save / load
def save_for_hub(model: Any, tokenizer: Any, folder: str | os.PathLike) -> Path:
    """Save a TF masked-LM model (weights + config.json) and its tokenizer in Hub format.

    `save_pretrained` also records the architecture (e.g. DistilBertForMaskedLM) in config.json,
    which is what lets the Hub pick the fill-mask widget. Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if not (folder / MODEL_CONFIG_FILE).is_file():  # some custom models do not write it themselves
        model.config.save_pretrained(folder)
    return folder


def load_from_folder(folder: str | os.PathLike) -> tuple[Any, Any]:
    """Load (TF model, tokenizer) from a folder in Hub format, without touching the network:
    a check that what will be uploaded loads back as saved."""
    folder = Path(folder)
    if not (folder / MODEL_CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"{folder} holds no config.json, so it is not a saved model. Fix: save one with "
            "save_for_hub(model, tokenizer, folder), or point at <run_dir>/model."
        )
    from .runtime import import_tensorflow

    import_tensorflow()  # legacy Keras must be in effect before transformers' TF classes load
    from transformers import AutoTokenizer, TFAutoModelForMaskedLM

    model = TFAutoModelForMaskedLM.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model, tokenizer


# ----------------------------------------------------------------------------- model card
def _local_source(name: str, kind: str) -> Path | None:
    """The local folder a run's model or dataset name stands for (`paths.local_folder`); None for
    a Hub id. A name written as a path whose folder is gone (deleted since, or the run was trained
    on another machine) still counts as local: the card must not call it a Hub id."""
    try:
        return local_folder(name, kind=kind)
    except FileNotFoundError:
        return Path(name).expanduser()


def _is_hub_id(name: str, kind: str) -> bool:
    return _local_source(name, kind) is None


def _architecture(config: RunConfig, folder: Path) -> str:
    """The shape of a tiny model ("3 layers, width 64, 4,000-token vocabulary"); "" if unrecorded.

    Read from the saved model's config.json in `folder` (the model the card describes). Without
    one: a run that started from a local model (e.g. "embedded", the shipped model) has the shape of
    that model (its config.json, when still there), a scratch run the shape `config.tiny_model` gave
    it. Never `tiny_model` for any other run: that field sizes scratch models only.
    """
    saved = [folder / MODEL_CONFIG_FILE]
    source = None if config.model == SCRATCH else _local_source(config.model, "model")
    if source is not None:
        saved.append(source / MODEL_CONFIG_FILE)
    found = next((json.loads(p.read_text()) for p in saved if p.is_file()), None)
    if found is None:
        found = config.tiny_model if config.model == SCRATCH else {}
    parts = []
    if "n_layers" in found:
        parts.append(f"{found['n_layers']} layers")
    if "dim" in found:
        parts.append(f"width {found['dim']}")
    if "vocab_size" in found:
        parts.append(f"{int(found['vocab_size']):,}-token vocabulary")
    return ", ".join(parts)


def _fmt(value: int | float, digits: int = 2) -> str:
    """Numbers for the card: integers with thousands separators, floats to `digits` decimals."""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def _model_name(config: RunConfig, repo_id: str | None) -> str:
    return repo_id.split("/")[-1] if repo_id else config.run_name


def _schedule_sentence(config: RunConfig, steps_per_epoch: int | None) -> str:
    """The learning-rate schedule in words. With the steps per epoch: `describe()` of the schedule
    training built from the same numbers. Without: only the settings (all that is known)."""
    if steps_per_epoch is not None:
        from .schedule import LinearWarmupDecay  # imports TensorFlow

        return LinearWarmupDecay.from_config(config, steps_per_epoch).describe()
    if not config.warmup:
        warmup = "no warmup"
    elif config.warmup < 1:
        warmup = f"warmup over {config.warmup * 100:g}% of the steps"
    else:
        warmup = f"warmup over {int(config.warmup):,} steps"
    return (
        f"peak {config.learning_rate:g}, {warmup} (the run folder records no steps per epoch, so "
        "the schedule's step counts are unknown)"
    )


def _card_data(config: RunConfig, results: dict[str, Any], repo_id: str | None):
    from huggingface_hub import EvalResult, ModelCardData

    hub_data = _is_hub_id(config.dataset, "dataset")
    if hub_data:
        data_type = data_name = config.dataset
    elif _dataset_kind(config.dataset) == EMBEDDED:
        data_type, data_name = "embedded-review-corpus", "imdb-mini, generated by mlm_helpers"
    else:
        data_type = Path(config.dataset).name or config.dataset
        data_name = f"local dataset {data_type}"
    eval_results = None
    if results.get("perplexity_after") is not None:
        eval_results = [
            EvalResult(
                task_type="fill-mask",
                task_name="Masked Language Modeling",
                dataset_type=data_type,
                dataset_name=f"{data_name} ({config.eval_split} split, held out)",
                dataset_split=config.eval_split,
                metric_type="perplexity",
                metric_name="Perplexity (fixed masks)",
                metric_value=round(float(results["perplexity_after"]), 2),
            )
        ]
    return ModelCardData(
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="fill-mask",
        base_model=config.model if _is_hub_id(config.model, "model") else None,
        datasets=[config.dataset] if hub_data else None,
        tags=["masked-lm", "fill-mask", "tensorflow", "distilbert"]
        + ([] if config.model == SCRATCH else ["domain-adaptation"]),
        metrics=["perplexity"],
        model_name=_model_name(config, repo_id),
        eval_results=eval_results,
    )


_ADAPTATION = (
    "This is *domain adaptation*: the model keeps its general\n"
    "knowledge of English but learns the vocabulary, phrasing and typical opinions of the\n"
    "domain, so its predictions for a hidden word sound like a film review, and a classifier\n"
    "fine-tuned from it later starts closer to the task."
)
_FROM_SCRATCH = (
    "It started from random weights, so this is not domain adaptation: there was no general\n"
    "knowledge of English to keep, and the model knows nothing but the patterns of its training\n"
    "text."
)


def _describe(
    config: RunConfig, results: dict[str, Any], repo_id: str | None, architecture: str = ""
) -> str:
    """Title, what the model is and where it came from, before/after perplexity, usage snippet.

    `architecture` ("3 layers, width 64, ...", from `_architecture`) is shown for the embedded and
    scratch models, whose shape no Hub page documents.
    """
    name = _model_name(config, repo_id)
    shape = f" ({architecture})" if architecture else ""
    story = _ADAPTATION
    if _is_hub_id(config.model, "model"):
        origin = (
            f"a version of [{config.model}]({HUB_URL}/{config.model}) whose masked-language-"
            "model pre-training was continued on movie reviews"
        )
    elif config.model == EMBEDDED:
        shipped = local_folder(EMBEDDED, kind="model").name
        reviews = (
            "the generated movie reviews of `imdb-mini`"
            if _dataset_kind(config.dataset) == EMBEDDED
            else "movie reviews"
        )
        origin = (
            f"a version of `{shipped}`, the tiny general-language DistilBERT"
            f"{shape} that `mlm_helpers` pre-trained with masked-language modelling on generated "
            "general-domain text (everyday life, news, shopping, travel, food, sport, culture; "
            "no movie reviews) and ships in the package, whose masked-language-model training was "
            f"continued (adapted) on {reviews}"
        )
    elif config.model == SCRATCH:
        data = (
            "the generated review corpus `imdb-mini`"
            if _dataset_kind(config.dataset) == EMBEDDED
            else f"the texts of `{config.dataset}`"
        )
        origin = (
            f"a tiny DistilBERT{shape} trained from scratch with masked-language "
            f"modelling on {data}"
        )
        story = _FROM_SCRATCH
    else:
        origin = (
            f"the model from the local folder `{config.model}`, further trained with "
            "masked-language modelling on review texts"
        )
    lines = [f"# {name}", "", f"This model is {origin}. {story}"]
    before, after = results.get("perplexity_before"), results.get("perplexity_after")
    if before is not None and after is not None:
        lines += [
            "",
            f"On held-out text, perplexity went from **{_fmt(float(before), 2)}** before this "
            f"training to **{_fmt(float(after), 2)}** after it (lower is better).",
        ]
    if config.model in (EMBEDDED, SCRATCH):
        made = (
            "It was produced by the offline default of the `mlm_helpers` tutorial: a tiny general "
            "model adapted on a small generated review corpus in minutes on a CPU."
            if config.model == EMBEDDED
            else "It is a tiny model that `mlm_helpers` trained from scratch in minutes on a CPU."
        )
        lines += [
            "",
            f"> **A teaching artefact.** {made} It shows the pipeline end to end; it is not a "
            "useful language model.",
        ]
    usage_id = repo_id or f"<your-username>/{config.run_name}"
    lines += [
        "",
        "## How to use",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        f'fill = pipeline("fill-mask", model="{usage_id}", framework="tf")',
        f'fill("{config.fill_mask_prompts[0] if config.fill_mask_prompts else "A [MASK] film."}")',
        "```",
    ]
    return "\n".join(lines)


_GENERATED_LIMITS = (
    "Limitations and biases: the corpus holds no real person's opinion. The project generated it\n"
    "from word lists and sentence patterns, so its texts are short and repetitive, and the model\n"
    "carries the patterns its templates were written with (which words go with praise or blame,\n"
    "which titles, names and genres occur, how often), not the biases of real reviewers."
)
_REVIEWER_LIMITS = (
    "Limitations and biases: user reviews are informal and opinionated. They contain slang,\n"
    "sarcasm, spoilers, strong language and the stereotypes and one-sided views of the people\n"
    "who write reviews; the model reproduces such associations in its predictions (for\n"
    "example about gender, nationality or genre fans). Reviews of popular, mostly American\n"
    "films dominate."
)


def _dataset_kind(name: str) -> str:
    """ "embedded" (the shipped corpus, by name or by its path), "imdb" (a Hub id naming imdb), or
    "other" (any other Hub dataset or local folder: the card claims nothing about its text)."""
    source = _local_source(name, "dataset")
    if name == EMBEDDED or (
        source is not None and source.resolve() == EMBEDDED_DATASET_DIR.resolve()
    ):
        return EMBEDDED
    if source is None and name.lower().split("/")[-1] == "imdb":
        return "imdb"
    return "other"


def _intended_uses(config: RunConfig) -> str:
    """Uses, what the training text makes the model know, and the limits that text brings."""
    kind = _dataset_kind(config.dataset)
    if kind == EMBEDDED:
        data_note = (
            "It was trained on `imdb-mini`, the small review corpus generated for `mlm_helpers` so "
            "that the tutorial runs offline; its texts are short and repetitive."
        )
        limits = _GENERATED_LIMITS
    elif kind == "imdb":
        data_note = (
            "The training text is English user reviews of films and TV shows (IMDB). The model "
            "will do best on that kind of text and worse on other domains, other registers "
            "(news, legal, scientific text) and other languages."
        )
        limits = _REVIEWER_LIMITS
    else:
        data_note = (
            f"The training text is the dataset `{config.dataset}`. The model will do best on text "
            "like it and worse on other domains, registers and languages."
        )
        limits = (
            "Limitations and biases: the model reproduces what its training text says and how it "
            "says it, including that text's biases; know what the dataset contains before relying "
            "on its predictions."
        )
    if config.model == EMBEDDED:
        data_note += (
            " What it knows of English beyond them comes from its pre-training on an equally "
            "small generated general-domain corpus, so it knows little English."
        )
        if kind == EMBEDDED:
            limits += " The same holds for the generated general-domain text it was pre-trained on."
    elif config.model == SCRATCH:
        data_note += " It was trained from scratch, so it knows nothing but its training text."
    elif kind == EMBEDDED:
        limits += " The model keeps whatever biases its base model learned from real text."
    return "\n".join(
        [
            "## Intended uses and limitations",
            "",
            "Intended uses: predicting masked words in English movie-review text, and serving as the",
            "starting point for fine-tuning on review tasks (sentiment, aspect or spoiler detection).",
            "It is a masked language model: it does not generate free text and was not trained to",
            "classify anything.",
            "",
            data_note,
            "",
            limits + " Do not use its predictions to make decisions about people.",
        ]
    )


def _data_section(config: RunConfig, results: dict[str, Any]) -> str:
    splits = ", ".join(f"`{s}`" for s in config.train_splits)
    if _dataset_kind(config.dataset) == EMBEDDED:
        source = (
            "`imdb-mini`, the review corpus shipped in `mlm_helpers` (generated by the project "
            "from word lists and sentence patterns, with the schema of the Hub's `imdb`; not "
            "published on the Hub)"
        )
    elif _is_hub_id(config.dataset, "dataset"):
        source = f"the Hub dataset [`{config.dataset}`]({HUB_URL}/datasets/{config.dataset})"
    else:
        source = f"the local dataset `{config.dataset}`"
    lines = [
        "## Training and evaluation data",
        "",
        f"- Source: {source}. Only the review texts are used; sentiment labels are ignored.",
        f"- Training split(s): {splits}. Evaluation split: `{config.eval_split}`, held out "
        "(no training review comes from it).",
        "- Reviews per split: "
        + (
            "all"
            if config.max_reviews is None
            else f"{_fmt(config.max_reviews)} (sampled with seed {config.seed})"
        )
        + f"; HTML line breaks {'replaced by spaces' if config.clean_html else 'kept'}.",
        f"- Reviews are tokenized, concatenated and cut into chunks of {config.chunk_size} tokens "
        "(the remainder is dropped).",
    ]
    train_rows, eval_rows = results.get("train_rows"), results.get("eval_rows")
    if train_rows is not None:
        lines.append(
            f"- Used: {_fmt(int(train_rows))} training chunks "
            f"({_fmt(int(train_rows) * config.chunk_size)} tokens) and "
            f"{_fmt(int(eval_rows or 0))} evaluation chunks."
        )
    return "\n".join(lines)


def _completed(config: RunConfig, results: dict[str, Any]) -> str:
    done = results.get("epochs_completed")
    return f" ({done} completed)" if done is not None and done != config.epochs else ""


def _hyperparameters(config: RunConfig, run: run_folder.Run) -> str:
    results = run.results
    precision = results.get("precision", config.precision)
    jit = results.get("jit_compile", config.jit_compile)
    clip = f"{config.clip_norm:g}" if config.clip_norm else "none"
    masking = "whole-word" if config.masking == "whole_word" else "token"
    lines = [
        "## Training procedure",
        "",
        "Masked-language modelling with TensorFlow/Keras. Perplexity is exp of the mean loss per",
        "masked token on the evaluation chunks, with masks drawn once and kept fixed, so that",
        "values before and after training (and between epochs) are comparable.",
        "",
        "### Training hyperparameters",
        "",
        "The following hyperparameters were used during training:",
        f"- optimizer: AdamWeightDecay (beta_1: {config.adam_beta1:g}, beta_2: "
        f"{config.adam_beta2:g}, epsilon: {config.adam_epsilon:g}, weight_decay_rate: "
        f"{config.weight_decay:g}, gradient clipping by global norm: {clip})",
        f"- learning_rate: {_schedule_sentence(config, run.steps_per_epoch)}",
        f"- train_batch_size: {config.batch_size}",
        f"- num_epochs: {config.epochs}" + _completed(config, results),
        f"- seed: {config.seed}",
        f"- masking: {masking} masking, mlm_probability: {config.mlm_probability:g}",
        f"- chunk_size: {config.chunk_size}",
        f"- training_precision: {precision}",
        f"- jit_compile (XLA): {jit}",
    ]
    if results.get("accelerator"):
        replicas = results.get("replicas", 1)
        line = f"- hardware: {replicas} × {str(results['accelerator']).upper()}"
        if results.get("train_runtime_seconds") is not None:
            line += f", {float(results['train_runtime_seconds']):.1f} s of training"
        if results.get("train_tokens_per_sec") is not None:
            line += f" ({float(results['train_tokens_per_sec']):,.0f} tokens/s)"
        lines.append(line)
    return "\n".join(lines)


def _results_section(history: dict[str, Any], results: dict[str, Any], figure: str | None) -> str:
    from .plotting import epoch_table_markdown, fill_mask_table_markdown

    lines = ["### Training results", ""]
    if not results:
        lines += [
            "all_results.json is missing: the run did not finish, so there is no before/after "
            "evaluation to report.",
            "",
        ]
    if history.get("epochs"):
        lines += [epoch_table_markdown(history).strip(), ""]
    else:
        lines += ["No epoch finished, so there are no per-epoch results.", ""]
    if figure:
        lines += [f"![Training and validation loss per epoch]({figure})", ""]
    rows = [
        ("Before training", "eval_loss_before", "perplexity_before"),
        ("After training", "eval_loss_after", "perplexity_after"),
    ]
    if any(results.get(p) is not None for _, _, p in rows):
        lines += ["| | Validation loss | Perplexity |", "|---|---:|---:|"]
        for label, loss, ppl in rows:
            if results.get(ppl) is not None:
                lines.append(
                    f"| {label} | {float(results[loss]):.4f} | {float(results[ppl]):.2f} |"
                )
        lines.append("")
    if results.get("fill_mask_before") or results.get("fill_mask_after"):
        lines += ["### Fill-mask examples", "", fill_mask_table_markdown(results).strip(), ""]
    return "\n".join(lines).rstrip()


_VERSION_NAMES = {
    "transformers": "Transformers",
    "tensorflow": "TensorFlow",
    "tf_keras": "tf-keras",
    "datasets": "Datasets",
    "tokenizers": "Tokenizers",
    "huggingface_hub": "huggingface_hub",
    "numpy": "NumPy",
    "python": "Python",
    "mlm-helpers": "mlm_helpers",
}


def _versions_section(results: dict[str, Any]) -> str:
    versions = results.get("versions") or {}
    if not versions:
        return "### Framework versions\n\nNot recorded in all_results.json."
    lines = ["### Framework versions", ""]
    lines += [f"- {_VERSION_NAMES.get(k, k)} {v}" for k, v in versions.items()]
    return "\n".join(lines)


def build_model_card(
    run_dir: run_folder.RunLike,
    repo_id: str | None = None,
    *,
    figure: str | None = None,
    folder: str | os.PathLike | None = None,
) -> Any:
    """The model card (a `huggingface_hub.ModelCard`) of a run, from its folder alone.

    Reads the run folder with `run_folder.load_run` (a `Run` is used as it is): config.json,
    history.json, all_results.json and checkpoints/state.json (docs/run-folder.md), and the saved
    model's config.json in `folder` (default `<run_dir>/model`) for the shape of a tiny model;
    `repo_id` names the model and its usage snippet; `figure` is the loss plot's path relative to
    README.md, embedded as an image when given. Notebook 06 calls it through `write_model_card`.
    """
    from huggingface_hub import ModelCard

    run = run_folder.load_run(run_dir)
    config, results = run.run_config(), run.results
    folder = run.model_dir if folder is None else Path(folder)
    data = _card_data(config, results, repo_id)
    body = "\n\n".join(
        [
            _describe(config, results, repo_id, _architecture(config, folder)),
            _intended_uses(config),
            _data_section(config, results),
            _hyperparameters(config, run),
            _results_section(run.history, results, figure),
            _versions_section(results),
        ]
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n")


def write_model_card(
    run_dir: run_folder.RunLike,
    folder: str | os.PathLike | None = None,
    *,
    repo_id: str | None = None,
) -> Path:
    """Write README.md (the model card) and `loss_curves.png` into the Hub folder, with copies of
    the run's records in `run/` (`run_folder.copy_records`: whoever downloads the model can open it
    as a run); return README's path. `folder` defaults to `<run_dir>/model`.

    The loss plot is drawn from the run's history by plotting's `plot_epoch_loss` and referenced by
    a relative path, so it shows on the Hub page; a run without a finished epoch gets no image.
    Used in notebook 06.
    """
    import matplotlib.pyplot as plt

    from .figures import save_fig
    from .plotting import plot_epoch_loss

    run = run_folder.load_run(run_dir)
    folder = run.model_dir if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image = None
    if run.epochs:
        fig = plot_epoch_loss(run)
        try:
            save_fig(fig, Path(LOSS_FIGURE).stem, folder=folder, quiet=True)
            image = LOSS_FIGURE
        finally:
            plt.close(fig)
    card = build_model_card(run, repo_id, figure=image, folder=folder)
    path = folder / CARD_FILE
    card.save(path)
    run_folder.copy_records(run, folder)
    return path


# ----------------------------------------------------------------------------- tokens
def _token_from_colab() -> str | None:
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return userdata.get(TOKEN_ENV)
    except Exception:  # secret missing, or access refused by the user: treat as "no token"
        return None


def _token_from_cache() -> str | None:
    import huggingface_hub

    try:
        return huggingface_hub.get_token()
    except Exception:  # an unreadable token file is the same as no login here
        return None


def find_token() -> tuple[str | None, str]:
    """(token, where it came from) — the source is safe to show, the token never is. Looks in
    $HF_TOKEN, then the Colab secret HF_TOKEN, then the cached login. Used in notebook 06."""
    for source, reader in (
        (f"the {TOKEN_ENV} environment variable", lambda: os.environ.get(TOKEN_ENV)),
        ("the Colab secret HF_TOKEN", _token_from_colab),
        ("the cached Hugging Face login", _token_from_cache),
    ):
        token = (reader() or "").strip()
        if token:
            return token, source
    return None, "nowhere"


def get_token() -> str | None:
    """The Hub token from $HF_TOKEN, then a Colab secret, then the cached login; None if none.

    Keep the value in a variable; never print it. (`find_token` also says where it came from.)
    """
    return find_token()[0]


def describe_token(token: str | None) -> str:
    """ "present" or "absent" — the only thing about a token that may be shown. Notebook 06."""
    return "present" if token else "absent"


def login_interactively() -> None:
    """Ask for a token (a widget in notebooks, a prompt in a terminal) and cache it locally.

    The token goes to huggingface_hub's own token file, not to the notebook (the fallback that
    `_NO_TOKEN_HELP` offers when no token is found).
    """
    import huggingface_hub

    if "ipykernel" in sys.modules:
        huggingface_hub.notebook_login()
    else:
        huggingface_hub.login()


def _redact(text: str, token: str | None) -> str:
    """`text` with the token (and anything shaped like a Hub token) replaced by ***."""
    if token:
        text = text.replace(token, "***")
    return TOKEN_PATTERN.sub("hf_***", text)


# ----------------------------------------------------------------------------- folder checks
def upload_listing(folder: str | os.PathLike) -> list[tuple[str, int]]:
    """(path in repo, size in bytes) of every file `upload_folder` would send from `folder`.

    Uses huggingface_hub's own filter (it skips .git/ and .cache/huggingface/), so the dry run
    and the real upload agree.
    """
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): p for p in sorted(folder.glob("**/*")) if p.is_file()
    }
    kept = filter_repo_objects(files, ignore_patterns=_compat.hub_ignore_patterns())
    return [(name, files[name].stat().st_size) for name in kept]


def missing_hub_files(folder: str | os.PathLike) -> list[str]:
    """What a Hub folder lacks (empty list when complete): config, weights, tokenizer, card."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the folder itself ({folder} does not exist)"]

    def ok(name: str) -> bool:
        return (folder / name).is_file() and (folder / name).stat().st_size > 0

    missing = []
    for name, what in (
        (MODEL_CONFIG_FILE, "model configuration"),
        (WEIGHTS_FILE, "TF weights"),
        ("tokenizer_config.json", "tokenizer configuration"),
    ):
        if not ok(name):
            missing.append(f"{name} ({what})")
    if not (ok("tokenizer.json") or ok("vocab.txt")):
        missing.append("tokenizer.json or vocab.txt (tokenizer vocabulary)")
    if not ok(CARD_FILE):
        missing.append(f"{CARD_FILE} (model card)")
    return missing


def check_hub_folder(folder: str | os.PathLike) -> Path:
    """Raise FileNotFoundError naming every missing file and how to create it; return the folder."""
    missing = missing_hub_files(folder)
    if missing:
        raise FileNotFoundError(
            f"{folder} is not ready to upload; missing: {', '.join(missing)}. Fix: "
            "save_for_hub(model, tokenizer, folder) writes the model and tokenizer files, "
            "write_model_card(run_dir, folder) writes README.md."
        )
    return Path(folder)


def find_token_leaks(
    paths: Iterable[str | os.PathLike], token: str | None = None
) -> list[tuple[Path, int]]:
    """(file, line number) of every text line holding `token` or something shaped like a Hub
    token (`hf_` + 30 or more letters/digits). `publish` runs it before uploading; the tests run it
    on the committed notebooks."""
    leaks = []
    for path in map(Path, paths):
        if path.suffix not in _TEXT_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), start=1):  # editor line numbers
            if (token and token in line) or TOKEN_PATTERN.search(line):
                leaks.append((path, number))
    return leaks


# ----------------------------------------------------------------------------- upload
def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


@dataclass
class PublishResult:
    """What `publish` did. status: "dry_run", "no_token" or "uploaded"; nothing secret inside."""

    status: str
    repo_id: str
    files: list[tuple[str, int]] = field(default_factory=list)
    url: str | None = None
    commit_url: str | None = None
    message: str = ""

    @property
    def sent(self) -> bool:
        return self.status == "uploaded"

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def __str__(self) -> str:
        return self.message


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    dry_run: bool = False,
    api: Any = None,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
) -> PublishResult:
    """Upload a Hub folder to the model repo `repo_id` ("user/name"), safely.

    Order: check the folder (config, weights, tokenizer, README.md) and scan its text files for a
    pasted token; list what would be sent; with `dry_run` stop there. Without a token (argument,
    $HF_TOKEN, Colab secret, cached login) print how to provide one and stop. Otherwise
    `create_repo(exist_ok=True, private=private)` (an existing repo keeps its visibility) and
    `upload_folder`. A failure raises PublishError saying the local folder is complete and how to
    retry; the folder is only ever read. `api` is an `HfApi` (injectable for tests).
    Used in notebook 06.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    folder = Path(folder)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(
            f"repo_id={repo_id!r} is not a valid Hub model id ({error}). Use "
            "'<your-username>/<model-name>' with letters, digits, '-', '_', '.'."
        ) from None
    check_hub_folder(folder)
    files = upload_listing(folder)
    if token is None:
        token, source = find_token()
    else:
        source = "the token argument"
    leaks = find_token_leaks((folder / name for name, _ in files), token)
    if leaks:
        where = ", ".join(f"{p.relative_to(folder)} line {n}" for p, n in leaks)
        raise PublishError(
            f"Refusing to upload: something that looks like a Hub token is written "
            f"in {where}. Remove it from the file(s) (and revoke the token at "
            f"{HUB_URL}/settings/tokens if it was real), then retry."
        )
    if api is None and not dry_run and token:
        api = HfApi()
    url = f"{getattr(api, 'endpoint', None) or constants.ENDPOINT}/{repo_id}"
    listing = "\n".join(f"  {name:<40} {_human(size):>10}" for name, size in files)
    summary = (
        f"{len(files)} files, {_human(sum(s for _, s in files))} -> {url} "
        f"({'private' if private else 'public'} model repo)"
    )
    if dry_run:
        message = (
            f"Dry run: nothing was sent. Would upload {summary}\n{listing}\n"
            f"Token: {describe_token(token)}"
            + (
                f" (from {source})."
                if token
                else f"; set {TOKEN_ENV} (or the Colab secret {TOKEN_ENV}) before publishing."
            )
        )
        print(message)
        return PublishResult("dry_run", repo_id, files, url=None, message=message)
    if not token:
        print(_NO_TOKEN_HELP)
        return PublishResult("no_token", repo_id, files, message=_NO_TOKEN_HELP)

    print(f"Token: present (from {source}). Uploading {summary} ...")
    step = "creating the repository"
    try:
        repo_url = api.create_repo(
            repo_id, token=token, private=private, exist_ok=True, repo_type="model"
        )
        step = "uploading the files"
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            token=token,
            repo_type="model",
            commit_message=commit_message,
        )
    except Exception as error:
        reason = _redact(f"{type(error).__name__}: {error}", token)
        raise PublishError(
            f"The upload to {url} failed while {step}: {reason}\n"
            f"The local folder {folder} is complete and unchanged; nothing was deleted. Check the "
            "connection and that the token has 'write' access to this namespace, then run "
            "publish(...) again: uploading is idempotent (the repo is created only if missing, "
            "and files that are already there are not sent twice)."
        ) from None
    repo_url = str(repo_url) if repo_url else url
    commit_url = getattr(info, "commit_url", None)
    message = f"Uploaded {summary}\nModel page: {repo_url}"
    print(message)
    return PublishResult(
        "uploaded", repo_id, files, url=repo_url, commit_url=commit_url, message=message
    )


__all__ = [
    "PublishError",
    "PublishResult",
    "build_model_card",
    "check_hub_folder",
    "describe_token",
    "find_token",
    "find_token_leaks",
    "get_token",
    "load_from_folder",
    "login_interactively",
    "missing_hub_files",
    "publish",
    "save_for_hub",
    "upload_listing",
    "write_model_card",
]
