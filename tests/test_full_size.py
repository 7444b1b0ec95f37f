"""The hub profile at full size, offline (issue 14, point 5): `distilbert-base-uncased`'s exact shape
through the whole pipeline on a 2-core CPU.

The stand-in (tests/full_size_model.py) is a DistilBERT of the real shape (6 layers × 768, 12 heads,
66,985,530 parameters) with random weights and a WordPiece vocabulary of the real size and layout
(30,522 entries, [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), built here from the shipped
review corpus and saved as a local folder in Hub format. With `config.hub_profile` pointed at it and
at the corpus (its folder in Hub layout), and batch 2 × 2 steps, the tests prove: the hub profile's
chunking and masking at this vocabulary; the masked-positions loss and its gradients equal to
transformers' own full-vocabulary loss; two optimizer steps in mixed_float16 on the CPU (no step
skipped by loss scaling); an interrupted run resumed to the uninterrupted run's exact weights; the
saved folder, its model card, a publish dry run, and a reload with the same logits. No socket is
opened by anything in this module (`offline`).

What stays unverified without a GPU and the Hub: float16 on a GPU (other kernels, XLA, speed,
whether real gradients overflow the loss scale), the real pre-trained weights and vocabulary
(perplexities, fill-mask answers), the Hub's imdb (its size and download), and a real upload.

About 3 minutes on 2 cores; the runs write about 4 GB of checkpoints, removed at the end.
"""

from __future__ import annotations

import json
import math
import shutil
import socket

import numpy as np
import pytest
from full_size_model import (
    BERT_HEAD,
    BERT_SPECIAL_IDS,
    CORPUS_PIECES,
    FULL_SIZE,
    VOCAB_SIZE,
    build_hub_folder,
)
from transformers import DistilBertConfig

from mlm_helpers import runtime
from mlm_helpers.chunking import CHUNK_BATCH, prepare_chunks
from mlm_helpers.config import hub_profile
from mlm_helpers.cost import parameter_count
from mlm_helpers.data import hold_out, load_reviews, load_tokenizer
from mlm_helpers.evaluation import masked_lm_loss, prediction_slots
from mlm_helpers.hardware import training_policies
from mlm_helpers.hub_folder import load_from_folder, missing_hub_files
from mlm_helpers.masking import (
    IGNORE_INDEX,
    KEPT,
    MASKED,
    MODEL_INPUTS,
    RANDOM,
    MaskingSpec,
    count_outcomes,
    fixed_eval_masks,
    mask_chunks,
)
from mlm_helpers.model_card import write_model_card
from mlm_helpers.paths import EMBEDDED_DATASET_DIR
from mlm_helpers.publishing import publish
from mlm_helpers.recorder import SimulatedDisconnect, interrupt_at
from mlm_helpers.run_folder import HISTORY_FILE, model_dir
from mlm_helpers.runs import open_run
from mlm_helpers.training import build_model

tf = runtime.import_tensorflow()

# From the architecture, not from the built model (test_hardware checks the formula against one).
PARAMETERS = parameter_count(DistilBertConfig(**FULL_SIZE))
keras = runtime.import_keras()

ZERO_BY_CONSTRUCTION = "attention/k_lin/bias"  # softmax ignores a shift of all of a query's scores


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def offline():
    """Every socket connection of this module's tests is refused (as on a machine without a
    network) and recorded; the module fails if anything tried one."""
    attempts: list[object] = []

    def refuse(address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"this test runs offline: no connection to {address}")

    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(address))
        yield attempts
    assert attempts == [], f"the full-size pipeline tried to reach the network: {attempts}"


@pytest.fixture(scope="module")
def hub_folder(offline, tmp_path_factory):
    """distilbert-base-uncased's shape with random weights, and its vocabulary size and layout,
    trained on the training splits of the corpus: a local folder in Hub format."""
    splits = hub_profile().train_splits
    reviews = load_reviews(str(EMBEDDED_DATASET_DIR), splits=splits)
    texts = (text for split in splits for text in reviews[split]["text"])
    folder = build_hub_folder(tmp_path_factory.mktemp("hub") / "distilbert-base-random", texts)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def config(hub_folder, tmp_path_factory):
    """The hub profile on the stand-in and the corpus, batch 2 × 2 steps in mixed_float16, a
    checkpoint after every step; everything else as the profile has it (chunks of 128, masking,
    learning rate 2e-5, warmup 0.1, weight decay, clipping)."""
    runs = tmp_path_factory.mktemp("runs")
    yield hub_profile(
        model=str(hub_folder),
        dataset=str(EMBEDDED_DATASET_DIR),
        runs_dir=str(runs),
        train_chunks=4,
        eval_chunks=2,
        batch_size=2,
        epochs=1,
        precision="mixed_float16",
        checkpoint_every_steps=1,
    )
    shutil.rmtree(runs)  # two runs of checkpoints with Adam's slots: about 4 GB


