"""Benchmark of stage 02: tokenizing, our NumPy chunker, and the list-summation chunker it replaces.

Run from the repository root:

    .venv/bin/python benchmarks/chunking.py

1. Generates a corpus of synthetic reviews (`--reviews`, default 25,000) with
   `tools.embedded.reviews.generate_split` (the generator of the shipped corpus) and tokenizes it with the embedded fast tokenizer.
2. Times, side by side in one run (best of `--repeats`): tokenization alone
   (`chunking.tokenize_reviews`), our chunking of its output (`chunking.chunk_tokens`), and the
   baseline chunker written from the Hugging Face course's description (per map batch,
   ``sum(lists, [])`` for each column, cut into ``chunk_size`` blocks, remainder dropped) — and checks
   that both chunkers give the same input_ids. Prints the times and the ratios; the target is
   (tokenize + chunk) / tokenize <= 1.15.
3. Measures the peak resident memory of `chunking.prepare_chunks` on `--rss-reviews` reviews
   (default 100,000, split like imdb: 25k train, 25k test, 50k unsupervised, written as parquet and
   loaded through `data.load_reviews`) in a fresh subprocess with its own empty datasets cache, read
   from ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. Target: <= 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHUNK_SIZE = 128
RSS_TARGET_GIB = 2.0
RATIO_TARGET = 1.15
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tools/


def make_corpus(n_reviews: int, seed: int):
    """An in-memory Dataset of `n_reviews` generated reviews (text, label)."""
    import datasets

    from tools.embedded.reviews import generate_split

    return datasets.Dataset.from_list(list(generate_split(n_reviews, seed=seed)))


def sum_chunker(chunk_size: int):
    """The baseline: concatenate each column's lists with sum(lists, []), cut, drop the remainder."""

    def group(batch: dict[str, list]) -> dict[str, list]:
        joined = {name: sum(lists, []) for name, lists in batch.items()}
        total = len(joined["input_ids"]) // chunk_size * chunk_size
        return {
            name: [values[i : i + chunk_size] for i in range(0, total, chunk_size)]
            for name, values in joined.items()
        }

    return group


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_speed(n_reviews: int, repeats: int, baseline_repeats: int) -> None:
    from mlm_helpers.chunking import CHUNK_BATCH, chunk_tokens, tokenize_reviews
    from mlm_helpers.data import load_tokenizer

    tokenizer = load_tokenizer("embedded")
    corpus = make_corpus(n_reviews, seed=1)
    tokenize_times, chunk_times, sum_times = [], [], []
    for repeat in range(repeats):
        seconds, tokenized = timed(lambda: tokenize_reviews(corpus, tokenizer))
        tokenize_times.append(seconds)
        seconds, chunks = timed(lambda tokenized=tokenized: chunk_tokens(tokenized, CHUNK_SIZE))
        chunk_times.append(seconds)
        if repeat < baseline_repeats:
            seconds, baseline = timed(
                lambda tokenized=tokenized: tokenized.map(
                    sum_chunker(CHUNK_SIZE),
                    batched=True,
                    batch_size=CHUNK_BATCH,
                    remove_columns=tokenized.column_names,
                )
            )
            sum_times.append(seconds)
    ours = np.asarray(chunks.with_format("numpy")[:]["input_ids"])
    theirs = np.asarray(baseline.with_format("numpy")[:]["input_ids"])
    same = ours.shape == theirs.shape and bool((ours == theirs).all())
    n_tokens = sum(len(row) for row in tokenized.with_format("numpy")["input_ids"])
    dropped = n_tokens - ours.size  # the default tail="drop" keeps only full chunks
    t_tok, t_chunk, t_sum = min(tokenize_times), min(chunk_times), min(sum_times)

    print(
        f"corpus: {n_reviews:,} generated reviews, {n_tokens:,} tokens "
        f"({n_tokens / n_reviews:.0f} per review); chunk_size {CHUNK_SIZE}, "
        f"map batch {CHUNK_BATCH} reviews; best of {repeats} runs (baseline: {len(sum_times)})"
    )
    print(f"  {'step':<34}{'seconds':>9}{'x tokenize':>12}")
    rows = [
        ("tokenize (with word_ids)", t_tok),
        ("chunk, NumPy (ours)", t_chunk),
        ("chunk, sum(lists, []) (baseline)", t_sum),
        ("tokenize + chunk (ours)", t_tok + t_chunk),
        ("tokenize + chunk (baseline)", t_tok + t_sum),
    ]
    for name, seconds in rows:
        print(f"  {name:<34}{seconds:>9.2f}{seconds / t_tok:>12.3f}")
    ratio = (t_tok + t_chunk) / t_tok
    verdict = "meets" if ratio <= RATIO_TARGET else "MISSES"
    print(f"(tokenize + chunk) / tokenize = {ratio:.3f} ({verdict} the target <= {RATIO_TARGET})")
    print(f"baseline chunker / our chunker = {t_sum / t_chunk:.0f}x")
    print(
        f"same input_ids as the baseline: {same} ({ours.shape[0]:,} chunks); tail dropped "
        f"{dropped:,} tokens ({dropped / n_tokens:.3%})"
    )


