"""The PyTorch-format `model.safetensors` (issue 23), checked without PyTorch: its names and
layouts are those PyTorch's DistilBertForMaskedLM holds, it reads back into a fresh TF model
through transformers' PyTorch→TF mapping weight for weight, the shipped general model's copy
matches its `tf_model.h5`, and the same holds at distilbert-base's real shape.

That PyTorch itself loads such a folder (transformers 4.57 and 5.x, no TensorFlow) is the consumer
check: tools/consumers/run.sh."""

from __future__ import annotations

import numpy as np
import pytest
from full_size_model import FULL_SIZE
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from mlm_helpers import runtime
from mlm_helpers.paths import EMBEDDED_MODEL_DIR
from mlm_helpers.pytorch_weights import (
    PYTORCH_WEIGHTS_FILE,
    load_into_tf,
    pytorch_state_dict,
    save_pytorch_weights,
)

tf = runtime.import_tensorflow()

# DistilBertForMaskedLM(config).state_dict() of one layer, as torch 2.13 + transformers 5.24 list
# it (V vocabulary, P positions, D width, H feed-forward), less `vocab_projector.weight`, which
# PyTorch ties to the word embeddings and its save_pretrained leaves out.
LAYER = {
    **{f"attention.{lin}.weight": ("D", "D") for lin in ("q_lin", "k_lin", "v_lin", "out_lin")},
    **{f"attention.{lin}.bias": ("D",) for lin in ("q_lin", "k_lin", "v_lin", "out_lin")},
    "sa_layer_norm.weight": ("D",),
    "sa_layer_norm.bias": ("D",),
    "ffn.lin1.weight": ("H", "D"),
    "ffn.lin1.bias": ("H",),
    "ffn.lin2.weight": ("D", "H"),
    "ffn.lin2.bias": ("D",),
    "output_layer_norm.weight": ("D",),
    "output_layer_norm.bias": ("D",),
}
PYTORCH_LAYOUT = {
    "distilbert.embeddings.word_embeddings.weight": ("V", "D"),
    "distilbert.embeddings.position_embeddings.weight": ("P", "D"),
    "distilbert.embeddings.LayerNorm.weight": ("D",),
    "distilbert.embeddings.LayerNorm.bias": ("D",),
    **{f"distilbert.transformer.layer.0.{k}": v for k, v in LAYER.items()},
    "vocab_transform.weight": ("D", "D"),
    "vocab_transform.bias": ("D",),
    "vocab_layer_norm.weight": ("D",),
    "vocab_layer_norm.bias": ("D",),
    "vocab_projector.bias": ("V",),
}


def tf_weights(model) -> dict[str, np.ndarray]:
    """Every TF weight by its name below the model's own scope (which Keras numbers per model)."""
    return {w.name.split("/", 1)[1]: w.numpy() for w in model.weights}


def assert_same_weights(model, other) -> None:
    mine, theirs = tf_weights(model), tf_weights(other)
    assert mine.keys() == theirs.keys()
    different = [name for name in mine if not np.array_equal(mine[name], theirs[name])]
    assert different == []


def test_the_file_holds_pytorch_names_and_layouts(tmp_path, embedded_tokenizer, make_tiny_mlm):
    model = make_tiny_mlm(embedded_tokenizer)  # 1 layer, width 32, feed-forward 64
    path = save_pytorch_weights(model, tmp_path)

    assert path == tmp_path / PYTORCH_WEIGHTS_FILE
    with safe_open(str(path), framework="np") as handle:
        assert handle.metadata() == {"format": "pt"}
    tensors = load_file(str(path))
    sizes = {"V": len(embedded_tokenizer), "P": 64, "D": 32, "H": 64}
    assert {k: v.shape for k, v in tensors.items()} == {
        k: tuple(sizes[d] for d in dims) for k, dims in PYTORCH_LAYOUT.items()
    }
    assert all(v.dtype == np.float32 for v in tensors.values())
    kernel = tf_weights(model)["distilbert/transformer/layer_._0/ffn/lin1/kernel:0"]  # (in, out)
    np.testing.assert_array_equal(
        tensors["distilbert.transformer.layer.0.ffn.lin1.weight"], kernel.T
    )
    assert sum(v.size for v in tensors.values()) == model.count_params()  # tied weights once


