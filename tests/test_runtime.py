"""The Keras/transformers guard, seeding and device detection."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mlm_helpers import runtime


def _fake_versions(monkeypatch, **versions):
    real = importlib.metadata.version

    def version(dist):
        return versions.get(dist) or real(dist)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_current_stack_passes():
    versions = runtime.check_stack()
    assert int(versions["transformers"].split(".")[0]) == 4


def test_transformers_5_is_refused_with_the_fix(monkeypatch):
    _fake_versions(monkeypatch, transformers="5.0.0")
    with pytest.raises(runtime.StackError, match=r"pip install 'transformers>=4\.57,<5'"):
        runtime.check_stack()


def test_huggingface_hub_1_is_refused_with_the_fix(monkeypatch):
    _fake_versions(monkeypatch, huggingface_hub="1.1.0")
    with pytest.raises(runtime.StackError, match="huggingface_hub>=0.34,<1.0"):
        runtime.check_stack()


@pytest.mark.parametrize(
    ("owner", "name", "named"),
    [
        ("transformers:AdamWeightDecay", "_create_all_weights", "_create_all_weights"),
        ("huggingface_hub.utils._paths", "DEFAULT_IGNORE_PATTERNS", "DEFAULT_IGNORE_PATTERNS"),
        (
            "transformers.models.distilbert.modeling_tf_distilbert:TFTransformerBlock",
            "call",
            "TFTransformerBlock.call",
        ),
    ],
)
def test_a_missing_private_api_is_named_by_check_stack(monkeypatch, owner, name, named):
    """Each reach of `_compat` is really tried: remove it, and check_stack names it and the fix."""
    import importlib

    module, _, attribute = owner.partition(":")
    target = importlib.import_module(module)
    target = getattr(target, attribute) if attribute else target
    if name == "call":  # a changed signature rather than a missing method
        monkeypatch.setattr(target, "call", lambda self, x, mask, training=False: x)
    elif attribute:  # inherited: shadow it
        monkeypatch.setattr(target, name, None)
    else:
        monkeypatch.delattr(target, name)
    with pytest.raises(runtime.StackError, match=rf"{named}.*constraints\.txt"):
        runtime.check_stack()


def test_a_missing_dropout_generator_is_named_by_check_stack(monkeypatch):
    from mlm_helpers import _compat

    monkeypatch.setattr(_compat, "dropout_generator", lambda layer: None)
    with pytest.raises(runtime.StackError, match="_random_generator._generator"):
        runtime.check_stack()


def _run(code: str, **env) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_importing_the_package_selects_legacy_keras():
    result = _run("""
        import mlm_helpers, os
        from mlm_helpers import runtime
        tf = runtime.import_tensorflow()
        import tf_keras
        print(os.environ["TF_USE_LEGACY_KERAS"], tf.keras.__name__.startswith("tf_keras"))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["1", "True"]


def test_keras3_already_loaded_gives_a_clear_error():
    result = _run("""
        import tensorflow as tf
        tf.keras.layers  # resolves tf.keras to Keras 3
        from mlm_helpers import runtime
        try:
            runtime.import_tensorflow()
        except runtime.StackError as err:
            print("ERROR:", err)
    """)
    assert result.returncode == 0, result.stderr
    assert "Keras 3" in result.stdout and "restart the kernel" in result.stdout


def test_seed_everything_makes_numpy_repeatable():
    runtime.seed_everything(7)
    a = np.random.rand(3)
    runtime.seed_everything(7)
    assert np.array_equal(a, np.random.rand(3))
    with pytest.raises(ValueError, match="non-negative int"):
        runtime.seed_everything(-1)


def test_detect_accelerator_respects_tpu_env(monkeypatch):
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert runtime.detect_accelerator() == "tpu"
    monkeypatch.delenv("COLAB_TPU_ADDR")
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert runtime.detect_accelerator() in ("cpu", "gpu")


def test_library_versions_names_the_stack():
    versions = runtime.library_versions()
    assert {"transformers", "tensorflow", "tf_keras", "datasets", "python"} <= set(versions)


def test_the_setup_cell_logs_no_library_warning():
    """setup_notebook checks the stack by building a tiny model; transformers' warning about it must
    not reach the learner's setup cell."""
    result = _run("""
        import mlm_helpers
        from mlm_helpers import runtime
        runtime.setup_notebook()
        print("ok")
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "deprecated" not in result.stderr and result.stdout.strip() == "ok"


def test_multi_worker_strategy_needs_tf_config(monkeypatch):
    """strategy="multi_worker" without TF_CONFIG is refused before TensorFlow is touched, saying
    what to set."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=r"TF_CONFIG is not set.*\"task\""):
        runtime.get_strategy("multi_worker")
    with pytest.raises(ValueError, match="multi_worker"):
        runtime.get_strategy("several")
