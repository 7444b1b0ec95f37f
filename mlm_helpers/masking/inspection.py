"""Looking at masks in notebook 03: outcome counts, masked rows as text, the outcome figure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .spec import IGNORE_INDEX, KEPT, MASKED, OUTCOMES, RANDOM, MaskingSpec, maskable_positions


def count_outcomes(
    masked_ids: np.ndarray,
    labels: np.ndarray,
    mask_token_id: int,
    *,
    outcome: np.ndarray | None = None,
    maskable: np.ndarray | None = None,
) -> dict[str, float]:
    """Count the mask / random / kept outcomes over many rows (notebook 03 counts the collator's).

    Works for our arrays and for a collator's output alike. With `outcome` (from `mask_chunks`)
    the counts are exact; without it they are read off the ids, and a random replacement that
    happened to draw the original id (or the mask id) counts as kept (or masked) - about 1 in
    vocab_size of them. With `maskable` the share of chosen positions is reported too.
    """
    labels = np.asarray(labels)
    chosen = labels != IGNORE_INDEX
    if outcome is not None:
        outcome = np.asarray(outcome)
        n_mask = int(np.sum(outcome == MASKED))
        n_random = int(np.sum(outcome == RANDOM))
        n_kept = int(np.sum(outcome == KEPT))
    else:
        masked_ids = np.asarray(masked_ids)
        is_mask = chosen & (masked_ids == mask_token_id)
        is_kept = chosen & ~is_mask & (masked_ids == labels)
        n_mask, n_kept = int(is_mask.sum()), int(is_kept.sum())
        n_random = int(chosen.sum()) - n_mask - n_kept
    n_chosen = int(chosen.sum())
    counts: dict[str, float] = {
        "chosen": n_chosen,
        "mask": n_mask,
        "random": n_random,
        "kept": n_kept,
    }
    for name in OUTCOMES.values():
        counts[f"{name}_share"] = counts[name] / n_chosen if n_chosen else 0.0
    if maskable is not None:
        n_maskable = int(np.sum(maskable))
        counts["maskable"] = n_maskable
        counts["chosen_share"] = n_chosen / n_maskable if n_maskable else 0.0
    return counts


def masking_outcomes(masked: Mapping[str, np.ndarray], spec: MaskingSpec) -> dict[str, float]:
    """`count_outcomes` of a `mask_chunks` / `fixed_eval_masks` result, exact (from its outcome
    array) and with the share of maskable positions chosen (notebook 03's check of the recipe)."""
    return count_outcomes(
        masked["input_ids"],
        masked["labels"],
        spec.mask_token_id,
        outcome=masked["outcome"],
        maskable=maskable_positions(masked["original_ids"], masked["attention_mask"], spec),
    )


def decode_masked_row(
    tokenizer: Any,
    masked_ids: Sequence[int],
    labels: Sequence[int],
    attention_mask: Sequence[int] | None = None,
    *,
    outcome: Sequence[int] | None = None,
) -> str:
    """A masked row as readable text (one row of `decode_masked_rows`).

    ``[MASK]`` stays as is, a random replacement is shown as ``<new|was original>`` and a chosen
    token left unchanged as ``{token}``; pieces of one word are joined ("play##ing" -> "playing")
    and padding is dropped. Without `outcome` a position is read as random when its id differs
    from its label and is not the mask id.
    """
    ids = [int(i) for i in masked_ids]
    labs = [int(i) for i in labels]
    keep = [1] * len(ids) if attention_mask is None else [int(a) for a in attention_mask]
    mask_id = tokenizer.mask_token_id
    words: list[str] = []
    for pos, (token_id, label) in enumerate(zip(ids, labs, strict=True)):
        if not keep[pos]:
            continue
        original = token_id if label == IGNORE_INDEX else label
        text = tokenizer.convert_ids_to_tokens(original)
        glue = text.startswith("##")
        if label != IGNORE_INDEX:
            kind = (
                int(outcome[pos])
                if outcome is not None
                else (MASKED if token_id == mask_id else KEPT if token_id == label else RANDOM)
            )
            shown = text[2:] if glue else text
            if kind == MASKED:
                text = tokenizer.mask_token
            elif kind == RANDOM:
                text = f"<{tokenizer.convert_ids_to_tokens(token_id)}|was {shown}>"
            else:
                text = "{" + shown + "}"
        elif glue:
            text = text[2:]
        if glue and words:
            words[-1] += text
        else:
            words.append(text)
    return " ".join(words)


def decode_masked_rows(
    tokenizer: Any, masked: Mapping[str, np.ndarray], rows: Iterable[int]
) -> list[str]:
    """`decode_masked_row` for several rows of a `mask_chunks` / `fixed_eval_masks` result
    (notebook 03)."""
    outcome = masked.get("outcome")
    return [
        decode_masked_row(
            tokenizer,
            masked["input_ids"][i],
            masked["labels"][i],
            masked["attention_mask"][i],
            outcome=None if outcome is None else outcome[i],
        )
        for i in rows
    ]


def plot_outcome_shares(counts: Mapping[str, Mapping[str, float]], spec: MaskingSpec):
    """Bar chart of the masking recipe as measured: the share of maskable tokens chosen, and how
    the chosen split into [MASK] / random / kept, one bar group per masking variant (notebook 03).

    `counts` maps a label (e.g. "token", "whole word", "collator") to a `count_outcomes` result
    computed with `maskable`. Dashed lines mark the target shares, read from `spec`: its
    `mlm_probability`, `mask_replace_prob`, `random_replace_prob` and the rest (kept).
    """
    import matplotlib.pyplot as plt

    names = ["chosen_share", "mask_share", "random_share", "kept_share"]
    ticks = [
        "chosen\n(of maskable)",
        "[MASK]\n(of chosen)",
        "random\n(of chosen)",
        "kept\n(of chosen)",
    ]
    kept = 1.0 - spec.mask_replace_prob - spec.random_replace_prob
    targets = [spec.mlm_probability, spec.mask_replace_prob, spec.random_replace_prob, kept]
    fig, ax = plt.subplots()
    x = np.arange(len(names))
    width = 0.8 / max(len(counts), 1)
    for i, (label, measured) in enumerate(counts.items()):
        if "chosen_share" not in measured:
            raise ValueError(
                f"counts for {label!r} lack chosen_share: pass maskable= to count_outcomes"
            )
        offset = (i - (len(counts) - 1) / 2) * width
        ax.bar(x + offset, [measured[n] for n in names], width, label=label)
    for xi, target in zip(x, targets, strict=True):
        ax.hlines(target, xi - 0.45, xi + 0.45, colors="black", linestyles="--", linewidth=1)
    ax.set_xticks(x, ticks)
    ax.set_ylabel("share")
    ax.set_title("Masking recipe as measured (dashed: target)")
    ax.legend()
    return fig
