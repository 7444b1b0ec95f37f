"""The model card (README.md of the Hub folder), written from the run folder alone (notebook 06).

    figure = save the loss plot into the folder (notebook 06 does it with plotting and save_fig)
    write_model_card(run, folder, repo_id="you/distilbert-imdb", figure=figure)

Where the model and its text came from decides what the card may claim (domain adaptation or
training from scratch, reviewers' biases or a generated corpus's templates, Hub id or local folder):
`provenance(config)` works it out once, and every section is written from that one value. Tables
and summary come from `reports`, as in notebook 05; the learning-rate line is `describe()` of the
schedule training built. The YAML header carries what the Hub indexes, with the held-out
perplexity before and after training as a `model-index` result.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import run_folder
from .config import MASK_PLACEHOLDER, RunConfig
from .hub_folder import CARD_FILE, MODEL_CONFIG_FILE
from .paths import EMBEDDED, EMBEDDED_DATASET_DIR, SCRATCH, local_folder
from .reports import summarize_run
from .schedule import Schedule

HUB_URL = "https://huggingface.co"
HUB, LOCAL, IMDB = "hub", "local", "imdb"  # with EMBEDDED and SCRATCH: the kinds of a source


@dataclass(frozen=True)
class Provenance:
    """Where a run's model and data came from. `model`: "hub", "embedded", "scratch" or "local";
    `data`: "embedded" (the shipped corpus, by name or path), "imdb" (a Hub id naming imdb), "hub"
    (another Hub dataset) or "local". `model_id` / `dataset_id` are the names the run was given."""

    model: str
    data: str
    model_id: str
    dataset_id: str

    @property
    def texts(self) -> str:
        """The training text, as the card's sentences name it."""
        return {
            EMBEDDED: "the generated movie reviews of `imdb-mini`",
            IMDB: "movie reviews",
            HUB: f"the texts of the Hub dataset `{self.dataset_id}`",
        }.get(self.data, f"the texts of `{self.dataset_id}`")


def _kind(name: str, kind: str) -> str:
    """The kind of a model or dataset name (`Provenance`). A name written as a path whose folder
    is gone (deleted since, or trained on another machine) is still local, never a Hub id."""
    if name == EMBEDDED or (kind == "model" and name == SCRATCH):
        return name
    try:
        folder = local_folder(name, kind=kind)
    except FileNotFoundError:
        return LOCAL
    if folder is None:
        return IMDB if kind == "dataset" and name.lower().split("/")[-1] == IMDB else HUB
    if kind == "dataset" and folder.resolve() == EMBEDDED_DATASET_DIR.resolve():
        return EMBEDDED
    return LOCAL


def dataset_name(dataset: str | Mapping[str, Any]) -> str:
    """A dataset as the card names it: the name itself, or local files by split
    (``train: a.txt, b.txt; test: c.txt``) for a {split: files} dataset."""
    if isinstance(dataset, str):
        return dataset
    return "; ".join(
        f"{split}: {', '.join(Path(f).name for f in files)}" for split, files in dataset.items()
    )


def provenance(config: RunConfig) -> Provenance:
    """The one model × dataset case analysis of the card."""
    data = LOCAL if not isinstance(config.dataset, str) else _kind(config.dataset, "dataset")
    return Provenance(
        _kind(config.model, "model"), data, config.model, dataset_name(config.dataset)
    )


def model_facts(config: RunConfig, folder: Path) -> dict[str, Any]:
    """The saved model's configuration (config.json in `folder`) with its tokenizer's mask token
    (``mask_token``, from tokenizer_config.json); without them, the shipped model's for an
    "embedded" run and `config.tiny_model` (a DistilBERT) for a scratch run."""
    folders = [folder]
    if config.model in (EMBEDDED, SCRATCH):
        folders.append(local_folder(EMBEDDED, kind="model"))
    facts: dict[str, Any] = {}
    for name, key in ((MODEL_CONFIG_FILE, None), ("tokenizer_config.json", "mask_token")):
        path = next((f / name for f in folders if (f / name).is_file()), None)
        found = json.loads(path.read_text()) if path is not None else {}
        facts.update(found if key is None else {key: found.get(key)} if key in found else {})
    if config.model == SCRATCH:
        facts.update(dict(config.tiny_model), model_type="distilbert")
    return facts


