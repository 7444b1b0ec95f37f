"""Loading, validation, cleaning and exploration statistics (mlm_helpers.data, notebook 01)."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pandas as pd
import pytest

from mlm_helpers import data
from mlm_helpers.config import get_config
from mlm_helpers.data import DataError

ROWS = {
    "train": [("A great movie.<br /><br />Loved it.", 1), ("Awful film.", 0), ("Awful film.", 0)],
    "test": [("Fine acting, weak plot.", 0), ("A great movie.<br />Loved it.", 1)],
}


def write_folder(root, rows=ROWS, fmt="parquet"):
    """A local dataset folder in Hub layout: data/<split>-00000-of-00001.<fmt>."""
    folder = root / "mydata" / "data"
    folder.mkdir(parents=True)
    for split, items in rows.items():
        frame = pd.DataFrame(items, columns=["text", "label"])
        path = folder / f"{split}-00000-of-00001.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path)
        elif fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True)
        else:
            frame.to_csv(path, index=False)
    return folder.parent


def test_embedded_corpus_has_the_imdb_schema():
    reviews = data.load_reviews("embedded", clean=False)
    assert list(reviews) == ["train", "test", "unsupervised"]
    assert reviews["train"].features["text"].dtype == "string"
    table = data.describe_corpus(reviews)
    assert table["reviews"].to_dict() == {"train": 2500, "test": 2500, "unsupervised": 5000}
    assert table.loc["unsupervised", ["negative", "positive", "unlabelled"]].tolist() == [
        0,
        0,
        5000,
    ]
    for split in ("train", "test"):  # exactly balanced: the generator alternates the labels
        assert table.loc[split, ["negative", "positive"]].tolist() == [1250, 1250]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_local_folder_in_hub_layout(tmp_path, fmt):
    folder = write_folder(tmp_path, fmt=fmt)
    reviews = data.load_reviews(str(folder), clean=False)
    assert {split: ds.num_rows for split, ds in reviews.items()} == {"train": 3, "test": 2}
    assert reviews["test"][1]["text"] == "A great movie.<br />Loved it."


def test_local_files_by_split(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in ROWS["train"]))
    reviews = data.load_reviews({"train": path}, clean=True)
    assert reviews["train"]["text"][0] == "A great movie. Loved it."


def test_config_source_uses_its_splits_and_sampling():
    config = get_config("embedded", verbose=False, max_reviews=50)
    reviews = data.load_reviews(config)
    assert {split: ds.num_rows for split, ds in reviews.items()} == {
        "train": 50,
        "unsupervised": 50,
        "test": 50,
    }
    again = data.load_reviews(config)
    assert reviews["train"]["text"] == again["train"]["text"]  # same seed, same sample
    other = data.load_reviews(config.replace(seed=1))
    assert reviews["train"]["text"] != other["train"]["text"]


def test_explicit_clean_wins_over_the_config():
    # Defect 2 of issue 20: with a RunConfig, seed= and clean= were silently replaced by the config's.
    config = get_config("embedded", verbose=False, max_reviews=200)
    assert config.clean_html and config.seed != 1
    cleaned = data.load_reviews(config)["train"]["text"]
    assert not any("<br" in t for t in cleaned)
    raw = data.load_reviews(config, clean=False)["train"]["text"]
    assert sum("<br" in t for t in raw) > 50


def test_explicit_seed_wins_over_the_config():
    config = get_config("embedded", verbose=False, max_reviews=200)
    cleaned = data.load_reviews(config)["train"]["text"]
    reseeded = data.load_reviews(config, seed=1)["train"]["text"]
    assert reseeded == data.load_reviews(config.replace(seed=1))["train"]["text"] != cleaned


def test_missing_split(tmp_path):
    folder = write_folder(tmp_path)
    with pytest.raises(
        DataError, match=r"\['unsupervised'\] not found.*available: \['train', 'test'\]"
    ):
        data.load_reviews(str(folder), splits=["train", "unsupervised"])


def test_misnamed_text_column_suggests_the_rename(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"review": ["good", "bad"], "label": [1, 0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no 'text' column.*rename_column\('review', 'text'\)"):
        data.load_reviews({"train": path})
    reviews = data.load_reviews({"train": path}, text_column="review")
    assert reviews["train"].column_names == ["text", "label"]


def test_none_text_is_named_by_row(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "ok", "label": 1}\n{"text": null, "label": 0}\n')
    with pytest.raises(DataError, match="row 1: text is NoneType"):
        data.load_reviews({"train": path})


def test_non_string_text(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": 12, "label": 1}\n{"text": 13, "label": 0}\n')
    with pytest.raises(DataError, match="no 'text' column|not str"):
        data.load_reviews({"train": path})


def test_empty_split():
    empty = datasets.Dataset.from_dict({"text": [], "label": []})
    with pytest.raises(DataError, match="'train' is empty"):
        data.validate_split(empty, "train")


@pytest.mark.parametrize(
    ("split", "labels", "ok"),
    [
        ("train", [0, 1, 2], False),
        ("train", [0, -1], False),
        ("unsupervised", [-1, -1], True),
        ("test", [1, 0], True),
    ],
)
def test_labels_must_be_binary_except_unsupervised(split, labels, ok):
    ds = datasets.Dataset.from_dict({"text": ["x"] * len(labels), "label": labels})
    if ok:
        data.validate_split(ds, split)
    else:
        with pytest.raises(DataError, match="outside"):
            data.validate_split(ds, split)


def test_missing_local_folder_and_single_file(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        data.load_reviews(str(tmp_path / "nope") + "/")
    single = tmp_path / "one.csv"
    single.write_text("text,label\na,1\n")
    with pytest.raises(DataError, match="single file"):
        data.load_reviews(str(single))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a<br /><br />b", "a b"),
        ("a<BR>b", "a b"),
        ("a<br/>  b ", "a b"),
        ("no tags", "no tags"),
    ],
)
def test_clean_text(raw, clean):
    assert data.clean_text(raw) == clean
    assert data.clean_text(raw, html=False) == " ".join(raw.split()) or "<" in raw


def test_statistics_on_known_corpus(tmp_path, embedded_tokenizer):
    reviews = data.load_reviews(str(write_folder(tmp_path)), clean=False)
    corpus = data.describe_corpus(reviews, train_splits=("train",))
    assert corpus[["reviews", "negative", "positive", "unlabelled"]].to_dict("index") == {
        "train": {"reviews": 3, "negative": 2, "positive": 1, "unlabelled": 0},
        "test": {"reviews": 2, "negative": 1, "positive": 1, "unlabelled": 0},
    }
    assert corpus["with_br"].tolist() == pytest.approx([1 / 3, 1 / 2])
    assert corpus["duplicate_rows"].tolist() == [2, 0]  # "Awful film." twice
    # the test review "A great movie.<br />Loved it." is the training one once cleaned
    assert corpus["in_training"].tolist() == [pd.NA, 1]
    assert "in_training" not in data.describe_corpus(reviews)
    table = data.length_table(reviews["train"], embedded_tokenizer)
    assert table["words"].tolist() == [5, 2, 2]
    assert table["chars"].tolist() == [35, 11, 11]
    # "awful film ." + [CLS] and [SEP]
    assert table["tokens"].tolist()[1] == 5


def test_tokenizer_is_fast_with_mask_token(embedded_tokenizer):
    assert embedded_tokenizer.is_fast and embedded_tokenizer.mask_token == "[MASK]"
    encoded = embedded_tokenizer("the movie was great")
    assert encoded.word_ids()[0] is None and encoded.word_ids()[1] == 0


def test_slow_tokenizer_is_refused(tmp_path):
    from transformers import DistilBertTokenizer

    DistilBertTokenizer(vocab_file=str(data.EMBEDDED_VOCAB)).save_pretrained(tmp_path / "slow")
    (tmp_path / "slow" / "tokenizer.json").unlink(missing_ok=True)
    import transformers

    original = transformers.AutoTokenizer.from_pretrained

    def slow(name, **kwargs):
        return original(name, use_fast=False, **kwargs)

    transformers.AutoTokenizer.from_pretrained, saved = slow, original
    try:
        with pytest.raises(DataError, match="slow .*word_ids"):
            data.load_tokenizer(str(tmp_path / "slow"))
    finally:
        transformers.AutoTokenizer.from_pretrained = saved


def test_figures_show_the_data(tmp_path, embedded_tokenizer):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reviews = data.load_reviews(str(write_folder(tmp_path)), clean=False)
    table = data.length_table(reviews["train"], embedded_tokenizer)
    hist, cdf = data.plot_lengths(table).axes
    assert sum(p.get_height() for p in hist.patches) == 3  # every review in one bar
    line = cdf.get_lines()[0]
    assert np.all(np.diff(line.get_ydata()) > 0) and line.get_ydata()[-1] == 1.0
    assert [text.get_text() for text in cdf.get_legend().get_texts()] == [
        "128 tokens: 100% fit",
        "512 tokens: 100% fit",
    ]
    plt.close("all")


# --------------------------------------------------------------------------- bad files (issue 13)
FULL = pd.DataFrame({"text": [f"Review {i} was fine." for i in range(6)], "label": [0, 1] * 3})


def write_frame(path, frame):
    """`frame` written as csv, parquet or jsonl, by the suffix of `path`."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize(("kind", "message"), [("empty", "empty"), ("rowless", "no rows")])
