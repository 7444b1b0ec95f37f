"""Build what the embedded profile ships: ``python -m tools.embedded.build [corpus|vocab|pretrain|all]``.

Run from the repository root. Three steps, each writing into the package:

1. ``corpus``: the generated review corpus `mlm_helpers/corpus/imdb-mini/data/<split>-00000-of-00001.parquet`
   (the file layout of a Hub dataset repository, so it loads with the same `datasets.load_dataset(folder)`
   call as any local copy of a Hub dataset). Byte-identical on every rebuild; a test checks it.
2. ``vocab``: one uncased WordPiece vocabulary, built from the general-domain text (`general.py`) plus
   a tenth of the review text — as with BERT, whose vocabulary came from general text, frequent review
   words are whole tokens and rarer ones are split into pieces. Written with its tokenizer files into
   the shipped model folder `mlm_helpers/models/distilbert-tiny-general/`. Byte-identical too.
3. ``pretrain``: a tiny DistilBERT (`RunConfig.tiny_model`) trained from scratch with masked-LM on the
   general corpus, through the very `runs.open_run` the tutorial uses; its weights and config go
   into the same folder with a short model card. Deterministic on one machine (seeded, deterministic
   ops); another CPU rounds differently, so its weights differ in the last bits. Not part of CI:
   676 s on a 2-core CPU (AMD EPYC, AVX2) shared with other jobs, about 11 minutes.

``all`` runs the three in order. The notebooks and tests then use the shipped files only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlm_helpers.config import RunConfig
from mlm_helpers.data import clean_text
from mlm_helpers.paths import EMBEDDED_DATASET_DIR, EMBEDDED_MODEL_DIR
from mlm_helpers.run_folder import model_dir

from . import general, reviews

VOCAB_SIZE = 4000
# A word seen fewer times in the vocabulary text is split into pieces. 40 splits about 5% of the
# review word occurrences (names, rarer plot words, some idioms), as bert-base-uncased splits about 4%
# of real IMDB's (measured by `split_share`, printed by the vocab step).
MIN_COUNT = 40
REVIEW_SHARE = 10  # every REVIEW_SHARE-th review goes into the vocabulary text
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
GENERAL_DOCUMENTS = {"train": 40_000, "test": 2_000}
# The pre-training run, in two phases as BERT's was: short chunks first, then full-length ones.
# Measured here (2 cores): from scratch on 128-token chunks, the tiny model sits on the
# word-frequency plateau (perplexity ≈ 75-120 on general text) for thousands of steps; on 32-token
# chunks with initializer_range 0.1 it leaves it within ~500 steps and ends at perplexity ≈ 2.1.
# Phase 2 then teaches the positions 32-127 on 128-token chunks.
PRETRAIN = {  # RunConfig fields shared by both phases (the rest: RunConfig's defaults)
    "train_splits": ("train",),
    "eval_split": "test",
    "train_chunks": None,
    "eval_chunks": 500,
    "warmup": 0.05,
    "seed": 0,
    "tiny_model": {**RunConfig().tiny_model, "initializer_range": 0.1},
    "fill_mask_prompts": (
        "This is a great [MASK].",
        "I would recommend this [MASK] to anyone.",
        "The [MASK] was cold and the bread was fresh.",
    ),
}
PHASES = (
    {
        "run_name": "phase-1",
        "model": "scratch",
        "chunk_size": 32,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "epochs": 1,
    },
    {"run_name": "phase-2", "chunk_size": 128, "batch_size": 8, "learning_rate": 2e-3, "epochs": 2},
)
SHIPPED = (
    "config.json",
    "tf_model.h5",
    "model.safetensors",
)  # what the run's model/ folder adds to the vocabulary


# --------------------------------------------------------------------------- 1. review corpus
def write_table(columns: dict[str, pa.Array], path: Path) -> None:
    """A parquet file that is byte-identical for identical columns (no statistics, fixed codec)."""
    pq.write_table(
        pa.table(columns),
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=False,
        write_statistics=False,
    )


CUES_FILE = "cues.json"  # per labelled row, how it states its verdict (`reviews.CUE_CODES`)


def check_idioms_absent_from_general() -> None:
    """The domain's idioms occur in no general document: the general model never reads them."""
    text = " ".join(general.generate_documents(sum(GENERAL_DOCUMENTS.values()))).lower()
    found = [
        p
        for stance in reviews.IDIOMS.values()
        for phrases in stance.values()
        for p in phrases
        if re.search(r"(?<![\w-])" + re.escape(p.removeprefix("a ")) + r"(?![\w-])", text)
    ]
    if found:
        raise AssertionError(f"idioms {found} occur in the general corpus: rename them")


