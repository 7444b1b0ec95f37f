"""Figures and tables from a run folder's files (notebook 05_plot_and_evaluate; the tables are
reused by the model card of notebook 06).

Every function takes a `Run` (from `run_folder.load_run`) or a run folder's path, which it reads
with `load_run`; the folder's format belongs to `mlm_helpers/run_folder.py` (docs/run-folder.md).
Nothing here imports TensorFlow or transformers, so it imports fast and works on a run trained
elsewhere.

- One function per figure, each returning a matplotlib Figure (save it with
  `mlm_helpers.figures.save_fig`, or all at once with `save_run_figures`):
  `plot_epoch_loss`, `plot_step_loss`, `plot_learning_rate`, `plot_perplexity`, `plot_fill_mask`,
  `compare_runs`.
- Tables as Markdown: `epoch_table_markdown` (the original model card's format), and
  `fill_mask_table_markdown`.
- `summarize_run(run)` reads the curves aloud: best epoch, whether validation loss stopped
  improving, perplexity before/after.

Numbering: history.json numbers epochs from 1 (epoch 1 = after the first pass over the data) and
the figures and `epoch_table_markdown` use that numbering, with epoch 0 = before training (the
original, Keras-generated model card numbered its table from 0).

Partial runs: an interrupted run may have steps but no completed epoch, or nothing at all, and may
have no all_results.json. Every figure then still draws, with a short note on the axes saying what is
missing; the two Markdown tables raise ValueError instead (a model card without rows is no use).
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .figures import figure_path, save_fig
from .run_folder import RESULTS_FILE, TRAIN_HINT, Run, RunLike, clean_history, load_run

EPOCH_METRICS = ("eval_loss", "perplexity", "train_loss")
COMPARE_METRICS = (*EPOCH_METRICS, "step_loss")
METRIC_LABELS = {
    "eval_loss": "validation loss (per masked token)",
    "perplexity": "validation perplexity",
    "train_loss": "training loss (epoch mean)",
    "step_loss": "training loss per step (smoothed)",
}
DEFAULT_SMOOTHING = 0.9
NO_EPOCH_NOTE = "No completed epoch yet"
NO_STEP_NOTE = "Nothing logged yet"


# ------------------------------------------------------------------------------------ the run


def _as_history(history: Run | Mapping[str, Any]) -> dict[str, list]:
    return history.history if isinstance(history, Run) else clean_history(history)


# ------------------------------------------------------------------------------------ series


def _number(value: Any) -> float:
    """A float, or NaN for a missing / null / non-numeric value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _column(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([_number(r.get(key)) for r in records], dtype=float)


def _epoch_metric(records: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """Per-epoch values; perplexity falls back to exp(eval_loss) when it was not recorded."""
    values = _column(records, metric)
    if metric == "perplexity":
        with np.errstate(over="ignore"):
            values = np.where(np.isnan(values), np.exp(_column(records, "eval_loss")), values)
    return values


def ema(values: Sequence[float] | np.ndarray, smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """Exponential moving average, started at the first value (so the curve does not start at 0).

    `smoothing` is the weight of the past, in [0, 1): 0 returns the values unchanged, 0.9 averages
    over roughly the last 10 steps. NaNs are skipped (the average carries over them).
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing={smoothing!r} must be in [0, 1) (e.g. 0.9); 0 turns it off")
    out = np.empty(len(values), dtype=float)
    average = math.nan
    for i, value in enumerate(np.asarray(values, dtype=float)):
        if not math.isnan(value):
            average = (
                value if math.isnan(average) else smoothing * average + (1 - smoothing) * value
            )
        out[i] = average
    return out


# ------------------------------------------------------------------------------------ helpers


def _note(ax: plt.Axes, text: str, *, clear_ticks: bool = True) -> None:
    """Write a centred note on empty axes, so a partial run still gives a readable figure."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color="0.3",
        wrap=True,
    )
    if clear_ticks:  # the default 0..1 ticks of empty axes mean nothing
        ax.set_xticks([])
        ax.set_yticks([])


def _missing_epochs_note(run: Run) -> str:
    if run.steps:
        return (
            f"{NO_EPOCH_NOTE}: {len(run.steps)} training steps logged (last: step "
            f"{run.steps[-1]['step']}).\nSee the per-step loss figure."
        )
    return _missing_steps_note()


def _missing_steps_note() -> str:
    return f"{NO_STEP_NOTE}: history.json has no steps.\nTo train, {TRAIN_HINT}."


def _mark_epoch_ends(ax: plt.Axes, run: Run) -> None:
    """Dotted vertical lines at the global step where each epoch ended (added after the data)."""
    for i, record in enumerate(run.epochs):
        if "step" in record and not math.isnan(_number(record["step"])):
            ax.axvline(
                record["step"],
                color="0.6",
                linestyle=":",
                linewidth=1,
                label="end of an epoch" if i == 0 else "_nolegend_",
            )


def _integer_ticks(ax: plt.Axes) -> None:
    ax.xaxis.get_major_locator().set_params(integer=True)


# ------------------------------------------------------------------------------------ figures


def plot_epoch_loss(run: RunLike) -> plt.Figure:
    """Training and validation loss per epoch: the original model card's loss plot, from data.

    Lines, in order: training loss, validation loss (x = epoch, 1-based), then the validation loss
    before training at epoch 0 as a single marker when all_results.json has it. With no completed
    epoch the axes carry a note instead. Used in notebook 05.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    epochs = _column(run.epochs, "epoch")
    if run.epochs:
        ax.plot(epochs, _column(run.epochs, "train_loss"), "o-", label="training loss (epoch mean)")
        ax.plot(epochs, _column(run.epochs, "eval_loss"), "s-", label="validation loss")
        before = _number(run.results.get("eval_loss_before"))
        if not math.isnan(before):
            ax.plot(
                [0],
                [before],
                "s",
                color="C1",
                fillstyle="none",
                markersize=8,
                label=f"validation loss before training ({before:.2f})",
            )
        ax.legend()
        _integer_ticks(ax)
    else:
        _note(ax, _missing_epochs_note(run))
    ax.set(title=f"Loss per epoch: {run.name}", xlabel="epoch", ylabel="loss")
    return fig


def plot_step_loss(run: RunLike, *, smoothing: float = DEFAULT_SMOOTHING) -> plt.Figure:
    """Training loss of every step: the raw values faint, their moving average (`ema`) on top.

    Lines, in order: raw loss, smoothed loss, then one dotted line per completed epoch. x is the
    global step, so a resumed run is one curve. With no steps the axes carry a note. Notebook 05.
    """
    run = load_run(run)
    smooth = ema(_column(run.steps, "loss"), smoothing)  # validates `smoothing` early
    fig, ax = plt.subplots()
    if run.steps:
        steps = _column(run.steps, "step")
        ax.plot(
            steps,
            _column(run.steps, "loss"),
            color="C0",
            alpha=0.3,
            linewidth=1,
            label="loss per step (raw)",
        )
        ax.plot(
            steps,
            smooth,
            color="C0",
            linewidth=2,
            label=f"moving average (smoothing {smoothing:g})",
        )
        _mark_epoch_ends(ax, run)
        ax.legend()
    else:
        _note(ax, _missing_steps_note())
    ax.set(title=f"Training loss per step: {run.name}", xlabel="global step", ylabel="loss")
    return fig


def plot_learning_rate(run: RunLike) -> plt.Figure:
    """Learning rate used at every step (warmup, then decay); dotted lines mark epoch ends.

    Shows at a glance whether the schedule reached 0 early (the original recipe's bug). With no
    steps, or none recording a rate, the axes carry a note. Used in notebook 05.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    rates = _column(run.steps, "learning_rate")
    if run.steps and not np.isnan(rates).all():
        ax.plot(_column(run.steps, "step"), rates, color="C2", linewidth=2, label="learning rate")
        _mark_epoch_ends(ax, run)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.set_ylim(bottom=0)
        ax.legend()
    else:
        _note(
            ax,
            _missing_steps_note()
            if not run.steps
            else "No learning rate recorded in history.json's steps.",
        )
    ax.set(
        title=f"Learning rate per step: {run.name}", xlabel="global step", ylabel="learning rate"
    )
    return fig


def plot_perplexity(run: RunLike) -> plt.Figure:
    """Validation perplexity per epoch, with the perplexity before training as a dashed line and
    the unigram baseline (`evaluation.unigram_perplexity`) as a dotted one.

    Lines, in order: perplexity per epoch, then the reference lines all_results.json has values
    for: `perplexity_before`, then `unigram_perplexity` (runs older than the baseline have none).
    The y axis turns logarithmic when the values span more than a factor of 10. With no completed
    epoch the axes carry a note. Used in notebook 05.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    ylabel = "perplexity"
    if run.epochs:
        values = _epoch_metric(run.epochs, "perplexity")
        ax.plot(_column(run.epochs, "epoch"), values, "o-", color="C3", label="after each epoch")
        before = _number(run.results.get("perplexity_before"))
        if not math.isnan(before):
            ax.axhline(
                before, color="0.4", linestyle="--", label=f"before training ({before:,.1f})"
            )
        unigram = _number(run.results.get("unigram_perplexity"))
        if not math.isnan(unigram):
            ax.axhline(
                unigram,
                color="0.6",
                linestyle=":",
                label=f"unigram baseline (word frequencies only): {unigram:,.0f}",
            )
        shown = np.concatenate([values, [before, unigram]])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if shown.size and shown.max() / shown.min() > 10:
            ax.set_yscale("log")
            ylabel = "perplexity (log scale)"
        ax.legend()
        _integer_ticks(ax)
    else:
        _note(ax, _missing_epochs_note(run))
    ax.set(title=f"Validation perplexity per epoch: {run.name}", xlabel="epoch", ylabel=ylabel)
    return fig


def _predictions(results: Mapping[str, Any], when: str) -> dict[str, list[tuple[str, float]]]:
    """{prompt: [(token, score), ...]} from all_results.json's fill_mask_<when>."""
    raw = results.get(f"fill_mask_{when}") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"all_results.json: fill_mask_{when} must map prompts to predictions")
    return {
        prompt: [(str(p.get("token", "?")), _number(p.get("score"))) for p in preds or []]
        for prompt, preds in raw.items()
    }


def _prompt_order(run_or_results: Run | Mapping[str, Any]) -> tuple[list[str], dict, dict]:
    """Prompts in the config's order (then any others), with the before/after predictions."""
    run = run_or_results if isinstance(run_or_results, Run) else None
    results = run.results if run else run_or_results
    before, after = _predictions(results, "before"), _predictions(results, "after")
    configured = list(run.config.get("fill_mask_prompts") or []) if run else []
    prompts = [p for p in configured if p in before or p in after]
    prompts += [p for p in (*after, *before) if p not in prompts]
    return list(dict.fromkeys(prompts)), before, after


def plot_fill_mask(run: RunLike) -> plt.Figure:
    """Fill-mask predictions before and after fine-tuning: one row per prompt, horizontal bars of
    the top-k probabilities (top prediction on top, tokens as tick labels).

    Axes go row by row, "before" left and "after" right. Without fill-mask results (training not
    finished) one axes carries a note. Used in notebook 05.
    """
    run = load_run(run)
    prompts, before, after = _prompt_order(run)
    if not prompts:
        fig, ax = plt.subplots()
        _note(
            ax,
            f"No fill-mask predictions yet: {RESULTS_FILE} is written when training "
            "ends.\nFinish (or resume) the run first.",
        )
        ax.set(title=f"Fill-mask predictions: {run.name}", xlabel="probability", ylabel="token")
        return fig
    scores = [s for preds in (*before.values(), *after.values()) for _, s in preds]
    top = np.nanmax(scores) if scores and not np.isnan(scores).all() else 1.0
    fig, axes = plt.subplots(
        len(prompts), 2, figsize=(11, 0.6 + 2.2 * len(prompts)), squeeze=False, sharex=True
    )
    for row, prompt in enumerate(prompts):
        for ax, when, preds, color in (
            (axes[row, 0], "before", before, "0.6"),
            (axes[row, 1], "after", after, "C0"),
        ):
            title = textwrap.fill(f"{when} training: {prompt}", 55)
            ax.set_title(title, fontsize=10, loc="left")
            ax.grid(axis="y", visible=False)
            ax.set_axisbelow(True)
            if prompt not in preds or not preds[prompt]:
                _note(ax, f"no prediction {when} training", clear_ticks=False)
                ax.set_yticks([])
                continue
            tokens, values = zip(*preds[prompt], strict=True)
            positions = np.arange(len(tokens))
            bars = ax.barh(positions, values, color=color)
            ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
            ax.set_yticks(positions, labels=tokens)
            ax.invert_yaxis()
    for ax in axes[-1]:
        ax.set_xlabel("probability")
        ax.set_xlim(0, top * 1.2)
    fig.suptitle(f"Fill-mask predictions before and after fine-tuning: {run.name}")
    return fig


def compare_runs(
    runs: Sequence[RunLike],
    metric: str = "eval_loss",
    labels: Sequence[str] | None = None,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
) -> plt.Figure:
    """Several runs on one figure, one line per run (e.g. token vs whole-word masking).

    metric: "eval_loss", "perplexity" or "train_loss" per epoch, or "step_loss" (per step, smoothed
    with `ema`). Labels default to each run's name. A run with no data for the metric still gets its
    (empty) line, labelled "(no data yet)". Validation losses compare fairly only when the runs
    were evaluated on the same masked positions. Used in notebook 05.
    """
    if metric not in COMPARE_METRICS:
        raise ValueError(f"metric={metric!r} is unknown: choose one of {COMPARE_METRICS}")
    runs = [load_run(r) for r in runs]
    if not runs:
        raise ValueError("compare_runs needs at least one run (a list of run folders or Runs)")
    labels = [r.name for r in runs] if labels is None else list(labels)
    if len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} runs: give one label per run")
    fig, ax = plt.subplots()
    drawn = 0
    for run, label in zip(runs, labels, strict=True):
        if metric == "step_loss":
            x, y = _column(run.steps, "step"), ema(_column(run.steps, "loss"), smoothing)
        else:
            x, y = _column(run.epochs, "epoch"), _epoch_metric(run.epochs, metric)
        has_data = bool(np.isfinite(y).any())
        drawn += has_data
        ax.plot(
            x,
            y,
            "-" if metric == "step_loss" else "o-",
            label=label if has_data else f"{label} (no data yet)",
        )
    if not drawn:
        _note(
            ax,
            _missing_steps_note()
            if metric == "step_loss"
            else f"{NO_EPOCH_NOTE} in any of these runs.",
        )
    elif metric != "step_loss":
        _integer_ticks(ax)
    if metric == "step_loss":
        title, xlabel = f"Training loss per step (smoothing {smoothing:g})", "global step"
    else:
        title, xlabel = METRIC_LABELS[metric].capitalize() + " per epoch", "epoch"
    ax.set(title=f"{title}: {len(runs)} runs", xlabel=xlabel, ylabel=METRIC_LABELS[metric])
    ax.legend()
    return fig


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "run"


def save_run_figures(
    run: RunLike,
    *,
    prefix: str | None = None,
    folder: str | os.PathLike | None = None,
    svg: bool = False,
    smoothing: float = DEFAULT_SMOOTHING,
) -> dict[str, Path]:
    """Draw, save (through `save_fig`) and close every figure of one run; return {kind: PNG path}.

    Files are named `<prefix>_<kind>.png` with prefix defaulting to the run's name; kinds are
    loss, step_loss, learning_rate, perplexity and fill_mask.
    """
    run = load_run(run)
    prefix = _safe_name(prefix if prefix is not None else run.name)
    makers = {
        "loss": plot_epoch_loss,
        "step_loss": lambda r: plot_step_loss(r, smoothing=smoothing),
        "learning_rate": plot_learning_rate,
        "perplexity": plot_perplexity,
        "fill_mask": plot_fill_mask,
    }
    saved = {}
    for kind, make in makers.items():
        fig = make(run)
        try:
            save_fig(fig, f"{prefix}_{kind}", folder=folder, svg=svg)
            saved[kind] = figure_path(f"{prefix}_{kind}", folder=folder)
        finally:
            plt.close(fig)
    return saved


# ------------------------------------------------------------------------------------ tables


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
    Epochs are numbered from 1, as in history.json and on the x axis of `plot_epoch_loss`, where 0
    is the evaluation before training (the original card, written by transformers' Keras
    callback, numbered them from 0). Takes history.json's content or a `Run`. Raises ValueError
    when no epoch is complete. Used in notebook 05, and in the model card (`publishing`).
    """
    epochs = _as_history(history)["epochs"]
    if not epochs:
        raise ValueError(
            f"{NO_EPOCH_NOTE}: history.json has no 'epochs' records, so there is no "
            "per-epoch table to write. Train at least one full epoch first."
        )
    rows = [
        (
            _four(_number(r.get("train_loss"))),
            _four(_number(r.get("eval_loss"))),
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
    ValueError when there are no fill-mask results. Used in notebook 05, and in the model card.
    """
    prompts, before, after = _prompt_order(results)
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
    before/after (after = all_results.json's, else the last epoch's). `print()` it. Notebook 05.
    """
    run = load_run(run)
    eval_loss = _column(run.epochs, "eval_loss")
    best = int(np.nanargmin(eval_loss)) if np.isfinite(eval_loss).any() else None
    rates = _column(run.steps, "learning_rate")
    zero_run = 0
    for rate in rates[::-1]:
        if rate != 0:
            break
        zero_run += 1
    perplexity = _epoch_metric(run.epochs, "perplexity")
    after = _number(run.results.get("perplexity_after"))
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
        last_eval_loss=_optional(_number(last.get("eval_loss"))),
        last_train_loss=_optional(_number(last.get("train_loss"))),
        stopped_improving=None if best is None else best < len(run.epochs) - 1,
        perplexity_before=_optional(_number(run.results.get("perplexity_before"))),
        perplexity_after=_optional(float(after)),
        zero_lr_steps=zero_run,
        finished=bool(run.results),
    )
