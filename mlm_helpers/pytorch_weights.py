"""PyTorch-format weights beside `tf_model.h5` (issue 23), so that the published folder loads in
PyTorch with transformers 4 and 5, where most people who download a model use it.

`save_pytorch_weights(model, folder)` writes `model.safetensors` straight from the TF weights: the
names and layouts are transformers' own TF→PyTorch mapping (`modeling_tf_pytorch_utils`, the one
`from_tf=True` uses), the file is tagged `format: pt`, and tied weights are stored once, as
PyTorch's `save_pretrained` stores them. Neither PyTorch nor TensorFlow is imported here: the TF
model hands over its weights as NumPy arrays.

With that file present, transformers 4.57's TF loader prefers it and fails (`'builtins.safe_open'
object is not iterable`): every TF `from_pretrained` of such a folder passes
`use_safetensors=False`. `load_into_tf` reads the file back into a TF model through the
PyTorch→TF mapping, a check that it holds the model's weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

PYTORCH_WEIGHTS_FILE = "model.safetensors"
FORMAT = {"format": "pt"}  # what PyTorch loaders of transformers 4 read to accept the file


def pytorch_state_dict(model: Any) -> dict[str, np.ndarray]:
    """The TF model's weights under the names, and in the layouts, of its PyTorch class (Dense
    kernels transposed to PyTorch's (out, in)). A weight PyTorch ties to another (DistilBERT's
    `vocab_projector.weight`, the word embeddings) is no TF variable, so it is stored once, as
    PyTorch's `save_pretrained` stores it, and PyTorch re-ties it on loading."""
    from transformers.modeling_tf_pytorch_utils import (
        apply_transpose,
        convert_tf_weight_name_to_pt_weight_name,
    )

    tensors = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, tf_weight_shape=weight.shape
        )
        array = apply_transpose(transpose, weight.numpy(), pt_to_tf=False)
        tensors[name] = np.ascontiguousarray(array)
    return tensors


def save_pytorch_weights(model: Any, folder: str | os.PathLike) -> Path:
    """Write `folder/model.safetensors` in PyTorch format from a TF transformers model; returns
    its path. About 0.1 s for the tiny model, a few seconds at distilbert-base's size."""
    from safetensors.numpy import save

    path = Path(folder) / PYTORCH_WEIGHTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # A plain write (0o666 less the umask), like every other file of the folder: save_file would
    # create it 0o600.
    path.write_bytes(save(pytorch_state_dict(model), metadata=FORMAT))
    return path


def load_into_tf(model: Any, path: str | os.PathLike) -> Any:
    """Assign the weights of a PyTorch-format `model.safetensors` to a TF model through
    transformers' PyTorch→TF mapping (no PyTorch needed); returns the model. Raises ValueError
    naming the weights the file lacks, or holds beyond the model's."""
    from safetensors import safe_open
    from safetensors.numpy import load_file
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != FORMAT["format"]:
        raise ValueError(
            f"{path} is tagged format={metadata.get('format')!r}, not 'pt': it is not a PyTorch "
            "checkpoint. Fix: write it with save_pytorch_weights(model, folder)."
        )
    _, info = load_pytorch_state_dict_in_tf2_model(
        model,
        load_file(str(path)),
        allow_missing_keys=True,
        output_loading_info=True,
        skip_logger_warnings=True,
    )
    wrong = {key: value for key, value in info.items() if value}
    if wrong:
        raise ValueError(f"{path} does not match {model.__class__.__name__}: {wrong}")
    return model