def test_an_empty_or_rowless_file_is_named_before_datasets_fails(
    tmp_path, fmt, split, kind, message
):
    good = write_frame(tmp_path / f"good.{fmt}", FULL)
    bad = tmp_path / f"{kind}.{fmt}"
    if kind == "empty":
        bad.write_text("")
    elif fmt == "jsonl":
        bad.write_text("\n\n")  # blank lines only
    else:
        write_frame(bad, FULL.iloc[:0])  # a header or a schema, no rows
    files = {"train": good, "test": good, split: bad}
    with pytest.raises(DataError, match=rf"split '{split}'.*{kind}\.{fmt}.*{message}"):
        data.load_reviews(files)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_column_missing_in_one_file_is_named(tmp_path, fmt, split):
    good = write_frame(tmp_path / f"good.{fmt}", FULL)
    partial = write_frame(tmp_path / f"partial.{fmt}", FULL[["text"]])
    files = {"train": good, "test": good, split: partial}
    with pytest.raises(DataError, match=rf"partial\.{fmt} \(split '{split}'\) lacks .*'label'"):
        data.load_reviews(files)


@pytest.mark.parametrize("text", ["", "<br /><br />", "  <BR>  "])
def test_texts_empty_after_cleaning_are_refused_at_load(tmp_path, text):
    good = write_frame(tmp_path / "good.jsonl", FULL)
    blank = write_frame(tmp_path / "blank.jsonl", FULL.assign(text=text))
    with pytest.raises(DataError, match="split 'train'.*no text left after cleaning"):
        data.load_reviews({"train": blank, "test": good})


