"""Tests for mlm_helpers.publishing (notebook 06): Hub folder, model card, token handling, upload.

Nothing here talks to the Hub: uploads go to a recording fake of `HfApi` whose calls are checked
against the real `HfApi` signatures.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import secrets
import shutil
import string
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_runs import tiny_config

from mlm_helpers import paths, publishing, run_folder
from mlm_helpers.config import EMBEDDED, SCRATCH, RunConfig, embedded_profile, hub_profile
from mlm_helpers.paths import project_root
from mlm_helpers.publishing import (
    PublishError,
    build_model_card,
    describe_token,
    find_token_leaks,
    get_token,
    load_from_folder,
    missing_hub_files,
    publish,
    save_for_hub,
    upload_listing,
    write_model_card,
)

TEXTS = [
    "This movie was a great film with wonderful acting.",
    "The plot was predictable and the acting was terrible.",
    "I would recommend this movie to anyone who loves a good story.",
    "A boring film, the worst movie I have seen this year.",
    "The director and the actors made a brilliant picture.",
] * 4


def fake_token() -> str:
    """A token-shaped secret made at run time (so no token-like literal sits in this file)."""
    alphabet = string.ascii_letters + string.digits
    return "hf_" + "".join(secrets.choice(alphabet) for _ in range(34))


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from tokenizers import BertWordPieceTokenizer
    from transformers import DistilBertTokenizerFast

    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(TEXTS, vocab_size=120, min_frequency=1)
    folder = tmp_path_factory.mktemp("vocab")
    trainer.save_model(str(folder))
    return DistilBertTokenizerFast(vocab_file=str(folder / "vocab.txt"))


@pytest.fixture(scope="module")
def tiny_model(tokenizer, make_tiny_mlm):
    return make_tiny_mlm(tokenizer, n_layers=2)


@pytest.fixture(scope="module")
def saved_model_dir(tiny_model, tokenizer, tmp_path_factory):
    return save_for_hub(tiny_model, tokenizer, tmp_path_factory.mktemp("saved") / "model")


HISTORY = {
    "steps": [
        {"step": s, "epoch": 1 + (s - 1) // 4, "loss": 9.0 - 0.3 * s, "learning_rate": 1e-5 * s}
        for s in range(1, 13)
    ],
    "epochs": [
        {
            "epoch": 1,
            "step": 4,
            "train_loss": 6.91234,
            "eval_loss": 5.81119,
            "perplexity": 333.7,
            "learning_rate": 9e-4,
            "tokens_per_sec": 31000.0,
            "seconds": 12.9,
        },
        {
            "epoch": 2,
            "step": 8,
            "train_loss": 4.50001,
            "eval_loss": 4.25557,
            "perplexity": 70.5,
            "learning_rate": 5e-4,
            "tokens_per_sec": 31000.0,
            "seconds": 12.1,
        },
        {
            "epoch": 3,
            "step": 12,
            "train_loss": 3.75,
            "eval_loss": 4.09876,
            "perplexity": 60.3,
            "learning_rate": 0.0,
            "tokens_per_sec": 31000.0,
            "seconds": 12.0,
        },
    ],
}
RESULTS = {
    "eval_loss_before": 8.2001,
    "perplexity_before": 3640.95,
    "eval_loss_after": 4.09876,
    "perplexity_after": 60.3449,
    "fill_mask_before": {
        "This is a great [MASK].": [
            {"token": "deal", "score": 0.0123},
            {"token": "idea", "score": 0.0101},
        ]
    },
    "fill_mask_after": {
        "This is a great [MASK].": [
            {"token": "movie", "score": 0.3123},
            {"token": "film", "score": 0.1234},
        ]
    },
    "train_rows": 3000,
    "eval_rows": 300,
    "epochs_completed": 3,
    "global_step": 12,
    "steps_per_epoch": 4,
    "total_steps": 12,
    "warmup_steps": 1,
    "train_runtime_seconds": 75.2,
    "train_rows_per_sec": 120.0,
    "train_tokens_per_sec": 15360.0,
    "precision": "float32",
    "jit_compile": False,
    "replicas": 1,
    "accelerator": "cpu",
    "versions": {"transformers": "4.57.6", "tensorflow": "2.21.0", "datasets": "5.0.1"},
}


def make_run(
    root: Path, config: RunConfig, saved_model_dir: Path, *, history=HISTORY, results=RESULTS
) -> Path:
    """A run folder as training writes it (docs/run-folder.md), with a tiny saved model."""
    config = config.replace(runs_dir=str(root))
    run_dir = config.run_dir
    config.save(run_dir / "config.json")
    (run_dir / "history.json").write_text(json.dumps(history))
    if results is not None:
        (run_dir / "all_results.json").write_text(json.dumps(results))
    shutil.copytree(saved_model_dir, run_dir / "model")
    return run_dir


HUB_CONFIG = hub_profile(run_name="distilbert-imdb-test", masking="whole_word")


@pytest.fixture
def hub_run(tmp_path, saved_model_dir):
    return make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir)


@pytest.fixture
def ready_folder(hub_run):
    """A complete Hub folder: model, tokenizer and card."""
    write_model_card(hub_run, repo_id="someone/distilbert-imdb-test")
    return hub_run / "model"


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def no_cached_login(monkeypatch):
    """No token anywhere: no env variable, no Colab, no cached login on this machine."""
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", None)  # makes the import fail
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)


class FakeApi:
    """Records create_repo / upload_folder calls; checks them against the real HfApi signatures;
    can be told to fail at one of them."""

    def __init__(self, fail_at: str | None = None, error: Exception | None = None):
        from huggingface_hub import HfApi

        self.calls: list[tuple[str, tuple, dict]] = []
        self.fail_at, self.error = fail_at, error
        self._real = HfApi

    def _record(self, name: str, args: tuple, kwargs: dict) -> None:
        inspect.signature(getattr(self._real, name)).bind(
            None, *args, **kwargs
        )  # TypeError if wrong
        self.calls.append((name, args, kwargs))
        if name == self.fail_at:
            raise self.error

    def create_repo(self, *args, **kwargs):
        self._record("create_repo", args, kwargs)
        return f"https://huggingface.co/{kwargs.get('repo_id', args[0] if args else '')}"

    def upload_folder(self, *args, **kwargs):
        self._record("upload_folder", args, kwargs)
        return types.SimpleNamespace(commit_url="https://huggingface.co/x/commit/abc")


# ----------------------------------------------------------------------------- save / load
def test_round_trip_gives_identical_logits(tiny_model, tokenizer, tmp_path):
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors="tf")
    before = tiny_model(batch).logits.numpy()
    folder = save_for_hub(tiny_model, tokenizer, tmp_path / "hub")
    model, loaded_tokenizer = load_from_folder(folder)
    again = loaded_tokenizer(TEXTS[:3], padding=True, return_tensors="tf")
    np.testing.assert_array_equal(again["input_ids"].numpy(), batch["input_ids"].numpy())
    np.testing.assert_array_equal(model(again).logits.numpy(), before)
    assert type(model).__name__ == "TFDistilBertForMaskedLM"


def test_saved_folder_has_everything_but_the_card(saved_model_dir):
    assert missing_hub_files(saved_model_dir) == ["README.md (model card)"]
    config = json.loads((saved_model_dir / "config.json").read_text())
    assert config["architectures"] == ["DistilBertForMaskedLM"]  # the Hub's fill-mask widget


def test_load_from_folder_without_config_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_for_hub"):
        load_from_folder(tmp_path)


# ----------------------------------------------------------------------------- model card
def test_card_metadata_of_hub_profile(hub_run):
    from huggingface_hub import ModelCard

    card = build_model_card(hub_run, repo_id="someone/distilbert-imdb-test")
    data = ModelCard(str(card)).data  # what the Hub will parse from README.md
    assert data.license == "apache-2.0"
    assert data.base_model == "distilbert-base-uncased"
    assert data.datasets == ["imdb"]
    assert data.pipeline_tag == "fill-mask"
    assert data.library_name == "transformers"
    assert {"masked-lm", "fill-mask", "tensorflow"} <= set(data.tags)
    assert data.model_name == "distilbert-imdb-test"
    [result] = data.eval_results
    assert (result.metric_type, result.metric_value) == ("perplexity", 60.34)
    assert (result.dataset_type, result.dataset_split) == ("imdb", "test")
    assert "model-index" in data.to_dict()


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
    [result] = card.data.eval_results
    assert result.dataset_type == "embedded-review-corpus" and "imdb-mini" in result.dataset_name
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
    "from word lists and sentence patterns, so its texts are short and repetitive",
    "carries the patterns its templates were written with",
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
        ],
        ["from scratch", "teaching artefact", "word lists", "general-domain"],
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
        ],
        ["from scratch", "American", "IMDB", "user reviews", "Reviews of popular"],
    ),
    "scratch": (
        embedded_profile(run_name="scr", model=SCRATCH),
        [
            "trained from scratch with masked-language modelling on the generated review corpus",
            "It started from random weights, so this is not domain adaptation",
            "It was trained from scratch, so it knows nothing but its training text.",
            "A teaching artefact.",
            *_GENERATED_CORPUS,
        ],
        ["keeps its general knowledge", "*domain adaptation*:", "pre-train", "American", "IMDB"],
    ),
    "hub model on the generated corpus": (
        hub_profile(run_name="hub-gen", dataset=EMBEDDED),
        [
            "keeps its general knowledge of English",
            "The model keeps whatever biases its base model learned from real text.",
            *_GENERATED_CORPUS,
        ],
        ["from scratch", "teaching artefact", "American", "IMDB", "The same holds for"],
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
    # before/after evaluation
    assert _table_rows(text, "| | Validation loss") == [
        ["Before training", "8.2001", "3640.95"],
        ["After training", "4.0988", "60.34"],
    ]
    assert "from **3,640.95** before" in text and "**60.34** after" in text
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
    assert "3,000 training chunks (384,000 tokens) and 300 evaluation chunks" in text
    assert "[`imdb`](https://huggingface.co/datasets/imdb)" in text
    # fill-mask examples and framework versions
    [row] = _table_rows(text, "| Prompt")
    assert row == [
        "This is a great [MASK].",
        "deal (0.01), idea (0.01)",
        "movie (0.31), film (0.12)",
    ]
    assert "- Transformers 4.57.6" in text and "- TensorFlow 2.21.0" in text
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


def test_card_schedule_is_the_sentence_of_the_schedule_training_built(hub_run):
    from mlm_helpers.schedule import LinearWarmupDecay

    schedule = LinearWarmupDecay.from_config(HUB_CONFIG, RESULTS["steps_per_epoch"])
    expected = schedule.describe()
    assert _schedule_line(build_model_card(hub_run).text) == expected
    assert "first 1 of 12 steps to 2e-05" in expected  # the numbers the fixture's run recorded
    # a run folder whose all_results.json predates "steps_per_epoch": state.json has it
    results = {k: v for k, v in RESULTS.items() if k != "steps_per_epoch"}
    (hub_run / "all_results.json").write_text(json.dumps(results))
    run_folder.write_json_atomic(run_folder.state_path(hub_run), {"steps_per_epoch": 4})
    assert _schedule_line(build_model_card(hub_run).text) == expected


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
    assert "No epoch finished" in text and "all_results.json is missing" in text
    assert "| Train Loss" not in text and "![" not in text
    assert not (run / "model" / "loss_curves.png").exists()
    assert "model-index" not in text


def test_card_needs_the_run_config(tmp_path, saved_model_dir):
    run = make_run(tmp_path / "runs", HUB_CONFIG, saved_model_dir)
    (run / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        build_model_card(run)


def test_write_model_card_embeds_the_loss_figure_next_to_readme(hub_run):
    readme = write_model_card(hub_run)
    assert readme == hub_run / "model" / "README.md"
    image = readme.parent / "loss_curves.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"!\[[^\]]+\]\(loss_curves\.png\)", readme.read_text())
    assert missing_hub_files(readme.parent) == []


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
    assert f"the model from the local folder `{config.model}`" in text
    assert f"the local dataset `{config.dataset}`" in text and "huggingface.co/datasets" not in text


def test_importing_and_the_upload_path_leave_tensorflow_out(ready_folder):
    """The module docstring's claim: only the model itself and the schedule sentence import it."""
    code = (
        "import sys\n"
        "from mlm_helpers import publishing\n"
        "publishing.find_token()\n"
        "publishing.check_hub_folder(sys.argv[1])\n"
        "publishing.publish(sys.argv[1], 'someone/x', dry_run=True)\n"
        "print('tensorflow' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ready_folder)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-2:] == ["False", "False"]


# ----------------------------------------------------------------------------- tokens
def test_token_sources_in_order(monkeypatch, no_cached_login):
    import huggingface_hub

    assert get_token() is None and describe_token(get_token()) == "absent"
    cached, colab, env = fake_token(), fake_token(), fake_token()
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: cached)
    assert get_token() == cached
    userdata = types.SimpleNamespace(get=lambda name: colab if name == "HF_TOKEN" else None)
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(userdata=userdata))
    assert get_token() == colab
    monkeypatch.setenv("HF_TOKEN", f"  {env}\n")
    assert get_token() == env
    assert publishing.find_token()[1] == "the HF_TOKEN environment variable"
    assert describe_token(env) == "present"


