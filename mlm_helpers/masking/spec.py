"""The masking spec and the constants every layer of `mlm_helpers.masking` shares.

`MaskingSpec` says what may be masked (the tokenizer's mask id, vocabulary size and special ids)
and how (token or whole-word, `mlm_probability` and the mask / random / kept split);
`maskable_positions` is the one definition of "may be chosen" on numpy arrays (`mask_batch` applies
the same rule with TF ops).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import finite_number, positive_int
from ..config import RunConfig, check_masking
from ..data import check_tokenizer

IGNORE_INDEX = -100  # label of positions that are not predicted (Keras/transformers convention)
MODEL_INPUTS = ("input_ids", "attention_mask")  # the model's inputs: chunk columns masking needs

# Outcome codes stored in the "outcome" array of `mask_chunks` / `fixed_eval_masks`.
NOT_CHOSEN, MASKED, RANDOM, KEPT = 0, 1, 2, 3
OUTCOMES = {MASKED: "mask", RANDOM: "random", KEPT: "kept"}


@dataclass(frozen=True)
class MaskingSpec:
    """What masking needs to know: the tokenizer's ids and the masking recipe.

    Build it with `MaskingSpec.from_tokenizer` (or `from_config`, as notebook 03 does); every
    masking function takes one.
    """

    mask_token_id: int
    vocab_size: int
    special_ids: tuple[int, ...]
    mlm_probability: float = 0.15
    kind: str = "token"
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "special_ids", tuple(sorted({int(i) for i in self.special_ids})))
        positive_int(self.vocab_size, "MaskingSpec.vocab_size", minimum=2)
        if not 0 <= self.mask_token_id < self.vocab_size:
            raise ValueError(
                f"mask_token_id={self.mask_token_id!r} is outside the vocabulary [0, "
                f"{self.vocab_size}): pass the tokenizer's mask_token_id and len(tokenizer)"
            )
        bad = [i for i in self.special_ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"special ids {bad} are outside the vocabulary [0, {self.vocab_size})")
        check_masking(self.kind, self.mlm_probability)
        probs = (self.mask_replace_prob, self.random_replace_prob)
        finite_number(probs[0], "MaskingSpec.mask_replace_prob")
        finite_number(probs[1], "MaskingSpec.random_replace_prob")
        if min(probs) < 0 or sum(probs) > 1:
            raise ValueError(
                f"mask_replace_prob={probs[0]!r} and random_replace_prob={probs[1]!r} must be >= 0 "
                "and add up to at most 1 (the rest stays unchanged); the usual values are 0.8 and 0.1"
            )

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, *, kind: str = "token", mlm_probability: float = 0.15
    ) -> MaskingSpec:
        """The spec for a BERT-style tokenizer: its mask id, `len(tokenizer)` and its special ids
        (the same ids the collator refuses to mask). Raises `data.DataError` if it has no mask
        token."""
        check_tokenizer(tokenizer, fast=False)
        return cls(
            mask_token_id=int(tokenizer.mask_token_id),
            vocab_size=len(tokenizer),
            special_ids=tuple(int(i) for i in tokenizer.all_special_ids),
            mlm_probability=float(mlm_probability),
            kind=kind,
        )

    @classmethod
    def from_config(cls, config: RunConfig, tokenizer: Any) -> MaskingSpec:
        """The spec a run uses: `config.masking` and `config.mlm_probability` with the tokenizer."""
        return cls.from_tokenizer(
            tokenizer, kind=config.masking, mlm_probability=config.mlm_probability
        )

    def replace(self, **changes: Any) -> MaskingSpec:
        """A copy with some fields changed (validated), e.g. ``spec.replace(kind="whole_word")``."""
        return dataclasses.replace(self, **changes)

    def special_table(self) -> np.ndarray:
        """A bool lookup table over the vocabulary: True at the special ids."""
        table = np.zeros(self.vocab_size, bool)
        table[list(self.special_ids)] = True
        return table


def maskable_positions(
    input_ids: np.ndarray, attention_mask: np.ndarray, spec: MaskingSpec
) -> np.ndarray:
    """Where masking may choose: real tokens that are not special tokens (numpy, bool).

    The training stream precomputes it once per chunk set; `count_outcomes` counts it to measure
    the share of tokens chosen.
    """
    ids = np.asarray(input_ids)
    return (np.asarray(attention_mask) == 1) & ~spec.special_table()[ids]
