"""Tests for mlm_helpers.plotting and mlm_helpers.reports (the tables and the summary, which read
the same run folders): run folders are built in tmp_path with known values, and the figures' artists
(line data, bar widths, texts) and the tables are checked against them. Reading a run folder
(`run_folder.load_run`) is tested in test_run_folder.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlm_helpers import plotting  # noqa: E402
from mlm_helpers.plotting import (  # noqa: E402
    compare_runs,
    ema,
    plot_epoch_loss,
    plot_fill_mask,
    plot_learning_rate,
    plot_loss_by_word_group,
    plot_perplexity,
    plot_perplexity_by_masking,
    plot_run,
    plot_step_loss,
)
from mlm_helpers.reports import (  # noqa: E402
    epoch_table_markdown,
    fill_mask_table_markdown,
    summarize_run,
)
from mlm_helpers.run_folder import Run, load_run  # noqa: E402

# A 3-epoch run of 4 steps per epoch; validation loss is lowest after epoch 2.
STEPS = [
    {
        "step": s,
        "epoch": (s - 1) // 4 + 1,
        "loss": 9.0 - 0.5 * s,
        "learning_rate": 1e-3 * (13 - s) / 12,
    }
    for s in range(1, 13)
]
EVAL = [5.8, 4.6, 4.7]
TRAIN = [6.9, 5.0, 4.4]
EPOCHS = [
    {"epoch": e, "step": 4 * e, "train_loss": t, "eval_loss": v, "perplexity": math.exp(v)}
    for e, t, v in zip((1, 2, 3), TRAIN, EVAL, strict=True)
]
PROMPTS = ["This is a great [MASK].", "I would [MASK] this movie."]
RESULTS = {
    "eval_loss_before": 8.2,
    "perplexity_before": 3640.0,
    "eval_loss_after": 4.7,
    "perplexity_after": 109.95,
    # stored in the reverse of the config's order, to check that the config's order is used
    "fill_mask_before": {
        PROMPTS[1]: [{"token": "the", "score": 0.02}, {"token": "a", "score": 0.01}],
        PROMPTS[0]: [{"token": "deal", "score": 0.05}, {"token": "idea", "score": 0.03}],
    },
    "fill_mask_after": {
        PROMPTS[1]: [{"token": "recommend", "score": 0.6}, {"token": "suggest", "score": 0.1}],
        PROMPTS[0]: [{"token": "movie", "score": 0.31}, {"token": "film", "score": 0.12}],
    },
}


def write_run(
    folder: Path, *, steps=STEPS, epochs=EPOCHS, results=RESULTS, name="demo", masking="token"
) -> Path:
    """A run folder as training writes it (results=None: no all_results.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"run_name": name, "masking": masking, "fill_mask_prompts": PROMPTS}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "history.json").write_text(json.dumps({"steps": steps, "epochs": epochs}))
    if results is not None:
        (folder / "all_results.json").write_text(json.dumps(results))
    return folder


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "demo")


def texts(fig: plt.Figure) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def check_labelled(fig: plt.Figure) -> None:
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


# ------------------------------------------------------------------------------------ import


