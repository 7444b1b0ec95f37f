"""Tests of mlm_helpers.schedule: the warmup + linear-decay schedule training runs (notebook 04)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers.config import RunConfig
from mlm_helpers.schedule import LinearWarmupDecay, count_steps
from mlm_helpers.training import make_optimizer


def test_schedule_warms_up_then_decays_to_zero():
    config = RunConfig(epochs=3, warmup=0.1, learning_rate=1e-3)
    schedule = LinearWarmupDecay.from_config(config, steps_per_epoch=10)
    rates = schedule.curve()
    assert count_steps(config, 10) == (30, 3)
    assert (schedule.total_steps, schedule.warmup_steps) == (30, 3)
    assert len(rates) == 30
    assert rates[2] == pytest.approx(1e-3)  # step 3, the last warmup step, is the peak
    assert int(np.argmax(rates)) == 2
    assert np.all(rates > 0)  # every step learns ...
    assert rates[-1] == pytest.approx(1e-3 / 28)  # ... the last one only a little ...
    assert float(schedule(30)) == 0.0  # ... and the rate is 0 at the end
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
    schedule = LinearWarmupDecay.from_config(config, steps_per_epoch)
    rates = schedule.curve()
    assert np.all(rates > 0)
    assert rates[-1] <= 2e-3 / (total + 1 - max(warm, 1)) * (1 + 1e-5)  # ~0 at the last step
    assert float(schedule(total)) == 0.0
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
        LinearWarmupDecay(1e-3, warmup_steps=10, total_steps=10)


def test_the_optimizer_steps_with_the_schedule_object_it_was_given():
    config = RunConfig(epochs=2, warmup=0.25)
    schedule = LinearWarmupDecay.from_config(config, steps_per_epoch=8)
    for precision in ("float32", "mixed_float16"):
        assert make_optimizer(config, schedule, precision).learning_rate is schedule


def test_the_description_states_the_numbers_the_schedule_uses():
    schedule = LinearWarmupDecay.from_config(RunConfig(epochs=3, learning_rate=1e-3), 187)
    text = schedule.describe()
    assert "first 56 of 561 steps to 0.001" in text
    assert f"decay to {schedule.curve()[-1]:.3g} at the last step" in text
    assert "PolynomialDecay" not in text and "to 0 at the last step" not in text
    no_warmup = LinearWarmupDecay.from_config(RunConfig(warmup=0, epochs=1), 10).describe()
    assert "no warmup" in no_warmup and "decay to 0.0001 at the last step" in no_warmup


def test_schedule_figure_shows_every_step():
    schedule = LinearWarmupDecay.from_config(RunConfig(epochs=2, warmup=0.25), steps_per_epoch=8)
    ax = schedule.plot(steps_per_epoch=8).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), schedule.curve())
    assert len(ax.lines[0].get_xdata()) == 16 and ax.get_xlabel() == "optimizer step"
    labels = ax.get_legend_handles_labels()[1]
    assert "epoch boundary" in labels and "end of warmup (step 4)" in labels
