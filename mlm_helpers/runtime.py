"""The runtime in one place: the Keras/transformers guard, seeding, devices and strategies.

Every notebook's setup cell goes through here (notebook 01 sets the convention).

The TensorFlow import rule: a module that needs TensorFlow binds it once, at its top, with
``tf = runtime.import_tensorflow()`` (or ``keras = runtime.import_keras()``), so importing that
module is what pays for TensorFlow; a module that does not need it never imports it (data,
chunking, run_folder, schedule, cost, plotting, reports, experiment, model_card, publishing). Only
this module names ``tensorflow`` in an import, inside functions, because it must run before
TensorFlow loads (`prepare_environment`) and answers cheap questions without loading it
(`detect_accelerator`); `_compat`'s reaches import the private module each one reaches into.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"
HUB_HOST = ("huggingface.co", 443)


class StackError(RuntimeError):
    """The installed libraries cannot run the TensorFlow path of this tutorial."""


def prepare_environment() -> None:
    """Set the environment TensorFlow must see *before* it is imported.

    transformers' TF classes are Keras 2 code: with TF >= 2.16 they need the `tf-keras` package and
    `TF_USE_LEGACY_KERAS=1`, so that `tf.keras` and transformers' Keras are the same library.
    Also quiets TensorFlow's C++ start-up chatter. Called when `mlm_helpers` is imported.
    """
    os.environ.setdefault(LEGACY_KERAS_ENV, "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _major(version: str) -> int:
    return int(version.split(".")[0])


def check_stack() -> dict[str, str]:
    """Check that the installed libraries can run the TF recipe; return their versions.

    Raises `StackError` naming the problem and the fix when transformers >= 5 (no TF classes),
    huggingface_hub >= 1.0 (transformers 4.57 needs < 1.0) or tf-keras is missing, or when one of
    the private APIs the package relies on (all listed in `mlm_helpers._compat`) is gone.
    Imports TensorFlow. Called by `setup_notebook`.
    """
    versions = check_versions()
    from . import _compat

    problems = _compat.check(import_keras())
    if problems:
        raise StackError(
            "the installed libraries lack private APIs that mlm_helpers relies on (see "
            f"mlm_helpers/_compat.py): {'; '.join(problems)}. Fix: install the tested versions, "
            f"{_compat.PINNED}: pip install -c mlm_helpers/constraints.txt -e ."
        )
    return versions


def check_versions() -> dict[str, str]:
    """The version part of `check_stack`, without importing anything (run before TensorFlow is
    imported)."""
    versions = {}
    for dist in ("transformers", "huggingface_hub", "tensorflow", "tf_keras", "datasets"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    if versions["transformers"] == "missing" or _major(versions["transformers"]) >= 5:
        raise StackError(
            f"transformers {versions['transformers']} is installed, but TensorFlow support ended "
            "with transformers 4.57.x. Fix: pip install 'transformers>=4.57,<5'"
        )
    if versions["huggingface_hub"] != "missing" and _major(versions["huggingface_hub"]) >= 1:
        raise StackError(
            f"huggingface_hub {versions['huggingface_hub']} is installed, but transformers 4.57 "
            "needs huggingface_hub < 1.0. Fix: pip install 'huggingface_hub>=0.34,<1.0'"
        )
    if versions["tf_keras"] == "missing" and importlib.util.find_spec("tf_keras") is None:
        tf_version = versions["tensorflow"]
        pin = "" if tf_version == "missing" else f"=={'.'.join(tf_version.split('.')[:2])}.*"
        raise StackError(
            "tf-keras is not installed. TensorFlow >= 2.16 ships Keras 3, which the transformers "
            f"TF classes cannot use. Fix: pip install 'tf-keras{pin}' (same minor version as TensorFlow)"
        )
    return versions


def import_tensorflow():
    """Import TensorFlow with legacy Keras in effect and return the `tensorflow` module.

    If TensorFlow was already imported and `tf.keras` already resolved to Keras 3 (for example a
    notebook ran `import tensorflow as tf; tf.keras...` before importing `mlm_helpers`), the
    transformers models and our Keras code would live in two different Keras libraries; this raises
    `StackError` telling how to restart cleanly.
    """
    check_versions()
    already_imported = "tensorflow" in sys.modules
    if not already_imported:
        prepare_environment()
    import tensorflow as tf

    keras_version = getattr(tf.keras, "__version__", "2")
    if _major(keras_version) >= 3:
        raise StackError(
            f"TensorFlow is using Keras {keras_version} (Keras 3), but the transformers TF classes "
            "need Keras 2 (tf-keras). This happens when TensorFlow/Keras was used before "
            "`import mlm_helpers`. Fix: restart the kernel/runtime and import mlm_helpers first, "
            f"or set the environment variable {LEGACY_KERAS_ENV}=1 before Python starts."
        )
    return tf


def import_keras():
    """Return the Keras 2 module (`tf_keras`) that transformers' TF models are built with."""
    import_tensorflow()
    import tf_keras

    return tf_keras


def quiet_libraries() -> None:
    """Turn off progress bars and info logs of datasets/transformers (notebooks stay readable)."""
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].get_logger().setLevel("ERROR")


