"""Looking at masks in notebook 03: outcome counts, masked rows as text, a masked chunk drawn as a
token grid."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..checks import positive_int
from ..data import token_pieces, token_text
from .spec import (
    IGNORE_INDEX,
    KEPT,
    MASKED,
    NOT_CHOSEN,
    OUTCOMES,
    RANDOM,
    MaskingSpec,
    maskable_positions,
)


def count_outcomes(masked: Mapping[str, np.ndarray], spec: MaskingSpec) -> dict[str, float]:
    """Count the mask / random / kept outcomes of masked rows, and the share of maskable positions
    chosen (notebook 03 counts ours and the collator's).

    `masked` holds ``input_ids`` (masked) and ``labels``, as a `mask_chunks` result or a collator's
    batch does. With an ``outcome`` array (from `mask_chunks`) the counts are exact; without it
    they are read off the ids, and a random replacement that happened to draw the original id (or
    the mask id) counts as kept (or masked) - about 1 in vocab_size of them. The maskable positions
    are those of the original rows (``original_ids``, else the labels where chosen and the ids
    elsewhere) that ``attention_mask`` (all ones if absent) keeps.
    """
    ids, labels = np.asarray(masked["input_ids"]), np.asarray(masked["labels"])
    chosen = labels != IGNORE_INDEX
    if "outcome" in masked:
        outcome = np.asarray(masked["outcome"])
        n_mask, n_random, n_kept = (int(np.sum(outcome == code)) for code in (MASKED, RANDOM, KEPT))
    else:
        is_mask = chosen & (ids == spec.mask_token_id)
        n_mask, n_kept = int(is_mask.sum()), int((chosen & ~is_mask & (ids == labels)).sum())
        n_random = int(chosen.sum()) - n_mask - n_kept
    original = masked.get("original_ids", np.where(chosen, labels, ids))
    attention = masked.get("attention_mask", np.ones_like(ids))
    n_chosen, n_maskable = (
        int(chosen.sum()),
        int(maskable_positions(original, attention, spec).sum()),
    )
    counts: dict[str, float] = {"chosen": n_chosen, "mask": n_mask, "random": n_random}
    counts["kept"] = n_kept
    for name in OUTCOMES.values():
        counts[f"{name}_share"] = counts[name] / n_chosen if n_chosen else 0.0
    counts["maskable"] = n_maskable
    counts["chosen_share"] = n_chosen / n_maskable if n_maskable else 0.0
    return counts


def _decode_row(
    tokenizer: Any,
    masked_ids: Sequence[int],
    labels: Sequence[int],
    attention_mask: Sequence[int] | None = None,
    *,
    outcome: Sequence[int] | None = None,
) -> str:
    """One masked row as readable text (see `decode_masked_rows`)."""
    ids = [int(i) for i in masked_ids]
    labs = [int(i) for i in labels]
    keep = [1] * len(ids) if attention_mask is None else [int(a) for a in attention_mask]
    mask_id = tokenizer.mask_token_id
    words: list[str] = []
    originals = [
        token_id if label == IGNORE_INDEX else label
        for token_id, label in zip(ids, labs, strict=True)
    ]
    pieces = token_pieces(tokenizer, originals)
    for pos, (token_id, label) in enumerate(zip(ids, labs, strict=True)):
        if not keep[pos]:
            continue
        text, starts = pieces[pos]
        if label != IGNORE_INDEX:
            kind = (
                int(outcome[pos])
                if outcome is not None
                else (MASKED if token_id == mask_id else KEPT if token_id == label else RANDOM)
            )
            if kind == MASKED:
                text = tokenizer.mask_token
            elif kind == RANDOM:
                text = f"<{token_text(tokenizer, token_id)}|was {text}>"
            else:
                text = "{" + text + "}"
        if not starts and words:
            words[-1] += text
        else:
            words.append(text)
    return " ".join(words)


def decode_masked_rows(
    tokenizer: Any, masked: Mapping[str, np.ndarray], rows: Iterable[int]
) -> list[str]:
    """Rows `rows` of a `mask_chunks` result (or a collator's batch) as readable text (notebook 03).

    ``[MASK]`` stays as is, a random replacement is shown as ``<new|was original>`` and a chosen
    token left unchanged as ``{token}``; pieces of one word are joined, whatever the tokenizer's
    subword scheme (`data.token_pieces`: "play ##ing", "Ġplay ing" and "▁play ing" all show as
    "playing") and padding is dropped. Without an ``outcome`` array a position is read as random when its id
    differs from its label and is not the mask id.
    """
    outcome = masked.get("outcome")
    attention = masked.get("attention_mask")
    return [
        _decode_row(
            tokenizer,
            masked["input_ids"][i],
            masked["labels"][i],
            None if attention is None else attention[i],
            outcome=None if outcome is None else outcome[i],
        )
        for i in rows
    ]


# One colour per outcome in `plot_masked_chunk`: (legend label, cell colour, text colour).
OUTCOME_STYLE = {
    NOT_CHOSEN: ("not chosen", "#eeeeee", "#333333"),
    MASKED: ("[MASK]", "#3b6ea8", "white"),
    RANDOM: ("random token", "#e08a3c", "black"),
    KEPT: ("kept (scored, unchanged)", "#5aa469", "black"),
}


def plot_masked_chunk(
    tokenizer: Any,
    masked: Mapping[str, Mapping[str, np.ndarray]],
    row: int = 0,
    *,
    columns: int = 8,
):
    """One chunk drawn as a grid of its tokens, one panel per masking side by side (notebook 03):
    each cell shows the original token and is coloured by its outcome - not chosen, [MASK], random
    (with the token put in its place) or kept. Padding is left blank.

    `masked` maps a panel title (e.g. "token masking") to a `mask_chunks` result of the same
    chunks; row `row` of each is drawn from its ``original_ids``, ``input_ids``, ``outcome`` and
    ``attention_mask``. Returns the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    positive_int(columns, "columns")
    if not masked:
        raise ValueError("plot_masked_chunk needs at least one masking: {title: mask_chunks(...)}")
    length = len(next(iter(masked.values()))["original_ids"][row])
    lines = -(-length // columns)
    fig, axes = plt.subplots(
        1, len(masked), figsize=(1.0 + 0.95 * columns * len(masked), 1.2 + 0.36 * lines)
    )
    for ax, (title, arrays) in zip(np.atleast_1d(axes), masked.items(), strict=True):
        original = np.asarray(arrays["original_ids"][row])
        now, outcome = np.asarray(arrays["input_ids"][row]), np.asarray(arrays["outcome"][row])
        attention = arrays.get("attention_mask")
        real = (
            np.ones(len(original), bool) if attention is None else np.asarray(attention[row]) == 1
        )
        for pos in np.flatnonzero(real):
            y, x = divmod(int(pos), columns)
            _, face, ink = OUTCOME_STYLE[int(outcome[pos])]
            ax.add_patch(Rectangle((x, y), 0.94, 0.9, facecolor=face, edgecolor="none"))
            text = token_text(tokenizer, original[pos])
            if outcome[pos] == RANDOM:
                text += f"\n→ {token_text(tokenizer, now[pos])}"
            size = 7 if outcome[pos] == RANDOM else 8
            ax.text(x + 0.47, y + 0.45, text, ha="center", va="center", fontsize=size, color=ink)
        ax.set_xlim(-0.05, columns)
        ax.set_ylim(lines, -0.05)
        ax.set_axis_off()
        n_chosen = int(np.sum(outcome[real] != NOT_CHOSEN))
        ax.set_title(f"{title}: {n_chosen} of {int(real.sum())} tokens scored")
    handles = [Patch(facecolor=face, label=label) for label, face, _ in OUTCOME_STYLE.values()]
    first = np.atleast_1d(axes)[0]  # an axes legend, so that `save_fig`'s tight layout makes room
    first.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0), ncol=len(handles))
    return fig