def no_network(*args, **kwargs):
    raise AssertionError("network I/O")


def test_resolving_a_hub_id_does_no_network_io(monkeypatch):
    import socket

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert data._source_args("someone/reviews") == (("someone/reviews",), {})


def test_a_hub_dataset_that_cannot_be_loaded_is_named_with_the_fix(monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    # offline mode: `load_dataset` fails at once (ConnectionError) instead of retrying
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    message = r"'my_reviews' is not a local folder and could not be loaded .*HF_HUB_OFFLINE.*'\./my_reviews'"
    with pytest.raises(DataError, match=message):
        data.load_reviews("my_reviews")


def test_validate_split_reads_in_batches_and_names_the_row(monkeypatch):
    """A split is checked READ_BATCH rows at a time; a bad text in a later batch is still named
    by its row in the split, and labels of every batch are checked."""
    import datasets

    monkeypatch.setattr(data, "READ_BATCH", 4)
    texts = [f"review {i}" for i in range(10)]
    good = datasets.Dataset.from_dict({"text": texts, "label": [0, 1] * 5})
    data.validate_split(good, "train")
    bad_text = datasets.Dataset.from_dict({"text": texts[:9] + [None], "label": [0] * 10})
    with pytest.raises(data.DataError, match=r"row 9: text is NoneType"):
        data.validate_split(bad_text, "train")
    bad_label = datasets.Dataset.from_dict({"text": texts, "label": [0] * 9 + [2]})
    with pytest.raises(data.DataError, match=r"labels \[2\]"):
        data.validate_split(bad_label, "train")
    empty = datasets.Dataset.from_dict({"text": ["<br />"] * 10})
    with pytest.raises(data.DataError, match="all 10 texts are empty"):
        data.validate_split(empty, "train")
