"""One worker of the two-worker test (`test_multi_worker.py` starts two of these on 127.0.0.1,
each with its own TF_CONFIG): trains a few steps of the embedded profile with
``strategy="multi_worker"`` through `runs.open_run`, as ``python -m mlm_helpers train`` does, then
writes the SHA-256 of its final weights to a file. ``--pause-after N``: the chief stops after step
N (its checkpoint of step N - 1 written) and waits to be killed, writing a marker file first."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from mlm_helpers import runs, runtime
from mlm_helpers.config import embedded_profile


def config_for(runs_dir: str):
    """8 steps of batch 8 (4 per worker), a checkpoint every 2 steps."""
    return embedded_profile(
        strategy="multi_worker",
        runs_dir=runs_dir,
        run_name="two-workers",
        train_chunks=64,
        eval_chunks=32,
        batch_size=8,
        epochs=1,
        checkpoint_every_steps=2,
        num_proc=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs_dir")
    parser.add_argument("out")
    parser.add_argument("--pause-after", type=int)
    args = parser.parse_args()
    keras = runtime.import_keras()
    callbacks = []
    if args.pause_after:

        class Pause(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                step = int(self.model.optimizer.iterations.numpy())
                chief = self.model.distribute_strategy.extended.should_checkpoint
                if chief and step == args.pause_after:
                    Path(args.out + ".paused").write_text(str(step))
                    time.sleep(600)  # the test kills the pair here

        callbacks.append(Pause())
    run = runs.open_run(config_for(args.runs_dir), mode="auto", callbacks=callbacks)
    weights = b"".join(w.numpy().tobytes() for w in run.model.weights)
    record = {"sha256": hashlib.sha256(weights).hexdigest(), "step": run.results["global_step"]}
    Path(args.out).write_text(json.dumps(record))


if __name__ == "__main__":
    main()
