"""Figures from a run folder's files (notebook 05_plot_and_evaluate): matplotlib only, no TensorFlow
or transformers, so it imports fast and works on a run trained elsewhere.

`plot_run(run, kind)` draws one figure of one run and returns it (save it with
`mlm_helpers.figures.save_fig`); `plot_run([run, other], metric)` draws several runs on one figure.
The kinds (`FIGURES`): "epoch_loss", "step_loss", "learning_rate", "perplexity", "fill_mask"; one
function each (`plot_epoch_loss`, ...), and `compare_runs` for several runs. Two figures draw
tables that notebook 05 measures with `evaluation`: `plot_perplexity_by_masking` (every model on the
same masks) and `plot_loss_by_word_group` (domain words vs general words, before and after). Runs are a `Run` or a
run folder's path, read with `run_folder.load_run`; the series come from `reports`, which also
writes the tables and the summary, so figures and tables read the same numbers.

Numbering: history.json numbers epochs from 1 (epoch 1 = after the first pass over the data); the
figures use that numbering, with epoch 0 = before training.

Partial runs: an interrupted run may have steps but no completed epoch, or nothing at all, and
may have no all_results.json. Every figure then still draws, with a short note on the axes saying
what is missing.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .checks import positive_int
from .reports import NO_EPOCH_NOTE, column, epoch_metric, number, prompt_order
from .run_folder import RESULTS_FILE, TRAIN_HINT, Run, RunLike, load_run

EPOCH_METRICS = ("eval_loss", "perplexity", "train_loss")
COMPARE_METRICS = (*EPOCH_METRICS, "step_loss")
METRIC_LABELS = {
    "eval_loss": "validation loss (per masked token)",
    "perplexity": "validation perplexity",
    "train_loss": "training loss (epoch mean)",
    "step_loss": "training loss per step (smoothed)",
}
DEFAULT_SMOOTHING = 0.9
NO_STEP_NOTE = "Nothing logged yet"


# ------------------------------------------------------------------------------------ series


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
    style = {"ha": "center", "va": "center", "fontsize": 11, "color": "0.3", "wrap": True}
    ax.text(0.5, 0.5, text, transform=ax.transAxes, **style)
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
        if "step" in record and not math.isnan(number(record["step"])):
            label = "end of an epoch" if i == 0 else "_nolegend_"
            ax.axvline(record["step"], color="0.6", linestyle=":", linewidth=1, label=label)


def _integer_ticks(ax: plt.Axes) -> None:
    ax.xaxis.get_major_locator().set_params(integer=True)


# ------------------------------------------------------------------------------------ figures


def plot_epoch_loss(run: RunLike) -> plt.Figure:
    """Training and validation loss per epoch: the original model card's loss plot, from data.

    Lines, in order: training loss, validation loss (x = epoch, 1-based), then the validation loss
    before training at epoch 0 as a single marker when all_results.json has it. With no completed
    epoch the axes carry a note instead. Notebook 05 draws it through `plot_run`.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    epochs = column(run.epochs, "epoch")
    if run.epochs:
        ax.plot(epochs, column(run.epochs, "train_loss"), "o-", label="training loss (epoch mean)")
        ax.plot(epochs, column(run.epochs, "eval_loss"), "s-", label="validation loss")
        before = number(run.results.get("eval_loss_before"))
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
    global step, so a resumed run is one curve. With no steps the axes carry a note. Notebook 05
    draws it through `plot_run`.
    """
    run = load_run(run)
    smooth = ema(column(run.steps, "loss"), smoothing)  # validates `smoothing` early
    fig, ax = plt.subplots()
    if run.steps:
        steps = column(run.steps, "step")
        ax.plot(
            steps,
            column(run.steps, "loss"),
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
    steps, or none recording a rate, the axes carry a note. Notebook 05 draws it through `plot_run`.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    rates = column(run.steps, "learning_rate")
    if run.steps and not np.isnan(rates).all():
        ax.plot(column(run.steps, "step"), rates, color="C2", linewidth=2, label="learning rate")
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


def plot_perplexity(run: RunLike, *, vocab_size: int | None = None) -> plt.Figure:
    """Validation perplexity per epoch, with the perplexity before training as a dashed line and
    the unigram baseline (`evaluation.unigram_perplexity`) as a dotted one.

    Lines, in order: perplexity per epoch, then the reference lines all_results.json has values
    for: `perplexity_before`, then `unigram_perplexity` (runs older than the baseline have none).
    With `vocab_size` (the tokenizer's ``len``), the curve starts at epoch 0 with the perplexity
    before training, so the drop is drawn, and a last line marks uniform guessing: a model that
    gives every token the same probability has loss ln V, so perplexity V. The y axis turns
    logarithmic when the values span more than a factor of 10. With no completed epoch the axes
    carry a note. Notebook 05 draws it through `plot_run`.
    """
    run = load_run(run)
    fig, ax = plt.subplots()
    ylabel = "perplexity"
    if run.epochs:
        values = epoch_metric(run.epochs, "perplexity")
        epochs = column(run.epochs, "epoch")
        before = number(run.results.get("perplexity_before"))
        label = "after each epoch"
        if vocab_size is not None and not math.isnan(before):
            epochs, values = np.r_[0, epochs], np.r_[before, values]  # the drop, on the axes
            label = "per epoch (0: before training)"
        ax.plot(epochs, values, "o-", color="C3", label=label)
        if not math.isnan(before):
            ax.axhline(
                before, color="0.4", linestyle="--", label=f"before training ({before:,.1f})"
            )
        unigram = number(run.results.get("unigram_perplexity"))
        if not math.isnan(unigram):
            ax.axhline(
                unigram,
                color="0.6",
                linestyle=":",
                label=f"unigram baseline (word frequencies only): {unigram:,.0f}",
            )
        if vocab_size is not None:
            positive_int(vocab_size, "vocab_size")
            ax.axhline(
                vocab_size,
                color="C2",
                linestyle="-.",
                label=f"uniform guessing (perplexity = vocabulary size, {vocab_size:,})",
            )
        shown = np.concatenate([values, [before, unigram, vocab_size or math.nan]])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if shown.size and shown.max() / shown.min() > 10:
            ax.set_yscale("log")
            ylabel = "perplexity (log scale)"
            if vocab_size is not None:  # room above the curves for the legend
                ax.set_ylim(top=shown.max() * (shown.max() / shown.min()) ** 0.6)
        ax.legend(loc="upper right" if vocab_size is not None else "best")
        _integer_ticks(ax)
    else:
        _note(ax, _missing_epochs_note(run))
    ax.set(title=f"Validation perplexity per epoch: {run.name}", xlabel="epoch", ylabel=ylabel)
    return fig


def plot_fill_mask(run: RunLike) -> plt.Figure:
    """Fill-mask predictions before and after fine-tuning: one row per prompt, horizontal bars of
    the top-k probabilities (top prediction on top, tokens as tick labels).

    Axes go row by row, "before" left and "after" right. Without fill-mask results (training not
    finished) one axes carries a note. Notebook 05 draws it through `plot_run`.
    """
    run = load_run(run)
    prompts, before, after = prompt_order(run)
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
    were evaluated on the same masked positions. Notebook 05 draws it through `plot_run`.
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
            x, y = column(run.steps, "step"), ema(column(run.steps, "loss"), smoothing)
        else:
            x, y = column(run.epochs, "epoch"), epoch_metric(run.epochs, metric)
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


FIGURES = {
    "epoch_loss": plot_epoch_loss,
    "step_loss": plot_step_loss,
    "learning_rate": plot_learning_rate,
    "perplexity": plot_perplexity,
    "fill_mask": plot_fill_mask,
}


def plot_run(
    run: RunLike | Sequence[RunLike],
    kind: str,
    *,
    labels: Sequence[str] | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    vocab_size: int | None = None,
) -> plt.Figure:
    """One figure of a run folder, by `kind` (`FIGURES`), or of several runs on one figure.

    A list of runs draws one line per run (`compare_runs`) of `kind` = "eval_loss", "perplexity",
    "train_loss" or "step_loss", labelled with `labels` (default: the runs' names). `smoothing` is
    the moving average of the per-step losses; `vocab_size` adds uniform guessing to the
    "perplexity" figure (`plot_perplexity`). Used in notebooks 05 and 06.
    """
    if isinstance(run, list | tuple):
        return compare_runs(run, kind, labels, smoothing=smoothing)
    if kind not in FIGURES:
        raise ValueError(
            f"kind={kind!r} is unknown: choose one of {tuple(FIGURES)}, or pass a list of runs "
            f"to compare them by one of {COMPARE_METRICS}"
        )
    if kind == "step_loss":
        return plot_step_loss(run, smoothing=smoothing)
    if kind == "perplexity":
        return plot_perplexity(run, vocab_size=vocab_size)
    return FIGURES[kind](run)


# ------------------------------------------------------------ tables measured in notebook 05


def _grouped_bars(
    ax: plt.Axes, table: Mapping[str, Mapping[str, float]], fmt: str, colors: Sequence[str]
) -> None:
    """One group of bars per inner key (x), one bar per outer key (legend), values on the bars."""
    series = list(table)
    groups = list(dict.fromkeys(g for row in table.values() for g in row))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, name in enumerate(series):
        values = [number(table[name].get(g)) for g in groups]
        offset = (i - (len(series) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width, label=name, color=colors[i % len(colors)])
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2, fontsize=8)
    ax.set_xticks(x, labels=[g.replace("_", "-") for g in groups])
    ax.grid(axis="x", visible=False)
    ax.legend()


def plot_perplexity_by_masking(table: Mapping[str, Mapping[str, float]]) -> plt.Figure:
    """Held-out perplexity of several models under the same fixed masks of each kind, as grouped
    bars: one group per masking kind, one bar per model, the value on each bar.

    `table` is ``{model: {kind: perplexity}}`` as `evaluation.perplexity_by_masking` returns it.
    The y axis is logarithmic (a general model can be thousands of times above an adapted one) and
    starts at 1, the perplexity of a model that is always sure and right. Notebook 05.
    """
    if not table:
        raise ValueError("the table is empty: pass evaluation.perplexity_by_masking(...)'s result")
    fig, ax = plt.subplots()
    _grouped_bars(ax, table, "{:,.1f}", ("0.6", "C0", "C1", "C2", "C3"))
    ax.set_yscale("log")
    top = max((number(v) for row in table.values() for v in row.values()), default=10.0)
    ax.set_ylim(1, max(top, 10.0) * 100)  # room above the bars for the legend
    ax.legend(loc="upper center", ncol=len(table), fontsize=9)
    ax.set(
        title="Held-out perplexity, every model on the same masks",
        xlabel="masks used for the evaluation",
        ylabel="perplexity per masked token (log scale)",
    )
    return fig


def plot_loss_by_word_group(
    table: Mapping[str, Mapping[str, float]], *, vocab_size: int | None = None
) -> plt.Figure:
    """Held-out loss per masked token by kind of word, before and after adaptation, as grouped
    bars: one group per kind of word, one bar per model, the value on each bar.

    `table` is ``{model: {group: loss}}``, e.g. the ``.loss`` of each
    `evaluation.perplexity_by_token_group` result. With `vocab_size` a line marks ln V, the loss
    of uniform guessing. Notebook 05 compares domain words with general ones.
    """
    if not table:
        raise ValueError("the table is empty: pass {model: {group: loss}}")
    fig, ax = plt.subplots()
    _grouped_bars(ax, table, "{:.2f}", ("0.6", "C0", "C1", "C2"))
    if vocab_size is not None:
        positive_int(vocab_size, "vocab_size")
        ax.axhline(
            math.log(vocab_size),
            color="C2",
            linestyle="-.",
            label=f"uniform guessing (ln {vocab_size:,})",
        )
        ax.legend()
    ax.set(
        title="Held-out loss by kind of masked word",
        xlabel="the masked token",
        ylabel="loss per masked token",
    )
    return fig
