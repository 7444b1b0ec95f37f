"""The TensorFlow side of the consumer check: a short real training run, the folder save_for_hub
writes (with the PyTorch-format weights), and TensorFlow's reference answers for check.py.

    python tools/consumers/make_folder.py OUT    # writes OUT/model/ and OUT/reference.npz

A few optimizer steps of masked-language modelling on shipped reviews move the shipped general
model's weights away from their start (the script fails if they did not move), so a consumer that
silently loaded the base model, or random weights, cannot pass. TensorFlow then reloads the saved
folder (use_safetensors=False, as every TF load of our folders) and records its logits on fixed
inputs and its fill-mask top 5.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's mlm_helpers

from mlm_helpers import runtime  # noqa: E402
from mlm_helpers.hub_folder import save_for_hub  # noqa: E402
from mlm_helpers.paths import EMBEDDED_DATASET_DIR, EMBEDDED_MODEL_DIR  # noqa: E402

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

PROMPTS = ["This is a great [MASK].", "The acting was [MASK].", "I [MASK] this movie."]
SEED, ROWS, MAX_LENGTH, BATCH, EPOCHS, LEARNING_RATE = 0, 64, 64, 16, 2, 1e-3  # 8 steps
MIN_MOVE = 1e-3  # the largest weight change the run must reach
# and how far its logits must end from the shipped model's: a consumer that loaded the start
# instead of the trained weights must fail check.py's tolerance (1e-4) by a wide margin
MIN_LOGIT_CHANGE = 1e-2


def reviews(split: str, count: int) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(EMBEDDED_DATASET_DIR / "data" / f"{split}-00000-of-00001.parquet")
    return table.column("text").to_pylist()[:count]


def train(model, tokenizer) -> float:
    """`EPOCHS` × `ROWS / BATCH` Adam steps of masked-LM training; returns the largest weight
    change."""
    from transformers import DataCollatorForLanguageModeling

    collate = DataCollatorForLanguageModeling(tokenizer, return_tensors="np", seed=SEED)
    rows = tokenizer(reviews("train", ROWS), truncation=True, max_length=MAX_LENGTH)
    batch = collate([{k: rows[k][i] for k in rows} for i in range(ROWS)])
    start = [w.numpy() for w in model.weights]
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))  # transformers' own MLM loss
    model.fit(dict(batch), batch_size=BATCH, epochs=EPOCHS, verbose=0)
    moved = max(
        float(np.abs(w.numpy() - s).max()) for w, s in zip(model.weights, start, strict=True)
    )
    if moved < MIN_MOVE:
        raise SystemExit(f"training moved no weight by {MIN_MOVE} (at most {moved:g})")
    return moved


def reference(folder: Path) -> dict[str, np.ndarray]:
    """TensorFlow's answers from the saved folder: logits on fixed padded inputs, fill-mask top 5."""
    from transformers import AutoTokenizer, TFAutoModelForMaskedLM, pipeline

    model = TFAutoModelForMaskedLM.from_pretrained(folder, use_safetensors=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [*reviews("test", 3), *PROMPTS]
    inputs = tokenizer(
        texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np"
    )
    logits = model(dict(inputs), training=False).logits.numpy()
    start = TFAutoModelForMaskedLM.from_pretrained(EMBEDDED_MODEL_DIR, use_safetensors=False)
    change = float(np.abs(start(dict(inputs), training=False).logits.numpy() - logits).max())
    if change < MIN_LOGIT_CHANGE:
        raise SystemExit(f"the trained logits are within {change:g} of the shipped model's")
    print(f"TF side: the trained logits end up to {change:.3f} from the shipped model's")
    # dtype=None: transformers 4.57 reads the default dtype from torch, absent here
    fill = pipeline(
        "fill-mask", model=model, tokenizer=tokenizer, framework="tf", dtype=None, top_k=5
    )
    top5 = [[p["token"] for p in fill(prompt)] for prompt in PROMPTS]
    return {
        "input_ids": inputs["input_ids"],
        "attention_mask": inputs["attention_mask"],
        "logits": logits,
        "top5": np.array(top5),
        "prompts": np.array(PROMPTS),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    out = parser.parse_args(argv).out
    start = time.perf_counter()
    runtime.seed_everything(SEED, tensorflow=True)
    from transformers import AutoTokenizer, TFAutoModelForMaskedLM

    model = TFAutoModelForMaskedLM.from_pretrained(EMBEDDED_MODEL_DIR, use_safetensors=False)
    tokenizer = AutoTokenizer.from_pretrained(EMBEDDED_MODEL_DIR)
    moved = train(model, tokenizer)
    folder = save_for_hub(model, tokenizer, out / "model")
    answers = reference(folder)
    np.savez(out / "reference.npz", **answers)
    words = [tokenizer.convert_ids_to_tokens(ids.tolist()) for ids in answers["top5"]]
    print(
        f"TF side: {EPOCHS * ROWS // BATCH} training steps moved weights by up to {moved:.4f}; "
        f"folder {sorted(p.name for p in folder.iterdir())}; top 5 {json.dumps(words)}; "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
