"""Tests for mlm_helpers.model_card (notebook 06): the card's metadata, its wording for each kind of
run, its tables and numbers from the run folder, and its usage snippets, run against a saved folder.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from hub_runs import HISTORY, HUB_CONFIG, RESULTS, loaded_after, make_run
from tiny_runs import tiny_config

from mlm_helpers import paths, run_folder
from mlm_helpers.config import EMBEDDED, SCRATCH, embedded_profile, hub_profile
from mlm_helpers.hub_folder import missing_hub_files
from mlm_helpers.model_card import _intended_uses, build_model_card, provenance, write_model_card


def test_card_metadata_of_hub_profile(hub_run):
    from huggingface_hub import ModelCard

    card = build_model_card(hub_run, repo_id="someone/distilbert-imdb-test")
    data = ModelCard(str(card)).data  # what the Hub will parse from README.md
    assert data.license == "apache-2.0"
    assert data.base_model == "distilbert-base-uncased"
    assert data.datasets == ["imdb"]
    assert data.pipeline_tag == "fill-mask"
    assert data.library_name == "transformers"
    assert data.language == "en"
    assert {"masked-lm", "fill-mask", "tensorflow"} <= set(data.tags)
    assert data.model_name == "distilbert-imdb-test"
    before, after = data.eval_results  # what the run measured, on the held-out split
    assert (before.metric_type, before.metric_value) == ("perplexity", 3640.95)
    assert (after.metric_type, after.metric_value) == ("perplexity", 60.34)
    assert "before training" in before.metric_name and "after training" in after.metric_name
    for result in (before, after):
        assert (result.dataset_type, result.dataset_split) == ("imdb", "test")
        assert result.task_type == "fill-mask"
    [entry] = data.to_dict()["model-index"]
    assert len(entry["results"]) == 1 and len(entry["results"][0]["metrics"]) == 2


def _prose(text: str) -> str:
    """The card with every run of whitespace made one space, so that a phrase is found even where
    the card wraps it onto two lines."""
    return " ".join(text.split())


def test_card_of_embedded_profile_has_no_hub_ids_and_says_so(tmp_path, saved_model_dir, tokenizer):
    # tiny_model sizes "scratch" models only: the embedded model's shape must come from the saved
    # model (2 layers, width 32, the fixture tokenizer's vocabulary), never from these numbers
    tiny = {**embedded_profile().tiny_model, "n_layers": 5, "dim": 48}
    config = embedded_profile(run_name="emb", epochs=5, max_reviews=500, tiny_model=tiny)
    # (the run stopped after 3 epochs)
    run = make_run(tmp_path / "runs", config, saved_model_dir)
    card = build_model_card(run)
    assert card.data.base_model is None and card.data.datasets is None  # no Hub id to invent
    assert "domain-adaptation" in card.data.tags
    for result in card.data.eval_results:
        assert (
            result.dataset_type == "embedded-review-corpus" and "imdb-mini" in result.dataset_name
        )
    assert "- num_epochs: 5 (3 completed)" in card.text.splitlines()
    assert "Reviews per split: 500 (sampled with seed 42)" in card.text
    text = _prose(card.text)
    assert (
        "a version of `distilbert-tiny-general`, the tiny general-language DistilBERT "
        f"(2 layers, width 32, {len(tokenizer)}-token vocabulary)" in text
    )
    assert "5 layers" not in text and "width 48" not in text
    assert "<your-username>/emb" in text  # usage snippet without a repo id


@pytest.mark.parametrize(
    "model, shipped, expected",
    [
        (
            EMBEDDED,
            {"n_layers": 3, "dim": 64, "vocab_size": 4000},
            "DistilBERT (3 layers, width 64, 4,000-token vocabulary) that `mlm_helpers` pre-trained",
        ),
        (EMBEDDED, None, "the tiny general-language DistilBERT that `mlm_helpers` pre-trained"),
        (SCRATCH, None, "a tiny DistilBERT (5 layers, width 48) trained from scratch"),
    ],
    ids=["embedded-shipped-config", "embedded-no-config", "scratch-tiny-model"],
)
def test_card_shape_of_a_run_without_a_saved_model_config(
    tmp_path, saved_model_dir, monkeypatch, model, shipped, expected
):
    """Without <run>/model/config.json: an embedded model has the shape of the shipped model it
    adapted (or none is claimed), a scratch model the shape `tiny_model` gave it."""
    shipped_dir = tmp_path / "shipped" / "distilbert-tiny-general"
    shipped_dir.mkdir(parents=True)
    if shipped is not None:
        (shipped_dir / "config.json").write_text(json.dumps(shipped))
    monkeypatch.setattr(paths, "EMBEDDED_MODEL_DIR", shipped_dir)  # read by paths.local_folder
    tiny = {**embedded_profile().tiny_model, "n_layers": 5, "dim": 48}
    config = embedded_profile(run_name="shape", model=model, tiny_model=tiny)
    run = make_run(tmp_path / "runs", config, saved_model_dir)
    (run / "model" / "config.json").unlink()
    text = _prose(build_model_card(run).text)
    assert expected in text
    if model == EMBEDDED:
        assert "width 48" not in text


def test_write_model_card_reads_the_shape_from_the_folder_it_writes_to(
    tmp_path, saved_model_dir, monkeypatch, tokenizer
):
    monkeypatch.setattr(paths, "EMBEDDED_MODEL_DIR", tmp_path / "no-shipped-model")
    run = make_run(tmp_path / "runs", embedded_profile(run_name="elsewhere"), saved_model_dir)
    (run / "model" / "config.json").unlink()  # the model now lives only in `folder`
    folder = shutil.copytree(saved_model_dir, tmp_path / "hub-folder")
    text = _prose(write_model_card(run, folder).read_text())
    assert f"(2 layers, width 32, {len(tokenizer)}-token vocabulary)" in text


# What the card of each kind of run must say about the model and its data, and must never say.
_GENERATED_CORPUS = [
    "Limitations and biases: the corpus holds no real person's opinion. The project generated it "
    "from word lists and rules that combine clauses, so its reviews are formulaic",
    "carries the patterns its generator was written with",
    "not the biases of real reviewers",
]
_REAL_REVIEWS = ["Limitations and biases: user reviews are informal", "mostly American films"]
_WORDING = {
    "hub": (
        HUB_CONFIG,
        [
            "a version of [distilbert-base-uncased](https://huggingface.co/distilbert-base-uncased)"
            " whose masked-language-model pre-training was continued on movie reviews",
            "This is *domain adaptation*: the model keeps its general knowledge of English",
            "user reviews of films and TV shows (IMDB)",
            *_REAL_REVIEWS,
            "Whether that helps a classifier was not measured for this model",
            "[Don't Stop Pretraining](https://arxiv.org/abs/2004.10964)",
        ],
        ["from scratch", "teaching artefact", "word lists", "general-domain", "starts closer"],
    ),
    "embedded": (
        embedded_profile(run_name="emb"),
        [
            "pre-trained with masked-language modelling on generated general-domain text",
            "whose masked-language-model training was continued (adapted) on the generated movie "
            "reviews of `imdb-mini`",
            "This is *domain adaptation*: the model keeps its general knowledge of English",
            "beyond them comes from its pre-training on an equally small generated general-domain",
            "The same holds for the generated general-domain text it was pre-trained on.",
            "A teaching artefact.",
            *_GENERATED_CORPUS,
            # what notebook 07 measured on this corpus, not the hoped-for "starts closer"
            "a sentiment classifier on the frozen adapted encoder did *worse* than one on the "
            "frozen general encoder it started from",
        ],
        ["from scratch", "American", "IMDB", "user reviews", "Reviews of popular", "starts closer"],
    ),
    "scratch": (
        embedded_profile(run_name="scr", model=SCRATCH),
        [
            "trained from scratch with masked-language modelling on the generated movie reviews "
            "of `imdb-mini`",
            "It started from random weights, so this is not domain adaptation",
            "It was trained from scratch, so it knows nothing but its training text.",
            "A teaching artefact.",
            *_GENERATED_CORPUS,
        ],
        [
            "keeps its general knowledge",
            "*domain adaptation*:",
            "pre-train",
            "American",
            "IMDB",
            "classifier",
        ],
    ),
    "hub model on the generated corpus": (
        hub_profile(run_name="hub-gen", dataset=EMBEDDED),
        [
            "keeps its general knowledge of English",
            "The model keeps whatever biases its base model learned from real text.",
            *_GENERATED_CORPUS,
            "Whether that helps a classifier on such text was not measured for this model",
        ],
        ["from scratch", "teaching artefact", "American", "IMDB", "The same holds for", "*worse*"],
    ),
}


@pytest.mark.parametrize("kind", list(_WORDING))
def test_card_wording_is_true_of_each_kind_of_run(kind, tmp_path, saved_model_dir):
    config, says, never = _WORDING[kind]
    text = _prose(build_model_card(make_run(tmp_path / "runs", config, saved_model_dir)).text)
    for phrase in says:
        assert phrase in text, phrase
    for phrase in never:
        assert phrase not in text, phrase


def test_card_metadata_of_a_scratch_model_names_no_base_model(tmp_path, saved_model_dir):
    config = embedded_profile(run_name="scr", model=SCRATCH)
    data_ = build_model_card(make_run(tmp_path / "runs", config, saved_model_dir)).data
    assert data_.base_model is None  # "scratch" is no Hub id
    assert "domain-adaptation" not in data_.tags and "masked-lm" in data_.tags


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_card_body_matches_config_history_and_results(hub_run):
    text = build_model_card(hub_run, repo_id="someone/distilbert-imdb-test").text
    # per-epoch table, epochs numbered from 1 as in history.json and the loss figure
    expected = [
        [f"{e['train_loss']:.4f}", f"{e['eval_loss']:.4f}", str(e["epoch"])]
        for e in HISTORY["epochs"]
    ]
    assert _table_rows(text, "| Train Loss") == expected
    # before/after evaluation, and the run read aloud as notebook 05 prints it
    assert "from **3,640.95** before" in text and "**60.34** after" in text
    assert "Perplexity went from 3,640.95 before training to 60.34 after." in text
    assert "Validation loss was still falling at the last epoch (3: 4.0988)" in text
    # hyperparameters in the original card's style
    for line in [
        "- optimizer: AdamWeightDecay (beta_1: 0.9, beta_2: 0.999, epsilon: 1e-08, "
        "weight_decay_rate: 0.01, gradient clipping by global norm: 1)",
        "- train_batch_size: 32",
        "- num_epochs: 3",
        "- seed: 42",
        "- masking: whole-word masking, mlm_probability: 0.15",
        "- chunk_size: 128",
        "- training_precision: float32",
        "- jit_compile (XLA): False",
        "- hardware: 1 × CPU, 75.2 s of training (15,360 tokens/s)",
    ]:
        assert line in text.splitlines(), line
    # data: splits actually used, held-out split, sizes
    assert "Training split(s): `train`, `unsupervised`. Evaluation split: `test`, held out" in text
    assert "3,000 training chunks per epoch (384,000 tokens) and 300 evaluation chunks." in text
    assert "[`imdb`](https://huggingface.co/datasets/imdb)" in text
    # fill-mask examples and framework versions
    [row] = _table_rows(text, "| Prompt")
    assert row == [
        "This is a great [MASK].",
        "deal (0.01), idea (0.01)",
        "movie (0.31), film (0.12)",
    ]
    assert "- transformers 4.57.6" in text and "- tensorflow 2.21.0" in text
    assert 'pipeline("fill-mask", model="someone/distilbert-imdb-test"' in text
    for heading in (
        "## Intended uses and limitations",
        "## Training and evaluation data",
        "## Training procedure",
        "### Training results",
        "### Framework versions",
    ):
        assert heading in text


def _schedule_line(text: str) -> str:
    [line] = [line for line in text.splitlines() if line.startswith("- learning_rate: ")]
    return line.removeprefix("- learning_rate: ")


def test_card_says_why_an_epoch_trains_on_fewer_chunks_than_were_sampled(tmp_path, saved_model_dir):
    """3,000 chunks in batches of 16: an epoch is 187 whole batches, 2,992 chunks (notebook 02
    says 3,000, notebook 06's card 2,992: the card explains the 8)."""
    config = embedded_profile(run_name="whole", train_chunks=3_000, batch_size=16)
    results = {**RESULTS, "train_rows": 2_992, "steps_per_epoch": 187, "eval_rows": 2_000}
    run = make_run(tmp_path / "runs", config, saved_model_dir, results=results)
    text = _prose(build_model_card(run).text)
    assert (
        "Used: 2,992 training chunks per epoch (382,976 tokens) and 2,000 evaluation chunks. An "
        "epoch is 187 whole batches of 16: every batch has the same shape" in text
    )
    assert "Of the 3,000 training chunks sampled, the 8 that would only part-fill" in text


def test_card_schedule_is_the_sentence_of_the_schedule_training_built(hub_run):
    from mlm_helpers.schedule import Schedule

    schedule = Schedule.from_config(HUB_CONFIG, RESULTS["steps_per_epoch"])
    expected = schedule.describe()
    assert _schedule_line(build_model_card(hub_run).text) == expected
    assert "first 1 of 12 steps to 2e-05" in expected  # the numbers the fixture's run recorded


def test_card_without_steps_per_epoch_states_only_the_settings(tmp_path, saved_model_dir):
    results = {k: v for k, v in RESULTS.items() if k != "steps_per_epoch"}
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir, results=results)
    line = _schedule_line(build_model_card(run).text)
    assert line.startswith("peak 2e-05, warmup over 10% of the steps (") and "unknown" in line
    assert not any(c.isdigit() for c in line.removeprefix("peak 2e-05, warmup over 10%"))
    steps = HUB_CONFIG.replace(run_name="by-steps", warmup=30)
    run = make_run(tmp_path / "runs", steps, saved_model_dir, results=results)
    assert _schedule_line(build_model_card(run).text).startswith("peak 2e-05, warmup over 30 steps")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, embedded_tokenizer):
    """A real run of `runs.open_run(mode="train")`: 2 epochs of 6 steps, warmup 0.25 (3 steps)."""
    from mlm_helpers.chunking import prepare_chunks
    from mlm_helpers.runs import open_run

    config = tiny_config(
        tmp_path_factory.mktemp("runs"),
        warmup=0.25,
        max_reviews=60,
        train_chunks=48,
        eval_chunks=8,
        top_k=2,
    )
    chunks = prepare_chunks(config, embedded_tokenizer)
    return open_run(
        config, mode="train", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0
    ).path


