"""Not only DistilBERT (issue 25, point 6): fill-mask output, masked-row decoding, the parameter
count and the model card for BERT (WordPiece), RoBERTa (byte-level BPE, ``<mask>``) and ALBERT
(Unigram), with tiny random models and tokenizers trained in-process (`other_models`)."""

from __future__ import annotations

import numpy as np
import pytest
from hub_runs import HUB_CONFIG, make_run
from other_models import FAMILIES, make_model, make_tokenizer, model_folder

from mlm_helpers import cost
from mlm_helpers.evaluation import fill_mask
from mlm_helpers.masking import IGNORE_INDEX, decode_masked_rows
from mlm_helpers.model_card import build_model_card

SENTENCE = "I loved the acting, and the music was wonderful."


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    tokenizer = make_tokenizer(request.param)
    return request.param, tokenizer, make_model(request.param, tokenizer)


def test_fill_mask_shows_words_not_subword_markers(family):
    # Why: fill-mask printed raw byte-level pieces such as "Ġthe".
    _, tokenizer, model = family
    everything = len(tokenizer)  # every token of the vocabulary, ranked
    predictions = fill_mask(model, tokenizer, ["I loved the [MASK]."], top_k=everything)
    tokens = [p["token"] for p in predictions["I loved the [MASK]."]]
    assert not any(t.startswith(("Ġ", "▁")) and len(t) > 1 for t in tokens)
    assert "the" in tokens  # "Ġthe" / "▁the" as a reader writes it


def test_unmasked_rows_decode_to_the_words_they_hold(family):
    # Why: decode_masked_rows joined only WordPiece's "##" pieces.
    _, tokenizer, _ = family
    ids = np.asarray([tokenizer(SENTENCE)["input_ids"]])
    masked = {"input_ids": ids, "labels": np.full_like(ids, IGNORE_INDEX)}
    (row,) = decode_masked_rows(tokenizer, masked, [0])
    assert "loved the acting" in row.lower() and "music was wonderful" in row.lower(), row


def test_a_masked_piece_shows_the_tokenizers_own_mask(family):
    _, tokenizer, _ = family
    ids = np.asarray([tokenizer(SENTENCE)["input_ids"]])
    labels = np.full_like(ids, IGNORE_INDEX)
    labels[0, 3], masked_ids = ids[0, 3], ids.copy()
    masked_ids[0, 3] = tokenizer.mask_token_id
    (row,) = decode_masked_rows(tokenizer, {"input_ids": masked_ids, "labels": labels}, [0])
    assert tokenizer.mask_token in row


def test_the_parameter_count_of_any_family_is_the_built_models(family):
    # Why: the cost estimate raised "knows DistilBERT only".
    _, _, model = family
    assert cost.parameter_count(model.config) == model.count_params()


@pytest.mark.parametrize("name", FAMILIES)
def test_the_card_describes_the_model_and_corpus_of_the_run(tmp_path, name):
    # Why: a RoBERTa run was tagged distilbert, its usage snippet had [MASK], its architecture line
    # was empty, the card always spoke of movie reviews and said language: en.
    folder = model_folder(name, tmp_path / name)
    files = {"train": [str(tmp_path / "notes.txt")], "test": [str(tmp_path / "held.txt")]}
    config = HUB_CONFIG.replace(
        run_name=f"{name}-notes", model=str(folder), dataset=files, language="de"
    )
    card = build_model_card(make_run(tmp_path / "runs", config, folder))
    mask = make_tokenizer(name).mask_token
    assert name in card.data.tags and ("distilbert" in card.data.tags) is False
    assert card.data.language == "de"
    assert f'fill("This is a great {mask}.")' in card.text
    assert f"the model ({name}, 1 layers, width 32, " in card.text
    assert "train: notes.txt; test: held.txt" in card.text
    assert "film review" not in card.text and "movie-review text" not in card.text


@pytest.mark.parametrize(
    ("device", "listed"),
    [
        ("Tesla T4", "T4"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA A100-SXM4-40GB", "A100"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA L40S", None),  # not an L4
        ("NVIDIA RTX A1000", None),  # not an A100
        ("", None),
    ],
)
def test_gpu_names_are_matched_as_whole_words(device, listed):
    # Why: gpu names matched by substring (an L40S counted as an L4, an RTX A1000 as an A100).
    line = cost.utilisation_line(66_985_530, 40_000, "mixed_float16", device)
    assert (line is None) == (listed is None)
    assert cost.gpu_model(device) == listed
