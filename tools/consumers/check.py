"""The PyTorch side of the consumer check: run by a consumer environment's Python, which holds
torch and transformers but no TensorFlow (tools/consumers/build_envs.sh builds them).

    .venv/consumers/transformers5/bin/python tools/consumers/check.py OUT

Loads OUT/model/ as a PyTorch user would (AutoModelForMaskedLM.from_pretrained, then
pipeline("fill-mask", model=folder)) and compares it with what TensorFlow recorded in
OUT/reference.npz (tools/consumers/make_folder.py): every weight loaded (none missing, unexpected
or mismatched), logits within TOLERANCE of TensorFlow's on the same inputs, the same top-5 words.
Exits non-zero naming what differs.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

TOLERANCE = 1e-4  # max |Δ logit| against TensorFlow


def main(out: Path) -> list[str]:
    import numpy as np
    import torch
    import transformers
    from transformers import AutoModelForMaskedLM, pipeline

    if importlib.util.find_spec("tensorflow") is not None:
        return ["TensorFlow is installed here; the consumer environments must not hold it"]
    folder, ref = out / "model", np.load(out / "reference.npz")
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
    except (OSError, ValueError, ImportError) as error:
        return [f"from_pretrained({str(folder)!r}) failed: {type(error).__name__}: {error}"]
    problems = [f"{key}: {value}" for key, value in info.items() if value]
    with torch.no_grad():
        inputs = {k: torch.from_numpy(ref[k]) for k in ("input_ids", "attention_mask")}
        logits = model(**inputs).logits.numpy()
    delta = float(np.abs(logits - ref["logits"]).max())
    if not delta <= TOLERANCE:
        problems.append(f"logits differ from TensorFlow's by up to {delta:.2e} (> {TOLERANCE:g})")
    fill = pipeline("fill-mask", model=str(folder), top_k=5)
    for prompt, expected in zip(ref["prompts"].tolist(), ref["top5"].tolist(), strict=True):
        got = [p["token"] for p in fill(prompt)]
        if got != expected:
            words = fill.tokenizer.convert_ids_to_tokens
            problems.append(f"fill-mask {prompt!r}: {words(got)}, TensorFlow {words(expected)}")
    print(
        f"torch {torch.__version__} + transformers {transformers.__version__}, no TensorFlow: "
        f"{len(model.state_dict())} tensors, max |Δ logits| vs TF = {delta:.1e} on "
        f"{ref['logits'].shape[0]} padded inputs, fill-mask top 5 "
        f"{'the same' if not any(p.startswith('fill-mask') for p in problems) else 'DIFFERENT'} "
        f"for {len(ref['prompts'])} prompts"
    )
    return problems


if __name__ == "__main__":
    start = time.perf_counter()
    found = main(Path(sys.argv[1]))
    for problem in found:
        print("  FAIL", problem)
    print(f"  {time.perf_counter() - start:.1f} s")
    sys.exit(1 if found else 0)