def test_card_schedule_agrees_with_the_rates_training_recorded(trained_run):
    """The sentence's numbers are read back from history.json, where training logged the rate of
    every step: the warmup ends at the step with the highest rate, the last step is the run's last,
    and the rate of that step is the one the sentence gives, formatted the same way."""
    steps = run_folder.load_run(trained_run).steps
    rates = [s["learning_rate"] for s in steps]
    peak_step = steps[rates.index(max(rates))]["step"]
    line = _schedule_line(build_model_card(trained_run).text)
    assert (peak_step, steps[-1]["step"]) == (3, 12)
    assert line.startswith(
        f"linear warmup from 0 over the first {peak_step} of {steps[-1]['step']} "
    )
    assert f" to {max(rates):g}, then linear decay to {rates[-1]:.3g} at the last step" in line
    assert rates[-1] > 0  # so the "(0 after it)" of the sentence is about the step after the run


def test_card_uses_the_last_record_of_a_resumed_epoch(tmp_path, saved_model_dir):
    repeated = {**HISTORY["epochs"][1], "train_loss": 9.9999}  # logged before a crash
    history = {
        "steps": HISTORY["steps"],
        "epochs": [HISTORY["epochs"][0], repeated, *HISTORY["epochs"][1:]],
    }
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir, history=history)
    rows = _table_rows(build_model_card(run).text, "| Train Loss")
    assert [r[2] for r in rows] == ["1", "2", "3"] and rows[1][0] == "4.5000"


