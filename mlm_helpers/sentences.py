"""Held out by sentence, not only by review: how much of a corpus's text repeats.

A held-out review can be new while its sentences are not: a corpus written from a few templates repeats
the same sentences in every split, and a model that memorised them scores a low held-out perplexity that
says nothing about new text. `corpus_targets` measures what notebook 01 prints and the embedded corpus
is built to meet (`TARGETS`): the share of evaluation sentences found verbatim in a training split, the
most frequent training sentence, exact duplicate reviews, and the median review length in words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from .data import clean_text

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MIN_WORDS = 4  # shorter sentences ("Highly recommended.") are bound to recur in any corpus
# What the embedded corpus must meet (`tools/embedded`); a real IMDB sample is far below the limits.
TARGETS = {
    "eval_sentences_in_training": 0.05,  # at most
    "top_sentence_share": 0.002,  # at most, of all training sentences
    "duplicate_reviews": 0,  # at most, within and across splits
    "median_words": (150, 200),  # between
}


def sentences(text: str) -> list[str]:
    """The sentences of a review: its cleaned text (`data.clean_text`) cut after . ! or ?."""
    return [s for s in _SENTENCE_END.split(clean_text(text)) if s]


def _all_sentences(cleaned: Iterable[str]) -> list[str]:
    """The sentences of texts already cleaned (`sentences` without cleaning them again)."""
    return [s for text in cleaned for s in _SENTENCE_END.split(text) if s]


def corpus_targets(
    reviews, train_splits: Sequence[str] = ("train", "unsupervised"), eval_split: str = "test"
) -> dict:
    """Measure a `datasets.DatasetDict` of reviews against `TARGETS`; returns a dict of numbers.

    - ``eval_sentences_in_training``: the share of `eval_split` sentences of at least `MIN_WORDS`
      words that occur verbatim in a `train_splits` split;
    - ``top_sentence`` and ``top_sentence_share``: the most frequent training sentence and its share
      of all training sentences;
    - ``duplicate_reviews``: rows whose cleaned text occurs more than once in all splits together,
      beyond its first occurrence;
    - ``median_words``: the median review length in words over all splits.
    """
    missing = [s for s in (*train_splits, eval_split) if s not in reviews]
    if missing:
        raise KeyError(
            f"split(s) {missing} not in the corpus (it has {list(reviews)}): pass train_splits and "
            "eval_split naming splits it has"
        )
    cleaned = {split: [clean_text(t) for t in reviews[split]["text"]] for split in reviews}
    train = Counter(_all_sentences(t for split in train_splits for t in cleaned[split]))
    long_eval = [s for s in _all_sentences(cleaned[eval_split]) if len(s.split()) >= MIN_WORDS]
    top, top_count = train.most_common(1)[0] if train else ("", 0)
    texts = [t for split in cleaned.values() for t in split]  # the same review: the same clean text
    words = sorted(len(t.split()) for t in texts)
    return {
        "eval_sentences_in_training": sum(s in train for s in long_eval) / max(len(long_eval), 1),
        "top_sentence": top,
        "top_sentence_share": top_count / max(sum(train.values()), 1),
        "training_sentences": sum(train.values()),
        "distinct_training_sentences": len(train),
        "duplicate_reviews": len(texts) - len(set(texts)),
        "median_words": words[len(words) // 2] if words else 0,
    }


def check_targets(measured: dict, targets: dict = TARGETS) -> list[str]:
    """The claims of `TARGETS` that `measured` (from `corpus_targets`) meets, as sentences; raises
    AssertionError naming the first one it misses and the number measured."""
    low, high = targets["median_words"]
    claims = [
        (
            measured["eval_sentences_in_training"] <= targets["eval_sentences_in_training"],
            f"{measured['eval_sentences_in_training']:.1%} of the held-out sentences occur in a "
            f"training split (at most {targets['eval_sentences_in_training']:.0%})",
        ),
        (
            measured["top_sentence_share"] <= targets["top_sentence_share"],
            f"the most frequent training sentence is {measured['top_sentence_share']:.3%} of them "
            f"(at most {targets['top_sentence_share']:.1%})",
        ),
        (
            measured["duplicate_reviews"] <= targets["duplicate_reviews"],
            f"{measured['duplicate_reviews']} duplicate reviews (at most "
            f"{targets['duplicate_reviews']})",
        ),
        (
            low <= measured["median_words"] <= high,
            f"median review length {measured['median_words']} words ({low}-{high})",
        ),
    ]
    for ok, claim in claims:
        if not ok:
            raise AssertionError(f"corpus target missed: {claim}")
    return [claim for _, claim in claims]
