"""Stage 03: masking inside the tf.data input pipeline (notebook 03_masking).

Chunks from stage 02 (`input_ids`, `attention_mask`, `word_ids`; one row per chunk) become Keras
batches ``({"input_ids", "attention_mask"}, labels)`` for `model.fit`, masked on the fly by
TensorFlow ops inside `tf.data` - no Python collator, no PyTorch.

How a row is masked (the statistics of transformers' `DataCollatorForLanguageModeling`):

- ``token`` masking chooses each *maskable* position (attention_mask == 1 and not a special token
  id) with probability `mlm_probability`; ``whole_word`` masking chooses each *word* (a `word_ids`
  value >= 0) with that probability and takes all of its pieces, so the expected share of masked
  tokens is still `mlm_probability`.
- Of the chosen, a share `mask_replace_prob` (0.8) become the mask token, `random_replace_prob`
  (0.1) a random id in ``[0, vocab_size)``, the rest stay as they are. With whole-word masking this
  draw is made **per word**: all pieces of a chosen word are masked, or all replaced by random ids
  (one random id per piece), or all kept - a word is never half hidden.
- ``labels`` hold the original id at chosen positions and -100 everywhere else.

Every draw, and each epoch's shuffle order, is a hash of ``(seed, stream, epoch, row, position or
word)``, so resuming at any epoch and batch gives exactly the batches of an uninterrupted run (the
reason is written down in `random_ops`). Evaluation uses fixed masks: the held-out chunks are
masked once (`fixed_eval_masks`) and every evaluation reads the same arrays, so perplexities are
comparable between epochs and runs.

The layers, one module each:

    spec        MaskingSpec, maskable_positions, IGNORE_INDEX, MODEL_INPUTS, outcome codes
    inputs      chunk_arrays (checks stage 02's chunks)
    store       ChunkStore: training chunks written once to disk, read back by row (large corpora)
    random_ops  the counter-based hash: masking_key, mask_batch, epoch_permutation,
                mask_chunks, fixed_eval_masks, uniform_draws
    stream      the tf.data builder: build_datasets, MLMDatasets, keras_batches
    inspection  for notebook 03: count_outcomes, decode_masked_rows, plot_masked_chunk
"""

from .inputs import chunk_arrays
from .inspection import (
    count_outcomes,
    decode_masked_rows,
    plot_masked_chunk,
)
from .random_ops import (
    EVAL_STREAM,
    TRAIN_STREAM,
    epoch_permutation,
    fixed_eval_masks,
    mask_batch,
    mask_chunks,
    masking_key,
    uniform_draws,
)
from .spec import (
    IGNORE_INDEX,
    KEPT,
    MASKED,
    MODEL_INPUTS,
    NOT_CHOSEN,
    OUTCOMES,
    RANDOM,
    MaskingSpec,
    maskable_positions,
)
from .store import ChunkStore
from .stream import MLMDatasets, build_datasets, keras_batches

__all__ = [
    "EVAL_STREAM",
    "IGNORE_INDEX",
    "KEPT",
    "MASKED",
    "MODEL_INPUTS",
    "NOT_CHOSEN",
    "OUTCOMES",
    "RANDOM",
    "TRAIN_STREAM",
    "ChunkStore",
    "MLMDatasets",
    "MaskingSpec",
    "build_datasets",
    "chunk_arrays",
    "count_outcomes",
    "decode_masked_rows",
    "epoch_permutation",
    "fixed_eval_masks",
    "keras_batches",
    "mask_batch",
    "mask_chunks",
    "maskable_positions",
    "masking_key",
    "plot_masked_chunk",
    "uniform_draws",
]