def test_card_of_unfinished_run_has_no_results_tables(tmp_path, saved_model_dir):
    history = {"steps": HISTORY["steps"][:3], "epochs": []}
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir, history=history, results=None)
    readme = write_model_card(run)
    text = readme.read_text()
    assert "training has not finished (no all_results.json)" in text
    assert "No completed epoch yet" in text
    assert "| Train Loss" not in text and "![" not in text
    assert not (run / "model" / "loss_curves.png").exists()
    assert "model-index" not in text


def test_card_needs_the_run_config(tmp_path, saved_model_dir):
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir)
    (run / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        build_model_card(run)


def test_write_model_card_shows_the_figure_it_is_given(hub_run, tmp_path):
    elsewhere = tmp_path / "figures" / "loss_curves.png"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"\x89PNG\r\n\x1a\n")
    readme = write_model_card(hub_run, figure=elsewhere)  # copied next to README.md
    assert readme == hub_run / "model" / "README.md"
    assert (readme.parent / "loss_curves.png").read_bytes() == elsewhere.read_bytes()
    assert re.search(r"!\[[^\]]+\]\(loss_curves\.png\)", readme.read_text())
    assert missing_hub_files(readme.parent) == []
    inside = readme.parent / "figures" / "loss.png"  # already in the folder: shown where it is
    inside.parent.mkdir()
    inside.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert "](figures/loss.png)" in write_model_card(hub_run, figure=inside).read_text()
    assert "![" not in write_model_card(hub_run).read_text()