def seed_everything(
    seed: int, *, deterministic: bool = True, tensorflow: bool | None = None
) -> None:
    """Seed Python, NumPy and (if loaded, or `tensorflow=True`) TensorFlow from one number.

    With `deterministic=True`, TensorFlow's op determinism is switched on too, so that two runs on
    the same CPU give bit-identical weights. Every notebook's setup cell calls it through
    `setup_notebook`; training calls it with ``tensorflow=True``.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if tensorflow is None:
        tensorflow = "tensorflow" in sys.modules
    if tensorflow:
        tf = import_tensorflow()
        import tf_keras

        tf_keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()


def detect_accelerator() -> str:
    """Return "tpu", "gpu" or "cpu" for this machine.

    Uses TensorFlow when it is already imported; otherwise cheap checks (Colab's TPU variables,
    the NVIDIA driver's device files) so that it can be asked before TensorFlow is imported.
    """
    if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
        return "tpu"
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        if tf.config.list_physical_devices("TPU"):
            return "tpu"
        if tf.config.list_physical_devices("GPU"):
            return "gpu"
        return "cpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "cpu"
    gpus = Path("/proc/driver/nvidia/gpus")
    if (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists():
        return "gpu"
    return "cpu"


def hub_reachable(timeout: float = 2.0) -> bool:
    """True when the Hugging Face Hub answers; False offline or with `HF_HUB_OFFLINE=1`.

    The package's one Hub probe (a TCP connection to the Hub): asked once per process and
    remembered, and only where a profile is resolved (`config.get_config("auto")`).
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    return _hub_answers(timeout)


@functools.lru_cache(maxsize=1)
def _hub_answers(timeout: float) -> bool:
    import socket

    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def split_cpu(replicas: int = 2) -> None:
    """Expose the CPU as `replicas` logical devices, so MirroredStrategy has real replicas.

    Must run before TensorFlow initialises its devices (before any op runs). Used by the tests and
    by anyone who wants to try multi-replica training without GPUs.
    """
    tf = import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    )


TF_CONFIG_ENV = "TF_CONFIG"
COLLECTIVE_TIMEOUT_SECONDS = 600  # a worker that waits this long for the others fails, not hangs
_MULTI_WORKER: list[Any] = []  # the one MultiWorkerMirroredStrategy of this process


def get_strategy(kind: str = "auto") -> Any:
    """Return a `tf.distribute` strategy.

    kind: "auto" (TPU if present, Mirrored over several GPUs, else the default strategy),
    "default", "mirrored" (all GPUs, or all logical CPUs when there is no GPU), "tpu", or
    "multi_worker": `tf.distribute.MultiWorkerMirroredStrategy` over the cluster that the
    ``TF_CONFIG`` environment variable describes (one per process, created before TensorFlow
    runs anything else; collectives time out after `COLLECTIVE_TIMEOUT_SECONDS`).
    """
    tf = import_tensorflow()
    if kind not in ("auto", "default", "mirrored", "tpu", "multi_worker"):
        raise ValueError(
            f"strategy must be auto, default, mirrored, tpu or multi_worker, got {kind!r}"
        )
    if kind == "multi_worker":
        return _multi_worker_strategy(tf)
    if kind == "tpu" or (kind == "auto" and detect_accelerator() == "tpu"):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if kind == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def _multi_worker_strategy(tf: Any) -> Any:
    """The process's MultiWorkerMirroredStrategy (created once: TensorFlow allows no second)."""
    if _MULTI_WORKER:
        return _MULTI_WORKER[0]
    if not os.environ.get(TF_CONFIG_ENV):
        raise ValueError(
            "strategy='multi_worker' trains on the cluster that the TF_CONFIG environment "
            "variable describes, and TF_CONFIG is not set: set it on every worker, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": '
            '"worker", "index": 0}} (README: "At scale"), or choose another '
            "RunConfig.strategy"
        )
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS
    )
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except (RuntimeError, ValueError) as err:
        raise RuntimeError(
            f"MultiWorkerMirroredStrategy could not start ({err}). It must be created before "
            "TensorFlow runs anything in the process: start every worker as a fresh process "
            "(python -m mlm_helpers train --set strategy=multi_worker), not in a notebook "
            "that has already built datasets or models"
        ) from err
    _MULTI_WORKER.append(strategy)
    return strategy


def library_versions() -> dict[str, str]:
    """Versions of the libraries that matter for reproducing a run (recorded in all_results.json)."""
    versions = {"python": sys.version.split()[0]}
    for dist in (
        "mlm-helpers",
        "transformers",
        "tensorflow",
        "tf_keras",
        "datasets",
        "tokenizers",
        "huggingface_hub",
        "numpy",
    ):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return versions


def setup_notebook(seed: int = 42) -> None:
    """The setup cell of every notebook: check the stack, quiet the libraries, set the plot style and
    seed Python/NumPy (and TensorFlow once a later cell loads it: see `seed_everything`)."""
    quiet_libraries()  # first: check_stack builds a model, and transformers would log about it
    check_stack()
    quiet_libraries()  # TensorFlow's logger exists now
    from .figures import set_plot_style

    set_plot_style()
    seed_everything(seed)
