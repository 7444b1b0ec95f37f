"""Tables and the run summary from a run folder (notebook 05_plot_and_evaluate, and the model card
of notebook 06): Markdown and sentences only, no TensorFlow and no matplotlib, so the model card
can use them without drawing anything.

- `summarize_run(run)` reads the curves aloud (best epoch, whether validation loss stopped
  improving, perplexity before/after) and carries the two Markdown tables: `epoch_table_markdown`
  (the original model card's per-epoch table) and `fill_mask_table_markdown`.
- `number`, `column`, `epoch_metric` and `prompt_order` read the run's records into the series that
  `plotting` draws, so the figures and the tables read the same numbers the same way.

Numbering: history.json numbers epochs from 1 (epoch 1 = after the first pass over the data); the
tables use that numbering, with epoch 0 = before training (the original, Keras-generated model card
numbered its table from 0). The tables raise ValueError for a run without rows (a model card
without rows is no use); the summary then holds None for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .run_folder import RESULTS_FILE, TRAIN_HINT, Run, RunLike, clean_history, load_run

NO_EPOCH_NOTE = "No completed epoch yet"


def _as_history(history: Run | Mapping[str, Any]) -> dict[str, list]:
    return history.history if isinstance(history, Run) else clean_history(history)


def number(value: Any) -> float:
    """A float, or NaN for a missing / null / non-numeric value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def column(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([number(r.get(key)) for r in records], dtype=float)


def epoch_metric(records: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """Per-epoch values; perplexity falls back to exp(eval_loss) when it was not recorded."""
    values = column(records, metric)
    if metric == "perplexity":
        with np.errstate(over="ignore"):
            values = np.where(np.isnan(values), np.exp(column(records, "eval_loss")), values)
    return values


def _predictions(results: Mapping[str, Any], when: str) -> dict[str, list[tuple[str, float]]]:
    """{prompt: [(token, score), ...]} from all_results.json's fill_mask_<when>."""
    raw = results.get(f"fill_mask_{when}") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"all_results.json: fill_mask_{when} must map prompts to predictions")
    return {
        prompt: [(str(p.get("token", "?")), number(p.get("score"))) for p in preds or []]
        for prompt, preds in raw.items()
    }


def prompt_order(run_or_results: Run | Mapping[str, Any]) -> tuple[list[str], dict, dict]:
    """Prompts in the config's order (then any others), with the before/after predictions."""
    run = run_or_results if isinstance(run_or_results, Run) else None
    results = run.results if run else run_or_results
    before, after = _predictions(results, "before"), _predictions(results, "after")
    configured = list(run.config.get("fill_mask_prompts") or []) if run else []
    prompts = [p for p in configured if p in before or p in after]
    prompts += [p for p in (*after, *before) if p not in prompts]
    return list(dict.fromkeys(prompts)), before, after


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A Markdown table whose columns are padded to equal width (readable as plain text too)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "".join(f"| {c.ljust(w)} " for c, w in zip(cells, widths, strict=True)) + "|"

    rule = "".join("|:" + "-" * w + (":" if align == "center" else "-") for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"


def _four(value: float) -> str:
    return "N/A" if math.isnan(value) else f"{value:.4f}"


def epoch_table_markdown(history: Run | Mapping[str, Any]) -> str:
    """The per-epoch results table in the original model card's format.

    Header `| Train Loss | Validation Loss | Epoch |`, losses with 4 decimals ("N/A" if missing).
    Epochs are numbered from 1, as in history.json and on the x axis of the loss figure, where 0
    is the evaluation before training (the original card, written by transformers' Keras
    callback, numbered them from 0). Takes history.json's content or a `Run`. Raises ValueError
    when no epoch is complete. Notebook 05 shows it through `summarize_run`; the model card too.
    """
    epochs = _as_history(history)["epochs"]
    if not epochs:
        raise ValueError(
            f"{NO_EPOCH_NOTE}: history.json has no 'epochs' records, so there is no "
            "per-epoch table to write. Train at least one full epoch first."
        )
    rows = [
        (
            _four(number(r.get("train_loss"))),
            _four(number(r.get("eval_loss"))),
            str(r["epoch"]),
        )
        for r in epochs
    ]
    return _markdown_table(("Train Loss", "Validation Loss", "Epoch"), rows, align="center")


def _cell(text: str) -> str:
    """Escape what would break a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def fill_mask_table_markdown(results: Run | Mapping[str, Any], *, decimals: int = 2) -> str:
    """Fill-mask predictions before and after fine-tuning as a Markdown table, one row per prompt:
    `| Prompt | Before training | After training |`, cells like "movie (0.31), film (0.12)".

    Takes all_results.json's content or a `Run` (whose config gives the prompts' order). Raises
    ValueError when there are no fill-mask results. Notebook 05 shows it through `summarize_run`;
    the model card too.
    """
    prompts, before, after = prompt_order(results)
    if not prompts:
        raise ValueError(
            f"no fill-mask predictions: {RESULTS_FILE} has no 'fill_mask_before' / "
            "'fill_mask_after' yet (it is written when training ends)."
        )

    def cell(preds: Mapping[str, list], prompt: str) -> str:
        if prompt not in preds:
            return "N/A"
        return ", ".join(f"{_cell(t)} ({s:.{decimals}f})" for t, s in preds[prompt])

    rows = [(_cell(p), cell(before, p), cell(after, p)) for p in prompts]
    return _markdown_table(("Prompt", "Before training", "After training"), rows, align="left")


# ------------------------------------------------------------------------------------ summary


@dataclass(frozen=True)
class RunSummary:
    """What the curves say, as numbers (fields) and as sentences (`str(summary)`).

    Epochs are 1-based as in history.json. `stopped_improving` is True when the lowest validation
    loss came before the last epoch, None when there is no validation loss yet. `zero_lr_steps` is
    how many of the last logged steps had learning rate 0 (more than 1 means wasted steps).
    `epoch_table` and `fill_mask_table` are the Markdown tables, None when the run has no rows.
    """

    name: str
    steps_logged: int
    last_step: int | None
    epochs_completed: int
    best_epoch: int | None
    best_eval_loss: float | None
    last_eval_loss: float | None
    last_train_loss: float | None
    stopped_improving: bool | None
    perplexity_before: float | None
    perplexity_after: float | None
    zero_lr_steps: int
    finished: bool
    epoch_table: str | None = None
    fill_mask_table: str | None = None

    def __str__(self) -> str:
        if not self.steps_logged and not self.epochs_completed:
            return f"Run {self.name}: nothing logged yet. To train, {TRAIN_HINT}."
        lines = [
            f"Run {self.name}: {self.epochs_completed} completed epoch(s), "
            f"{self.steps_logged} steps logged (last: step {self.last_step})"
            + ("." if self.finished else "; training has not finished (no all_results.json).")
        ]
        if self.best_epoch is None:
            lines.append(f"{NO_EPOCH_NOTE}: no validation loss to read.")
        elif self.stopped_improving:
            waited = self.epochs_completed - self.best_epoch
            lines.append(
                f"Validation loss was lowest after epoch {self.best_epoch} "
                f"({self.best_eval_loss:.4f}) and did not improve in the {waited} epoch(s) after "
                f"it (last: {self.last_eval_loss:.4f}): more epochs would not help; epoch "
                f"{self.best_epoch} is the one to keep."
            )
        else:
            lines.append(
                f"Validation loss was still falling at the last epoch ({self.best_epoch}: "
                f"{self.best_eval_loss:.4f}): more epochs may help."
            )
        if self.perplexity_before is not None and self.perplexity_after is not None:
            lines.append(
                f"Perplexity went from {self.perplexity_before:,.2f} before training "
                f"to {self.perplexity_after:,.2f} after."
            )
        elif self.perplexity_after is not None:
            lines.append(f"Perplexity after training: {self.perplexity_after:,.2f}.")
        if self.zero_lr_steps > 1:
            lines.append(
                f"The learning rate was 0 for the last {self.zero_lr_steps} steps: "
                "those steps could not change the weights (check the schedule)."
            )
        return "\n".join(lines)


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def summarize_run(run: RunLike) -> RunSummary:
    """Read the curves aloud: best epoch, whether validation loss stopped improving, perplexity
    before/after (after = all_results.json's, else the last epoch's); `print()` it. With the two
    Markdown tables (`epoch_table`, `fill_mask_table`). Used in notebook 05 and by the model card.
    """
    run = load_run(run)
    eval_loss = column(run.epochs, "eval_loss")
    best = int(np.nanargmin(eval_loss)) if np.isfinite(eval_loss).any() else None
    rates = column(run.steps, "learning_rate")
    zero_run = 0
    for rate in rates[::-1]:
        if rate != 0:
            break
        zero_run += 1
    perplexity = epoch_metric(run.epochs, "perplexity")
    after = number(run.results.get("perplexity_after"))
    if math.isnan(after) and perplexity.size:
        after = perplexity[-1]
    last = run.epochs[-1] if run.epochs else {}
    return RunSummary(
        name=run.name,
        steps_logged=len(run.steps),
        last_step=run.steps[-1]["step"] if run.steps else None,
        epochs_completed=len(run.epochs),
        best_epoch=run.epochs[best]["epoch"] if best is not None else None,
        best_eval_loss=float(eval_loss[best]) if best is not None else None,
        last_eval_loss=_optional(number(last.get("eval_loss"))),
        last_train_loss=_optional(number(last.get("train_loss"))),
        stopped_improving=None if best is None else best < len(run.epochs) - 1,
        perplexity_before=_optional(number(run.results.get("perplexity_before"))),
        perplexity_after=_optional(float(after)),
        zero_lr_steps=zero_run,
        finished=bool(run.results),
        epoch_table=epoch_table_markdown(run) if run.epochs else None,
        fill_mask_table=fill_mask_table_markdown(run) if prompt_order(run)[0] else None,
    )