def build_reviews(out: Path = EMBEDDED_DATASET_DIR) -> dict[str, list[dict]]:
    """Generate the review corpus into `out/data` and its cues into `out/cues.json`; return
    {split: rows}."""
    check_idioms_absent_from_general()
    corpus = reviews.generate_corpus()
    cues = {
        split: "".join(reviews.CUE_CODES[r["cue"]] for r in rows)
        for split, rows in corpus.items()
        if split != "unsupervised"
    }
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (out / CUES_FILE).write_text(json.dumps({"codes": reviews.CUE_CODES, **cues}) + "\n")
    for split, rows in corpus.items():
        columns = {
            "text": pa.array([r["text"] for r in rows], pa.string()),
            "label": pa.array([r["label"] for r in rows], pa.int64()),
        }
        write_table(columns, data_dir / f"{split}-00000-of-00001.parquet")
    return corpus


# --------------------------------------------------------------------------- 2. vocabulary
def vocabulary_texts() -> list[str]:
    """General documents plus every `REVIEW_SHARE`-th training review, cleaned."""
    corpus = reviews.generate_corpus()
    review_texts = [r["text"] for s in ("train", "unsupervised") for r in corpus[s]]
    return [
        *general.generate_documents(GENERAL_DOCUMENTS["train"], seed=general.DEFAULT_SEED),
        *(clean_text(t) for t in review_texts[::REVIEW_SHARE]),
    ]


def train_vocab(
    texts: list[str], vocab_size: int = VOCAB_SIZE, min_count: int = MIN_COUNT, n_pieces: int = 800
) -> list[str]:
    """An uncased WordPiece vocabulary built from `texts`, deterministically.

    The `tokenizers` trainer breaks ties between equally frequent merges in hash order, so its
    vocabulary changes from run to run. This one is fixed by construction: the special tokens, every
    character seen (alone and as a `##` continuation), the `n_pieces` most frequent word beginnings
    and `##` endings, then whole words seen at least `min_count` times, most frequent first, ties
    broken alphabetically, up to `vocab_size` entries. Rarer words split into pieces exactly as in a
    trained WordPiece vocabulary.
    """
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer = BertNormalizer(clean_text=True, lowercase=True, strip_accents=True)
    pre_tokenizer = BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))

    def ranked(counter: Counter[str]) -> list[str]:
        return [item for item, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]

    alphabet = sorted({c for w in words for c in w})
    pieces: Counter[str] = Counter()
    for word, count in words.items():
        for n in range(3, min(6, len(word) - 1)):
            pieces[word[:n]] += count
            pieces["##" + word[-n + 1 :]] += count
    vocab = [*SPECIAL_TOKENS, *alphabet, *("##" + c for c in alphabet)]
    seen = set(vocab)
    frequent = [w for w in ranked(words) if words[w] >= min_count and w not in seen]
    for token in [*frequent, *ranked(pieces)[:n_pieces]]:
        if len(vocab) >= vocab_size:
            break
        if token not in seen:
            vocab.append(token)
            seen.add(token)
    return vocab


def split_share(texts: list[str], tokenizer) -> float:
    """The share of word occurrences (alphanumeric pre-tokens of the cleaned `texts`) that
    `tokenizer` splits into two or more pieces."""
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    normalizer = tokenizer.backend_tokenizer.normalizer
    words: Counter[str] = Counter()
    for text in texts:
        pieces = pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(clean_text(text)))
        words.update(w for w, _ in pieces if w.isalnum())
    split = sum(n for w, n in words.items() if len(tokenizer.tokenize(w)) > 1)
    return split / max(sum(words.values()), 1)


