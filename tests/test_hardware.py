"""Tests of mlm_helpers.hardware: precision, XLA and replica decisions (notebook 04).

They pass with or without a GPU: a test about CPU behaviour hides the GPUs (detection and strategy),
one about GPU behaviour fakes one, and the test of this machine follows what it detects.
"""

from __future__ import annotations

import pytest

from mlm_helpers import hardware, runtime
from mlm_helpers.config import RunConfig
from mlm_helpers.hardware import Hardware, resolve_jit, resolve_precision

tf = runtime.import_tensorflow()


def test_precision_and_xla_defaults():
    assert resolve_precision("auto", "gpu") == "mixed_float16"
    assert resolve_precision("auto", "tpu") == "mixed_bfloat16"
    assert resolve_precision("auto", "cpu") == "float32"
    assert resolve_precision("float32", "gpu") == "float32"
    assert resolve_jit("auto", "gpu") and resolve_jit("auto", "tpu")
    assert resolve_jit("auto", "cpu") is False  # measured: XLA does not pay off on this CPU
    assert resolve_jit(True, "cpu") is True


def on(monkeypatch, accelerator, device_name=None):
    """Make `Hardware.resolve` see `accelerator` (one device: the default strategy)."""
    monkeypatch.setattr(hardware.runtime, "detect_accelerator", lambda: accelerator)
    monkeypatch.setattr(hardware.runtime, "get_strategy", lambda kind: tf.distribute.get_strategy())
    if device_name is not None:
        gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu])
        details = {"device_name": device_name}
        monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: details)


def test_on_a_cpu_auto_resolves_to_float32_without_xla_deterministically(monkeypatch):
    on(monkeypatch, "cpu")  # GPUs hidden: this is about what a CPU gets
    resolved = Hardware.resolve(RunConfig())
    assert (resolved.accelerator, resolved.precision, resolved.jit, resolved.replicas) == (
        "cpu",
        "float32",
        False,
        1,
    )
    assert resolved.deterministic and str(resolved) == "cpu: float32, XLA off, 1 replica"
    assert resolved.device == ""
    assert resolved.record() == {
        "precision": "float32",
        "jit_compile": False,
        "replicas": 1,
        "accelerator": "cpu",
    }
    assert not Hardware.resolve(RunConfig(), deterministic=False).deterministic
    explicit = Hardware.resolve(RunConfig(precision="mixed_bfloat16", jit_compile=True))
    assert (explicit.precision, explicit.jit) == ("mixed_bfloat16", True)


def test_on_a_gpu_auto_resolves_to_mixed_float16_with_xla_and_names_the_gpu(monkeypatch):
    on(monkeypatch, "gpu", device_name="Tesla T4")
    resolved = Hardware.resolve(RunConfig())
    assert (resolved.precision, resolved.jit, resolved.deterministic) == (
        "mixed_float16",
        True,
        False,
    )
    assert resolved.device == "Tesla T4"  # what cost.utilisation_line looks the peak up by
    assert str(resolved) == "gpu: mixed_float16, XLA on, 1 replica"


def test_on_this_machine_the_decisions_follow_the_detected_accelerator():
    accelerator = runtime.detect_accelerator()
    replicas = runtime.get_strategy("auto").num_replicas_in_sync
    resolved = Hardware.resolve(RunConfig())
    jit = resolve_jit("auto", accelerator) and not (accelerator == "cpu" and replicas > 1)
    assert (resolved.accelerator, resolved.precision, resolved.jit, resolved.replicas) == (
        accelerator,
        resolve_precision("auto", accelerator),
        jit,
        replicas,
    )
    assert resolved.deterministic == (accelerator == "cpu")
    assert bool(resolved.device) == (accelerator == "gpu")


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_the_policies_are_set_while_building_and_restored_after(precision):
    keras = runtime.import_keras()
    before = keras.mixed_precision.global_policy().name
    with hardware.training_policies(precision):
        assert keras.mixed_precision.global_policy().name == precision
        assert keras.backend.experimental.is_tf_random_generator_enabled()
    assert keras.mixed_precision.global_policy().name == before
