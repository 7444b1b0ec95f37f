"""Tiny training runs shared by the tests that train: a one-layer DistilBERT of width 32 on 32-token
chunks of the embedded corpus, a few seconds per run. Imported by name (pytest's `pythonpath`).

Tiny runs are CPU runs, also on a GPU workstation or a Colab GPU: the tests that use them check
CPU behaviour (bit-exact resume needs deterministic kernels; float32, no XLA), so importing this
module hides the GPUs from TensorFlow (before it initialises its devices)."""

from __future__ import annotations

from pathlib import Path

from mlm_helpers import runtime
from mlm_helpers.config import SCRATCH, RunConfig, embedded_profile

runtime.import_tensorflow().config.set_visible_devices([], "GPU")

TINY_MODEL = {
    "n_layers": 1,
    "dim": 32,
    "n_heads": 2,
    "hidden_dim": 64,
    "max_position_embeddings": 64,
    "dropout": 0.1,
    "attention_dropout": 0.1,
}


def tiny_config(runs_dir: Path, **changes) -> RunConfig:
    """2 epochs × 8 steps of batch 8 on 32-token chunks, with dropout on and a checkpoint every 3
    steps; `changes` override any field."""
    settings = dict(
        runs_dir=str(runs_dir),
        run_name="tiny",
        chunk_size=32,
        batch_size=8,
        epochs=2,
        learning_rate=5e-3,
        warmup=0.1,
        model=SCRATCH,
        tiny_model=TINY_MODEL,
        train_chunks=64,
        eval_chunks=16,
        seed=3,
        checkpoint_every_steps=3,
        fill_mask_prompts=("a great [MASK].",),
        top_k=3,
    )
    settings.update(changes)
    return embedded_profile(**settings)
