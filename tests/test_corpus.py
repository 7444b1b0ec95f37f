"""The embedded corpus is held out by sentence and carries the domain's own idioms
(`sentences.corpus_targets`, `data.review_cues`, `tools/embedded`)."""

from __future__ import annotations

import re

import datasets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers import data, sentences
from tools.embedded import build, general, reviews


@pytest.fixture(scope="module")
def raw():
    return data.load_raw("embedded")


@pytest.fixture(scope="module")
def measured(raw):
    return sentences.corpus_targets(raw)


def test_shipped_corpus_meets_the_four_targets(measured):
    sentences.check_targets(measured)  # raises naming the target missed
    # The numbers the corpus README and notebook 01 report (the generator is deterministic).
    assert round(measured["eval_sentences_in_training"], 3) == 0.019
    assert measured["duplicate_reviews"] == 0
    assert measured["median_words"] == 172
    assert measured["top_sentence_share"] < 0.0001


def test_the_old_template_corpus_would_fail_them():
    # What the issue measured on the template corpus: 75% of test sentences in training.
    with pytest.raises(AssertionError, match=r"74\.7% of the held-out sentences"):
        sentences.check_targets({**_ok(), "eval_sentences_in_training": 0.747})
    with pytest.raises(AssertionError, match=r"269 duplicate reviews"):
        sentences.check_targets({**_ok(), "duplicate_reviews": 269})
    with pytest.raises(AssertionError, match=r"median review length 96 words \(150-200\)"):
        sentences.check_targets({**_ok(), "median_words": 96})


def _ok() -> dict:
    return {
        "eval_sentences_in_training": 0.0,
        "top_sentence_share": 0.0,
        "duplicate_reviews": 0,
        "median_words": 170,
    }


def _corpus(train: list[str], test: list[str]) -> datasets.DatasetDict:
    return datasets.DatasetDict(
        {s: datasets.Dataset.from_dict({"text": t}) for s, t in (("train", train), ("test", test))}
    )


words = st.lists(st.sampled_from(["cat", "dog", "film", "plot", "sun"]), min_size=4, max_size=7)
sentence_text = words.map(lambda w: " ".join(w).capitalize() + ".")


@settings(max_examples=30, deadline=None)
@given(st.lists(sentence_text, min_size=1, max_size=6), st.lists(sentence_text, max_size=6))
def test_leak_share_counts_test_sentences_found_in_training(train_sentences, fresh):
    # A test review made of training sentences plus fresh ones leaks exactly the training ones.
    fresh = [s.replace(".", " zebra.") for s in fresh]  # "zebra" never occurs in training
    test = [" ".join(train_sentences + fresh)]
    measured = sentences.corpus_targets(_corpus([" ".join(train_sentences)], test), ("train",))
    share = len(train_sentences) / (len(train_sentences) + len(fresh))
    assert measured["eval_sentences_in_training"] == pytest.approx(share)


def test_duplicates_compare_cleaned_text_across_splits():
    corpus = _corpus(["A b c d.", "E f g h."], ["A b  c d.<br /><br />", "I j k l."])
    measured = sentences.corpus_targets(corpus, ("train",))
    assert measured["duplicate_reviews"] == 1
    assert measured["top_sentence"] in {"A b c d.", "E f g h."}
    assert measured["top_sentence_share"] == 0.5


def test_missing_split_is_named_with_the_fix():
    with pytest.raises(KeyError, match=r"\['unsupervised'\] not in the corpus.*train_splits"):
        sentences.corpus_targets(_corpus(["a b c d."], ["a b c d."]))


def _has(phrase: str, text: str) -> bool:
    return bool(re.search(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", text))


EVERYDAY = {w for side in reviews.GEN.values() for key in ("adj", "verb") for w in side[key]}
IDIOMS = [
    p.removeprefix("a ") for side in reviews.IDIOMS.values() for v in side.values() for p in v
]


def test_cues_say_which_words_carry_the_verdict(raw):
    for split in ("train", "test"):
        cues = data.review_cues(raw[split]["text"])
        shares = {cue: cues.count(cue) / len(cues) for cue in reviews.CUE_SHARES}
        for cue, share in reviews.CUE_SHARES.items():  # the stated shares, within sampling noise
            assert abs(shares[cue] - share) < 0.04, (split, shares)
        for text, cue in zip(raw[split]["text"], cues, strict=True):
            text = data.clean_text(text).lower()
            everyday = any(_has(w, text) for w in EVERYDAY) or "/10" in text
            idiom = any(_has(p, text) for p in IDIOMS)
            assert idiom == (cue != "general"), (cue, text)
            if cue == "idiom":  # the idioms are the only cue: no everyday word, no rating
                assert not everyday and "out of 10" not in text, text
            if cue == "general":
                assert everyday, text
    assert data.review_cues(["Not a review of the corpus."]) == [None]


def test_unlabelled_reviews_put_every_idiom_next_to_an_everyday_word(raw):
    texts = raw["unsupervised"]["text"][:500]
    for text in texts:
        for sentence in sentences.sentences(text):
            low = sentence.lower()
            if any(_has(p, low) for p in IDIOMS):
                assert any(_has(w, low) for w in EVERYDAY), sentence


def test_idioms_never_occur_in_the_general_corpus():
    build.check_idioms_absent_from_general()
    text = " ".join(general.generate_documents(2000)).lower()
    assert not [p for p in IDIOMS if _has(p, text)]
    assert any(_has(w, text) for w in EVERYDAY)  # while its everyday words do


def test_vocabulary_splits_three_to_six_percent_of_review_words(raw, embedded_tokenizer):
    texts = [t for split in raw for t in raw[split]["text"][:1000]]
    share = build.split_share(texts, embedded_tokenizer)
    assert 0.03 <= share <= 0.06, share