def test_the_file_reads_back_into_a_fresh_tf_model_exactly(
    tmp_path, embedded_tokenizer, make_tiny_mlm
):
    model = make_tiny_mlm(embedded_tokenizer, n_layers=2, seed=0)
    fresh = make_tiny_mlm(embedded_tokenizer, n_layers=2, seed=1)
    inputs = {"input_ids": np.array([[2, 40, 41, 42, 3]], np.int32)}
    assert not np.allclose(model(inputs).logits, fresh(inputs).logits)  # really another start

    load_into_tf(fresh, save_pytorch_weights(model, tmp_path))

    assert_same_weights(fresh, model)
    np.testing.assert_array_equal(fresh(inputs).logits, model(inputs).logits)


def test_reading_back_refuses_a_tf_format_file_and_names_missing_weights(
    tmp_path, embedded_tokenizer, make_tiny_mlm
):
    model = make_tiny_mlm(embedded_tokenizer)
    model.save_pretrained(tmp_path / "tf", safe_serialization=True)  # TF names, format "tf"
    with pytest.raises(ValueError, match="format='tf', not 'pt'.*save_pytorch_weights"):
        load_into_tf(model, tmp_path / "tf" / PYTORCH_WEIGHTS_FILE)

    tensors = pytorch_state_dict(model)
    del tensors["vocab_projector.bias"]
    save_file(tensors, str(tmp_path / "partial.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"missing_keys.*vocab_projector\.bias"):
        load_into_tf(model, tmp_path / "partial.safetensors")


def test_the_shipped_general_model_has_its_weights_in_pytorch_format():
    """Fails when tf_model.h5 was rebuilt without the PyTorch copy: run
    tools/write_pytorch_weights.py."""
    from transformers import TFAutoModelForMaskedLM

    model = TFAutoModelForMaskedLM.from_pretrained(EMBEDDED_MODEL_DIR, use_safetensors=False)
    path = EMBEDDED_MODEL_DIR / PYTORCH_WEIGHTS_FILE
    with safe_open(str(path), framework="np") as handle:
        assert handle.metadata() == {"format": "pt"}
    shipped, expected = load_file(str(path)), pytorch_state_dict(model)
    assert shipped.keys() == expected.keys()
    assert [k for k in expected if not np.array_equal(shipped[k], expected[k])] == []


def test_full_size_round_trip(tmp_path):
    """distilbert-base's real shape (66,985,530 parameters, 30,522 × 768 embeddings, 3,072-wide
    feed-forward): every transpose of a non-square kernel and the size of the file."""
    from transformers import DistilBertConfig, TFDistilBertForMaskedLM

    def build(seed: int):
        runtime.seed_everything(seed, tensorflow=True)
        model = TFDistilBertForMaskedLM(DistilBertConfig(**FULL_SIZE))
        model(model.dummy_inputs)
        return model

    model = build(0)
    path = save_pytorch_weights(model, tmp_path)
    with safe_open(str(path), framework="np") as handle:
        shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    assert len(shapes) == 4 + 16 * 6 + 5
    assert shapes["distilbert.embeddings.word_embeddings.weight"] == (30_522, 768)
    assert shapes["distilbert.transformer.layer.5.ffn.lin1.weight"] == (3072, 768)
    assert shapes["distilbert.transformer.layer.5.ffn.lin2.weight"] == (768, 3072)
    assert sum(int(np.prod(s)) for s in shapes.values()) == model.count_params() == 66_985_530
    assert path.stat().st_size < 4 * 66_985_530 + 100_000  # float32, the tied matrix once

    fresh = build(1)
    load_into_tf(fresh, path)
    assert_same_weights(fresh, model)