def test_card_of_a_run_from_a_local_folder_that_is_gone(tmp_path, saved_model_dir):
    """A run trained from local folders that no longer exist still gets a card, which calls them
    local, never Hub ids."""
    config = HUB_CONFIG.replace(
        run_name="gone",
        model=str(tmp_path / "gone" / "model"),
        dataset=str(tmp_path / "gone" / "data"),
    )
    card = build_model_card(make_run(tmp_path / "runs", config, saved_model_dir))
    assert card.data.base_model is None and card.data.datasets is None
    text = _prose(card.text)
    assert (
        "the model (distilbert, 2 layers, width 32, 120-token vocabulary) from the local " in text
    )
    assert f"folder `{config.model}`" in text
    assert f"the local dataset `{config.dataset}`" in text and "huggingface.co/datasets" not in text


def test_the_card_calls_the_text_imdb_only_when_it_is(tmp_path):
    """The shipped corpus is the generated one by name or by path; a local folder or another Hub
    dataset is described by its name, with no claim about IMDB reviewers."""
    from mlm_helpers.paths import EMBEDDED_DATASET_DIR

    def uses(**changes):
        return _intended_uses(provenance(embedded_profile(**changes)))

    assert "imdb-mini" in uses() and "IMDB" not in uses()
    assert uses(dataset=str(EMBEDDED_DATASET_DIR)) == uses()
    other = uses(dataset=str(tmp_path))
    assert f"`{tmp_path}`" in other and "IMDB" not in other and "American" not in other
    assert "IMDB" in _intended_uses(provenance(hub_profile()))
    assert "IMDB" in uses(dataset="stanfordnlp/imdb") and "IMDB" not in uses(dataset="me/hotels")


