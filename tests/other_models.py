"""Tiny random masked-LM models of other families than DistilBERT, each with a tokenizer of its own
kind trained in-process on the embedded corpus (no download): BERT (WordPiece, ``[MASK]``),
RoBERTa (byte-level BPE, ``<mask>``) and ALBERT (Unigram, ``[MASK]``). Imported by name (pytest's
`pythonpath`); `model_folder` saves one in Hub format, as `hub_folder.save_for_hub` does."""

from __future__ import annotations

from pathlib import Path

from mlm_helpers.data import load_reviews

FAMILIES = ("bert", "roberta", "albert")
SHAPE = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
VOCAB = 300


def _texts() -> list[str]:
    return list(load_reviews("embedded", splits=["train"], max_reviews=300)["train"]["text"])


def make_tokenizer(family: str):
    """A fast tokenizer of `family`'s kind, trained on 300 embedded reviews."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import AlbertTokenizerFast, BertTokenizerFast, RobertaTokenizerFast

    if family == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=specials)
        cls, sep, fast = "[CLS]", "[SEP]", BertTokenizerFast
    elif family == "roberta":
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=VOCAB,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        cls, sep, fast = "<s>", "</s>", RobertaTokenizerFast
    else:
        specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=VOCAB, special_tokens=specials, unk_token="<unk>"
        )
        cls, sep, fast = "[CLS]", "[SEP]", AlbertTokenizerFast
    tok.train_from_iterator(_texts(), trainer)
    tok.post_processor = TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B {sep}",
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    if family == "roberta":
        names = {
            "bos_token": "<s>",
            "eos_token": "</s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        }
    else:
        names = {
            "cls_token": cls,
            "sep_token": sep,
            "mask_token": "[MASK]",
            "pad_token": specials[0],
            "unk_token": "[UNK]" if family == "bert" else "<unk>",
        }
    return fast(tokenizer_object=tok, model_max_length=64, **names)


def make_model(family: str, tokenizer, **changes):
    """A random TF masked-LM model of `family` sized for `tokenizer` (64 positions)."""
    from transformers import (
        AlbertConfig,
        BertConfig,
        RobertaConfig,
        TFAlbertForMaskedLM,
        TFBertForMaskedLM,
        TFRobertaForMaskedLM,
    )

    config_class, model_class = {
        "bert": (BertConfig, TFBertForMaskedLM),
        "roberta": (RobertaConfig, TFRobertaForMaskedLM),
        "albert": (AlbertConfig, TFAlbertForMaskedLM),
    }[family]
    shape = dict(SHAPE, intermediate_size=64, max_position_embeddings=64)
    if family == "roberta":  # RoBERTa's positions start after the padding id
        shape["max_position_embeddings"] = 64 + tokenizer.pad_token_id + 1
    if family == "albert":
        shape["embedding_size"] = 16
    config = config_class(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **{**shape, **changes}
    )
    model = model_class(config)
    model(model.dummy_inputs)
    return model


def model_folder(family: str, folder: Path, **changes) -> Path:
    """A tiny random `family` model and its tokenizer saved in Hub format in `folder`."""
    from mlm_helpers.hub_folder import save_for_hub

    tokenizer = make_tokenizer(family)
    return save_for_hub(make_model(family, tokenizer, **changes), tokenizer, folder)
