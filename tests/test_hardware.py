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
