"""mlm_helpers: the tested helpers behind the DistilBERT-on-IMDB masked-LM tutorial series.

One module per stage, named after its notebook:

    data        01_explore_dataset       loading, validation, cleaning, statistics
    chunking    02_tokenize_and_chunk    tokenizing with word ids, fixed-length chunks
    masking     03_masking               token / whole-word masking in tf.data, fixed eval masks
    training    04_finetune              model, precision, optimizer, fit, checkpoints, resume
    evaluation  04_finetune              perplexity, fill-mask
    plotting    05_plot_and_evaluate     figures and tables from a run folder
    publishing  06_publish_to_hub        Hub folder, model card, upload

Importing the package sets TF_USE_LEGACY_KERAS=1 (unless already set) so that TensorFlow, when some
module imports it later, uses Keras 2 (tf-keras) as transformers' TF classes require. Exploration,
chunking and plotting never import TensorFlow.
"""

from . import runtime as _runtime

_runtime.prepare_environment()

from .config import RunConfig, get_config  # noqa: E402

__version__ = "0.1.0"
__all__ = ["RunConfig", "get_config", "__version__"]