def test_import_leaves_tensorflow_and_transformers_out():
    code = (
        "import sys, mlm_helpers.plotting; "
        "print('tensorflow' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_reports_import_neither_matplotlib_nor_tensorflow():
    code = (
        "import sys, mlm_helpers.reports; "
        "print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------------------------ resume


def resumed_history() -> dict:
    """Crash after step 6 (checkpoint at step 4, end of epoch 1); the resumed run re-logs 5 and 6
    (step 5 with a new value, step 6 identically) and continues to step 10."""
    first = [
        {"step": s, "epoch": 1 + (s > 4), "loss": 10.0 - s, "learning_rate": 1e-3}
        for s in range(1, 7)
    ]
    second = [
        {"step": s, "epoch": 1 + (s > 4), "loss": 10.0 - s, "learning_rate": 1e-3}
        for s in range(5, 11)
    ]
    second[0]["loss"] = 4.75  # step 5 redone with different masks
    epochs = [
        {"epoch": 1, "step": 4, "train_loss": 7.5, "eval_loss": 6.0},
        {"epoch": 2, "step": 8, "train_loss": 3.5, "eval_loss": 5.0},
    ]
    return {"steps": first + second, "epochs": epochs}


def test_resumed_run_plots_as_one_continuous_curve(tmp_path: Path):
    (tmp_path / "history.json").write_text(json.dumps(resumed_history()))
    fig = plot_step_loss(tmp_path, smoothing=0.5)
    raw = fig.axes[0].get_lines()[0]
    x, y = np.asarray(raw.get_xdata()), np.asarray(raw.get_ydata())
    assert list(x) == list(range(1, 11))
    assert np.all(np.diff(x) > 0)
    assert y[4] == 4.75  # the resumed run's value of step 5 wins
    assert y[5] == 4.0
    smooth = fig.axes[0].get_lines()[1]
    assert list(smooth.get_xdata()) == list(range(1, 11))


# ------------------------------------------------------------------------------------ ema


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=50), st.floats(0, 0.99))
def test_ema_stays_within_the_data(values, smoothing):
    out = ema(values, smoothing)
    assert out.shape == (len(values),)
    assert out[0] == values[0]
    assert np.all(out >= min(values) - 1e-9) and np.all(out <= max(values) + 1e-9)


def test_ema_identity_constant_and_nan():
    assert list(ema([3.0, 1.0, 2.0], 0.0)) == [3.0, 1.0, 2.0]
    assert np.allclose(ema([2.0] * 5, 0.9), 2.0)
    assert np.allclose(ema([0.0, 10.0], 0.5), [0.0, 5.0])
    assert np.allclose(ema([1.0, math.nan, 3.0], 0.5), [1.0, 1.0, 2.0])  # NaN carried over
    with pytest.raises(ValueError, match="smoothing"):
        ema([1.0], 1.0)


# ------------------------------------------------------------------------------------ figures


def test_epoch_loss_figure(run_dir: Path):
    fig = plot_epoch_loss(run_dir)
    check_labelled(fig)
    train, valid, before = fig.axes[0].get_lines()
    assert list(train.get_xdata()) == [1, 2, 3] and list(train.get_ydata()) == TRAIN
    assert list(valid.get_xdata()) == [1, 2, 3] and list(valid.get_ydata()) == EVAL
    assert list(before.get_xdata()) == [0] and list(before.get_ydata()) == [8.2]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:2] == ["training loss (epoch mean)", "validation loss"]


def test_epoch_loss_without_results_has_no_before_marker(tmp_path: Path):
    fig = plot_epoch_loss(write_run(tmp_path / "r", results=None))
    assert len(fig.axes[0].get_lines()) == 2


def test_step_loss_figure(run_dir: Path):
    fig = plot_step_loss(run_dir, smoothing=0.8)
    check_labelled(fig)
    lines = fig.axes[0].get_lines()
    raw, smooth, ends = lines[0], lines[1], lines[2:]
    losses = [s["loss"] for s in STEPS]
    assert list(raw.get_xdata()) == list(range(1, 13)) and list(raw.get_ydata()) == losses
    assert raw.get_alpha() < 1 and smooth.get_alpha() in (None, 1)  # raw faint, average solid
    assert np.allclose(smooth.get_ydata(), ema(losses, 0.8))
    assert [line.get_xdata()[0] for line in ends] == [4, 8, 12]  # one dotted line per epoch end
    with pytest.raises(ValueError, match="smoothing"):
        plot_step_loss(run_dir, smoothing=1.5)


def test_learning_rate_figure(run_dir: Path):
    fig = plot_learning_rate(run_dir)
    check_labelled(fig)
    line = fig.axes[0].get_lines()[0]
    assert np.allclose(line.get_ydata(), [s["learning_rate"] for s in STEPS])
    assert fig.axes[0].get_ylim()[0] == 0