@pytest.fixture(scope="module")
def tokenizer(config):
    return load_tokenizer(config)


@pytest.fixture(scope="module")
def reviews(config):
    """Every split of the corpus, cleaned, as the hub profile loads it."""
    return load_reviews(config)


@pytest.fixture(scope="module")
def all_chunks(config, tokenizer, reviews):
    """Every chunk of every split (no sampling), in order."""
    return prepare_chunks(config.replace(train_chunks=None, eval_chunks=None), tokenizer, reviews)


@pytest.fixture(scope="module")
def run_chunks(config, tokenizer, reviews):
    """The 4 training and 2 evaluation chunks the runs train and evaluate on."""
    return prepare_chunks(config, tokenizer, reviews)


@pytest.fixture(scope="module")
def initial_model(config, tokenizer):
    """The stand-in as `training.build_model` loads it, in float32."""
    with training_policies("float32"):
        return build_model(config, tokenizer)


@pytest.fixture(scope="module")
def straight_run(config, tokenizer, run_chunks):
    """Two optimizer steps in mixed_float16, uninterrupted."""
    return open_run(config, mode="train", tokenizer=tokenizer, chunks=run_chunks, verbose=0)


@pytest.fixture(scope="module")
def resumed_run(config, tokenizer, run_chunks):
    """The same run, cut off after step 1 (history.json as the cut left it, and the resumed run)."""
    broken = config.replace(run_name="interrupted")
    with pytest.raises(SimulatedDisconnect):
        open_run(
            broken,
            mode="train",
            tokenizer=tokenizer,
            chunks=run_chunks,
            verbose=0,
            callbacks=[interrupt_at(1)],
        )
    history = json.loads((broken.run_dir / HISTORY_FILE).read_text())
    resumed = open_run(broken, mode="resume", tokenizer=tokenizer, chunks=run_chunks, verbose=0)
    return history, resumed