_SHAPE_KEYS = {  # (DistilBERT's name, the BERT family's name): how the card says it
    ("n_layers", "num_hidden_layers"): lambda n: f"{n} layers",
    ("dim", "hidden_size"): lambda n: f"width {n}",
    ("vocab_size", "vocab_size"): lambda n: f"{int(n):,}-token vocabulary",
}


def _architecture(facts: dict[str, Any], *, family: bool = True) -> str:
    """The model's shape ("3 layers, width 64, 4,000-token vocabulary"), after its family with
    `family` ("roberta, 1 layers, ..."); "" if unrecorded."""
    parts = [str(facts["model_type"])] if family and facts.get("model_type") else []
    for keys, say in _SHAPE_KEYS.items():
        value = next((facts[k] for k in keys if k in facts), None)
        if value is not None:
            parts.append(say(value))
    return ", ".join(parts)


def _fmt(value: int | float) -> str:
    """Numbers for the card: integers with thousands separators, floats to 2 decimals."""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _card_data(
    config: RunConfig, source: Provenance, results: dict[str, Any], name: str, model_type: str
):
    from huggingface_hub import EvalResult, ModelCardData

    if source.data == EMBEDDED:
        data_type, data_name = "embedded-review-corpus", "imdb-mini, generated by mlm_helpers"
    elif source.data == LOCAL:
        data_type = Path(source.dataset_id).name if isinstance(config.dataset, str) else "local"
        data_name = (
            f"local dataset {data_type if isinstance(config.dataset, str) else source.dataset_id}"
        )
    else:
        data_type = data_name = source.dataset_id
    measured = [
        ("perplexity_before", "Held-out perplexity before training (the starting model)"),
        ("perplexity_after", "Held-out perplexity after training"),
    ]
    eval_results = [
        EvalResult(
            task_type="fill-mask",
            task_name="Masked Language Modeling",
            dataset_type=data_type,
            dataset_name=f"{data_name} ({config.eval_split} split, held out)",
            dataset_split=config.eval_split,
            metric_type="perplexity",
            metric_name=label,
            metric_value=round(float(results[key]), 2),
        )
        for key, label in measured
        if results.get(key) is not None
    ]
    return ModelCardData(
        language=config.language,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="fill-mask",
        base_model=source.model_id if source.model == HUB else None,
        datasets=[source.dataset_id] if source.data in (HUB, IMDB) else None,
        tags=["masked-lm", "fill-mask", "tensorflow", *([model_type] if model_type else [])]
        + ([] if source.model == SCRATCH else ["domain-adaptation"]),
        metrics=["perplexity"],
        model_name=name,
        eval_results=eval_results or None,
    )


_ADAPTATION = (
    "This is *domain adaptation*: the model keeps its general\n"
    "knowledge of {language} but learns the vocabulary, phrasing and typical opinions of the\n"
    "domain, so its predictions for a hidden word sound like {like}. {downstream}"
)
_MOVIES = (EMBEDDED, IMDB)  # data kinds whose texts are movie reviews
DONT_STOP_PRETRAINING = "https://arxiv.org/abs/2004.10964"
# Whether adaptation helps a classifier: measured (notebook 07) only for the embedded model on the
# embedded corpus; for real movie reviews, what the literature reports, marked as not measured here.
_MEASURED_DOWNSTREAM = (
    "Whether that helps a classifier is a separate question, which notebook 07 of the\n"
    "tutorial measures: on this generated corpus, a sentiment classifier on the frozen adapted\n"
    "encoder did *worse* than one on the frozen general encoder it started from; it did\n"
    "slightly better only on the reviews whose one sentiment cue is an idiom of the domain."
)
_IMDB_DOWNSTREAM = (
    "Whether that helps a classifier was not measured for this model (notebook 07 of the\n"
    f"tutorial measures it). For movie reviews, [Don't Stop Pretraining]({DONT_STOP_PRETRAINING})\n"
    "(Gururangan et al., 2020) found that domain-adaptive pre-training of RoBERTa helps\n"
    "sentiment classification on IMDB a little (under a point of F1 with all its labels), and\n"
    "more where labels are few or the domain is far from the pre-training text."
)
_UNMEASURED_DOWNSTREAM = (
    "Whether that helps a classifier on such text was not measured for this model (notebook 07\n"
    "of the tutorial measures it for sentiment)."
)


