"""Benchmark: preparing and training on corpora past one machine's memory, streamed vs in memory.

Run from the repository root (after 13:00 on a shared machine: the 1M size takes minutes):

    .venv/bin/python benchmarks/scale.py [--sizes 100000,300000,1000000] [--steps 100]
        [--baseline-ref 83eb009] [--throughput-reviews 100000]

1. **Corpora.** For each size, generated reviews of about 420 characters: sentences of the
   project's own review generator (`tools.embedded.reviews.generate_split`), drawn at random with a
   fixed seed and joined, written as parquet split like imdb (25% train, 25% test, 50%
   unsupervised) in pieces, so the corpus never sits in this process's memory.
2. **Prepare and train one short epoch, each in a fresh child process** (its own empty datasets
   cache): `training.train` on the embedded profile with ``train_chunks=None`` (every chunk, as a
   practitioner with a real corpus would), ``eval_chunks=2000``, one epoch stopped after `--steps`
   steps, then the usual end of a run (evaluation, checkpoint, model, all_results.json with its
   unigram baseline over every training chunk). Two paths, side by side: **streamed** (the training
   chunks written once to disk and read back by batch, `masking.store.ChunkStore`) and **in
   memory** (``in_memory=True``, the path every run took before; with ``--baseline-ref REF``, the
   package as it was at that git commit, extracted with ``git archive``). A child's peak RSS is
   its ``ru_maxrss``, and the tokenizing processes' peak is read from ``RUSAGE_CHILDREN``; sizes
   and paths never share a process. A path that fails (out of memory) is reported as such.
3. **Tokenizing throughput**: `chunking.tokenize_reviews` on `--throughput-reviews` reviews with
   ``num_proc=1`` and ``num_proc=2`` (fresh cache each, best of two runs).
4. With ``--prepare-sizes``, issue 26's memory table: `chunking.prepare_chunks` on the embedded
   profile's defaults and `training.prepare_data` with ``train_chunks=None``, one child each.

Targets (issue 26, a 2-core machine): peak RSS of the streamed path at 1M reviews <= 2 GiB and at
most 1.2x its peak at 100k; tokenizing with ``num_proc=2`` >= 1.6x the reviews per second of
``num_proc=1``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # for tools/; after PYTHONPATH, which may name a baseline package
RSS_TARGET_GIB = 2.0
FLAT_TARGET = 1.2
THROUGHPUT_TARGET = 1.6
REVIEW_CHARS = 420
PIECE = 50_000  # reviews generated and written at a time
SENTENCE_POOL = 3_000  # generated reviews whose sentences make the pool


# ----------------------------------------------------------------------------- corpora
def sentence_pool(seed: int = 7) -> list[str]:
    """Sentences of the project's review generator (the shipped corpus's own kind of text)."""
    import re

    from tools.embedded.reviews import generate_split

    texts = [row["text"] for row in generate_split(SENTENCE_POOL, seed=seed)]
    pieces = (s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+|<br /><br />", t))
    return sorted({s for s in pieces if len(s) > 20})


def generated_reviews(pool: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """`n` reviews of about `REVIEW_CHARS` characters: random sentences of `pool`, joined."""
    mean = float(np.mean([len(s) for s in pool])) + 1
    per_review = max(1, round(REVIEW_CHARS / mean))
    picks = rng.integers(0, len(pool), size=(n, per_review))
    return [" ".join(pool[i] for i in row) for row in picks]


def write_corpus(folder: Path, n_reviews: int, pool: list[str], seed: int = 0) -> dict[str, int]:
    """Parquet files split like imdb, written `PIECE` reviews at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    sizes = {"train": n_reviews // 4, "test": n_reviews // 4}
    sizes["unsupervised"] = n_reviews - 2 * (n_reviews // 4)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        path = folder / "data" / f"{split}-00000-of-00001.parquet"
        schema = pa.schema([("text", pa.string()), ("label", pa.int64())])
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, n, PIECE):
                count = min(PIECE, n - start)
                texts = generated_reviews(pool, count, rng)
                labels = np.full(count, -1) if split == "unsupervised" else np.arange(count) % 2
                writer.write_table(pa.table({"text": texts, "label": labels}, schema=schema))
    return sizes


# ----------------------------------------------------------------------------- children
class RssSampler:
    """The largest anonymous and file-backed resident memory seen in /proc/self/status, polled
    every `interval` seconds (Linux): ``ru_maxrss`` counts both, and file-backed pages (memory-mapped
    Arrow files that were read) are page cache the kernel can take back, anonymous ones are not."""

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        self.peak = {"RssAnon": 0, "RssFile": 0}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self.thread.start()

    def _poll(self, interval: float) -> None:
        status = Path("/proc/self/status")
        while not self.stopped.wait(interval):
            if not status.exists():
                return
            for line in status.read_text().splitlines():
                key, _, value = line.partition(":")
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(value.split()[0]))  # kB

    def gib(self) -> dict[str, float]:
        self.stopped.set()
        self.thread.join()
        return {
            "peak_anon_gib": self.peak["RssAnon"] / 2**20,
            "peak_file_gib": self.peak["RssFile"] / 2**20,
        }


