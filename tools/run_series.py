"""Run the whole tutorial series (the README's `make tutorial`).

Executes `notebooks/NN_*.ipynb` in order, each in a fresh kernel started in `notebooks/` (as a
learner would), writes the executed copies to `executed/` (or back in place with `--in-place`, which
is how the committed outputs are refreshed), and ends with a short summary of the run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# TensorFlow's C++ start-up log ("I0000 00:00:... port.cc:153] oneDNN ...", "E0000 ... failed call
# to cuInit: ... CUDA error") on a machine without a GPU: a learner reads it as a failure, and it
# differs between machines. Stripped from the stored stderr; everything else there is kept.
TF_CPP_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)\n?",
    re.MULTILINE,
)


def strip_tf_startup_log(notebook) -> None:
    """Remove TensorFlow's C++ log lines from every stderr output; drop outputs left empty."""
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = TF_CPP_LOG.sub("", output["text"])
                if not output["text"]:
                    continue
            outputs.append(output)
        if "outputs" in cell:
            cell["outputs"] = outputs


def run_notebook(path: Path, out: Path, timeout: int) -> float:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    strip_tf_startup_log(notebook)
    nbformat.write(notebook, out)
    return time.perf_counter() - start


def summary() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from mlm_helpers.config import get_config
    from mlm_helpers.hub_folder import CARD_FILE
    from mlm_helpers.run_folder import RESULTS_FILE, model_dir, read_json

    config = get_config(verbose=False)
    lines = [f"run folder: {config.run_dir}"]
    data = read_json(config.run_dir / RESULTS_FILE, required=False)
    if data is not None:
        lines.append(
            f"held-out perplexity: {data['perplexity_before']:.1f} before -> "
            f"{data['perplexity_after']:.1f} after training"
        )
        for prompt, after in data.get("fill_mask_after", {}).items():
            lines.append(f"  {prompt!r}: " + ", ".join(p["token"] for p in after))
    hub_folder = model_dir(config.run_dir)
    if (hub_folder / CARD_FILE).is_file():
        lines.append(f"Hub-ready folder with model card: {hub_folder}")
    return lines


def move_runs_aside(profile: str) -> list[str]:
    """Move the profile's runs (`<run_name>` and `<run_name>-*`, such as notebook 05's whole-word
    run) aside with `run_folder.move_aside`; return what was moved, as lines to print."""
    from mlm_helpers import get_config, run_folder

    config = get_config(profile, verbose=False)
    moved = []
    for folder in sorted(config.run_dir.parent.glob(f"{config.run_name}*")):
        if run_folder.PREVIOUS_SUFFIX not in folder.name and run_folder.holds_run(folder):
            moved.append(f"moved aside: {folder.name} -> {run_folder.move_aside(folder).name}")
    return moved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-place", action="store_true", help="overwrite the committed notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "executed")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="train every run again: the profile's earlier runs are moved aside first (kept as "
        "<run>.previous-<UTC time>), since notebook 04 would otherwise reopen a finished run",
    )
    parser.add_argument("only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    args = parser.parse_args()
    os.environ.setdefault("MLM_PROFILE", "embedded")
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name.startswith(tuple(args.only))]
    if not notebooks:
        print("no notebooks found in", NOTEBOOKS, file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        for line in move_runs_aside(os.environ["MLM_PROFILE"]):
            print(line)
    total = time.perf_counter()
    for nb in notebooks:
        out = nb if args.in_place else args.out / nb.name
        print(f"running {nb.name} ...", flush=True)
        seconds = run_notebook(nb, out, args.timeout)
        print(f"  done in {seconds:.0f} s -> {out.relative_to(ROOT)}", flush=True)
    print(
        f"\nAll {len(notebooks)} notebooks ran in {time.perf_counter() - total:.0f} s "
        f"(profile {os.environ['MLM_PROFILE']})."
    )
    print(f"Executed notebooks: {(NOTEBOOKS if args.in_place else args.out).relative_to(ROOT)}/")
    print(f"Figures: {(ROOT / 'figures').relative_to(ROOT)}/")
    for line in summary():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