def _downstream(source: Provenance) -> str:
    """What is known of the adapted model as a classifier's starting point, and from where."""
    if source.model == EMBEDDED and source.data == EMBEDDED:
        return _MEASURED_DOWNSTREAM
    return _IMDB_DOWNSTREAM if source.data == IMDB else _UNMEASURED_DOWNSTREAM


def _like(source: Provenance) -> str:
    """What the adapted model's predictions sound like: its training text."""
    return "a film review" if source.data in _MOVIES else "its training text"


_FROM_SCRATCH = (
    "It started from random weights, so this is not domain adaptation: there was no general\n"
    "knowledge of {language} to keep, and the model knows nothing but the patterns of its training\n"
    "text."
)
_TEACHING = {
    EMBEDDED: "It was produced by the offline default of the `mlm_helpers` tutorial: a tiny "
    "general model adapted on a small generated review corpus in minutes on a CPU.",
    SCRATCH: "It is a tiny model that `mlm_helpers` trained from scratch in minutes on a CPU.",
}


def _origin(source: Provenance, shape: str) -> str:
    """What the model is, in one clause ("a version of ... whose training was continued on ...")."""
    if source.model == HUB:
        return (
            f"a version of [{source.model_id}]({HUB_URL}/{source.model_id}) whose masked-language-"
            f"model pre-training was continued on {source.texts}"
        )
    if source.model == EMBEDDED:
        return (
            f"a version of `{local_folder(EMBEDDED, kind='model').name}`, the tiny "
            f"general-language DistilBERT{shape} that `mlm_helpers` pre-trained with masked-language modelling on "
            "generated general-domain text (everyday life, news, shopping, travel, food, sport, "
            "culture; no movie reviews) and ships in the package, whose masked-language-model "
            f"training was continued (adapted) on {source.texts}"
        )
    if source.model == SCRATCH:
        return (
            f"a tiny DistilBERT{shape} trained from scratch with masked-language modelling on "
            f"{source.texts}"
        )
    return (
        f"the model{shape} from the local folder `{source.model_id}`, further trained with "
        f"masked-language modelling on {source.texts}"
    )


_USAGE = """## How to use

The folder holds the weights twice: `model.safetensors` for PyTorch and `tf_model.h5` for
TensorFlow.

With PyTorch, in transformers 4 or 5 (it reads `model.safetensors`):

```python
from transformers import pipeline

fill = pipeline("fill-mask", model="{repo_id}")
fill("{prompt}")
```

With TensorFlow, in transformers 4.x only (version 5 removed TensorFlow). Where PyTorch is not
installed, the pipeline needs three more arguments: `framework="tf"` picks TensorFlow,
`dtype=None` keeps it from asking PyTorch for a dtype, and `use_safetensors=False` makes it read
`tf_model.h5`, not the PyTorch-format `model.safetensors`, on which its TF loader fails:

```python
from transformers import pipeline

fill = pipeline("fill-mask", model="{repo_id}", framework="tf", dtype=None,
                model_kwargs={{"use_safetensors": False}})
fill("{prompt}")
```"""


def _describe(
    config: RunConfig, source: Provenance, results: dict, repo_id: str, facts: dict[str, Any]
) -> str:
    """Title, what the model is and where it came from, before/after perplexity, usage snippets
    (with the tokenizer's own mask token)."""
    shape = _architecture(facts, family=source.model not in (EMBEDDED, SCRATCH))
    name, shape = repo_id.split("/")[-1], f" ({shape})" if shape else ""
    language = "English" if config.language == "en" else f"its language (`{config.language}`)"
    story = (
        _FROM_SCRATCH.format(language=language)
        if source.model == SCRATCH
        else _ADAPTATION.format(
            like=_like(source), language=language, downstream=_downstream(source)
        )
    )
    lines = [f"# {name}", "", f"This model is {_origin(source, shape)}. {story}"]
    before, after = results.get("perplexity_before"), results.get("perplexity_after")
    if before is not None and after is not None:
        lines += [
            "",
            f"On held-out text, perplexity went from **{_fmt(float(before))}** before this "
            f"training to **{_fmt(float(after))}** after it (lower is better).",
        ]
    if source.model in _TEACHING:
        lines += [
            "",
            f"> **A teaching artefact.** {_TEACHING[source.model]} It shows the pipeline end to "
            "end; it is not a useful language model.",
        ]
    prompt = (config.fill_mask_prompts or ("A [MASK] film.",))[0]
    prompt = prompt.replace(MASK_PLACEHOLDER, facts.get("mask_token") or MASK_PLACEHOLDER)
    return "\n".join([*lines, "", _USAGE.format(repo_id=repo_id, prompt=prompt)])