def peaks() -> dict[str, float]:
    """Peak RSS (GiB) of this process and of the largest of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return {"peak_gib": own, "children_peak_gib": children}


def child_train(corpus: str, runs_dir: str, steps: int, in_memory: str) -> None:
    """In the child: prepare and train one short epoch; print a JSON line of what was measured."""
    import mlm_helpers  # noqa: F401 - before TensorFlow
    from mlm_helpers import runtime, training
    from mlm_helpers.config import embedded_profile

    runtime.quiet_libraries()
    keras = runtime.import_keras()

    class StopAfter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 >= steps:
                self.model.stop_training = True

    config = embedded_profile(
        dataset=corpus,
        train_chunks=None,
        eval_chunks=2_000,
        epochs=1,
        runs_dir=runs_dir,
        run_name="scale",
        checkpoint_every_steps=None,
    )
    sampler = RssSampler()
    start = time.perf_counter()
    kwargs = {} if in_memory == "ref" else {"in_memory": in_memory == "memory"}
    tokenizer, data = training.prepare_data(config, **kwargs)
    prepared = time.perf_counter() - start
    training.train(config, tokenizer=tokenizer, data=data, verbose=0, callbacks=[StopAfter()])
    total = time.perf_counter() - start
    results = json.loads((config.run_dir / "all_results.json").read_text())
    print(
        json.dumps(
            {
                **peaks(),
                **sampler.gib(),
                "prepare_seconds": prepared,
                "seconds": total,
                "train_chunks": data.steps_per_epoch * data.batch_size,
                "steps": results["global_step"],
                "streamed": getattr(data, "train_store", None) is not None,
            }
        )
    )


def child_prepare(corpus: str, what: str) -> None:
    """In the child: the issue's memory table: `chunking.prepare_chunks` on the embedded profile's
    defaults (3,000 training chunks sampled), or `training.prepare_data` with every chunk."""
    import mlm_helpers  # noqa: F401 - before TensorFlow
    from mlm_helpers import runtime
    from mlm_helpers.config import embedded_profile

    runtime.quiet_libraries()
    sampler = RssSampler()
    start = time.perf_counter()
    if what == "prepare_chunks":
        from mlm_helpers.chunking import prepare_chunks

        prepare_chunks(embedded_profile(dataset=corpus))
    else:
        from mlm_helpers import training

        training.prepare_data(embedded_profile(dataset=corpus, train_chunks=None))
    seconds = time.perf_counter() - start
    print(json.dumps({**peaks(), **sampler.gib(), "seconds": seconds}))


def child_tokenize(corpus: str, num_proc: int, threads: str) -> None:
    """In the child: tokenize the train + unsupervised splits with `num_proc` processes; with
    `threads` "one", the fast tokenizer's own threads off (``TOKENIZERS_PARALLELISM=false``)."""
    if threads == "one":
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import datasets

    from mlm_helpers.chunking import tokenize_reviews
    from mlm_helpers.data import load_reviews, load_tokenizer

    datasets.disable_progress_bars()
    reviews = load_reviews(corpus, splits=["train", "unsupervised"])
    texts = datasets.concatenate_datasets([reviews["train"], reviews["unsupervised"]])
    tokenizer = load_tokenizer("embedded")
    start = time.perf_counter()
    tokenized = tokenize_reviews(texts, tokenizer, num_proc=num_proc)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "reviews": tokenized.num_rows, **peaks()}))