def test_perplexity_figure_with_reference_line(run_dir: Path):
    fig = plot_perplexity(run_dir)
    check_labelled(fig)
    ax = fig.axes[0]
    per_epoch, reference = ax.get_lines()
    assert np.allclose(per_epoch.get_ydata(), np.exp(EVAL))
    assert list(reference.get_ydata()) == [3640.0, 3640.0]
    assert "before training" in reference.get_label()
    assert ax.get_yscale() == "log"  # 3640 vs ~100: a factor > 10
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("unigram" in text for text in legend)  # RESULTS has no unigram_perplexity


def test_perplexity_figure_with_unigram_baseline(tmp_path: Path):
    results = {**RESULTS, "unigram_perplexity": 131.37}
    ax = plot_perplexity(write_run(tmp_path / "r", results=results)).axes[0]
    per_epoch, before, unigram = ax.get_lines()
    assert list(unigram.get_ydata()) == [131.37, 131.37]
    assert unigram.get_linestyle() == ":"
    label = "unigram baseline (word frequencies only): 131"
    assert unigram.get_label() == label
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == label
    # the baseline counts in the choice of scale: ~2 per epoch vs 131 is a factor > 10
    epochs = [{"epoch": 1, "eval_loss": 1.0}, {"epoch": 2, "eval_loss": 0.5}]
    results = {"unigram_perplexity": 131.37}
    ax = plot_perplexity(write_run(tmp_path / "s", epochs=epochs, results=results)).axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"


def test_perplexity_falls_back_to_exp_eval_loss_and_stays_linear(tmp_path: Path):
    epochs = [{"epoch": 1, "eval_loss": 1.0}, {"epoch": 2, "eval_loss": 0.5}]
    fig = plot_perplexity(write_run(tmp_path / "r", epochs=epochs, results=None))
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 1
    assert np.allclose(ax.get_lines()[0].get_ydata(), np.exp([1.0, 0.5]))
    assert ax.get_yscale() == "linear"


def test_fill_mask_figure(run_dir: Path):
    fig = plot_fill_mask(run_dir)
    axes = fig.axes
    assert len(axes) == 4  # 2 prompts x (before, after)
    expected = [  # config's prompt order, before then after
        (["deal", "idea"], [0.05, 0.03]),
        (["movie", "film"], [0.31, 0.12]),
        (["the", "a"], [0.02, 0.01]),
        (["recommend", "suggest"], [0.6, 0.1]),
    ]
    for ax, (tokens, scores) in zip(axes, expected, strict=True):
        assert [t.get_text() for t in ax.get_yticklabels()] == tokens
        assert [p.get_width() for p in ax.patches] == scores
        assert ax.yaxis_inverted()  # top prediction on top
    assert "great [MASK]" in axes[0].get_title(loc="left") and axes[0].get_title(
        loc="left"
    ).startswith("before")
    assert axes[1].get_title(loc="left").startswith("after")
    assert axes[-1].get_xlabel() == "probability"
    assert "before and after" in fig.get_suptitle()


def test_fill_mask_figure_with_one_side_missing(tmp_path: Path):
    results = {"fill_mask_after": RESULTS["fill_mask_after"]}
    fig = plot_fill_mask(write_run(tmp_path / "r", results=results))
    assert "no prediction before training" in texts(fig)
    assert [p.get_width() for p in fig.axes[1].patches] == [0.31, 0.12]


# ------------------------------------------------------------------------------------ partial


def test_partial_run_steps_but_no_epoch(tmp_path: Path):
    folder = write_run(tmp_path / "r", steps=STEPS[:3], epochs=[], results=None)
    for plot in (plot_epoch_loss, plot_perplexity):
        fig = plot(folder)
        assert fig.axes[0].get_lines() == []
        assert "No completed epoch yet: 3 training steps logged (last: step 3)" in texts(fig)
        check_labelled(fig)
    fig = plot_step_loss(folder)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]
    assert "No fill-mask predictions yet" in texts(plot_fill_mask(folder))
    with pytest.raises(ValueError, match="No completed epoch yet"):
        epoch_table_markdown(load_run(folder))
    with pytest.raises(ValueError, match="no fill-mask predictions"):
        fill_mask_table_markdown(load_run(folder))


