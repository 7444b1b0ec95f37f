"""Rebuild the shipped corpus files and tokenizer: ``python -m mlm_helpers.corpus.build``.

Writes `imdb-mini/data/<split>-00000-of-00001.parquet` (the file layout of a Hub dataset repository, so the
embedded corpus is loaded by the very same `datasets.load_dataset(folder)` call as any local copy of a
Hub dataset) and `tokenizer/vocab.txt` (an uncased WordPiece vocabulary trained on the training texts).
Both are deterministic: rebuilding gives identical files (a test checks it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .generator import DEFAULT_SEED, SPLIT_SIZES, generate_corpus

HERE = Path(__file__).parent
VOCAB_SIZE = 3000
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_split(rows: list[dict], path: Path) -> None:
    table = pa.table({"text": pa.array([r["text"] for r in rows], pa.string()),
                      "label": pa.array([r["label"] for r in rows], pa.int64())})
    pq.write_table(table, path, compression="zstd", compression_level=19, use_dictionary=False,
                   write_statistics=False)


def train_vocab(texts: list[str], folder: Path, vocab_size: int = VOCAB_SIZE) -> Path:
    """Train an uncased WordPiece vocabulary on `texts` and save `folder/vocab.txt`."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(lowercase=True, clean_text=True, strip_accents=True)
    tokenizer.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=SPECIAL_TOKENS, show_progress=False)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_model(str(folder))
    return folder / "vocab.txt"


def build(out: Path = HERE, *, seed: int = DEFAULT_SEED, sizes: dict[str, int] | None = None) -> dict:
    """Generate the corpus and tokenizer under `out`; return {split: rows}."""
    from ..data import clean_text

    corpus = generate_corpus(sizes or SPLIT_SIZES, seed=seed)
    data_dir = out / "imdb-mini" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in corpus.items():
        write_split(rows, data_dir / f"{split}-00000-of-00001.parquet")
    texts = [clean_text(r["text"]) for split in ("train", "unsupervised") for r in corpus[split]]
    train_vocab(texts, out / "tokenizer")
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write imdb-mini/ and tokenizer/")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    corpus = build(args.out, seed=args.seed)
    for split, rows in corpus.items():
        print(f"{split}: {len(rows)} reviews")
    print(f"written under {args.out}")


if __name__ == "__main__":
    main()


