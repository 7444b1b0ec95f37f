"""mlm_helpers: the tested helpers behind the DistilBERT-on-IMDB masked-LM tutorial series.

One module per stage, named after its notebook:

    data        01_explore_dataset       loading, validation, cleaning, statistics
    chunking    02_tokenize_and_chunk    tokenizing with word ids, fixed-length chunks
    masking     03_masking               token / whole-word masking in tf.data, fixed eval masks
    runs        04-07                    the run life cycle: train, resume, reopen, afresh
    training    04_finetune              model, optimizer, train step, fit, checkpoints
    evaluation  04_finetune              perplexity, fill-mask
    plotting    05_plot_and_evaluate     figures from a run folder (tables: reports)
    model_card  06_publish_to_hub        the card from the run (Hub folder: hub_folder)
    publishing  06_publish_to_hub        token and upload
    classify    07_does_adaptation...    the classifier (the experiment's design: experiment)

Importing the package sets TF_USE_LEGACY_KERAS=1 (unless already set) so that TensorFlow, when some
module imports it later, uses Keras 2 (tf-keras) as transformers' TF classes require. Exploration,
chunking and plotting never import TensorFlow.
"""

from . import runtime as _runtime

_runtime.prepare_environment()

from .config import RunConfig, get_config  # noqa: E402

__version__ = "0.1.0"
__all__ = ["RunConfig", "get_config", "__version__"]