def build_vocab(out: Path = EMBEDDED_MODEL_DIR) -> Path:
    """Write the vocabulary and the files of a fast DistilBERT tokenizer into `out`."""
    from transformers import DistilBertTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(train_vocab(vocabulary_texts())) + "\n")
    tokenizer = DistilBertTokenizerFast(
        vocab_file=str(vocab_file), do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(str(out))
    texts = [r["text"] for rows in reviews.generate_corpus().values() for r in rows]
    print(f"review word occurrences split into pieces: {split_share(texts, tokenizer):.1%}")
    return vocab_file


# --------------------------------------------------------------------------- 3. pre-training
def write_general_corpus(folder: Path) -> Path:
    """The general documents as a Hub-layout dataset folder (splits train and test, `text` only)."""
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    documents = general.generate_documents(sum(GENERAL_DOCUMENTS.values()))
    for split, n in GENERAL_DOCUMENTS.items():
        texts = [next(documents) for _ in range(n)]
        write_table({"text": pa.array(texts, pa.string())}, data_dir / f"{split}.parquet")
    return folder


MODEL_CARD = """---
license: apache-2.0
language: en
library_name: transformers
pipeline_tag: fill-mask
---
# distilbert-tiny-general

A tiny DistilBERT ({n_layers} layers, width {dim}, {params:,} parameters, {vocab:,}-token uncased
WordPiece vocabulary) pre-trained with masked-language modelling on generated general-domain text
(everyday life, news, shopping, travel, food, sport, weather, arts and everyday experiences; {documents:,} documents written from
word lists and sentence patterns by `tools/embedded/general.py`). It is the *general model* of the
offline profile of the `mlm_helpers` tutorial, which adapts it to generated movie reviews — the
miniature of adapting `distilbert-base-uncased` to IMDB. It knows nothing beyond its templates.

Held-out perplexity on general text: {perplexity:.2f}. "This is a great [MASK]." → {great}.

Rebuilt by `python -m tools.embedded.build pretrain`: {phases}; seed {seed}.
"""


def pretrain(out: Path = EMBEDDED_MODEL_DIR) -> dict:
    """Pre-train the tiny model on the general corpus (`PHASES`) and ship it into `out`, next to
    its vocabulary. Returns the last phase's results."""
    from mlm_helpers.runs import open_run

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = str(write_general_corpus(tmp / "general"))
        model = None
        for phase in PHASES:
            fields = {**PRETRAIN, **phase, "dataset": dataset, "runs_dir": str(tmp)}
            if model is not None:  # continue from the previous phase's weights
                fields["model"] = model
            result = open_run(RunConfig(**fields), mode="train", deterministic=True)
            model = str(model_dir(result.path))
        for name in SHIPPED:
            shutil.copyfile(Path(model) / name, out / name)
        results = result.results
    model_config = json.loads((out / "config.json").read_text())
    great = results["fill_mask_after"][PRETRAIN["fill_mask_prompts"][0]]
    (out / "README.md").write_text(
        MODEL_CARD.format(
            n_layers=model_config["n_layers"],
            dim=model_config["dim"],
            params=int(results["parameters"]),
            vocab=model_config["vocab_size"],
            documents=GENERAL_DOCUMENTS["train"],
            perplexity=results["perplexity_after"],
            great=", ".join(p["token"] for p in great),
            phases="; ".join(
                f"{p['epochs']} epoch(s) of {p['chunk_size']}-token chunks, batch "
                f"{p['batch_size']}, peak learning rate {p['learning_rate']:g}"
                for p in PHASES
            ),
            seed=PRETRAIN["seed"],
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["corpus", "vocab", "pretrain", "all"], default="all")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.step in ("corpus", "all"):
        corpus = build_reviews()
        print("reviews:", {split: len(rows) for split, rows in corpus.items()})
    if args.step in ("vocab", "all"):
        path = build_vocab()
        print(f"vocabulary: {len(path.read_text().split())} tokens -> {path}")
    if args.step in ("pretrain", "all"):
        results = pretrain()
        print(
            f"pre-trained: perplexity {results['perplexity_before']:.1f} -> "
            f"{results['perplexity_after']:.2f} on held-out general text"
        )
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