_LIMITS = {
    EMBEDDED: "Limitations and biases: the corpus holds no real person's opinion. The project "
    "generated it\nfrom word lists and rules that combine clauses, so its reviews are formulaic, "
    "and the model\ncarries the patterns its generator was written with (which words go with "
    "praise or blame,\nwhich titles, names and genres occur, how often), not the biases of real "
    "reviewers.",
    IMDB: "Limitations and biases: user reviews are informal and opinionated. They contain slang,\n"
    "sarcasm, spoilers, strong language and the stereotypes and one-sided views of the people\n"
    "who write reviews; the model reproduces such associations in its predictions (for\n"
    "example about gender, nationality or genre fans). Reviews of popular, mostly American\n"
    "films dominate.",
}
_OTHER_LIMITS = (
    "Limitations and biases: the model reproduces what its training text says and how it says "
    "it, including that text's biases; know what the dataset contains before relying on its "
    "predictions."
)
_DATA_NOTES = {
    EMBEDDED: "It was trained on `imdb-mini`, the small review corpus generated for `mlm_helpers` "
    "so that the tutorial runs offline: generated reviews, formulaic, that speak of quality in "
    "everyday words and in idioms of their own.",
    IMDB: "The training text is English user reviews of films and TV shows (IMDB). The model will "
    "do best on that kind of text and worse on other domains, other registers (news, legal, "
    "scientific text) and other languages.",
}


_USES = """## Intended uses and limitations

Intended uses: predicting masked words in {text}, and serving as the
starting point for fine-tuning on {tasks}.
It is a masked language model: it does not generate free text and was not trained to
classify anything."""


def _uses(source: Provenance, language: str) -> str:
    """The intended uses, for the run's texts and language (ISO code, as the card's header)."""
    if source.data in _MOVIES:
        text = "movie-review text" if language == "en" else f"movie-review text ({language})"
        return _USES.format(
            text=f"English {text}" if language == "en" else text,
            tasks="review tasks (sentiment, aspect or spoiler detection)",
        )
    return _USES.format(
        text=f"text like its training data (`{source.dataset_id}`, language: {language})",
        tasks="tasks on such text (classification, tagging)",
    )


def _intended_uses(source: Provenance, language: str = "en") -> str:
    """Uses, what the training text makes the model know, and the limits that text brings."""
    note = _DATA_NOTES.get(
        source.data,
        f"The training text is the dataset `{source.dataset_id}`. The model will do best on text "
        "like it and worse on other domains, registers and languages.",
    )
    limits = _LIMITS.get(source.data, _OTHER_LIMITS)
    if source.model == EMBEDDED:
        note += (
            " What it knows of English beyond them comes from its pre-training on an equally "
            "small generated general-domain corpus, so it knows little English."
        )
        if source.data == EMBEDDED:
            limits += " The same holds for the generated general-domain text it was pre-trained on."
    elif source.model == SCRATCH:
        note += " It was trained from scratch, so it knows nothing but its training text."
    elif source.data == EMBEDDED:
        limits += " The model keeps whatever biases its base model learned from real text."
    return (
        f"{_uses(source, language)}\n\n{note}\n\n{limits} Do not use its predictions to make "
        "decisions about people."
    )