def test_empty_history_gives_notes_not_errors(tmp_path: Path):
    folder = write_run(tmp_path / "r", steps=[], epochs=[], results=None)
    for plot in (plot_epoch_loss, plot_step_loss, plot_learning_rate, plot_perplexity):
        fig = plot(folder)
        assert fig.axes[0].get_lines() == []
        assert "Nothing logged yet" in texts(fig)
        check_labelled(fig)
    assert "nothing logged yet" in str(summarize_run(folder))


# ------------------------------------------------------------------------------------ tables


def test_epoch_table_markdown_exact():
    table = epoch_table_markdown({"steps": STEPS, "epochs": EPOCHS})
    assert table == (
        "| Train Loss | Validation Loss | Epoch |\n"
        "|:----------:|:---------------:|:-----:|\n"
        "| 6.9000     | 5.8000          | 1     |\n"
        "| 5.0000     | 4.6000          | 2     |\n"
        "| 4.4000     | 4.7000          | 3     |\n"
    )


def test_epoch_table_from_run_with_missing_value_and_unsorted_epochs(run_dir: Path):
    assert epoch_table_markdown(load_run(run_dir)) == epoch_table_markdown({"epochs": EPOCHS})
    table = epoch_table_markdown(
        {
            "epochs": [
                {"epoch": 2, "train_loss": 2.43601},
                {"epoch": 1, "train_loss": 3, "eval_loss": 2.5},
            ]
        }
    )
    assert table.splitlines()[2:] == [
        "| 3.0000     | 2.5000          | 1     |",
        "| 2.4360     | N/A             | 2     |",
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=1, max_size=25))
def test_epoch_table_has_one_row_per_epoch(losses):
    epochs = [{"epoch": i + 1, "train_loss": t, "eval_loss": v} for i, (t, v) in enumerate(losses)]
    rows = epoch_table_markdown({"epochs": epochs}).splitlines()[2:]
    assert len(rows) == len(losses)
    for i, (row, (t, v)) in enumerate(zip(rows, losses, strict=True)):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells == [f"{t:.4f}", f"{v:.4f}", str(i + 1)]


def test_fill_mask_table_markdown_exact(run_dir: Path):
    table = fill_mask_table_markdown(load_run(run_dir))  # rows in the config's prompt order
    assert table.splitlines() == [
        "| Prompt                     | Before training          | After training                   |",
        "|:---------------------------|:-------------------------|:---------------------------------|",
        "| This is a great [MASK].    | deal (0.05), idea (0.03) | movie (0.31), film (0.12)        |",
        "| I would [MASK] this movie. | the (0.02), a (0.01)     | recommend (0.60), suggest (0.10) |",
    ]
    # from all_results.json alone (no config): the order in which the prompts were stored
    rows = fill_mask_table_markdown(RESULTS).splitlines()[2:]
    assert rows[0].startswith("| I would [MASK]") and rows[1].startswith("| This is a great")


def test_fill_mask_table_escapes_pipes_and_reports_missing_side():
    results = {"fill_mask_after": {"a | b [MASK]": [{"token": "|", "score": 0.5}]}}
    row = fill_mask_table_markdown(results).splitlines()[2]
    assert "a \\| b [MASK]" in row and "\\| (0.50)" in row and "N/A" in row


# ------------------------------------------------------------------------------------ compare


