"""Your own corpus, first class (issue 25, point 2) and every check before any work (point 3):
text files, the text column, a held-out split made by content hash, provenance, and the preflight
checks of `mlm_helpers.preflight` that refuse a run before it prepares data or writes a file."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_runs import tiny_config

from mlm_helpers import cli, data, preflight, runtime
from mlm_helpers.config import RunConfig, embedded_profile
from mlm_helpers.data import DataError
from mlm_helpers.runs import open_run

PARAGRAPHS = "The first paragraph of my text.\n\nThe second paragraph, after a blank line.\n"


@pytest.fixture
def txt_folder(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(PARAGRAPHS)
    (folder / "b.txt").write_text("Another document.\nIts second line.\n")
    return folder


def test_a_txt_file_is_one_text_in_a_folder_and_in_a_split_dict(txt_folder):
    # Why: a folder of .txt loaded as one row per line (an empty one among them); the
    # {split: files} form refused .txt.
    files = sorted(str(p) for p in txt_folder.glob("*.txt"))
    for source in (str(txt_folder), {"train": files}):
        texts = sorted(data.load_raw(source)["train"]["text"])
        assert texts == sorted([PARAGRAPHS, "Another document.\nIts second line.\n"])
        lines = data.load_raw(source, text_per_line=True)["train"]["text"]
        assert sorted(lines) == sorted(
            [
                "The first paragraph of my text.",
                "The second paragraph, after a blank line.",
                "Another document.",
                "Its second line.",
            ]
        )  # one per non-blank line, only when asked


def test_the_text_column_is_a_run_setting_and_a_flag(tmp_path):
    # Why: the fix offered was text_column='review', which RunConfig and the CLI did not have.
    path = tmp_path / "mine.csv"
    path.write_text("review,stars\nA fine text about tea.,1\nAnother one about coffee.,0\n")
    config = RunConfig(dataset={"train": str(path)}, text_column="review", label_column="stars")
    reviews = data.load_reviews(config, splits=["train"])
    assert reviews["train"]["text"] == ["A fine text about tea.", "Another one about coffee."]
    assert reviews["train"]["label"] == [1, 0]
    line = ["classify", "--text-column", "review", "--label-column", "stars", "--quiet"]
    chosen = cli.config_from_args(cli.build_parser().parse_args(line))
    assert (chosen.text_column, chosen.label_column) == ("review", "stars")


def test_a_corpus_without_an_eval_split_is_told_how_to_hold_one_out(txt_folder):
    # Why: "split(s) ['test'] not found" gave no hint, and there was no option to hold out.
    config = RunConfig(dataset=str(txt_folder), train_splits=("train",))
    with pytest.raises(DataError, match=r"held_out_share=0\.1"):
        data.load_reviews(config)


def test_held_out_share_holds_out_by_content_hash(capsys, monkeypatch):
    monkeypatch.setattr(data, "_NOTICES_SHOWN", set(), raising=False)  # as in a fresh process
    config = embedded_profile(train_splits=("unsupervised",), eval_split="dev", held_out_share=0.2)
    reviews = data.load_reviews(config)
    kept, held = reviews["unsupervised"].num_rows, reviews["dev"].num_rows
    assert kept + held == 5_000 and 0.15 < held / 5_000 < 0.25
    assert data.held_out_overlap(reviews, ["unsupervised"], "dev") == []  # disjoint in content
    again = data.load_reviews(config)
    assert again["dev"]["text"] == reviews["dev"]["text"]  # reproducible, no seed needed
    # The notice is on stdout (not the red of stderr) and said once, not at every load.
    captured = capsys.readouterr()
    assert captured.out.count(f"Held out: 'dev' is {held:,} of the 5,000 texts") == 1
    assert "Held out" not in captured.err
    with pytest.raises(DataError, match="already has a 'test' split"):
        data.load_reviews(embedded_profile(held_out_share=0.2))  # never silently ignored


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=1), min_size=2, max_size=40), st.randoms())
def test_the_held_out_rows_do_not_depend_on_row_order(texts, random):
    import datasets

    texts = [t for t in texts if data.clean_text(t)]
    shuffled = random.sample(texts, len(texts))
    try:
        _, held = data.split_by_hash(datasets.Dataset.from_dict({"text": texts}), 0.5)
        _, again = data.split_by_hash(datasets.Dataset.from_dict({"text": shuffled}), 0.5)
    except DataError:  # every text on one side: refused whatever the order
        with pytest.raises(DataError):
            data.split_by_hash(datasets.Dataset.from_dict({"text": shuffled}), 0.5)
        return
    assert sorted(held["text"]) == sorted(again["text"])


def test_a_split_dict_is_recorded_and_read_back(tmp_path):
    config = RunConfig(
        dataset={"train": [str(tmp_path / "a.txt")], "test": str(tmp_path / "b.txt")}
    )
    assert config.to_dict()["dataset"] == {
        "train": [str(tmp_path / "a.txt")],
        "test": [str(tmp_path / "b.txt")],
    }
    path = config.save(tmp_path / "config.json")
    assert RunConfig.load(path).to_dict() == config.to_dict()


def test_the_card_of_a_split_dict_run_names_its_files(tmp_path, saved_model_dir):
    # Why: a dict dataset made write_model_card crash (TypeError ... not dict).
    from hub_runs import make_run

    from mlm_helpers.model_card import write_model_card

    files = {"train": [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], "test": "c.txt"}
    config = embedded_profile(run_name="mine", dataset=files)
    readme = write_model_card(make_run(tmp_path / "runs", config, saved_model_dir))
    text = readme.read_text()
    assert "the local files train: a.txt, b.txt; test: c.txt" in text
    assert "imdb-mini" not in text.split("## Intended uses")[0]  # not the shipped corpus


def test_a_run_saved_before_the_new_fields_is_the_same_configuration():
    from mlm_helpers.run_folder import config_differences

    config = embedded_profile()
    old = {k: v for k, v in config.to_dict().items() if k not in ("text_column", "language")}
    assert config_differences(old, config) == {}
    assert "language" in config_differences(old, config.replace(language="de"))


def test_chunks_prepared_from_another_dataset_are_refused(tmp_path, embedded_tokenizer):
    # Why: passing chunks= left dataset="embedded" in config.json, and the card named imdb-mini.
    from mlm_helpers.chunking import prepare_chunks
    from mlm_helpers.training import prepare_data

    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(40):
        (folder / f"train-{i}.txt").write_text(
            f"My own text number {i} is about tea and cakes. " * 8
        )
    for i in range(10):
        (folder / f"test-{i}.txt").write_text(f"A held out text {i} about coffee and bread. " * 8)
    mine = tiny_config(tmp_path, dataset=str(folder), train_splits=("train",))
    chunks = prepare_chunks(mine, embedded_tokenizer)
    prepare_data(mine, tokenizer=embedded_tokenizer, chunks=chunks)  # the same dataset: fine
    with pytest.raises(ValueError, match=r"prepared from the dataset .*mine.* RunConfig\.dataset"):
        prepare_data(tiny_config(tmp_path), tokenizer=embedded_tokenizer, chunks=chunks)
    reviews = data.load_reviews(
        {"train": str(folder / "train-0.txt"), "test": str(folder / "test-0.txt")}
    )
    given = prepare_chunks(
        tiny_config(tmp_path, chunk_size=8, train_chunks=4, eval_chunks=2, train_splits=("train",)),
        embedded_tokenizer,
        reviews,
    )  # reviews loaded elsewhere, passed in
    with pytest.raises(ValueError, match=r"prepared from the dataset \{'train'"):
        prepare_data(tiny_config(tmp_path), tokenizer=embedded_tokenizer, chunks=given)


# ------------------------------------------------------------------------- preflight (point 3)
def _refused_before_any_work(config, error, match: str) -> None:
    """`open_run(config)` raises `error` matching `match`, and the run folder was never made."""
    with pytest.raises(error, match=match):
        open_run(config, mode="train", verbose=0)
    assert not config.run_dir.exists()


def test_chunk_size_is_checked_against_any_models_positions(tmp_path):
    # Why: a local model with 64 positions and chunks of 128 died in a raw TF traceback after
    # writing config.json and logs/ (on a GPU it would have trained on zeros).
    from other_models import model_folder

    folder = model_folder("bert", tmp_path / "bert-64")
    config = tiny_config(tmp_path / "runs", model=str(folder), chunk_size=128)
    _refused_before_any_work(config, ValueError, r"chunk_size=128 is larger than the 64 positions")


def test_roberta_positions_start_after_the_padding_id(tmp_path):
    from transformers import RobertaConfig

    model = RobertaConfig(max_position_embeddings=66, pad_token_id=1)
    assert preflight.max_positions(model) == 64


def test_a_prompt_without_the_mask_is_refused_before_any_work(tmp_path):
    config = tiny_config(tmp_path, fill_mask_prompts=("a great film.",))
    _refused_before_any_work(config, ValueError, r"prompt 'a great film\.' has no \[MASK\]")


def test_each_split_field_is_blamed_for_its_own_empty_name():
    # Why: an empty name was blamed on the other split field.
    with pytest.raises(ValueError, match=r"^RunConfig\.eval_split=''"):
        RunConfig(eval_split="")
    with pytest.raises(ValueError, match=r"^RunConfig\.train_splits=\('',\)"):
        RunConfig(train_splits=("",))


def test_splits_the_corpus_lacks_are_refused_before_any_work(tmp_path, txt_folder):
    config = tiny_config(tmp_path, dataset=str(txt_folder), train_splits=("train",))
    _refused_before_any_work(config, DataError, r"split\(s\) \['test'\] not found.*held_out_share")


def test_an_empty_dataset_name_is_refused_by_name():
    # Why: datasets said "dataset_name should be specified but got None".
    with pytest.raises(ValueError, match=r"RunConfig\.dataset='' is invalid"):
        RunConfig(dataset="")


def test_a_width_the_heads_do_not_divide_gets_a_message(tmp_path):
    # Why: tiny_model.dim=63 gave a bare AssertionError from inside the model build.
    config = tiny_config(tmp_path, tiny_model={**tiny_config(tmp_path).tiny_model, "dim": 63})
    _refused_before_any_work(config, ValueError, r"dim=63 is not a multiple of n_heads=2")


def test_an_unknown_model_offline_is_refused_at_once(tmp_path, monkeypatch):
    # Why: someone/some-model offline took 51 s of retries.
    monkeypatch.setattr(runtime, "hub_reachable", lambda timeout=2.0: False)
    config = tiny_config(tmp_path, model="someone/some-model")
    start = time.monotonic()
    _refused_before_any_work(config, ValueError, r"'someone/some-model' is not a local folder and")
    assert time.monotonic() - start < 5


def test_an_explicit_profile_wins_over_the_environment(monkeypatch, capsys):
    # Why: MLM_PROFILE=hub silently overrode an explicit --profile embedded.
    monkeypatch.setenv("MLM_PROFILE", "hub")
    args = cli.build_parser().parse_args(["train", "--profile", "embedded"])
    assert cli.config_from_args(args).profile == "embedded"
    assert "from --profile, which wins over $MLM_PROFILE=hub" in capsys.readouterr().out
    default = cli.build_parser().parse_args(["train"])  # no --profile: the environment decides
    assert cli.config_from_args(default).profile == "hub"
    assert "from $MLM_PROFILE" in capsys.readouterr().out


def test_a_side_file_next_to_data_is_not_a_data_file(tmp_path):
    # Why: the embedded corpus keeps cues.json beside its data/ folder (Hub layout: the data files
    # are under data/); the mixed-format check counted it as data and refused the corpus.
    folder = tmp_path / "corpus"
    (folder / "data").mkdir(parents=True)
    for split, text in (("train", "a training review."), ("test", "a held-out review.")):
        (folder / "data" / f"{split}-00000-of-00001.csv").write_text(f"text,label\n{text},1\n")
    (folder / "notes.json").write_text('{"what": "side information, not a split"}\n')
    raw = data.load_raw(str(folder))
    assert {split: raw[split]["text"] for split in raw} == {
        "train": ["a training review."],
        "test": ["a held-out review."],
    }