def test_colab_secret_refused_falls_through(monkeypatch, no_cached_login):
    def refuse(name):
        raise PermissionError("the user did not grant access")

    colab = types.SimpleNamespace(userdata=types.SimpleNamespace(get=refuse))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setenv("HF_TOKEN", "   ")  # blank counts as unset
    assert get_token() is None


@given(
    token=st.text(string.ascii_letters + string.digits, min_size=30, max_size=60),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_redact_removes_any_token(token, before, after):
    token = "hf_" + token
    redacted = publishing._redact(before + token + after, token)
    assert token not in redacted
    assert describe_token(token) == "present"


@given(
    lines=st.lists(
        st.text(string.printable.replace("\r", "").replace("\n", ""), max_size=50),
        min_size=1,
        max_size=8,
    ),
    where=st.integers(min_value=0),
)
@settings(max_examples=50, deadline=None)
def test_find_token_leaks_reports_the_line(tmp_path_factory, lines, where):
    assert len(find_token_leaks([_write(tmp_path_factory, lines)])) == sum(
        bool(publishing.TOKEN_PATTERN.search(line)) for line in lines
    )
    index = where % len(lines)
    lines = [*lines[:index], f"token = '{fake_token()}'", *lines[index:]]
    leaks = find_token_leaks([_write(tmp_path_factory, lines)])
    assert index + 1 in [number for _, number in leaks]


def _write(factory, lines: list[str]) -> Path:
    path = factory.mktemp("leak") / "notes.md"
    path.write_text("\n".join(lines))
    return path


def test_notebooks_hold_no_token(tmp_path):
    notebooks = sorted((project_root(Path(__file__).parent) / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 6, f"expected the six notebooks of the series, found {notebooks}"
    # control: a copy of one with a token pasted into a cell is the only file reported
    lines = notebooks[-1].read_text().split("\n")
    cell = next(i for i, line in enumerate(lines) if line.strip() == '"source": [')
    lines.insert(cell + 1, f"    \"token = '{fake_token()}'\\n\",")
    planted = tmp_path / notebooks[-1].name
    planted.write_text("\n".join(lines))
    json.loads(planted.read_text())  # still a valid notebook file
    assert find_token_leaks([*notebooks, planted]) == [(planted, cell + 2)]


# ----------------------------------------------------------------------------- publish
def _assert_token_only_in_token_kwarg(api: FakeApi, token: str) -> None:
    for name, args, kwargs in api.calls:
        assert kwargs.get("token") == token, name
        others = [*args, *(v for k, v in kwargs.items() if k != "token")]
        assert not any(token in str(value) for value in others), name


def test_publish_sends_the_folder_with_the_token_only_where_it_belongs(
    ready_folder, monkeypatch, capfd, caplog, no_cached_login
):
    caplog.set_level(logging.DEBUG)
    token = fake_token()
    monkeypatch.setenv("HF_TOKEN", token)
    api = FakeApi()
    result = publish(ready_folder, "someone/distilbert-imdb-test", api=api)

    assert [name for name, _, _ in api.calls] == ["create_repo", "upload_folder"]
    _, args, create = api.calls[0]
    assert (args, create["private"], create["exist_ok"]) == (
        ("someone/distilbert-imdb-test",),
        True,
        True,
    )
    upload = api.calls[1][2]
    assert upload["repo_id"] == "someone/distilbert-imdb-test"
    assert Path(upload["folder_path"]) == ready_folder
    assert upload["commit_message"] == publishing.DEFAULT_COMMIT_MESSAGE
    _assert_token_only_in_token_kwarg(api, token)

    assert result.sent and result.status == "uploaded"
    assert result.url == "https://huggingface.co/someone/distilbert-imdb-test"
    assert {name for name, _ in result.files} == {
        "README.md",
        "config.json",
        "tf_model.h5",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "loss_curves.png",
        "run/config.json",  # the run's records, so that the model opens as a run (open_published)
        "run/history.json",
        "run/all_results.json",
    }
    out, err = capfd.readouterr()
    assert "present" in out
    for text in (out, err, caplog.text, str(result), repr(result)):
        assert token not in text
    assert not find_token_leaks(ready_folder.rglob("*"), token)  # card and files: no token


def test_publish_public_flag_and_explicit_token(ready_folder, no_cached_login):
    token = fake_token()
    api = FakeApi()
    publish(ready_folder, "someone/x", token=token, private=False, api=api, commit_message="v2")
    assert api.calls[0][2]["private"] is False
    assert api.calls[1][2]["commit_message"] == "v2"
    _assert_token_only_in_token_kwarg(api, token)


def test_dry_run_lists_files_and_sends_nothing(ready_folder, capsys, monkeypatch):
    token = fake_token()
    monkeypatch.setenv("HF_TOKEN", token)
    api = FakeApi()
    before = hashes(ready_folder)
    result = publish(ready_folder, "someone/distilbert-imdb-test", dry_run=True, api=api)
    assert api.calls == []
    assert result.status == "dry_run" and not result.sent and result.url is None
    assert result.files == upload_listing(ready_folder)
    assert dict(result.files)["tf_model.h5"] == (ready_folder / "tf_model.h5").stat().st_size
    out = capsys.readouterr().out
    assert (
        "nothing was sent" in out and "https://huggingface.co/someone/distilbert-imdb-test" in out
    )
    assert all(name in out for name, _ in result.files)
    assert token not in out and "Token: present" in out
    assert hashes(ready_folder) == before


def test_upload_listing_skips_git_and_cache(ready_folder):
    (ready_folder / ".git").mkdir()
    (ready_folder / ".git" / "HEAD").write_text("ref")
    (ready_folder / ".cache" / "huggingface").mkdir(parents=True)
    (ready_folder / ".cache" / "huggingface" / "x.lock").write_text("")
    names = [name for name, _ in upload_listing(ready_folder)]
    assert names and not any(n.startswith((".git", ".cache")) for n in names)


def test_no_token_explains_and_sends_nothing(ready_folder, capsys, no_cached_login):
    api = FakeApi()
    before = hashes(ready_folder)
    result = publish(ready_folder, "someone/distilbert-imdb-test", api=api)
    assert api.calls == [] and result.status == "no_token" and not result.sent
    out = capsys.readouterr().out
    assert "HF_TOKEN" in out and "Colab" in out and "nothing was sent" in out
    assert hashes(ready_folder) == before


@pytest.mark.parametrize("fail_at", ["create_repo", "upload_folder"])
def test_failed_upload_leaves_the_folder_untouched(ready_folder, fail_at, no_cached_login):
    token = fake_token()
    api = FakeApi(fail_at=fail_at, error=ConnectionError(f"connection reset (auth {token})"))
    before = hashes(ready_folder)
    with pytest.raises(PublishError) as caught:
        publish(ready_folder, "someone/distilbert-imdb-test", token=token, api=api)
    message = str(caught.value)
    assert "complete and unchanged" in message and "publish(" in message
    assert "connection reset" in message and token not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert hashes(ready_folder) == before


def test_incomplete_folder_names_what_is_missing(saved_model_dir, tmp_path, no_cached_login):
    folder = shutil.copytree(saved_model_dir, tmp_path / "model")
    (folder / "tf_model.h5").unlink()
    api = FakeApi()
    with pytest.raises(FileNotFoundError) as caught:
        publish(folder, "someone/x", token=fake_token(), api=api)
    assert "tf_model.h5" in str(caught.value) and "README.md" in str(caught.value)
    assert "write_model_card" in str(caught.value)
    assert api.calls == []


def test_token_pasted_into_a_file_blocks_the_upload(ready_folder, no_cached_login):
    token = fake_token()
    readme = ready_folder / "README.md"
    readme.write_text(readme.read_text() + f"\nlogin with {token}\n")
    api = FakeApi()
    with pytest.raises(PublishError, match="README.md line") as caught:
        publish(ready_folder, "someone/x", token=token, api=api)
    assert api.calls == [] and token not in str(caught.value)


@pytest.mark.parametrize("repo_id", ["", "a/b/c", "bad name/x", "x/--y"])
def test_invalid_repo_id_is_refused(ready_folder, repo_id):
    with pytest.raises(ValueError, match="repo_id"):
        publish(ready_folder, repo_id, dry_run=True)


# ----------------------------------------------------------------------------- a local "Hub"
class _LocalHub:
    """The four Hub endpoints an upload of small files uses, on 127.0.0.1; records every request.
    `refuse` makes the commit fail with 403, as the Hub does for a read-only token."""

    def __init__(self, refuse: bool = False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hub = self
        self.requests: list[tuple[str, dict, bytes]] = []
        self.files: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                import base64

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.requests.append((self.path, dict(self.headers), body))
                path, status, answer = self.path.split("?")[0], 200, {}
                if path == "/api/repos/create":
                    answer = {
                        "url": f"{hub.url}/{json.loads(body)['organization']}/"
                        f"{json.loads(body)['name']}"
                    }
                elif path == "/api/validate-yaml":
                    answer = {"errors": [], "warnings": []}
                elif "/preupload/" in path:
                    answer = {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in json.loads(body)["files"]
                        ]
                    }
                elif "/commit/" in path and refuse:
                    status, answer = 403, {"error": "You don't have the rights to write here"}
                elif "/commit/" in path:
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            value = item["value"]
                            hub.files[value["path"]] = base64.b64decode(value["content"])
                    repo = path.split("/api/models/")[1].split("/commit/")[0]
                    answer = {
                        "commitUrl": f"{hub.url}/{repo}/commit/{'0' * 40}",
                        "commitOid": "0" * 40,
                    }
                else:
                    status = 404
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.mark.parametrize("refuse", [False, True])
def test_publish_through_real_hfapi_to_a_local_endpoint(
    ready_folder, refuse, capfd, monkeypatch, no_cached_login
):
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        pytest.skip("HF_HUB_OFFLINE is set: huggingface_hub refuses all HTTP, even to 127.0.0.1")
    token = fake_token()
    before = hashes(ready_folder)
    with _LocalHub(refuse=refuse) as hub:
        # CommitInfo parses the commit URL against constants.ENDPOINT, whatever HfApi's endpoint
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        api = HfApi(endpoint=hub.url)
        if refuse:
            with pytest.raises(PublishError, match="complete and unchanged") as caught:
                publish(ready_folder, "someone/tiny", token=token, api=api)
            assert "403" in str(caught.value) and token not in str(caught.value)
        else:
            result = publish(ready_folder, "someone/tiny", token=token, api=api)
            assert result.url == f"{hub.url}/someone/tiny"
            assert hub.files == {
                name: (ready_folder / name).read_bytes() for name, _ in upload_listing(ready_folder)
            }
    create = json.loads(hub.requests[0][2])
    assert (create["name"], create["organization"], create["private"]) == ("tiny", "someone", True)
    for path, headers, body in hub.requests:
        assert headers.get("authorization") == f"Bearer {token}"  # the token travels only here
        assert token.encode() not in body and token not in path
    out, err = capfd.readouterr()
    assert token not in out + err
    assert hashes(ready_folder) == before


def test_the_card_calls_the_text_imdb_only_when_it_is(tmp_path):
    """The shipped corpus is the generated one by name or by path; a local folder or another Hub
    dataset is described by its name, with no claim about IMDB reviewers."""
    from mlm_helpers.config import embedded_profile, hub_profile
    from mlm_helpers.paths import EMBEDDED_DATASET_DIR

    def uses(**changes):
        return publishing._intended_uses(embedded_profile(**changes))

    assert "imdb-mini" in uses() and "IMDB" not in uses()
    assert uses(dataset=str(EMBEDDED_DATASET_DIR)) == uses()
    other = uses(dataset=str(tmp_path))
    assert f"`{tmp_path}`" in other and "IMDB" not in other and "American" not in other
    assert "IMDB" in publishing._intended_uses(hub_profile())
    assert "IMDB" in uses(dataset="stanfordnlp/imdb") and "IMDB" not in uses(dataset="me/hotels")
