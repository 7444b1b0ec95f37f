"""Tests of mlm_helpers.hardware: precision, XLA and replica decisions, and the utilisation line."""

from __future__ import annotations

import pytest

from mlm_helpers import hardware
from mlm_helpers.config import RunConfig
from mlm_helpers.hardware import Hardware, resolve_jit, resolve_precision


def test_precision_and_xla_defaults():
    assert resolve_precision("auto", "gpu") == "mixed_float16"
    assert resolve_precision("auto", "tpu") == "mixed_bfloat16"
    assert resolve_precision("auto", "cpu") == "float32"
    assert resolve_precision("float32", "gpu") == "float32"
    assert resolve_jit("auto", "gpu") and resolve_jit("auto", "tpu")
    assert resolve_jit("auto", "cpu") is False  # measured: XLA does not pay off on this CPU
    assert resolve_jit(True, "cpu") is True


def test_this_machine_resolves_to_float32_without_xla_on_one_replica():
    resolved = Hardware.resolve(RunConfig())
    assert (resolved.accelerator, resolved.precision, resolved.jit, resolved.replicas) == (
        "cpu",
        "float32",
        False,
        1,
    )
    assert resolved.deterministic and str(resolved) == "cpu: float32, XLA off, 1 replica"
    assert resolved.record() == {
        "precision": "float32",
        "jit_compile": False,
        "replicas": 1,
        "accelerator": "cpu",
    }
    assert not Hardware.resolve(RunConfig(), deterministic=False).deterministic


def test_the_utilisation_line_uses_the_gpus_peak_for_the_precision(monkeypatch):
    assert hardware.utilisation_line(66_985_530, 40_000, "mixed_float16") is None  # no GPU here
    monkeypatch.setattr(hardware.tf.config, "list_physical_devices", lambda kind: ["gpu:0"])
    monkeypatch.setattr(
        hardware.tf.config.experimental,
        "get_device_details",
        lambda device: {"device_name": "Tesla T4"},
    )
    # distilbert-base at 40,000 tokens/s: 6 × 66,985,530 × 40,000 = 1.61e13 FLOP/s, worked out
    # by hand: 24.7% of a T4's 65 TFLOPS in float16; at 4,000 tokens/s, 19.8% of its 8.1 in float32.
    half = hardware.utilisation_line(66_985_530, 40_000, "mixed_float16")
    assert half.startswith("model FLOPs utilisation ≈ 25% of the Tesla T4's 65 TFLOPS")
    single = hardware.utilisation_line(66_985_530, 4_000, "float32")
    assert single.startswith("model FLOPs utilisation ≈ 20% of the Tesla T4's 8.1 TFLOPS")
    assert hardware.model_flops_utilisation(66_985_530, 40_000, 65.0) == pytest.approx(
        0.2473, abs=1e-4
    )
    monkeypatch.setattr(
        hardware.tf.config.experimental,
        "get_device_details",
        lambda device: {"device_name": "Some Unknown GPU"},
    )
    assert hardware.utilisation_line(66_985_530, 40_000, "mixed_float16") is None


@pytest.mark.parametrize(
    "shape",
    [
        {"vocab_size": 1_000, "dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64},
        {},  # transformers' defaults: distilbert-base-uncased's shape, 66,985,530 parameters
    ],
    ids=["tiny", "distilbert-base"],
)
def test_the_parameter_count_from_the_configuration_is_the_built_models(shape):
    from transformers import DistilBertConfig, TFDistilBertForMaskedLM

    config = DistilBertConfig(**shape)
    model = TFDistilBertForMaskedLM(config)
    model(model.dummy_inputs)
    assert hardware.parameter_count(config) == model.count_params()


def test_the_estimate_is_six_flops_per_parameter_and_token_at_the_assumed_share_of_peak():
    from transformers import DistilBertConfig

    config = RunConfig(run_name="sum", epochs=2, batch_size=4, chunk_size=8, eval_chunks=5)
    small = DistilBertConfig(vocab_size=100, dim=8, n_layers=1, n_heads=2, hidden_dim=16)
    cost = hardware.estimate(config, steps_per_epoch=10, model_config=small)
    params = hardware.parameter_count(small)
    # Worked out by hand: 2 × 10 × 4 × 8 = 640 tokens trained; 5 × 8 × (2 + 1) = 120 evaluated.
    assert (cost.train_tokens, cost.eval_tokens) == (640, 120)
    assert cost.flops == 6 * params * 640 + 2 * params * 120
    fast, slow = cost.gpu_seconds("T4")
    assert fast == pytest.approx(cost.flops / (65e12 * 0.4))
    assert slow == pytest.approx(cost.flops / (65e12 * 0.2))
    single = hardware.estimate(config.replace(precision="float32"), 10, model_config=small)
    assert single.gpu_seconds("T4")[0] == pytest.approx(cost.flops / (8.1e12 * 0.4))
    # steps_per_epoch follows train_chunks when not given; with all chunks it must be given.
    assert hardware.estimate(config, model_config=small).steps_per_epoch == 3_000 // 4
    with pytest.raises(ValueError, match="pass steps_per_epoch"):
        hardware.estimate(config.replace(train_chunks=None), model_config=small)


def test_the_hub_profiles_estimate_is_minutes_on_a_t4_and_needs_no_network(monkeypatch):
    from mlm_helpers.config import embedded_profile, hub_profile

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cost = hardware.estimate(hub_profile())
    assert cost.parameters == 66_985_530 and cost.steps_per_epoch == 10_000 // 32
    fast, slow = cost.gpu_seconds("T4")
    assert 30 < fast < slow < 600  # 1.6 PFLOP at 13-26 TFLOPS
    text = str(cost)
    assert "T4 (65 TFLOPS in float16)" in text and "A100 (312 TFLOPS in float16)" in text
    tiny = hardware.estimate(embedded_profile())
    assert "no estimate" in str(tiny) and "T4 (" not in str(tiny)  # too small to fill a GPU
    assert tiny.short().endswith("CPU") and "T4" in cost.short()
