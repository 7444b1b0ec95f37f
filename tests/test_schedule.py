"""Tests of mlm_helpers.schedule: the warmup + linear-decay schedule training runs (notebook 04),
and the Keras schedule that steps the optimizer with it (training.KerasSchedule)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers.config import RunConfig
from mlm_helpers.schedule import Schedule, count_steps


def test_schedule_warms_up_then_decays_to_zero():
    config = RunConfig(epochs=3, warmup=0.1, learning_rate=1e-3)
    schedule = Schedule.from_config(config, steps_per_epoch=10)
    rates = schedule.curve()
    assert count_steps(config, 10) == (30, 3)
    assert (schedule.total_steps, schedule.warmup_steps, schedule.steps_per_epoch) == (30, 3, 10)
    assert len(rates) == 30 and rates.dtype == np.float32  # the optimizer's precision
    assert rates[2] == pytest.approx(1e-3)  # step 3, the last warmup step, is the peak
    assert int(np.argmax(rates)) == 2
    assert np.all(rates > 0)  # every step learns ...
    assert rates[-1] == pytest.approx(1e-3 / 28)  # ... the last one only a little ...
    assert schedule.rate(31) == 0.0  # ... and the rate is 0 after the end
    assert np.all(np.diff(rates[:3]) > 0) and np.all(np.diff(rates[2:]) < 0)


@settings(max_examples=30, deadline=None)
@given(
    steps_per_epoch=st.integers(1, 40),
    epochs=st.integers(1, 4),
    warmup=st.one_of(st.floats(0.0, 0.9), st.integers(0, 60)),
)
def test_schedule_invariants(steps_per_epoch, epochs, warmup):
    config = RunConfig(epochs=epochs, warmup=warmup, learning_rate=2e-3)
    total = steps_per_epoch * epochs
    try:
        steps, warm = count_steps(config, steps_per_epoch)
    except ValueError as err:
        assert str(total) in str(err)
        assert warmup >= 1 or round(warmup * total) >= total
        return
    assert steps == total and 0 <= warm < total
    schedule = Schedule.from_config(config, steps_per_epoch)
    rates = schedule.curve()
    assert np.all(rates > 0)
    assert rates[-1] <= 2e-3 / (total + 1 - max(warm, 1)) * (1 + 1e-5)  # ~0 at the last step
    assert schedule.rate(total + 1) == 0.0
    assert rates.max() == pytest.approx(2e-3, rel=1e-5)
    peak = int(np.argmax(rates))
    assert peak == max(warm - 1, 0)  # the peak is at the last warmup step
    assert np.all(np.diff(rates[: peak + 1]) > 0) and np.all(np.diff(rates[peak:]) < 0)


def test_warmup_not_shorter_than_training_is_refused_with_both_numbers():
    with pytest.raises(ValueError, match=r"warmup of 1000 steps .* 940 training steps"):
        count_steps(RunConfig(epochs=20, warmup=1000), steps_per_epoch=47)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        count_steps(RunConfig(), steps_per_epoch=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        Schedule(1e-3, warmup_steps=10, total_steps=10, steps_per_epoch=5)
    with pytest.raises(ValueError, match="Schedule.peak"):
        Schedule(float("nan"), warmup_steps=1, total_steps=10, steps_per_epoch=5)
    with pytest.raises(ValueError, match="Schedule.steps_per_epoch=0 is invalid"):
        Schedule(1e-3, warmup_steps=1, total_steps=10, steps_per_epoch=0)


@pytest.mark.parametrize(
    ("warmup", "steps_per_epoch", "epochs"),
    [(0, 7, 2), (13, 7, 2), (0.25, 8, 2), (4, 8, 2), (0.3, 9, 3), (0, 1, 1)],
    ids=[
        "no warmup",
        "warmup = total - 1",
        "fraction",
        "same steps as a count",
        "rounded",
        "one step",
    ],
)
def test_the_keras_schedule_steps_with_the_rates_of_the_schedule(warmup, steps_per_epoch, epochs):
    from mlm_helpers import runtime
    from mlm_helpers.training import KerasSchedule

    tf = runtime.import_tensorflow()
    config = RunConfig(epochs=epochs, warmup=warmup, learning_rate=3e-4)
    schedule = Schedule.from_config(config, steps_per_epoch)
    keras_schedule = KerasSchedule(schedule)
    total = schedule.total_steps
    iterations = tf.range(total + 3, dtype=tf.int64)  # the optimizer's counter, past the end too
    in_graph = tf.function(keras_schedule)(iterations).numpy()
    np.testing.assert_array_equal(in_graph, schedule.rate(np.arange(1, total + 4)))
    np.testing.assert_array_equal(in_graph[total:], 0.0)
    assert in_graph.dtype == np.float32


def test_a_fractional_warmup_is_the_same_as_its_step_count():
    fraction = Schedule.from_config(RunConfig(epochs=2, warmup=0.25), 8)
    count = Schedule.from_config(RunConfig(epochs=2, warmup=4), 8)
    assert fraction == count


def test_the_optimizer_steps_with_the_schedule_it_was_given():
    from mlm_helpers.training import make_optimizer

    config = RunConfig(epochs=2, warmup=0.25)
    schedule = Schedule.from_config(config, steps_per_epoch=8)
    for precision in ("float32", "mixed_float16"):
        assert make_optimizer(config, schedule, precision).learning_rate.schedule is schedule


def test_the_description_states_the_numbers_the_schedule_uses():
    schedule = Schedule.from_config(RunConfig(epochs=3, learning_rate=1e-3), 187)
    text = schedule.describe()
    assert "first 56 of 561 steps to 0.001" in text
    assert f"decay to {schedule.curve()[-1]:.3g} at the last step" in text
    assert "PolynomialDecay" not in text and "to 0 at the last step" not in text
    no_warmup = Schedule.from_config(RunConfig(warmup=0, epochs=1), 10).describe()
    assert "no warmup" in no_warmup and "decay to 0.0001 at the last step" in no_warmup


def test_schedule_figure_shows_every_step():
    schedule = Schedule.from_config(RunConfig(epochs=2, warmup=0.25), steps_per_epoch=8)
    ax = schedule.plot().axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), schedule.curve())
    assert len(ax.lines[0].get_xdata()) == 16 and ax.get_xlabel() == "optimizer step"
    labels = ax.get_legend_handles_labels()[1]
    assert "epoch boundary" in labels and "end of warmup (step 4)" in labels


def test_describing_a_schedule_and_estimating_a_cost_do_not_import_tensorflow():
    code = """
import sys
from transformers import DistilBertConfig
from mlm_helpers import cost, schedule
from mlm_helpers.config import RunConfig
config = RunConfig()
print(schedule.Schedule.from_config(config, 187).describe())
print(cost.estimate(config, 187, DistilBertConfig()))
loaded = sorted(m for m in ("tensorflow", "tf_keras", "keras") if m in sys.modules)
assert not loaded, loaded
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "linear warmup" in done.stdout and "FLOP" in done.stdout