def _data_section(config: RunConfig, source: Provenance, results: dict[str, Any]) -> str:
    name = source.dataset_id
    origin = {
        EMBEDDED: "`imdb-mini`, the review corpus shipped in `mlm_helpers` (generated by the "
        "project from word lists and sentence patterns, with the schema of the Hub's `imdb`; not "
        "published on the Hub)",
        LOCAL: f"the local dataset `{name}`"
        if isinstance(config.dataset, str)
        else f"the local files {name}",
    }.get(source.data, f"the Hub dataset [`{name}`]({HUB_URL}/datasets/{name})")
    sampled = "all" if config.max_reviews is None else _fmt(config.max_reviews)
    sampled += "" if config.max_reviews is None else f" (sampled with seed {config.seed})"
    lines = [
        "## Training and evaluation data",
        "",
        f"- Source: {origin}. Only the review texts are used; sentiment labels are ignored.",
        f"- Training split(s): {', '.join(f'`{s}`' for s in config.train_splits)}. Evaluation "
        f"split: `{config.eval_split}`, held out (no training review comes from it).",
        f"- Reviews per split: {sampled}; HTML line "
        f"breaks {'replaced by spaces' if config.clean_html else 'kept'}.",
        f"- Reviews are tokenized, concatenated and cut into chunks of {config.chunk_size} tokens "
        "(the remainder is dropped).",
    ]
    train_rows, eval_rows = results.get("train_rows"), results.get("eval_rows")
    if train_rows is not None:
        lines.append(
            f"- Used: {_fmt(int(train_rows))} training chunks per epoch "
            f"({_fmt(int(train_rows) * config.chunk_size)} tokens) and "
            f"{_fmt(int(eval_rows or 0))} evaluation chunks.{_whole_batches(config, results)}"
        )
    return "\n".join(lines)


def _whole_batches(config: RunConfig, results: dict[str, Any]) -> str:
    """Why an epoch trains on fewer chunks than were sampled: whole batches only
    (`MLMDatasets.steps_per_epoch`); "" when the records do not show it."""
    rows, steps = int(results["train_rows"]), results.get("steps_per_epoch")
    if not steps or int(steps) * config.batch_size != rows:
        return ""
    text = (
        f" An epoch is {_fmt(int(steps))} whole batches of {config.batch_size}: every batch has "
        "the same shape, so the training step is traced (and, with XLA, compiled) once."
    )
    left = (config.train_chunks or 0) - rows
    if 0 < left < config.batch_size:
        text += (
            f" Of the {_fmt(config.train_chunks)} training chunks sampled, the {left} that would "
            f"only part-fill a last batch sit out each epoch: whichever {left} its shuffle puts "
            "last, so a different few each epoch."
        )
    return text


def _schedule_sentence(config: RunConfig, steps_per_epoch: int | None) -> str:
    """The learning-rate schedule in words: `describe()` of the schedule training built from the
    steps per epoch all_results.json records; without them (an unfinished run) the settings only."""
    if steps_per_epoch is not None:
        return Schedule.from_config(config, steps_per_epoch).describe()
    steps = (
        f"{config.warmup * 100:g}% of the steps"
        if config.warmup < 1
        else f"{int(config.warmup):,} steps"
    )
    return (
        f"peak {config.learning_rate:g}, warmup over {steps} (the run folder records no steps per "
        "epoch, so the schedule's step counts are unknown)"
    )


def _hyperparameters(config: RunConfig, results: dict[str, Any]) -> str:
    clip = f"{config.clip_norm:g}" if config.clip_norm else "none"
    done = results.get("epochs_completed")
    completed = f" ({done} completed)" if done is not None and done != config.epochs else ""
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
        f"- learning_rate: {_schedule_sentence(config, results.get('steps_per_epoch'))}",
        f"- train_batch_size: {config.batch_size}",
        f"- num_epochs: {config.epochs}{completed}",
        f"- seed: {config.seed}",
        f"- masking: {'whole-word' if config.masking == 'whole_word' else 'token'} masking, "
        f"mlm_probability: {config.mlm_probability:g}",
        f"- chunk_size: {config.chunk_size}",
        f"- training_precision: {results.get('precision', config.precision)}",
        f"- jit_compile (XLA): {results.get('jit_compile', config.jit_compile)}",
    ]
    if results.get("accelerator"):
        line = f"- hardware: {results.get('replicas', 1)} × {str(results['accelerator']).upper()}"
        if results.get("train_runtime_seconds") is not None:
            line += f", {float(results['train_runtime_seconds']):.1f} s of training"
        if results.get("train_tokens_per_sec") is not None:
            line += f" ({float(results['train_tokens_per_sec']):,.0f} tokens/s)"
        lines.append(line)
    return "\n".join(lines)