def test_compare_runs_one_line_per_run(tmp_path: Path):
    token = write_run(tmp_path / "token", name="token-masking")
    epochs = [{**e, "eval_loss": e["eval_loss"] - 0.5} for e in EPOCHS]
    whole = write_run(tmp_path / "wwm", epochs=epochs, name="wwm", masking="whole_word")
    fig = compare_runs([token, load_run(whole)], metric="eval_loss")
    check_labelled(fig)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["token-masking", "wwm"]
    assert list(lines[0].get_ydata()) == EVAL
    assert np.allclose(lines[1].get_ydata(), np.array(EVAL) - 0.5)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["token-masking", "wwm"]


@pytest.mark.parametrize("metric", ["perplexity", "train_loss", "step_loss"])
def test_compare_runs_metrics_and_labels(tmp_path: Path, metric: str):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    fig = compare_runs([a, b], metric=metric, labels=["token", "whole word"], smoothing=0.5)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["token", "whole word"]
    expected = {
        "perplexity": np.exp(EVAL),
        "train_loss": TRAIN,
        "step_loss": ema([s["loss"] for s in STEPS], 0.5),
    }[metric]
    assert np.allclose(lines[0].get_ydata(), expected)
    assert fig.axes[0].get_xlabel() == ("global step" if metric == "step_loss" else "epoch")


def test_compare_runs_with_a_run_without_epochs(tmp_path: Path):
    done = write_run(tmp_path / "done", name="done")
    cut = write_run(tmp_path / "cut", epochs=[], name="cut")
    lines = compare_runs([done, cut]).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["done", "cut (no data yet)"]
    assert len(lines[1].get_xdata()) == 0
    only_cut = compare_runs([cut])
    assert "No completed epoch yet" in texts(only_cut)


def test_compare_runs_errors(run_dir: Path):
    with pytest.raises(ValueError, match="metric='accuracy'"):
        compare_runs([run_dir], metric="accuracy")
    with pytest.raises(ValueError, match="2 labels for 1 runs"):
        compare_runs([run_dir], labels=["a", "b"])
    with pytest.raises(ValueError, match="at least one run"):
        compare_runs([])


# ------------------------------------------------------------------------------------ summary


def test_summarize_run_stopped_improving(run_dir: Path):
    summary = summarize_run(run_dir)
    assert summary.best_epoch == 2 and summary.best_eval_loss == 4.6
    assert summary.stopped_improving is True
    assert summary.epochs_completed == 3 and summary.last_step == 12
    assert summary.perplexity_before == 3640.0 and summary.perplexity_after == 109.95
    assert summary.finished and summary.zero_lr_steps == 0
    text = str(summary)
    assert "lowest after epoch 2 (4.6000)" in text and "did not improve in the 1 epoch" in text
    assert "3,640.00 before training to 109.95 after" in text


def test_summarize_run_still_improving_unfinished_and_zero_lr(tmp_path: Path):
    epochs = [{**e, "eval_loss": v} for e, v in zip(EPOCHS, [5.0, 4.0, 3.0], strict=True)]
    steps = [{**s, "learning_rate": 0.0 if s["step"] > 9 else 1e-3} for s in STEPS]
    summary = summarize_run(write_run(tmp_path / "r", steps=steps, epochs=epochs, results=None))
    assert summary.best_epoch == 3 and summary.stopped_improving is False
    assert summary.perplexity_before is None
    assert summary.perplexity_after == pytest.approx(EPOCHS[-1]["perplexity"])  # last epoch's
    assert summary.zero_lr_steps == 3 and not summary.finished
    text = str(summary)
    assert "still falling" in text and "has not finished" in text
    assert "learning rate was 0 for the last 3 steps" in text


def test_summarize_run_without_epochs(tmp_path: Path):
    summary = summarize_run(write_run(tmp_path / "r", epochs=[], results=None))
    assert summary.best_epoch is None and summary.stopped_improving is None
    assert summary.perplexity_after is None
    assert "No completed epoch yet" in str(summary)


# ------------------------------------------------------------------------------------ saving


def _lines(fig: plt.Figure) -> list[list[float]]:
    return [list(map(float, line.get_ydata())) for ax in fig.axes for line in ax.get_lines()]


