"""The Hub-folder runs shared by test_hub_folder, test_model_card and test_publishing: a tiny saved
model in Hub format and run folders around it with known history and results. Imported by name
(pytest's `pythonpath`); the fixtures are imported into the test modules that use them."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

from mlm_helpers.config import RunConfig, hub_profile
from mlm_helpers.hub_folder import save_for_hub

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
    """A complete Hub folder: model, tokenizer, card and its loss figure (a PNG stand-in)."""
    from mlm_helpers.model_card import write_model_card

    figure = hub_run / "model" / "loss_curves.png"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n")
    write_model_card(hub_run, repo_id="someone/distilbert-imdb-test", figure=figure)
    return hub_run / "model"


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def loaded_after(code: str, *argv: object, modules=("tensorflow", "transformers")) -> list[str]:
    """Which of `modules` a fresh Python has imported after running `code` (with `argv`)."""
    check = f"\nimport sys\nprint(*[m for m in {tuple(modules)!r} if m in sys.modules])\n"
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code + check, *map(str, argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()[-1].split() if done.stdout.strip() else []
