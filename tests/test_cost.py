"""Tests of mlm_helpers.cost: parameter count, FLOPs, time estimates and the utilisation line."""

from __future__ import annotations

import pytest
from transformers import DistilBertConfig

from mlm_helpers import cost
from mlm_helpers.config import RunConfig, embedded_profile, hub_profile

BASE = DistilBertConfig()  # transformers' defaults: distilbert-base-uncased's shape
SMALL = DistilBertConfig(vocab_size=100, dim=8, n_layers=1, n_heads=2, hidden_dim=16)


def test_the_utilisation_line_uses_the_gpus_peak_for_the_precision():
    # distilbert-base at 40,000 tokens/s: 6 × 66,985,530 × 40,000 = 1.61e13 FLOP/s, worked out
    # by hand: 24.7% of a T4's 65 TFLOPS in float16; at 4,000 tokens/s, 19.8% of its 8.1 in float32.
    half = cost.utilisation_line(66_985_530, 40_000, "mixed_float16", "Tesla T4")
    assert half.startswith("model FLOPs utilisation ≈ 25% of the Tesla T4's 65 TFLOPS")
    single = cost.utilisation_line(66_985_530, 4_000, "float32", "Tesla T4")
    assert single.startswith("model FLOPs utilisation ≈ 20% of the Tesla T4's 8.1 TFLOPS")
    assert cost.model_flops_utilisation(66_985_530, 40_000, 65.0) == pytest.approx(0.2473, abs=1e-4)
    assert cost.utilisation_line(66_985_530, 40_000, "mixed_float16", "Some Unknown GPU") is None
    assert cost.utilisation_line(66_985_530, 40_000, "float32", "") is None  # a CPU
    assert cost.utilisation_line(66_985_530, None, "mixed_float16", "Tesla T4") is None


def test_bfloat16_counts_at_the_16_bit_peak_only_where_tensor_cores_do_it():
    # Defect 6: mixed_bfloat16 was counted (and labelled) as float16 on every GPU.
    a100 = cost.utilisation_line(66_985_530, 40_000, "mixed_bfloat16", "NVIDIA A100-SXM4-40GB")
    assert "A100-SXM4-40GB's 312 TFLOPS" in a100
    t4 = cost.utilisation_line(66_985_530, 4_000, "mixed_bfloat16", "Tesla T4")
    assert "8.1 TFLOPS" in t4  # a T4's tensor cores do float16 only
    text = str(cost.estimate(RunConfig(precision="mixed_bfloat16"), 100, BASE))
    assert "A100 (312 TFLOPS in bfloat16)" in text and "T4 (8.1 TFLOPS in float32)" in text
    assert "in float16" not in text


def test_auto_precision_is_resolved_for_each_device_listed():
    # Defect 6: "auto" was counted as half precision everywhere, a CPU included.
    config = RunConfig(precision="auto")
    auto = cost.estimate(config, 100, BASE)
    assert auto.precision == "auto"
    assert cost.resolve_precision(auto.precision, "cpu") == "float32"
    half = cost.estimate(config.replace(precision="mixed_float16"), 100, BASE)
    single = cost.estimate(config.replace(precision="float32"), 100, BASE)
    assert auto.gpu_seconds("T4") == half.gpu_seconds("T4") != single.gpu_seconds("T4")
    assert "T4 (65 TFLOPS in float16)" in str(auto)
    assert "T4 (8.1 TFLOPS in float32)" in str(single)
    assert auto.cpu_seconds() == single.cpu_seconds()  # the CPU's rate was measured in float32


@pytest.mark.parametrize(
    "shape",
    [
        {"vocab_size": 1_000, "dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64},
        {},  # transformers' defaults: distilbert-base-uncased's shape, 66,985,530 parameters
    ],
    ids=["tiny", "distilbert-base"],
)
def test_the_parameter_count_from_the_configuration_is_the_built_models(shape):
    from transformers import TFDistilBertForMaskedLM

    config = DistilBertConfig(**shape)
    model = TFDistilBertForMaskedLM(config)
    model(model.dummy_inputs)
    assert cost.parameter_count(config) == model.count_params()


def test_the_estimate_is_six_flops_per_parameter_and_token_at_the_assumed_share_of_peak():
    config = RunConfig(run_name="sum", epochs=2, batch_size=4, chunk_size=8, eval_chunks=5)
    estimate = cost.estimate(config, 10, SMALL)
    params = cost.parameter_count(SMALL)
    # Worked out by hand: 2 × 10 × 4 × 8 = 640 tokens trained; 5 × 8 × (2 + 1) = 120 evaluated.
    assert (estimate.train_tokens, estimate.eval_tokens) == (640, 120)
    assert estimate.flops == 6 * params * 640 + 2 * params * 120
    fast, slow = estimate.gpu_seconds("T4")
    assert fast == pytest.approx(estimate.flops / (65e12 * 0.4))
    assert slow == pytest.approx(estimate.flops / (65e12 * 0.2))
    single = cost.estimate(config.replace(precision="float32"), 10, SMALL)
    assert single.gpu_seconds("T4")[0] == pytest.approx(estimate.flops / (8.1e12 * 0.4))
    for steps in (0, None, 2.5):  # the data decides the steps: nothing is guessed here
        with pytest.raises(ValueError, match="steps_per_epoch .*MLMDatasets"):
            cost.estimate(config, steps, SMALL)


def test_the_hub_profiles_estimate_is_minutes_on_a_t4_and_the_embedded_one_a_cpu_time():
    hub = hub_profile()
    estimate = cost.estimate(hub, 10_000 // 32, BASE)
    assert estimate.parameters == 66_985_530
    fast, slow = estimate.gpu_seconds("T4")
    assert 30 < fast < slow < 600  # 1.6 PFLOP at 13-26 TFLOPS
    text = str(estimate)
    assert "T4 (65 TFLOPS in float16)" in text and "A100 (312 TFLOPS in float16)" in text
    assert "T4 GPU" in estimate.short()
    tiny_model = DistilBertConfig(vocab_size=1_000, **embedded_profile().tiny_model)
    tiny = cost.estimate(embedded_profile(), 187, tiny_model)
    assert "no estimate" in str(tiny) and "T4 (" not in str(tiny)  # too small to fill a GPU
    assert tiny.short().endswith("CPU")