def write_imdb_like(folder: Path, n_reviews: int) -> dict[str, int]:
    """Generated reviews as <folder>/data/<split>-00000-of-00001.parquet, split like imdb."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tools.embedded.reviews import generate_split

    sizes = {"train": n_reviews // 4, "test": n_reviews // 4}
    sizes["unsupervised"] = n_reviews - 2 * (n_reviews // 4)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for offset, (split, n) in enumerate(sizes.items()):
        rows = list(generate_split(n, seed=100 + offset, labelled=split != "unsupervised"))
        pq.write_table(
            pa.Table.from_pylist(rows), folder / "data" / f"{split}-00000-of-00001.parquet"
        )
    return sizes


def rss_child(folder: str) -> None:
    """Runs in the subprocess: prepare_chunks on the parquet folder, then report peak RSS as JSON."""
    import datasets

    from mlm_helpers.chunking import prepare_chunks
    from mlm_helpers.config import embedded_profile

    datasets.disable_progress_bars()
    config = embedded_profile(dataset=folder)
    start = time.perf_counter()
    prepared = prepare_chunks(config)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "peak_kib": peak_kib,
                "seconds": seconds,
                "train": prepared["train"].num_rows,
                "eval": prepared["eval"].num_rows,
            }
        )
    )


def run_rss(n_reviews: int) -> None:
    with tempfile.TemporaryDirectory(prefix="chunking-bench-") as tmp:
        folder = Path(tmp) / "reviews"
        sizes = write_imdb_like(folder, n_reviews)
        env = dict(os.environ, HF_DATASETS_CACHE=str(Path(tmp) / "cache"))
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(folder)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"the memory subprocess failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
    gib = result["peak_kib"] / 2**20
    verdict = "meets" if gib <= RSS_TARGET_GIB else "MISSES"
    print(
        f"prepare_chunks on {n_reviews:,} reviews {sizes} (parquet -> load_reviews -> tokenize -> "
        f"chunk -> sample {result['train']:,} train / {result['eval']:,} eval chunks): "
        f"{result['seconds']:.1f} s, peak RSS {gib:.2f} GiB ({verdict} the target <= "
        f"{RSS_TARGET_GIB:g} GiB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=25_000, help="corpus size for the timings")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument(
        "--baseline-repeats", type=int, default=1, help="runs of the (slow) baseline chunker"
    )
    parser.add_argument(
        "--rss-reviews",
        type=int,
        default=100_000,
        help="reviews for the peak-memory measurement (0 to skip)",
    )
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child)
        return
    import datasets

    datasets.disable_progress_bars()
    run_speed(args.reviews, max(args.repeats, 1), min(max(args.baseline_repeats, 1), args.repeats))
    if args.rss_reviews:
        run_rss(args.rss_reviews)


if __name__ == "__main__":
    main()
