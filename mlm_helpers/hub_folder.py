"""The Hub-format model folder: save it, load models from it, check it, list what an upload sends.

Training (notebook 04) saves a run's model and tokenizer with `save_for_hub` into `<run>/model`;
`load_model` is the TensorFlow load of a model by name (a folder, the shipped ``"embedded"``
model, or a Hub id), which notebook 05 and `load_from_folder` (reopening a run) use; `publishing`
checks the folder with `check_hub_folder` before an upload, and `upload_listing` says what
`HfApi.upload_folder` would send.

Our folders hold TF weights (`tf_model.h5`). Every load passes ``use_safetensors=False``: with a
PyTorch-format `model.safetensors` beside them, transformers 4.57's TF loader would prefer that file
and fail on it.

TensorFlow: the one exception to `runtime`'s import rule, on purpose. Only the two loaders need it;
they call `runtime.import_tensorflow()` (Keras 2 checked) and then import transformers' TF classes.
Importing this module, saving, the checks and the listing leave TensorFlow out, so `publishing`
and `model_card`, which import this module, stay TensorFlow-free.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _compat
from .paths import local_folder
from .pytorch_weights import PYTORCH_WEIGHTS_FILE, save_pytorch_weights
from .runtime import import_tensorflow

MODEL_CONFIG_FILE = "config.json"  # transformers' model configuration (not the run's config.json)
WEIGHTS_FILE = "tf_model.h5"
CARD_FILE = "README.md"
# What a complete Hub folder holds: (file names, any one of which will do; what it is).
REQUIRED_FILES = (
    ((MODEL_CONFIG_FILE,), "model configuration"),
    ((WEIGHTS_FILE,), "TF weights"),
    ((PYTORCH_WEIGHTS_FILE,), "PyTorch weights"),
    (("tokenizer_config.json",), "tokenizer configuration"),
    (("tokenizer.json", "vocab.txt"), "tokenizer vocabulary"),
    ((CARD_FILE,), "model card"),
)


def save_for_hub(model: Any, tokenizer: Any, folder: str | os.PathLike) -> Path:
    """Save a TF masked-LM model (weights + config.json) and its tokenizer in Hub format, with the
    weights also as a PyTorch-format model.safetensors (`pytorch_weights`), which PyTorch and
    transformers 5 load. `save_pretrained` also records the architecture (e.g. DistilBertForMaskedLM) in config.json,
    which is what lets the Hub pick the fill-mask widget. Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    save_pytorch_weights(model, folder)
    tokenizer.save_pretrained(folder)
    if not (folder / MODEL_CONFIG_FILE).is_file():  # some custom models do not write it themselves
        model.config.save_pretrained(folder)
    return folder


def load_model(name_or_folder: str | os.PathLike, *, encoder_only: bool = False) -> Any:
    """The TF masked-LM model (`encoder_only`: the base model without its head) a name stands for.

    ``"embedded"`` is the model shipped in the package, a path a folder in Hub format, anything
    else a Hub id (`paths.local_folder`). Folders are read without the network. FileNotFoundError
    for a folder without config.json, OSError saying what to do when a Hub id cannot be loaded.
    """
    folder = local_folder(str(name_or_folder), kind="model")
    if folder is not None and not (folder / MODEL_CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"{folder} holds no {MODEL_CONFIG_FILE}, so it is not a model folder in Hub format. "
            "Fix: save one with save_for_hub(model, tokenizer, folder), or point at "
            "<run_dir>/model."
        )
    import_tensorflow()  # Keras 2 must be in effect before transformers' TF classes load
    import transformers

    auto = transformers.TFAutoModel if encoder_only else transformers.TFAutoModelForMaskedLM
    verbosity = transformers.logging.get_verbosity()
    if encoder_only:  # the unused masked-LM head is intended: a classifier puts its own on top
        transformers.logging.set_verbosity_error()
    try:
        return auto.from_pretrained(
            str(folder or name_or_folder),
            local_files_only=folder is not None,
            use_safetensors=False,
        )
    except OSError as err:
        raise OSError(
            f"could not load the model {str(name_or_folder)!r}: {err}\nOffline? Use the "
            "'embedded' profile or a local folder in Hub format."
        ) from err
    finally:
        transformers.logging.set_verbosity(verbosity)


def load_from_folder(folder: str | os.PathLike) -> tuple[Any, Any]:
    """(TF model, tokenizer) from a folder in Hub format, without the network: a check that what
    will be uploaded loads back as saved."""
    from transformers import AutoTokenizer

    model = load_model(Path(folder))
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True)


def missing_hub_files(folder: str | os.PathLike) -> list[str]:
    """What a Hub folder lacks (`REQUIRED_FILES`), one entry per missing part; [] when complete."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the folder itself ({folder} does not exist)"]

    def present(name: str) -> bool:
        return (folder / name).is_file() and (folder / name).stat().st_size > 0

    return [
        f"{' or '.join(names)} ({what})"
        for names, what in REQUIRED_FILES
        if not any(map(present, names))
    ]


def check_hub_folder(folder: str | os.PathLike) -> Path:
    """Raise FileNotFoundError naming every missing file and how to create it; return the folder."""
    missing = missing_hub_files(folder)
    if missing:
        raise FileNotFoundError(
            f"{folder} is not ready to upload; missing: {', '.join(missing)}. Fix: "
            "save_for_hub(model, tokenizer, folder) writes the model and tokenizer files, "
            "model_card.write_model_card(run, folder) writes README.md."
        )
    return Path(folder)


def upload_listing(folder: str | os.PathLike) -> list[tuple[str, int]]:
    """(path in repo, size in bytes) of every file `upload_folder` would send from `folder`.

    Uses huggingface_hub's own filter (it skips .git/ and .cache/huggingface/), so the dry run
    and the real upload agree.
    """
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): p for p in sorted(folder.glob("**/*")) if p.is_file()
    }
    kept = filter_repo_objects(files, ignore_patterns=_compat.hub_ignore_patterns())
    return [(name, files[name].stat().st_size) for name in kept]
