"""Notebook 07's experiment design (`mlm_helpers.experiment`, no TensorFlow): the sampling, the equal
budget, the bad inputs and the results' table, gaps, figure and file."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers import experiment, run_folder
from mlm_helpers.config import ClassifySettings


# ----------------------------------------------------------------------------------- sampling
@st.composite
def labels_and_size(draw):
    negatives = draw(st.integers(1, 60))
    positives = draw(st.integers(1, 60))
    labels = np.array([0] * negatives + [1] * positives)
    labels = labels[np.random.default_rng(draw(st.integers(0, 99))).permutation(labels.size)]
    return labels, draw(st.integers(2, labels.size)), draw(st.integers(0, 2**31))


@given(labels_and_size())
@settings(max_examples=200, deadline=None)
def test_sample_is_stratified_distinct_and_reproducible(case):
    labels, size, seed = case
    chosen = experiment.sample_labelled(labels, size, seed)
    assert chosen.size == size and np.unique(chosen).size == size
    assert chosen.min() >= 0 and chosen.max() < labels.size
    counts = np.bincount(labels[chosen], minlength=2)
    shares = size * np.bincount(labels, minlength=2) / labels.size
    assert (counts >= 1).all(), "both classes are in every sample"
    assert (np.abs(counts - shares) < 1).all(), (counts, shares)
    assert np.array_equal(chosen, experiment.sample_labelled(labels, size, seed))


def shared_with_a_smaller_draw(sample) -> int:
    """How many of the 50 reviews drawn for N = 50 the draw for N = 60 (same seed) holds again."""
    labels = np.arange(1000) % 2
    return len(set(sample(labels, 50, 0)) & set(sample(labels, 60, 0)))


def nested(labels, size, seed):
    """A broken sampler: every N takes the first N/2 of each class from one draw per seed."""
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)]
    return np.concatenate([pool[: size // 2] for pool in pools])


def test_samples_differ_across_seeds_and_sizes():
    labels = np.arange(1000) % 2
    draws = {seed: set(experiment.sample_labelled(labels, 50, seed)) for seed in range(3)}
    assert draws[0] != draws[1] != draws[2] != draws[0]
    assert np.bincount(labels[list(draws[0])]).tolist() == [25, 25]
    # Each (N, seed) is a draw of its own, not the smaller N topped up: the 60 reviews share with
    # the 50 about what two independent draws from 1,000 would (50 × 60 / 1,000 = 3), not all 50.
    assert shared_with_a_smaller_draw(experiment.sample_labelled) < 15
    assert shared_with_a_smaller_draw(nested) == 50  # the control: a nested design is caught


@given(st.integers(2, 50), st.integers(1, 40), st.integers(1, 9), st.integers(0, 99))
@settings(max_examples=100, deadline=None)
def test_batches_are_full_passes_over_the_sample(size, steps, batch_size, seed):
    indices = np.random.default_rng(seed).choice(1000, size, replace=False)
    batches = experiment.batch_order(indices, steps, batch_size, seed)
    assert batches.shape == (steps, batch_size)
    flat = batches.ravel()
    assert set(flat) <= set(indices)
    seen = np.array([np.sum(flat == i) for i in indices])
    assert seen.max() - seen.min() <= 1, "every review is seen once per pass"
    for start in range(0, flat.size - size + 1, size):  # each complete pass is a permutation
        assert sorted(flat[start : start + size]) == sorted(indices)


@given(st.integers(2, 100_000), st.integers(1, 64), st.floats(0.1, 20), st.integers(1, 500))
def test_steps_cover_the_epochs_and_the_floor(size, batch_size, epochs, min_steps):
    budget = ClassifySettings.for_profile(
        "embedded", batch_size=batch_size, epochs=epochs, min_steps=min_steps
    )
    steps = experiment.budget_steps(size, budget)
    assert steps >= min_steps and steps * batch_size >= epochs * size
    assert steps == min_steps or (steps - 1) * batch_size < epochs * size


def test_the_plan_gives_every_size_and_seed_its_sample_and_budget():
    labels = np.arange(40) % 2
    budget = ClassifySettings.for_profile(
        "embedded", sizes=(8, None), seeds=(0, 3), batch_size=4, min_steps=5, epochs=2.0
    )
    batches = experiment.plan(labels, budget, "train")
    assert list(batches) == [(8, 0), (8, 3), (40, 0), (40, 3)]
    assert [len(b) for b in batches.values()] == [5, 5, 20, 20]
    assert set(batches[(8, 3)].ravel()) == set(experiment.sample_labelled(labels, 8, 3))
    with pytest.raises(ValueError, match=r"N=8 .* split 'train' has only 6: use sizes up to 6"):
        experiment.plan(labels[:6], budget, "train")
    exactly = ClassifySettings.for_profile("embedded", sizes=(2, 6), seeds=(0,))
    assert list(experiment.plan(labels[:6], exactly, "train")) == [(2, 0), (6, 0)]


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "has no 'label' column"),
        ([-1, -1, -1], "no labelled reviews (all 3 labels are -1"),
        ([0, 1, -1], "mixes unlabelled reviews"),
        ([1, 1, 1, 1], "a single class (every label is 1)"),
    ],
)
def test_labels_that_cannot_train_a_classifier_are_refused(labels, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        experiment.check_labels(labels, "somesplit")
    assert "'somesplit'" in str(err.value) and "'train'" in str(err.value)


def test_both_classes_pass():
    assert experiment.check_labels([0, 1, 1], "train").tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sizes": (1,)}, "size 1 is not a number"),
        ({"sizes": (8, 8)}, "repeat"),
        ({"seeds": (0, 0)}, "repeat"),
        ({"seeds": ()}, "at least one"),
        ({"learning_rate": float("nan")}, "learning_rate=nan"),
        ({"test_split": "train"}, "must be held out"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ClassifySettings.for_profile("embedded", **changes)


# ----------------------------------------------------------------------------------- results
def result_of(runs) -> experiment.CurveResult:
    budget = ClassifySettings.for_profile("embedded", sizes=(10, 100), seeds=(0, 1))
    return experiment.CurveResult(
        runs=runs,
        settings=budget,
        encoders={"general": "g", "adapted": "a"},
        profile="embedded",
        train_split="train",
        test_split="test",
        train_available=100,
        test_reviews=40,
        test_dropped=2,
        max_length=32,
        seconds=1.0,
    )


RUNS = [
    {"encoder": e, "size": n, "seed": s, "steps": 5, "final_loss": 0.1, "accuracy": a}
    for e, n, s, a in [
        ("adapted", 10, 0, 0.7),
        ("general", 10, 0, 0.5),
        ("general", 10, 1, 0.7),
        ("adapted", 10, 1, 0.9),
        ("general", 100, 0, 0.9),
        ("adapted", 100, 0, 0.9),
    ]
]


def test_cue_summary_groups_seeds_per_encoder_size_and_cue():
    runs = [
        {**r, "accuracy_by_cue": {"idiom": r["accuracy"] - 0.1, "general": r["accuracy"]}}
        for r in RUNS
    ]
    rows = experiment.summarize_cues(runs)
    assert [(r["size"], r["cue"], r["encoder"]) for r in rows[:4]] == [
        (10, "general", "general"),
        (10, "general", "adapted"),
        (10, "idiom", "general"),
        (10, "idiom", "adapted"),
    ]
    assert rows[2]["mean"] == pytest.approx(0.5) and rows[2]["min"] == pytest.approx(0.4)
    assert rows[2]["seeds"] == 2
    table = result_of(runs).cue_markdown().splitlines()
    assert len(table) == 2 + 4
    assert table[3].startswith("| 10 | the domain's idioms only | 0.500 (0.400–0.600) |")
    assert table[3].endswith("| +0.200 |")
    assert experiment.summarize_cues(RUNS) == []  # records of another corpus have no cues


def test_summary_table_gaps_and_figure_from_runs():
    result = result_of(RUNS)
    summary = result.summary()
    assert [(r["size"], r["encoder"]) for r in summary] == [
        (10, "general"),
        (10, "adapted"),
        (100, "general"),
        (100, "adapted"),
    ]
    assert summary[0]["mean"] == pytest.approx(0.6)
    assert summary[0]["std"] == pytest.approx(0.1414, 1e-3)
    assert summary[2]["std"] == 0.0 and summary[2]["seeds"] == 1
    assert result.gaps() == pytest.approx({10: 0.2, 100: 0.0})
    table = result.markdown().splitlines()
    assert len(table) == 2 + 2
    assert table[2] == "| 10 | 0.600 ± 0.141 (0.500–0.700) | 0.800 ± 0.141 (0.700–0.900) | +0.200 |"
    fig = experiment.plot_learning_curve(result)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["10", "100"]
    assert fig.axes[0].get_title().endswith("(frozen)")


def test_read_results_gives_back_the_result_written(tmp_path):
    result = result_of(RUNS)
    path = result.save(tmp_path)
    assert path == tmp_path / run_folder.CLASSIFICATION_FILE
    saved = experiment.read_results(run_folder.Run(tmp_path))
    assert saved == result and isinstance(saved.settings, ClassifySettings)
    assert tuple(run_folder.read_json(path)) == experiment.RESULT_KEYS


def test_read_results_says_how_to_make_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 07"):
        experiment.read_results(tmp_path)
    run_folder.write_json_atomic(tmp_path / run_folder.CLASSIFICATION_FILE, {"runs": []})
    with pytest.raises(ValueError, match="lacks"):
        experiment.read_results(tmp_path)


def test_the_design_needs_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, mlm_helpers.experiment; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
