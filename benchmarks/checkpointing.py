"""Benchmark: what mid-epoch checkpoints cost, and so which `checkpoint_every_steps` is the default.

An interruption loses the steps since the last checkpoint; every checkpoint costs the time to write
the weights, the optimizer's two Adam slots and the dropout state. Two measurements, side by side:

1. **Runs with and without mid-epoch checkpoints** (the embedded profile's model and data, this
   CPU): the same short run trained with ``checkpoint_every_steps=None`` and with a checkpoint
   every K steps, taking turns for `--rounds` rounds (the best wall-clock time of each counts: the
   machine may be shared). Printed: seconds per step, seconds per checkpoint (each `RunRecorder.save`
   is timed), and the ratio of the run times.
2. **A distilbert-base-sized checkpoint** (66 M parameters, random weights, Adam slots created):
   the seconds to write one, on this disk. No CPU trains that model at a useful speed, so its
   step time is `cost.estimate`'s for a T4 at the fast end of its assumed utilisation (the hub
   profile's batch of 32 × 128 tokens, mixed precision): an estimate, labelled as one.

For each candidate interval the table gives the overhead (checkpoint seconds / training seconds
between two checkpoints) and what an interruption costs at most (K steps). The interval that
minimises overhead plus expected lost work is Young's, sqrt(2 × checkpoint seconds × mean time
between interruptions), taken as one hour (`MEAN_SECONDS_BETWEEN_INTERRUPTIONS`). The default is
the largest candidate not above it for the hub profile on a T4, whose runs are long (an embedded
run's epoch is shorter than its own interval, so its epoch-end checkpoints already suffice): the
number `RunConfig.checkpoint_every_steps` carries.

Run: ``.venv/bin/python benchmarks/checkpointing.py [--steps 100] [--every 10,25] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from mlm_helpers import runtime
from mlm_helpers.config import RunConfig, embedded_profile, hub_profile

CANDIDATES = (100, 200, 500, 1000, 2000, 5000)
# One interruption an hour: a pessimistic Colab session (idle timeouts, lost connections).
MEAN_SECONDS_BETWEEN_INTERRUPTIONS = 3600.0


def timed_saves():
    """Patch `RunRecorder.save` to record (step, seconds) of every checkpoint; returns the list."""
    from mlm_helpers import recorder

    saves: list[tuple[int, float]] = []
    original = recorder.RunRecorder.save

    def save(self) -> None:
        start = time.perf_counter()
        original(self)
        saves.append((self.global_step, time.perf_counter() - start))

    recorder.RunRecorder.save = save
    return saves


def side_by_side(steps: int, intervals: list[int], rounds: int) -> tuple[float, float]:
    """Part 1; returns (seconds per step, seconds per checkpoint) of the embedded model here."""
    from mlm_helpers import chunking, data, runs

    base = embedded_profile(epochs=1, train_chunks=steps * 16, batch_size=16)
    tokenizer = data.load_tokenizer(base)
    chunks = chunking.prepare_chunks(base, tokenizer)
    saves = timed_saves()
    variants = [None, *intervals]
    walls: dict[int | None, list[float]] = {k: [] for k in variants}
    mid_saves: list[float] = []
    step_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="checkpointing-") as folder:
        for round_ in range(rounds):
            for every in variants:
                config = base.replace(
                    runs_dir=folder, run_name=f"r{round_}-{every}", checkpoint_every_steps=every
                )
                saves.clear()
                start = time.perf_counter()
                run = runs.open_run(
                    config, mode="train", tokenizer=tokenizer, chunks=chunks, verbose=0
                )
                walls[every].append(time.perf_counter() - start)
                if every is None:  # training seconds only (no evaluation, no set-up)
                    results = run.results
                    step_times.append(results["train_runtime_seconds"] / results["global_step"])
                mid_saves += [s for step, s in saves if step % steps]  # not the epoch end's
    reference = min(walls[None])
    print(f"\n1. embedded model, one epoch of {steps} steps of 16 × 128 tokens, best of {rounds}:")
    print(f"{'checkpoint every':>18} {'checkpoints':>12} {'run seconds':>12} {'ratio':>7}")
    for every in variants:
        count = 0 if every is None else (steps - 1) // every
        label = "epoch end only" if every is None else f"{every} steps"
        ratio = min(walls[every]) / reference
        print(f"{label:>18} {count:>12} {min(walls[every]):>12.2f} {ratio:>7.3f}")
    step_seconds = min(step_times)
    checkpoint_seconds = statistics.median(mid_saves)
    print(
        f"one step: {step_seconds:.3f} s; one mid-epoch checkpoint: {checkpoint_seconds:.3f} s "
        f"(median of {len(mid_saves)}), {checkpoint_seconds / step_seconds:.2f} steps' worth"
    )
    return step_seconds, checkpoint_seconds


def big_checkpoint(repeats: int) -> tuple[float, float]:
    """Part 2: (seconds to write, MB) of a distilbert-base-sized checkpoint with Adam slots."""
    from transformers import DistilBertConfig, TFDistilBertForMaskedLM

    from mlm_helpers import training
    from mlm_helpers.schedule import Schedule

    tf = runtime.import_tensorflow()
    config = hub_profile()
    model = TFDistilBertForMaskedLM(DistilBertConfig())
    model(tf.zeros((1, 8), tf.int32))
    optimizer = training.make_optimizer(config, Schedule.from_config(config, 312), "float32")
    training.make_trainer(model, optimizer, jit_compile=False)  # creates the Adam slots
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    seconds = []
    with tempfile.TemporaryDirectory(prefix="checkpointing-big-") as folder:
        manager = tf.train.CheckpointManager(checkpoint, folder, max_to_keep=3)
        for step in range(repeats):
            start = time.perf_counter()
            manager.save(checkpoint_number=step)
            seconds.append(time.perf_counter() - start)
        size = sum(p.stat().st_size for p in Path(folder).glob(f"ckpt-{repeats - 1}.*"))
    print(
        f"\n2. distilbert-base-sized checkpoint ({model.count_params():,} parameters + Adam "
        f"slots): {size / 1e6:.0f} MB, {statistics.median(seconds):.2f} s to write "
        f"(median of {repeats}: {', '.join(f'{s:.2f}' for s in seconds)})"
    )
    return statistics.median(seconds), size / 1e6


def t4_step_seconds() -> float:
    """The hub profile's step on a T4 at the fast end of `cost.ASSUMED_MFU` (an estimate)."""
    from transformers import DistilBertConfig

    from mlm_helpers.cost import estimate

    config = hub_profile()
    cost = estimate(config, 312, DistilBertConfig())
    fast, _ = cost.gpu_seconds("T4")
    return fast / (cost.epochs * cost.steps_per_epoch)


