"""A stand-in for `distilbert-base-uncased`, built offline: its exact shape (6 layers × 768, 12
heads, feed-forward 3,072, 512 positions) with random weights, and a WordPiece vocabulary of its
exact size (30,522) and layout, saved as a local folder in Hub format. Used by
tests/test_full_size.py; imported by name (pytest's `pythonpath`)."""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable
from pathlib import Path

VOCAB_SIZE = 30_522  # bert-base-uncased's vocabulary, which distilbert-base-uncased shares
# The shape of distilbert-base-uncased's config.json (dropout as there: 0.1).
FULL_SIZE = {
    "vocab_size": VOCAB_SIZE,
    "n_layers": 6,
    "dim": 768,
    "n_heads": 12,
    "hidden_dim": 3072,
    "max_position_embeddings": 512,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "pad_token_id": 0,
}
# bert-base-uncased's first 999 entries: [PAD] 0, [unused0-98] 1-99, [UNK] 100, [CLS] 101,
# [SEP] 102, [MASK] 103, [unused99-993] 104-998. So the special ids are the real ones.
BERT_SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
BERT_HEAD = [
    "[PAD]",
    *(f"[unused{i}]" for i in range(99)),
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *(f"[unused{i}]" for i in range(99, 994)),
]
# The review corpus has only ~440 distinct words: WordPiece trained on it with room for all of
# them keeps every word whole. Trained with this budget instead, it splits the rarer words into
# pieces, as a 30k vocabulary does with real text, so whole-word masking has words to keep whole.
CORPUS_PIECES = 600


def letter_pieces() -> Iterable[str]:
    """The deterministic filler: every 2-letter piece, word-initial then ``##`` continuation, then
    the 3-letter ones, in alphabetical order (the vocabulary takes them until it is full)."""
    for length in (2, 3):
        for prefix in ("", "##"):
            for letters in itertools.product(string.ascii_lowercase, repeat=length):
                yield prefix + "".join(letters)


def build_vocabulary(texts: Iterable[str], size: int = VOCAB_SIZE) -> list[str]:
    """`size` WordPiece entries: BERT's 999 leading entries (`BERT_HEAD`), the pieces of a
    WordPiece model of `CORPUS_PIECES` entries trained on `texts` (less its special tokens, which
    `BERT_HEAD` holds), then `letter_pieces` until the vocabulary is full. Filler pieces are real pieces: the
    tokenizer uses them where no longer corpus piece matches, so ids from the whole range occur
    in the chunks."""
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(
        texts, vocab_size=CORPUS_PIECES, min_frequency=1, special_tokens=list(BERT_SPECIAL_IDS)
    )
    trained = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    vocabulary = list(BERT_HEAD)
    seen = set(vocabulary)
    for piece in itertools.chain((piece for piece, _ in trained), letter_pieces()):
        if len(vocabulary) == size:
            break
        if piece not in seen:
            vocabulary.append(piece)
            seen.add(piece)
    if len(vocabulary) != size:
        raise ValueError(f"only {len(vocabulary)} pieces for a vocabulary of {size}")
    return vocabulary


def build_hub_folder(folder: Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """Save a randomly initialised full-size DistilBERT masked LM and its uncased WordPiece
    tokenizer (`build_vocabulary` of `texts`) into `folder`, as `save_pretrained` writes a Hub
    repository: config.json, tf_model.h5, vocab.txt, tokenizer.json and its configuration."""
    from transformers import DistilBertConfig, DistilBertTokenizerFast, TFDistilBertForMaskedLM

    from mlm_helpers import runtime

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(build_vocabulary(texts)) + "\n", encoding="utf-8")
    tokenizer = DistilBertTokenizerFast(
        vocab_file=str(vocab_file), do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(folder)
    runtime.seed_everything(seed, tensorflow=True)
    model = TFDistilBertForMaskedLM(DistilBertConfig(**FULL_SIZE))
    model(model.dummy_inputs)  # build the weights
    model.save_pretrained(folder)
    return folder