def _results_section(run: run_folder.Run, figure: str | None) -> str:
    """The run read aloud (`reports.summarize_run`: epochs, best epoch, perplexity before and after;
    says so when the run did not finish), its per-epoch table, the figure and fill-mask examples."""
    summary = summarize_run(run)
    lines = ["### Training results", "", str(summary), ""]
    if summary.epoch_table:
        lines += [summary.epoch_table.strip(), ""]
    if figure:
        lines += [f"![Training and validation loss per epoch]({figure})", ""]
    if summary.fill_mask_table:
        lines += ["### Fill-mask examples", "", summary.fill_mask_table.strip(), ""]
    return "\n".join(lines).rstrip()


def _versions_section(results: dict[str, Any]) -> str:
    versions = results.get("versions") or {}
    if not versions:
        return "### Framework versions\n\nNot recorded in all_results.json."
    lines = [f"- {name} {version}" for name, version in versions.items()]
    return "\n".join(["### Framework versions", "", *lines])


def build_model_card(
    run: run_folder.RunLike,
    repo_id: str | None = None,
    *,
    figure: str | None = None,
    folder: str | os.PathLike | None = None,
) -> Any:
    """The model card (a `huggingface_hub.ModelCard`) of a run, from its folder alone.

    Reads the run with `run_folder.load_run` (a `Run` is used as it is): config.json, history.json
    and all_results.json (docs/run-folder.md), and the saved model's config.json in `folder`
    (default `<run>/model`) for the shape of a tiny model. `repo_id` names the model and its usage
    snippets; `figure` is the loss plot's path relative to README.md, shown when given.
    """
    from huggingface_hub import ModelCard

    run = run_folder.load_run(run)
    config, results = run.run_config(), run.results
    folder = run.model_dir if folder is None else Path(folder)
    source = provenance(config)
    repo_id = repo_id or f"<your-username>/{config.run_name}"
    facts = model_facts(config, folder)
    data = _card_data(config, source, results, repo_id.split("/")[-1], facts.get("model_type"))
    body = "\n\n".join(
        [
            _describe(config, source, results, repo_id, facts),
            _intended_uses(source, config.language),
            _data_section(config, source, results),
            _hyperparameters(config, results),
            _results_section(run, figure),
            _versions_section(results),
        ]
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n")


def write_model_card(
    run: run_folder.RunLike,
    folder: str | os.PathLike | None = None,
    *,
    repo_id: str | None = None,
    figure: str | os.PathLike | None = None,
) -> Path:
    """Write README.md (the model card) into the Hub folder `folder` (default `<run>/model`), with
    copies of the run's records in `run/` (`run_folder.copy_records`: whoever downloads the model
    can open it as a run); return README's path.

    `figure`, an image file such as the loss plot notebook 06 saves with `plotting.plot_run`, is
    copied into the folder when it lies outside it and shown in the card by its relative path, so
    that it shows on the Hub page. Used in notebook 06.
    """
    run = run_folder.load_run(run)
    folder = run.model_dir if folder is None else Path(folder)
    problem = run_folder.model_problem(folder) if folder == run.model_dir else None
    if problem:  # a card alone in model/ would hide that the model is missing
        raise FileNotFoundError(
            f"no model to describe: {problem}. Nothing was written. Re-save it from the run's "
            "checkpoint first: runs.open_run(config, mode='resave') (--mode resave)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    image = None
    if figure is not None:
        figure = Path(figure).resolve()
        if not figure.is_relative_to(folder.resolve()):
            figure = Path(shutil.copy2(figure, folder / figure.name)).resolve()
        image = figure.relative_to(folder.resolve()).as_posix()
    path = folder / CARD_FILE
    build_model_card(run, repo_id, figure=image, folder=folder).save(path)
    run_folder.copy_records(run, folder)
    return path