def choose(cases: dict[str, tuple[float, float]], decides: str) -> int:
    """Print the overhead table and Young's interval for each case; return the largest candidate
    not above the interval of the case that `decides` (the profile whose runs are long)."""
    print("\n3. every K steps: overhead (checkpoint / training between two) and most time lost")
    print(f"{'K':>6}" + "".join(f"{name:>36}" for name in cases))
    for every in CANDIDATES:
        cells = [
            f"{checkpoint / (every * step):>8.2%} overhead, {every * step / 60:>5.1f} min lost"
            for step, checkpoint in cases.values()
        ]
        print(f"{every:>6}" + "".join(f"{cell:>36}" for cell in cells))
    best = {}
    for name, (step, checkpoint) in cases.items():
        interval = math.sqrt(2 * checkpoint * MEAN_SECONDS_BETWEEN_INTERRUPTIONS)
        best[name] = interval / step
        print(
            f"{name}: Young's interval sqrt(2 × {checkpoint:.2f} s × "
            f"{MEAN_SECONDS_BETWEEN_INTERRUPTIONS / 3600:g} h) = {interval:.0f} s = "
            f"{best[name]:.0f} steps"
        )
    chosen = max(k for k in CANDIDATES if k <= best[decides])
    print(f"default: checkpoint_every_steps = {chosen} ({decides} decides: its runs are long)")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps of the side-by-side runs")
    parser.add_argument("--every", default="10,25", help="mid-epoch intervals to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="big checkpoints written")
    args = parser.parse_args()
    runtime.quiet_libraries()
    intervals = [int(k) for k in args.every.split(",")]
    step, checkpoint = side_by_side(args.steps, intervals, args.rounds)
    big, _ = big_checkpoint(args.repeats)
    t4 = t4_step_seconds()
    print(f"hub profile on a T4 (estimate, cost.estimate at its fast end): {t4:.3f} s per step")
    choose(
        {"embedded, this CPU (measured)": (step, checkpoint), "hub, T4 (estimated step)": (t4, big)}
    )
    print(
        f"current default: RunConfig.checkpoint_every_steps = {RunConfig().checkpoint_every_steps}"
    )


if __name__ == "__main__":
    main()