@pytest.mark.parametrize("kind", list(plotting.FIGURES))
def test_plot_run_draws_the_figure_of_its_kind(run_dir: Path, kind: str):
    fig = plot_run(run_dir, kind)
    same = plotting.FIGURES[kind](run_dir)
    assert fig.axes[0].get_title() == same.axes[0].get_title()
    np.testing.assert_array_equal(
        np.array(_lines(fig), dtype=object), np.array(_lines(same), dtype=object)
    )
    plt.close("all")


def test_plot_run_of_several_runs_compares_them(tmp_path: Path, run_dir: Path):
    other = write_run(tmp_path / "other", epochs=EPOCHS[:2])
    fig = plot_run([run_dir, other], "step_loss", labels=["a", "b"], smoothing=0.5)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    assert _lines(fig) == _lines(compare_runs([run_dir, other], "step_loss", smoothing=0.5))
    with pytest.raises(ValueError, match="kind='loss' is unknown"):
        plot_run(run_dir, "loss")
    plt.close("all")


def test_the_summary_carries_the_tables(run_dir: Path, tmp_path: Path):
    summary = summarize_run(run_dir)
    assert summary.epoch_table == epoch_table_markdown(load_run(run_dir))
    assert summary.fill_mask_table == fill_mask_table_markdown(load_run(run_dir))
    partial = summarize_run(write_run(tmp_path / "r", steps=STEPS[:3], epochs=[], results=None))
    assert partial.epoch_table is None and partial.fill_mask_table is None


def test_an_empty_run_object_is_summarized_without_reading_a_folder():
    run = Run(path=Path("runs/x"))  # no such folder: a Run is used as it is, never re-read
    assert summarize_run(run).steps_logged == 0
    assert plot_epoch_loss(run).axes[0].get_lines() == []


def test_perplexity_figure_with_uniform_guessing_draws_the_drop(run_dir: Path):
    """With the vocabulary size, the curve starts at epoch 0 with the perplexity before training
    and a last line stands at V, the perplexity of uniform guessing."""
    ax = plot_run(run_dir, "perplexity", vocab_size=5_000).axes[0]
    per_epoch, before, uniform = ax.get_lines()
    assert list(per_epoch.get_xdata()) == [0, *range(1, len(EVAL) + 1)]
    assert np.allclose(per_epoch.get_ydata(), [3640.0, *np.exp(EVAL)])
    assert list(uniform.get_ydata()) == [5000, 5000]
    assert uniform.get_label() == "uniform guessing (perplexity = vocabulary size, 5,000)"
    assert per_epoch.get_label() == "per epoch (0: before training)"
    assert ax.get_ylim()[1] > 5_000  # room above the highest line for the legend
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="vocab_size"):
        plot_perplexity(run_dir, vocab_size=0)


def test_perplexity_by_masking_bars_one_group_per_kind():
    table = {
        "general model": {"token": 1500.0, "whole_word": 1700.0},
        "adapted": {"token": 19.0, "whole_word": 23.0},
    }
    fig = plot_perplexity_by_masking(table)
    check_labelled(fig)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [1500.0, 1700.0, 19.0, 23.0]  # model by model, kind by kind
    assert [t.get_text() for t in ax.get_xticklabels()] == ["token", "whole-word"]
    assert "1,500.0" in [t.get_text() for t in ax.texts]
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plot_perplexity_by_masking({})


def test_loss_by_word_group_bars_and_uniform_line():
    table = {"before": {"domain": 9.0, "general": 6.0}, "after": {"domain": 3.0, "general": 2.5}}
    ax = plot_loss_by_word_group(table, vocab_size=1_000).axes[0]
    assert [p.get_height() for p in ax.patches] == [9.0, 6.0, 3.0, 2.5]
    (uniform,) = ax.get_lines()
    assert uniform.get_ydata()[0] == pytest.approx(math.log(1_000))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["after", "before", "uniform guessing (ln 1,000)"]
    assert not plot_loss_by_word_group(table).axes[0].get_lines()
