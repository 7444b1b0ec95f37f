"""Benchmark: masking in tf.data (mlm_helpers.masking) vs the course's collator path.

Both paths read the same chunks (synthetic ids from the embedded profile's tokenizer), shuffle, mask 15% of tokens with the 80/10/10 recipe and yield Keras ``(x, labels)`` batches
of 32 x 128:

- ours: ``build_datasets(...).train`` - TF ops inside ``tf.data.Dataset.map``;
- collator: ``datasets.Dataset.to_tf_dataset(collate_fn=DataCollatorForLanguageModeling(
  return_tensors="np"))`` - a Python collator called through ``tf.numpy_function``.

Each path iterates a full epoch of batches in Python (as a training loop or notebook does) a few
times, the two paths taking turns; the best epoch counts (the machine may be shared). The same epochs consumed inside TensorFlow (``Dataset.reduce``, as
``model.fit`` reads its input) are reported too.

Run: ``.venv/bin/python benchmarks/masking.py [--rows 20000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mlm_helpers import RunConfig
from mlm_helpers.data import load_tokenizer
from mlm_helpers.masking import build_datasets
from mlm_helpers.runtime import import_tensorflow, quiet_libraries

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # made-up chunks
from synthetic import synthetic_chunks  # noqa: E402


def python_epoch(dataset) -> int:
    """Iterate one epoch in Python; return the number of rows seen."""
    rows = 0
    for _inputs, labels in dataset:
        rows += int(labels.shape[0])
    return rows


def in_graph_epoch(dataset) -> int:
    """Consume one epoch inside TensorFlow (like model.fit's input loop); return rows seen."""
    tf = import_tensorflow()
    return int(
        dataset.reduce(
            tf.constant(0, tf.int64), lambda n, batch: n + tf.cast(tf.shape(batch[1])[0], tf.int64)
        )
    )


def rows_per_second(paths: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple]:
    """Best and median rows/s of each path over `repeats` epochs, after one warm-up epoch each.

    The paths take turns epoch by epoch, so that both see the same load on a shared machine.
    """
    speeds: dict[str, list[float]] = {name: [] for name in paths}
    rows = {name: run() for name, run in paths.items()}  # warm-up: tracing, thread pools
    for _ in range(repeats):
        for name, run in paths.items():
            start = time.perf_counter()
            rows[name] = run()
            speeds[name].append(rows[name] / (time.perf_counter() - start))
    return {name: (max(s), statistics.median(s), rows[name]) for name, s in speeds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="chunks in the training set")
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per path")
    args = parser.parse_args()

    quiet_libraries()
    tf = import_tensorflow()
    import datasets
    from transformers import DataCollatorForLanguageModeling

    tokenizer = load_tokenizer("embedded")
    chunks = synthetic_chunks(tokenizer, args.rows, args.chunk_size, seed=0)
    eval_chunks = synthetic_chunks(tokenizer, 64, args.chunk_size, seed=1)
    config = RunConfig(batch_size=args.batch_size, epochs=1, seed=0, mlm_probability=0.15)

    ours = build_datasets(chunks, eval_chunks, config, tokenizer).train

    table = datasets.Dataset.from_dict(
        {"input_ids": chunks["input_ids"], "attention_mask": chunks["attention_mask"]}
    )
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.15, return_tensors="np", seed=0
    )
    theirs = table.to_tf_dataset(
        columns=["input_ids", "attention_mask"],
        label_cols="labels",
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=collator,
        drop_remainder=True,
    )

    print(
        f"{args.rows:,} chunks x {args.chunk_size} tokens, batch {args.batch_size}, "
        f"vocab {len(tokenizer)}; TensorFlow {tf.__version__}, best of {args.repeats} epochs "
        "(median in brackets)"
    )
    for mode, run in (("python loop", python_epoch), ("in-graph (reduce)", in_graph_epoch)):
        paths = {
            "tf.data masking (ours)": lambda r=run: r(ours),
            "to_tf_dataset + collator": lambda r=run: r(theirs),
        }
        results = rows_per_second(paths, args.repeats)
        for name, (best, median, rows) in results.items():
            print(
                f"  {mode:<18} {name:<26} {best:>10,.0f} rows/s  [{median:,.0f}]  "
                f"({rows:,} rows/epoch)"
            )
        ours_best, theirs_best = (results[name][0] for name in paths)
        print(f"  {mode:<18} speed-up: {ours_best / theirs_best:.1f}x")


if __name__ == "__main__":
    main()
