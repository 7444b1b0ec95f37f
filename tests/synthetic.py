"""Made-up chunks in stage 02's layout, for the masking tests and benchmarks/masking.py (which puts
tests/ on its import path): many rows without a corpus."""

from __future__ import annotations

from typing import Any

import numpy as np


def synthetic_chunks(
    tokenizer: Any, n_rows: int, chunk_size: int = 128, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Chunks in stage 02's layout made of random word pieces: fake reviews ``[CLS] ... [SEP]``
    concatenated and cut into rows, with chunk-local `word_ids` (words of 1-3 pieces).

    For speed comparisons and tests that need many rows without a corpus (benchmarks/masking.py
    and tests/test_masking.py).
    """
    if n_rows < 1 or chunk_size < 2:
        raise ValueError(f"need n_rows >= 1 and chunk_size >= 2, got {n_rows} and {chunk_size}")
    rng = np.random.default_rng(seed)
    special = set(int(i) for i in tokenizer.all_special_ids)
    regular = np.array([i for i in range(len(tokenizer)) if i not in special], np.int32)
    total = n_rows * chunk_size
    ids, words = [], []
    produced, next_word = 0, 0
    while produced < total:
        n_words = int(rng.integers(30, 300))
        pieces = rng.choice([1, 1, 1, 2, 2, 3], size=n_words)  # mean ~1.7 pieces per word
        word_of_piece = np.repeat(np.arange(next_word, next_word + n_words), pieces)
        next_word += n_words
        ids.append(
            np.concatenate(
                (
                    [tokenizer.cls_token_id],
                    rng.choice(regular, size=len(word_of_piece)),
                    [tokenizer.sep_token_id],
                )
            )
        )
        words.append(np.concatenate(([-1], word_of_piece, [-1])))
        produced += len(word_of_piece) + 2
    flat_ids = np.concatenate(ids)[:total].reshape(n_rows, chunk_size).astype(np.int32)
    flat_words = np.concatenate(words)[:total].reshape(n_rows, chunk_size)
    real = flat_words >= 0
    first = np.where(real, flat_words, np.iinfo(np.int64).max).min(axis=1, keepdims=True)
    local = np.where(real, flat_words - first, -1).astype(np.int32)
    return {
        "input_ids": flat_ids,
        "attention_mask": np.ones_like(flat_ids),
        "word_ids": local,
    }