def _snippets(text: str) -> list[str]:
    """The code blocks of the card's "How to use" section."""
    usage = text.split("## How to use", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", usage, flags=re.S)


def test_the_tensorflow_snippet_runs_as_printed_against_the_folder(hub_run):
    """In this TensorFlow-only environment, with a model.safetensors beside tf_model.h5 (as the
    published folder will hold one): the card's TF snippet, its repo id replaced by the folder."""
    pytest.importorskip("tensorflow")
    if __import__("importlib").util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed: this test is about a TensorFlow-only environment")
    readme = write_model_card(hub_run, repo_id="someone/distilbert-imdb-test")
    (readme.parent / "model.safetensors").write_bytes(b"not for the TF loader")
    pytorch, tensorflow = _snippets(readme.read_text())
    assert 'pipeline("fill-mask", model="someone/distilbert-imdb-test")' in pytorch
    code = tensorflow.replace("someone/distilbert-imdb-test", str(readme.parent))
    namespace: dict = {}
    exec(code.replace('fill("', 'predictions = fill("'), namespace)
    assert len(namespace["predictions"]) == 5 and "token_str" in namespace["predictions"][0]


def test_writing_a_card_imports_neither_matplotlib_nor_tensorflow(tmp_path, saved_model_dir):
    """The card's tables come from reports, its figure from the caller, its schedule sentence
    from the TensorFlow-free `schedule.Schedule`."""
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir)
    code = "from mlm_helpers.model_card import write_model_card\nwrite_model_card(sys.argv[1])\n"
    assert loaded_after(code, run, modules=("matplotlib", "tensorflow")) == []
