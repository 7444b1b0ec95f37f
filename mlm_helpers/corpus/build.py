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
    table = pa.table(
        {
            "text": pa.array([r["text"] for r in rows], pa.string()),
            "label": pa.array([r["label"] for r in rows], pa.int64()),
        }
    )
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=False,
        write_statistics=False,
    )


def train_vocab(
    texts: list[str],
    folder: Path,
    vocab_size: int = VOCAB_SIZE,
    min_count: int = 3,
    n_pieces: int = 150,
) -> Path:
    """Build an uncased WordPiece vocabulary from `texts` and save `folder/vocab.txt`.

    Deterministic by construction (the `tokenizers` trainer breaks ties between equally frequent
    merges in hash order, so its vocabulary changes from run to run): the special tokens, every
    character seen (alone and as a `##` continuation), then the `n_pieces` most frequent word
    beginnings and `##` endings, then whole words seen at least `min_count` times, most frequent
    first, ties broken alphabetically, up to `vocab_size` entries. Rare words therefore split into
    pieces exactly as in a trained WordPiece vocabulary.
    """
    from collections import Counter

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
    for token in [*ranked(pieces)[:n_pieces], *frequent]:
        if len(vocab) >= vocab_size:
            break
        if token not in seen:
            vocab.append(token)
            seen.add(token)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path


def build(
    out: Path = HERE, *, seed: int = DEFAULT_SEED, sizes: dict[str, int] | None = None
) -> dict:
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
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder to write imdb-mini/ and tokenizer/"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    corpus = build(args.out, seed=args.seed)
    for split, rows in corpus.items():
        print(f"{split}: {len(rows)} reviews")
    print(f"written under {args.out}")


if __name__ == "__main__":
    main()