def weights_of(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def first_batch(chunks) -> dict[str, np.ndarray]:
    """The model inputs of the first two evaluation chunks."""
    rows = chunks["eval"].with_format("numpy")[:2]
    return {name: rows[name].astype(np.int32) for name in MODEL_INPUTS}


# ------------------------------------------------------------------------------------ the stand-in
def test_the_stand_in_has_the_shape_of_distilbert_base_uncased(
    hub_folder, tokenizer, initial_model
):
    saved = json.loads((hub_folder / "config.json").read_text())
    assert {key: saved[key] for key in FULL_SIZE} == FULL_SIZE
    assert saved["architectures"] == ["DistilBertForMaskedLM"]
    vocabulary = (hub_folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocabulary) == len(set(vocabulary)) == len(tokenizer) == VOCAB_SIZE
    assert {token: tokenizer.convert_tokens_to_ids(token) for token in BERT_SPECIAL_IDS} == (
        BERT_SPECIAL_IDS
    )
    assert sorted(tokenizer.all_special_ids) == sorted(BERT_SPECIAL_IDS.values())
    assert tokenizer("A GREAT Film")["input_ids"] == tokenizer("a great film")["input_ids"]

    assert len(initial_model.distilbert.transformer.layer) == FULL_SIZE["n_layers"]
    assert initial_model.distilbert.embeddings.weight.shape == (VOCAB_SIZE, FULL_SIZE["dim"])
    parameters = PARAMETERS
    assert initial_model.count_params() == parameters and 66e6 < parameters < 67e6
    assert (hub_folder / "tf_model.h5").stat().st_size >= 4 * parameters  # float32 weights


# ------------------------------------------------------------------------------------ chunking
def kept_tokens(texts: list[str], tokenizer, chunk_size: int) -> np.ndarray:
    """The reviews tokenized one by one and concatenated, less the tail of each map batch of
    `CHUNK_BATCH` reviews that does not fill a chunk (the documented tail policy)."""
    kept = []
    for start in range(0, len(texts), CHUNK_BATCH):
        encoded = tokenizer(texts[start : start + CHUNK_BATCH], verbose=False)["input_ids"]
        stream = np.concatenate([np.asarray(ids, np.int32) for ids in encoded])
        kept.append(stream[: stream.size - stream.size % chunk_size])
    return np.concatenate(kept)


def test_hub_chunks_hold_every_token_but_the_tails(config, tokenizer, reviews, all_chunks):
    assert config.chunk_size == 128
    held = hold_out(reviews, config)  # the evaluation reviews that are not training reviews
    texts = {
        "train": [reviews[split]["text"] for split in config.train_splits],
        "eval": [held[config.eval_split]["text"]],
    }
    for name, chunks in all_chunks.items():
        rows = chunks.with_format("numpy")[:]
        assert rows["input_ids"].shape == (chunks.num_rows, config.chunk_size)
        assert (rows["attention_mask"] == 1).all()  # no padding: every chunk is full
        expected = [kept_tokens(list(split), tokenizer, config.chunk_size) for split in texts[name]]
        np.testing.assert_array_equal(rows["input_ids"].ravel(), np.concatenate(expected))
    ids = np.asarray(all_chunks["train"]["input_ids"])
    # The vocabulary is used across its whole range: the filler pieces past the corpus' own occur.
    assert ids.max() > 0.9 * VOCAB_SIZE and (ids >= len(BERT_HEAD) + CORPUS_PIECES).any()


def test_hub_chunk_word_ids_follow_the_word_pieces(tokenizer, all_chunks):
    """A word id per chunk starts at 0 and grows by one at every token that is not a ``##``
    continuation piece; special tokens have -1. Read off the vocabulary, not the tokenizer's
    word ids."""
    rows = all_chunks["train"].with_format("numpy")[:]
    ids, words = rows["input_ids"], rows["word_ids"]
    pieces = np.array(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
    continues = np.char.startswith(pieces, "##")[ids]
    special = np.isin(ids, tokenizer.all_special_ids)
    starts = ~special & ~continues
    starts[:, 0] = ~special[:, 0]  # a word cut by the chunk boundary starts the next row afresh
    expected = np.where(special, -1, np.cumsum(starts, axis=1) - 1)
    np.testing.assert_array_equal(words, expected)
    assert special.any() and continues[:, 1:].any()  # [CLS]/[SEP] and words of several pieces


# ------------------------------------------------------------------------------------ masking
@pytest.mark.parametrize("kind", ["token", "whole_word"])
def test_hub_masking_with_the_full_vocabulary(config, tokenizer, all_chunks, kind):
    spec = MaskingSpec.from_config(config.replace(masking=kind), tokenizer)
    assert spec.vocab_size == VOCAB_SIZE and spec.mlm_probability == 0.15
    masked = mask_chunks(all_chunks["train"], spec, seed=config.seed)
    original, inputs, labels = masked["original_ids"], masked["input_ids"], masked["labels"]
    outcome = masked["outcome"]
    special = np.isin(original, spec.special_ids)
    assert special.any()
    assert (labels[special] == IGNORE_INDEX).all() and (inputs[special] == original[special]).all()
    chosen = labels != IGNORE_INDEX
    np.testing.assert_array_equal(labels[chosen], original[chosen])
    assert (inputs[outcome == MASKED] == spec.mask_token_id).all()
    np.testing.assert_array_equal(inputs[outcome == KEPT], original[outcome == KEPT])

    counts = count_outcomes(masked, spec)
    assert counts["chosen"] > 100_000  # a sample where 1% is more than 10 standard deviations
    assert counts["chosen_share"] == pytest.approx(0.15, abs=0.01)
    for name, share in (("mask", 0.8), ("random", 0.1), ("kept", 0.1)):
        assert counts[f"{name}_share"] == pytest.approx(share, abs=0.01), name
    # Random replacements are drawn uniformly from the whole vocabulary [0, 30,522), as
    # transformers' collator draws them (so a special id is drawn once in about 6,000).
    random_ids = inputs[outcome == RANDOM]
    assert 0 <= random_ids.min() and random_ids.max() < VOCAB_SIZE
    tenths = np.bincount(random_ids.astype(np.int64) * 10 // VOCAB_SIZE, minlength=10)
    np.testing.assert_allclose(tenths / random_ids.size, 0.1, atol=0.02)

    if kind == "whole_word":
        words = np.asarray(all_chunks["train"]["word_ids"])
        real = words >= 0
        # (row, word) keys: non-decreasing in row-major order, since word ids grow along a row
        key = (np.arange(len(words))[:, None] * words.shape[1] + words)[real]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        # All pieces of a word are chosen, or none; all have the word's one outcome.
        for values in (chosen[real].astype(np.int8), outcome[real]):
            np.testing.assert_array_equal(
                np.minimum.reduceat(values, first), np.maximum.reduceat(values, first)
            )
        several = np.diff(np.r_[first, key.size]) > 1
        assert (several & chosen[real][first]).any()  # chosen words of several pieces exist


# ------------------------------------------------------------------------------------ the loss
def test_masked_positions_loss_and_gradients_equal_the_full_vocabulary_ones(
    config, tokenizer, run_chunks, initial_model
):
    """In float32, with dropout off (training=False): `masked_lm_loss` (the last block after its
    attention and the vocabulary head on `prediction_slots` positions only) against transformers'
    own loss (every position's 30,522 logits, -100 ignored), for the loss and the gradient of
    every trainable weight."""
    spec = MaskingSpec.from_config(config, tokenizer)
    masked = fixed_eval_masks(run_chunks["eval"], spec, seed=config.seed)
    inputs = {name: tf.constant(masked[name]) for name in MODEL_INPUTS}
    labels = tf.constant(masked["labels"])
    count = int((masked["labels"] != IGNORE_INDEX).sum())
    assert 0 < count <= prediction_slots(masked["labels"].size, config.mlm_probability) < 256

    weights = initial_model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        loss_sum, fast_count = masked_lm_loss(
            initial_model, inputs, labels, training=False, prediction_share=config.mlm_probability
        )
        fast = loss_sum / fast_count
        outputs = initial_model(inputs, labels=labels, training=False)
        full = outputs.loss[0]  # transformers' TFMaskedLanguageModelingLoss: a mean
    assert outputs.logits.shape == (*masked["labels"].shape, VOCAB_SIZE)
    assert float(fast_count) == count
    assert float(fast) == pytest.approx(float(full), rel=1e-5)
    # Random weights give near-equal logits (std about 0.02·√768 ≈ 0.5): about ln(30,522) + 0.1.
    assert float(full) == pytest.approx(math.log(VOCAB_SIZE), abs=1.0)

    def gradients(loss) -> dict[str, np.ndarray]:
        grads = tape.gradient(loss, weights)
        assert all(g is not None for g in grads)
        return {
            w.name: tf.convert_to_tensor(g).numpy() for w, g in zip(weights, grads, strict=True)
        }

    fast_grads, full_grads = gradients(fast), gradients(full)
    norm = math.sqrt(
        sum(float(np.sum(np.square(g, dtype=np.float64))) for g in full_grads.values())
    )
    # The output bias alone gets (mean softmax - label frequencies): a norm of about 1/√count.
    assert norm > 0.5 / math.sqrt(count)
    for name, grad in full_grads.items():
        size = np.linalg.norm(grad.astype(np.float64))
        error = np.linalg.norm(fast_grads[name].astype(np.float64) - grad)
        if ZERO_BY_CONSTRUCTION in name:  # 0 in real arithmetic: its float noise is not compared
            assert size < 1e-6 * norm, name
        else:  # float32 rounding gives about 1e-6 of each weight's own gradient
            assert size > 1e-6 * norm and error < 1e-4 * size, f"{name}: {error / size:.1e}"


# ------------------------------------------------------------------------------------ training
def test_two_mixed_float16_steps_on_the_cpu(config, straight_run, initial_model, run_chunks):
    model, results = straight_run.model, straight_run.results
    dense = [layer for layer in model.submodules if isinstance(layer, keras.layers.Dense)]
    assert dense  # the policy was in effect when the model was built:
    assert {layer.compute_dtype for layer in dense} == {"float16"}
    assert {w.dtype for w in model.weights} == {tf.float32}
    assert model(first_batch(run_chunks)).logits.dtype == tf.float16
    assert (results["precision"], results["accelerator"], results["jit_compile"]) == (
        "mixed_float16",
        "cpu",
        False,
    )
    assert results["global_step"] == 2 and results["train_rows"] == 4
    assert results["parameters"] == PARAMETERS
    losses = [record["loss"] for record in straight_run.history["steps"]]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert losses[0] == pytest.approx(math.log(VOCAB_SIZE), abs=1.0)

    # Neither step was skipped by loss scaling: a float16 overflow would have halved the scale
    # and restarted the count of good steps.
    reader = tf.train.load_checkpoint(str(straight_run.path / "checkpoints"))
    saved = {name.split("/.ATTRIBUTES")[0]: name for name in reader.get_variable_to_shape_map()}
    scale = reader.get_tensor(saved["optimizer/loss_scale/current_loss_scale"])
    good_steps = reader.get_tensor(saved["optimizer/loss_scale/good_steps"])
    fresh = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.legacy.SGD())
    assert (scale, good_steps) == (fresh.initial_scale, 2)

    for before, after in zip(initial_model.trainable_weights, model.trainable_weights, strict=True):
        if ZERO_BY_CONSTRUCTION not in after.name:  # Adam may not move a weight without gradient
            assert not np.array_equal(before.numpy(), after.numpy()), after.name


def test_interrupted_run_resumes_to_the_uninterrupted_weights(straight_run, resumed_run):
    """Bit for bit in mixed_float16 too: op determinism on a CPU (fine_tune's default there),
    masks that depend only on (seed, epoch, row), and a checkpoint holding the weights, Adam's
    slots, the loss scale with its good-step count and the dropout generators."""
    interrupted_history, resumed = resumed_run
    assert [record["step"] for record in interrupted_history["steps"]] == [1]
    assert resumed.results["global_step"] == 2
    for a, b in zip(weights_of(straight_run.model), weights_of(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.history["steps"] == straight_run.history["steps"]
    assert resumed.results["eval_loss_after"] == straight_run.results["eval_loss_after"]


# ------------------------------------------------------------------------------------ publishing
def test_saved_folder_reloads_with_the_same_logits(straight_run, tokenizer, run_chunks):
    folder = model_dir(straight_run.path)
    assert set(missing_hub_files(folder)) <= {"README.md (model card)"}
    with training_policies("mixed_float16"):  # the trained model's policy
        reloaded, reloaded_tokenizer = load_from_folder(folder)
    assert reloaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    for a, b in zip(weights_of(straight_run.model), weights_of(reloaded), strict=True):
        np.testing.assert_array_equal(a, b)
    batch = first_batch(run_chunks)
    np.testing.assert_array_equal(
        reloaded(batch).logits.numpy(), straight_run.model(batch).logits.numpy()
    )


@pytest.fixture(scope="module")
def card(straight_run):
    from mlm_helpers.figures import save_fig
    from mlm_helpers.plotting import plot_run

    folder = model_dir(straight_run.path)
    save_fig(plot_run(straight_run.path, "epoch_loss"), "loss_curves", folder=folder, quiet=True)
    figure = folder / "loss_curves.png"
    return write_model_card(straight_run.path, repo_id="someone/model", figure=figure)


def test_model_card_of_the_full_size_run(straight_run, card):
    from huggingface_hub import ModelCard

    assert card == model_dir(straight_run.path) / "README.md"
    assert missing_hub_files(card.parent) == []
    data = ModelCard(card.read_text()).data
    assert data.base_model is None  # a local folder is no Hub id
    before, after = data.eval_results
    assert before.metric_value == round(straight_run.results["perplexity_before"], 2)
    assert after.metric_value == round(straight_run.results["perplexity_after"], 2)
    lines = card.read_text().splitlines()
    for line in (
        "- train_batch_size: 2",
        "- chunk_size: 128",
        "- training_precision: mixed_float16",
    ):
        assert line in lines
    assert (card.parent / "loss_curves.png").is_file()
    # The stand-in's text is the shipped generated corpus, given by its path: not IMDB.
    assert "imdb-mini" in card.read_text() and "IMDB" not in card.read_text()


def test_publish_dry_run_lists_the_folder_and_sends_nothing(card, offline, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # no real login is read
    with pytest.raises(ConnectionRefusedError):  # control: the network is really cut off
        socket.create_connection(("huggingface.co", 443))
    assert offline.pop() == ("huggingface.co", 443)
    folder = card.parent
    result = publish(folder, "someone/model", dry_run=True)
    assert result.status == "dry_run" and not result.sent and offline == []
    sizes = dict(result.files)
    assert {"README.md", "config.json", "tf_model.h5", "vocab.txt"} <= set(sizes)
    assert sizes["tf_model.h5"] == (folder / "tf_model.h5").stat().st_size
    assert sizes["tf_model.h5"] >= 4 * PARAMETERS  # float32, not float16
    assert "nothing was sent" in capsys.readouterr().out
