"""Robustness of the embedded profile's lesson over seeds: does adaptation work for every seed?

Runs the embedded profile (the shipped general-language tiny DistilBERT adapted to the generated
reviews, exactly notebook 04's run) once per seed and prints one row per seed, then checks the claims
the notebooks make on any machine:

- held-out perplexity improves at least `--min-gain` times (default 2) for every seed;
- the after-training perplexities of all seeds lie within 10%: max / min <= `--max-spread` (1.10);
- "This is a great [MASK]." gets a general word as top-1 before adaptation and *movie* or *film* after;
- the run takes at most `--max-steps` optimizer steps (1,312: half the 2,625 of the from-scratch run
  this profile replaced).

Run from the repository root: ``.venv/bin/python benchmarks/adaptation.py [--seeds 42 1 2 3 4]
[--set epochs=2 ...]`` (``--set`` changes the profile's fields, to try other settings).
About 2 minutes per seed on a 2-core CPU. Exits 1 when a claim fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from mlm_helpers.cli import parse_overrides
from mlm_helpers.config import embedded_profile
from mlm_helpers.evaluation import ADAPTATION_PROMPT, DOMAIN_WORDS, check_adaptation


def run_seed(seed: int, runs_dir: str, min_gain: float, overrides: dict) -> dict:
    from mlm_helpers.runs import open_run

    config = embedded_profile(
        **{**overrides, "seed": seed, "runs_dir": runs_dir, "run_name": f"seed-{seed}"}
    )
    start = time.perf_counter()
    results = open_run(config, mode="train", verbose=0).results
    top = {
        when: results[f"fill_mask_{when}"][ADAPTATION_PROMPT][0]["token"]
        for when in ("before", "after")
    }
    try:
        check_adaptation(results, min_gain=min_gain)
        failed = ""
    except AssertionError as err:
        failed = str(err)
    return {
        "seed": seed,
        "steps": results["global_step"],
        "before": results["perplexity_before"],
        "after": results["perplexity_after"],
        "unigram": results.get("unigram_perplexity"),
        "top1_before": top["before"],
        "top1_after": top["after"],
        "seconds": time.perf_counter() - start,
        "failed": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--min-gain", type=float, default=2.0)
    parser.add_argument("--max-spread", type=float, default=1.10)
    parser.add_argument("--max-steps", type=int, default=1312)
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="RunConfig overrides"
    )
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    with tempfile.TemporaryDirectory() as runs_dir:
        rows = [run_seed(seed, runs_dir, args.min_gain, overrides) for seed in args.seeds]
    print(
        "\n| seed | steps | perplexity before | after | gain | unigram | top-1 before | "
        "top-1 after | seconds |\n|---|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        unigram = f"{r['unigram']:.1f}" if r["unigram"] is not None else "-"
        print(
            f"| {r['seed']} | {r['steps']} | {r['before']:.1f} | {r['after']:.2f} | "
            f"{r['before'] / r['after']:.1f}x | {unigram} | {r['top1_before']} | "
            f"{r['top1_after']} | {r['seconds']:.0f} |"
        )
    afters = [r["after"] for r in rows]
    spread = max(afters) / min(afters)
    checks = {
        f"every seed: gain >= {args.min_gain:g}x, top-1 general before and "
        f"{' or '.join(DOMAIN_WORDS)} after": not any(r["failed"] for r in rows),
        f"max/min after = {spread:.3f} <= {args.max_spread:g}": spread <= args.max_spread,
        f"steps <= {args.max_steps}": all(r["steps"] <= args.max_steps for r in rows),
    }
    for r in rows:
        if r["failed"]:
            print(f"seed {r['seed']}: {r['failed']}")
    print()
    for claim, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {claim}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