def run_child(args: list[str], env: dict[str, str], timeout: float) -> dict | str:
    """Run this script as a child; its last stdout line (JSON), or why it failed."""
    try:
        out = subprocess.run(
            [sys.executable, __file__, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"failed (exit {out.returncode}: {tail[:160]})"
    return json.loads(out.stdout.strip().splitlines()[-1])


def reference_package(ref: str, folder: Path) -> Path:
    """The package as it was at git `ref`, extracted into `folder` (for the baseline)."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "mlm_helpers"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


# ----------------------------------------------------------------------------- main
def gib(value: float) -> str:
    return f"{value:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="reviews per corpus")
    parser.add_argument("--steps", type=int, default=100, help="training steps of the short epoch")
    parser.add_argument(
        "--baseline-ref",
        help="git commit whose package is the in-memory baseline (default: this package with "
        "in_memory=True)",
    )
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10**9,
        help="largest corpus the in-memory baseline is tried on",
    )
    parser.add_argument("--throughput-reviews", type=int, default=100_000)
    parser.add_argument(
        "--prepare-sizes",
        default="",
        help="sizes for the issue's memory table (prepare_chunks sampled; prepare_data with every "
        "chunk), e.g. 50000,100000,200000",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "train":
            child_train(rest[0], rest[1], int(rest[2]), rest[3])
        elif kind == "prepare":
            child_prepare(rest[0], rest[1])
        else:
            child_tokenize(rest[0], int(rest[1]), rest[2])
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    pool = sentence_pool()
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        tmp = Path(tmp)
        base_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        ref_env = None
        if args.baseline_ref:
            package = reference_package(args.baseline_ref, tmp / "reference")
            ref_env = dict(base_env, PYTHONPATH=str(package))
        for n in sizes:
            corpus = tmp / f"corpus-{n}"
            started = time.perf_counter()
            write_corpus(corpus, n, pool)
            print(f"{n:,} reviews generated in {time.perf_counter() - started:.0f} s", flush=True)
            paths = [("streamed", "disk", base_env)]
            if n <= args.baseline_max:
                paths.append(
                    ("in memory", "ref", ref_env) if ref_env else ("in memory", "memory", base_env)
                )
            for name, mode, env in paths:
                cache = tmp / f"cache-{n}-{mode}"
                child_env = dict(env, HF_DATASETS_CACHE=str(cache))
                child_args = ["--child", "train", str(corpus), str(tmp / f"runs-{n}-{mode}")]
                result = run_child([*child_args, str(args.steps), mode], child_env, args.timeout)
                rows.append((n, name, result))
                shown = result if isinstance(result, str) else json.dumps(result)
                print(f"  {name}: {shown}", flush=True)
                subprocess.run(["rm", "-rf", str(cache), str(tmp / f"runs-{n}-{mode}")])
            subprocess.run(["rm", "-rf", str(corpus)])
        throughput = {}
        if args.throughput_reviews:
            corpus = tmp / "corpus-throughput"
            write_corpus(corpus, args.throughput_reviews * 4 // 3, pool, seed=1)
            runs = [(1, "threads"), (1, "one"), (2, "one")] * 2
            for num_proc, threads in runs:
                cache = tmp / f"cache-tok-{num_proc}-{threads}-{len(throughput)}"
                env = dict(base_env, HF_DATASETS_CACHE=str(cache))
                result = run_child(
                    ["--child", "tokenize", str(corpus), str(num_proc), threads],
                    env,
                    args.timeout,
                )
                subprocess.run(["rm", "-rf", str(cache)])
                key = f"num_proc={num_proc}" + (
                    ", tokenizer threads" if threads == "threads" else ""
                )
                if isinstance(result, dict):
                    rate = result["reviews"] / result["seconds"]
                    throughput[key] = max(throughput.get(key, 0.0), rate)
                print(f"  tokenize {key}: {result}", flush=True)
        prepared = []
        for n in [int(x) for x in args.prepare_sizes.split(",") if x]:
            corpus = tmp / f"corpus-prepare-{n}"
            write_corpus(corpus, n, pool, seed=2)
            for what in ("prepare_chunks", "prepare_data"):
                cache = tmp / f"cache-prepare-{n}-{what}"
                env = dict(base_env, HF_DATASETS_CACHE=str(cache))
                result = run_child(["--child", "prepare", str(corpus), what], env, args.timeout)
                subprocess.run(["rm", "-rf", str(cache)])
                prepared.append((n, what, result))
                print(f"  {what} {n:,}: {result}", flush=True)
            subprocess.run(["rm", "-rf", str(corpus)])
    report(rows, throughput, args.steps, args.baseline_ref)
    if prepared:
        print("\n| reviews | step | peak RSS (GiB) | anonymous / file-backed (GiB) | time (s) |")
        print("|---:|---|---:|---:|---:|")
        for n, what, result in prepared:
            if isinstance(result, str):
                print(f"| {n:,} | {what} | {result} | | |")
                continue
            print(
                f"| {n:,} | {what} | {gib(result['peak_gib'])} | {gib(result['peak_anon_gib'])} / "
                f"{gib(result['peak_file_gib'])} | {result['seconds']:.0f} |"
            )


def report(rows: list, throughput: dict[int, float], steps: int, ref: str | None) -> None:
    """The table (markdown, for the README) and the targets."""
    baseline = f"in memory ({ref})" if ref else "in memory"
    print(f"\nPrepare + one short epoch ({steps} steps), every training chunk; 2,000 eval chunks:")
    print(
        "| reviews | path | training chunks | peak RSS (GiB) | of which anonymous / file-backed "
        "(GiB) | tokenizing processes' peak (GiB) | prepare (s) | total (s) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    streamed = {}
    for n, name, result in rows:
        label = name if name == "streamed" else baseline
        if isinstance(result, str):
            print(f"| {n:,} | {label} | | {result} | | | | |")
            continue
        if name == "streamed":
            streamed[n] = result["peak_gib"]
        print(
            f"| {n:,} | {label} | {result['train_chunks']:,} | {gib(result['peak_gib'])} | "
            f"{gib(result['peak_anon_gib'])} / {gib(result['peak_file_gib'])} | "
            f"{gib(result['children_peak_gib'])} | {result['prepare_seconds']:.0f} | "
            f"{result['seconds']:.0f} |"
        )
    if streamed:
        small, large = streamed[min(streamed)], streamed[max(streamed)]
        ratio = large / small
        verdict = "meets" if large <= RSS_TARGET_GIB and ratio <= FLAT_TARGET else "MISSES"
        print(
            f"streamed: peak at {max(streamed):,} reviews {gib(large)} GiB, {ratio:.2f}x the peak "
            f"at {min(streamed):,} ({verdict} the targets <= {RSS_TARGET_GIB:g} GiB, "
            f"<= {FLAT_TARGET}x)"
        )
    if "num_proc=1" in throughput and "num_proc=2" in throughput:
        one, two = throughput["num_proc=1"], throughput["num_proc=2"]
        threaded = throughput.get("num_proc=1, tokenizer threads")
        verdict = "meets" if two / one >= THROUGHPUT_TARGET else "MISSES"
        print(
            f"tokenizing (reviews/s, best of 2): num_proc=1 {one:,.0f}, num_proc=2 {two:,.0f}: "
            f"{two / one:.2f}x ({verdict} the target >= {THROUGHPUT_TARGET}x); one process with "
            f"the fast tokenizer's own threads (the default when num_proc=1): "
            f"{threaded or float('nan'):,.0f}, so num_proc=2 is {two / (threaded or two):.2f}x that"
        )


if __name__ == "__main__":
    main()
