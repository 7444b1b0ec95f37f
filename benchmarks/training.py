"""Benchmark: training rows/s of our recipe (mlm_helpers.training) vs the Hugging Face course's.

Both paths train the same tiny DistilBERT (the embedded profile's shipped general model, same initial
weights) on the same chunks of the embedded corpus, batch 32 x 128 tokens, float32, with Keras ``fit``:

- ours: masking inside ``tf.data`` (`masking.build_datasets`), our train step (`training.
  make_trainer`: loss from float32 logits per masked token; the last block after its attention and
  the vocabulary head run only at masked positions), AdamWeightDecay with the warmup / decay schedule and clipping, XLA as `fine_tune`
  would choose it on this machine (`--jit` forces it);
- the course: ``model.prepare_tf_dataset(collate_fn=DataCollatorForLanguageModeling(
  return_tensors="np"))``, the model's internal loss (``compile`` without a loss), transformers'
  ``create_optimizer``, no XLA.

Each path trains in one ``fit`` call per round: a first epoch of `--steps` steps for start-up
(tracing, building the input pipeline), then `--epochs` timed epochs of `--steps` steps each, as a
real run would see them. The paths take turns for `--rounds` rounds; the best epoch's rows/s of
each path counts (the machine may be shared), the median is shown too, and so are rows per
CPU-second of this process (all its threads: the model, tf.data, the Python collator), which other
processes on a shared machine disturb much less.

Run: ``.venv/bin/python benchmarks/training.py [--steps 40] [--epochs 3] [--rounds 2] [--jit]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mlm_helpers import runtime
from mlm_helpers.config import embedded_profile


def epoch_timer(keras):
    """A Keras callback recording the wall-clock and CPU seconds (all threads of this process) of
    every epoch after the first (start-up) one."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.wall: list[float] = []
            self.cpu: list[float] = []
            self.start = (0.0, 0.0)

        def on_epoch_begin(self, epoch: int, logs=None) -> None:
            self.start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            if epoch > 0:
                self.wall.append(time.perf_counter() - self.start[0])
                self.cpu.append(time.process_time() - self.start[1])

    return EpochTimer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000, help="training chunks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per round")
    parser.add_argument("--rounds", type=int, default=2, help="fit calls per path")
    parser.add_argument("--jit", action="store_true", help="compile our step with XLA")
    args = parser.parse_args()

    runtime.quiet_libraries()
    tf = runtime.import_tensorflow()
    keras = runtime.import_keras()
    import datasets
    from transformers import DataCollatorForLanguageModeling, create_optimizer

    from mlm_helpers.chunking import prepare_chunks
    from mlm_helpers.data import load_tokenizer
    from mlm_helpers.hardware import resolve_jit, training_policies
    from mlm_helpers.masking import build_datasets
    from mlm_helpers.schedule import Schedule
    from mlm_helpers.training import build_model, make_optimizer, make_trainer

    epochs = 1_000  # a stream long enough for every timed fit; the schedule never ends early
    config = embedded_profile(
        train_chunks=args.rows,
        eval_chunks=64,
        batch_size=args.batch_size,
        epochs=epochs,
        precision="float32",
        seed=0,
    )
    tokenizer = load_tokenizer(config)
    chunks = prepare_chunks(config, tokenizer)
    jit = True if args.jit else resolve_jit(config.jit_compile, runtime.detect_accelerator())
    runtime.seed_everything(config.seed, deterministic=False, tensorflow=True)

    # -- ours
    data = build_datasets(chunks["train"], chunks["eval"], config, tokenizer)
    with training_policies("float32"):
        ours_model = build_model(config, tokenizer)
    initial = [w.numpy() for w in ours_model.weights]
    trainer = make_trainer(
        ours_model,
        make_optimizer(config, Schedule.from_config(config, data.steps_per_epoch), "float32"),
        jit_compile=jit,
    )

    def fit_ours(callback) -> None:
        trainer.fit(
            data.train,
            steps_per_epoch=args.steps,
            epochs=1 + args.epochs,
            callbacks=[callback],
            verbose=0,
        )

    # -- the course
    with training_policies("float32"):
        course_model = build_model(config, tokenizer)
    for weight, value in zip(course_model.weights, initial, strict=True):
        weight.assign(value)
    total = data.steps_per_epoch * epochs
    optimizer, _ = create_optimizer(
        init_lr=config.learning_rate,
        num_train_steps=total,
        num_warmup_steps=int(0.1 * total),
        weight_decay_rate=0.01,
    )
    course_model.compile(optimizer=optimizer)  # no loss: the model's internal one
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="np")
    table = datasets.Dataset.from_dict(
        {
            "input_ids": np.asarray(list(chunks["train"]["input_ids"]), np.int32),
            "attention_mask": np.asarray(list(chunks["train"]["attention_mask"]), np.int32),
        }
    )
    course_data = course_model.prepare_tf_dataset(
        table, collate_fn=collator, shuffle=True, batch_size=args.batch_size
    )
    course_data = course_data.repeat()

    def fit_course(callback) -> None:
        course_model.fit(
            course_data,
            steps_per_epoch=args.steps,
            epochs=1 + args.epochs,
            callbacks=[callback],
            verbose=0,
        )

    paths = {
        "ours (tf.data masking + our step)": fit_ours,
        "course (collator + internal loss)": fit_course,
    }
    rows = args.steps * args.batch_size
    speeds: dict[str, list[float]] = {name: [] for name in paths}
    per_cpu: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, fit in paths.items():
            timer = epoch_timer(keras)
            fit(timer)
            speeds[name] += [rows / s for s in timer.wall]
            per_cpu[name] += [rows / s for s in timer.cpu]

    print(
        f"tiny DistilBERT {ours_model.config.n_layers} layers x {ours_model.config.dim}, "
        f"vocab {len(tokenizer)}, {ours_model.count_params():,} parameters; batch "
        f"{args.batch_size} x {config.chunk_size} tokens; TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}; ours with XLA {'on' if jit else 'off'}; best of "
        f"{args.rounds} x {args.epochs} epochs of {args.steps} steps (median in brackets)"
    )
    for name, values in speeds.items():
        print(
            f"  {name:<36} {max(values):>8,.1f} rows/s  [{statistics.median(values):,.1f}]   "
            f"{max(per_cpu[name]):>7,.1f} rows per CPU-second"
        )
    ours, course = paths
    print(
        f"  speed-up: {max(speeds[ours]) / max(speeds[course]):.2f}x wall-clock, "
        f"{max(per_cpu[ours]) / max(per_cpu[course]):.2f}x per CPU-second "
        "(the latter is less sensitive to other processes on a shared machine)"
    )


if __name__ == "__main__":
    main()
