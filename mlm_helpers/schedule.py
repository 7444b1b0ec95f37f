"""The learning-rate schedule: linear warmup, then linear decay (notebook 04 plots it before training).

`Schedule.from_config(config, steps_per_epoch)` is the schedule a run trains with: the optimizer's
Keras schedule (`training.KerasSchedule`) looks its rates up in this value's `curve()`, notebook 04
plots it, and the model card's sentence is its `describe()`. Its numbers come from `count_steps`, the
one place where the warmup (a fraction or a step count) is turned into steps, and which refuses a
warmup that is not shorter than the run (the trap of the recipe this replaces: a decay with negative
steps, which held its learning rate at 0 for half of its epochs).

NumPy only, no TensorFlow: the model card and notebook 04 describe a schedule without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import finite_number, positive_int
from .config import RunConfig


def count_steps(config: RunConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(total optimizer steps, warmup steps) of a run with `steps_per_epoch` batches per epoch.

    `config.warmup` < 1 is a fraction of the total (rounded to the nearest step), >= 1 a number of
    steps. Raises ValueError, naming both numbers, when the warmup is not shorter than the run.
    """
    positive_int(steps_per_epoch, f"steps_per_epoch (full batches of {config.batch_size} chunks)")
    total = steps_per_epoch * config.epochs
    warmup = int(round(config.warmup * total)) if config.warmup < 1 else int(config.warmup)
    if warmup >= total:
        raise ValueError(
            f"warmup of {warmup} steps is not shorter than the {total} training steps "
            f"({steps_per_epoch} per epoch × {config.epochs} epochs), so the learning rate would "
            "never decay: lower RunConfig.warmup (e.g. a fraction such as 0.1) or train longer"
        )
    return total, warmup


@dataclass(frozen=True)
class Schedule:
    """Linear warmup from 0 to `peak` over `warmup_steps`, then linear decay that reaches 0 just as
    the last of `total_steps` is done; `steps_per_epoch` marks the epochs in `plot`.

    Step n (1-based; the optimizer's 0-based iteration i trains with the rate of step i + 1) gets:
    1. while n <= W (warmup): ``peak·n/W``, so step W has the peak;
    2. after: ``peak·(T+1-n)/(T+1-max(W, 1))``, so the last step T has ``peak/(T+1-max(W, 1))``;
    3. 0 after step T.
    Every step of the run trains with a positive rate. Rates are float32, the optimizer's precision.
    """

    peak: float
    warmup_steps: int
    total_steps: int
    steps_per_epoch: int

    def __post_init__(self) -> None:
        finite_number(self.peak, "Schedule.peak", positive=True)
        positive_int(self.warmup_steps, "Schedule.warmup_steps", minimum=0)
        positive_int(self.total_steps, "Schedule.total_steps")
        positive_int(self.steps_per_epoch, "Schedule.steps_per_epoch")
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"need 0 <= warmup_steps ({self.warmup_steps}) < total_steps ({self.total_steps}): "
                "build the schedule with Schedule.from_config"
            )

    @classmethod
    def from_config(cls, config: RunConfig, steps_per_epoch: int) -> Schedule:
        """The schedule of a run of `config` with `steps_per_epoch` batches per epoch."""
        total, warmup = count_steps(config, steps_per_epoch)
        return cls(float(config.learning_rate), warmup, total, steps_per_epoch)

    def rate(self, step: Any) -> Any:
        """The rate of 1-based step `step` (an int or an array of them), in float32."""
        n, peak = np.asarray(step, dtype=np.float32), np.float32(self.peak)
        warmup, end = max(self.warmup_steps, 1), self.total_steps + 1
        # 1) linear warmup, peak at step W; 2) linear decay to 0 at step T + 1; 3) 0 after it
        rising = peak * n / np.float32(warmup)
        falling = peak * (np.float32(end) - n) / np.float32(end - warmup)
        return np.maximum(np.where(n <= self.warmup_steps, rising, falling), np.float32(0))

    def curve(self) -> np.ndarray:
        """The rate of every step 1..total_steps (index i holds step i + 1)."""
        return self.rate(np.arange(1, self.total_steps + 1))

    def describe(self) -> str:
        """One sentence for the model card, with the numbers this schedule trains with."""
        last = float(self.rate(self.total_steps))
        warmup = (
            f"linear warmup from 0 over the first {self.warmup_steps:,} of {self.total_steps:,} "
            f"steps to {self.peak:g}"
            if self.warmup_steps
            else f"{self.peak:g} at the first of {self.total_steps:,} steps (no warmup)"
        )
        return f"{warmup}, then linear decay to {last:.3g} at the last step (0 after it)"

    def plot(self) -> Any:
        """Figure: the rate per step, with the end of warmup and the epoch boundaries marked."""
        import matplotlib.pyplot as plt

        total, steps_per_epoch = self.total_steps, self.steps_per_epoch
        fig, ax = plt.subplots()
        ax.plot(np.arange(1, total + 1), self.curve(), color="tab:blue", label="learning rate")
        for n, boundary in enumerate(range(steps_per_epoch, total, steps_per_epoch)):
            ax.axvline(
                boundary,
                color="grey",
                linestyle=":",
                linewidth=1,
                label="epoch boundary" if n == 0 else None,
            )
        if self.warmup_steps:
            ax.axvline(
                self.warmup_steps,
                color="tab:orange",
                linestyle="--",
                label=f"end of warmup (step {self.warmup_steps})",
            )
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.set_xlim(0, total + 1)
        ax.set_ylim(0, self.peak * 1.08)
        ax.set_title(f"Linear warmup and decay: {total} steps, peak {self.peak:g}")
        ax.legend(loc="upper right")
        return fig
