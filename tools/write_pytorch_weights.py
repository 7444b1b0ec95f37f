"""Write the PyTorch-format `model.safetensors` beside `tf_model.h5` in saved model folders.

    python tools/write_pytorch_weights.py            # the shipped general model
    python tools/write_pytorch_weights.py FOLDER...  # any folders save_for_hub wrote

Run it after the shipped model's `tf_model.h5` changes (tools/embedded/build.py pretrain);
tests/test_pytorch_weights.py fails while the two disagree.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mlm_helpers

from mlm_helpers import runtime  # noqa: E402
from mlm_helpers.paths import EMBEDDED_MODEL_DIR  # noqa: E402
from mlm_helpers.pytorch_weights import save_pytorch_weights  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[EMBEDDED_MODEL_DIR])
    args = parser.parse_args(argv)
    runtime.import_tensorflow()  # legacy Keras before transformers' TF classes load
    from transformers import TFAutoModelForMaskedLM

    for folder in args.folders:
        start = time.perf_counter()
        model = TFAutoModelForMaskedLM.from_pretrained(folder, use_safetensors=False)
        path = save_pytorch_weights(model, folder)
        print(f"{path}: {path.stat().st_size:,} bytes in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
