"""Notebook 07's experiment (`mlm_helpers.classify`) and ``python -m mlm_helpers classify``: the
sampling, the equal budget, the bad inputs, classification.json and the command line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlm_helpers import classify, cli, run_folder
from mlm_helpers.config import SCRATCH, embedded_profile

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------- sampling
@st.composite
def labels_and_size(draw):
    negatives = draw(st.integers(1, 60))
    positives = draw(st.integers(1, 60))
    labels = np.array([0] * negatives + [1] * positives)
    labels = labels[np.random.default_rng(draw(st.integers(0, 99))).permutation(labels.size)]
    return labels, draw(st.integers(2, labels.size)), draw(st.integers(0, 2**31))


@given(labels_and_size())
@settings(max_examples=200, deadline=None)
def test_sample_is_stratified_distinct_and_reproducible(case):
    labels, size, seed = case
    chosen = classify.sample_labelled(labels, size, seed)
    assert chosen.size == size and np.unique(chosen).size == size
    assert chosen.min() >= 0 and chosen.max() < labels.size
    counts = np.bincount(labels[chosen], minlength=2)
    shares = size * np.bincount(labels, minlength=2) / labels.size
    assert (counts >= 1).all(), "both classes are in every sample"
    assert (np.abs(counts - shares) < 1).all(), (counts, shares)
    assert np.array_equal(chosen, classify.sample_labelled(labels, size, seed))


def test_samples_differ_across_seeds_and_sizes():
    labels = np.arange(1000) % 2
    draws = {seed: set(classify.sample_labelled(labels, 50, seed)) for seed in range(3)}
    assert draws[0] != draws[1] != draws[2] != draws[0]
    assert np.bincount(labels[list(draws[0])]).tolist() == [25, 25]
    assert set(classify.sample_labelled(labels, 60, 0)) != draws[0] | set()


@given(st.integers(2, 50), st.integers(1, 40), st.integers(1, 9), st.integers(0, 99))
@settings(max_examples=100, deadline=None)
def test_batches_are_full_passes_over_the_sample(size, steps, batch_size, seed):
    indices = np.random.default_rng(seed).choice(1000, size, replace=False)
    batches = classify.batch_order(indices, steps, batch_size, seed)
    assert batches.shape == (steps, batch_size)
    flat = batches.ravel()
    assert set(flat) <= set(indices)
    seen = np.array([np.sum(flat == i) for i in indices])
    assert seen.max() - seen.min() <= 1, "every review is seen once per pass"
    for start in range(0, flat.size - size + 1, size):  # each complete pass is a permutation
        assert sorted(flat[start : start + size]) == sorted(indices)


@given(st.integers(2, 100_000), st.integers(1, 64), st.floats(0.1, 20), st.integers(1, 500))
def test_steps_cover_the_epochs_and_the_floor(size, batch_size, epochs, min_steps):
    budget = classify.ClassifySettings.for_profile(
        "embedded", batch_size=batch_size, epochs=epochs, min_steps=min_steps
    )
    steps = classify.budget_steps(size, budget)
    assert steps >= min_steps and steps * batch_size >= epochs * size
    assert steps == min_steps or (steps - 1) * batch_size < epochs * size


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "has no 'label' column"),
        ([-1, -1, -1], "no labelled reviews (all 3 labels are -1"),
        ([0, 1, -1], "mixes unlabelled reviews"),
        ([1, 1, 1, 1], "a single class (every label is 1)"),
    ],
)
def test_labels_that_cannot_train_a_classifier_are_refused(labels, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        classify.check_labels(labels, "somesplit")
    assert "'somesplit'" in str(err.value) and "'train'" in str(err.value)


def test_both_classes_pass():
    assert classify.check_labels([0, 1, 1], "train").tolist() == [0, 1, 1]


def test_n_larger_than_the_split_names_both():
    assert classify.resolve_size(None, 120, "train") == 120
    assert classify.resolve_size(120, 120, "train") == 120
    with pytest.raises(ValueError, match=r"N=121 .* split 'train' has only 120"):
        classify.resolve_size(121, 120, "train")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sizes": (1,)}, "size 1 is not a number"),
        ({"sizes": (8, 8)}, "repeat"),
        ({"seeds": (0, 0)}, "repeat"),
        ({"seeds": ()}, "at least one"),
        ({"learning_rate": float("nan")}, "learning_rate=nan"),
        ({"test_split": "train"}, "must be held out"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        classify.ClassifySettings.for_profile("embedded", **changes)


def test_a_run_folder_without_a_model_is_refused(tmp_path):
    config = embedded_profile(runs_dir=str(tmp_path), run_name="untrained")
    (tmp_path / "untrained").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        classify.encoder_sources(config)
    assert str(tmp_path / "untrained") in str(err.value) and "notebook 04" in str(err.value)
    with pytest.raises(ValueError, match="no general model"):
        classify.encoder_sources(config.replace(model=SCRATCH))


def test_an_unlabelled_training_split_is_refused_before_any_training(tmp_path):
    config = embedded_profile(runs_dir=str(tmp_path), max_reviews=50)
    budget = classify.ClassifySettings.for_profile("embedded", train_split="unsupervised")
    with pytest.raises(ValueError, match=r"split 'unsupervised' has no labelled reviews"):
        classify.prepare_labelled(config, budget)


# ----------------------------------------------------------------------------------- experiment
@pytest.fixture(scope="module")
def general_folder(tmp_path_factory, embedded_tokenizer, make_tiny_mlm):
    """A tiny 'general' model in Hub format, with the shipped tokenizer."""
    folder = tmp_path_factory.mktemp("general")
    make_tiny_mlm(embedded_tokenizer, seed=1).save_pretrained(folder)
    embedded_tokenizer.save_pretrained(folder)
    return folder


def finished_run(runs_dir: Path, name: str, general: Path, *, perturb: float = 0.0) -> Path:
    """A run folder as training leaves it (model/ and all_results.json); its model is the general
    one, its weights moved by `perturb` when given."""
    run_dir = runs_dir / name
    shutil.copytree(general, run_folder.model_dir(run_dir))
    if perturb:
        from transformers import TFAutoModelForMaskedLM

        model = TFAutoModelForMaskedLM.from_pretrained(general)
        rng = np.random.default_rng(0)
        model.set_weights([w + perturb * rng.standard_normal(w.shape) for w in model.weights])
        model.save_pretrained(run_folder.model_dir(run_dir))
    run_folder.write_json_atomic(run_dir / run_folder.RESULTS_FILE, {"global_step": 1})
    return run_dir


def tiny(tmp_path: Path, general: Path, name: str):
    config = embedded_profile(
        runs_dir=str(tmp_path), run_name=name, model=str(general), chunk_size=32, max_reviews=120
    )
    budget = classify.ClassifySettings.for_profile(
        "embedded", sizes=(8, None), seeds=(0, 1), test_reviews=40, min_steps=6, epochs=1.0
    )
    return config, budget


@pytest.mark.parametrize("fine_tune_encoder", [False, True])
def test_same_encoder_gives_the_same_accuracy_and_another_one_does_not(
    tmp_path, general_folder, fine_tune_encoder
):
    """Both encoders get the same reviews, head, batches and steps: with the same weights the
    accuracies agree run by run; with other weights (the control) they do not."""
    from mlm_helpers import runtime

    runtime.seed_everything(0, tensorflow=True)
    config, budget = tiny(tmp_path, general_folder, "same")
    budget = classify.ClassifySettings(
        **{**budget.to_dict(), "fine_tune_encoder": fine_tune_encoder}
    )
    if fine_tune_encoder:  # every step runs the encoder: keep it short
        budget = classify.ClassifySettings(**{**budget.to_dict(), "min_steps": 3, "epochs": 0.2})
    finished_run(tmp_path, "same", general_folder)
    data = classify.prepare_labelled(config, budget)
    result = classify.learning_curve(config, budget, data=data, verbose=False)
    assert {(r["size"], r["seed"]) for r in result.runs} == {
        (8, 0),
        (8, 1),
        (result.train_available, 0),
        (result.train_available, 1),
    }
    by_run = {(r["encoder"], r["size"], r["seed"]): r for r in result.runs}
    for (_, size, seed), record in by_run.items():
        other = by_run[("adapted", size, seed)]
        assert record["steps"] == other["steps"] == classify.budget_steps(size, budget)
        assert record["final_loss"] == other["final_loss"], (size, seed)
        assert record["accuracy"] == other["accuracy"], (size, seed)
    # The control: an encoder with other weights, everything else equal, ends elsewhere.
    moved = finished_run(tmp_path, "moved", general_folder, perturb=0.5)
    control = classify.learning_curve(config, budget, run_dir=moved, data=data, verbose=False)
    loss = {
        e: [r["final_loss"] for r in control.runs if r["encoder"] == e]
        for e in ("general", "adapted")
    }
    assert loss["general"] == [r["final_loss"] for r in result.runs if r["encoder"] == "general"]
    assert all(a != g for a, g in zip(loss["adapted"], loss["general"], strict=True))


def test_results_round_trip_and_match_the_documented_contract(tmp_path, general_folder):
    config, budget = tiny(tmp_path, general_folder, "contract")
    run_dir = finished_run(tmp_path, "contract", general_folder)
    result = classify.learning_curve(config, budget, verbose=False)
    path = classify.write_results(result, run_dir)
    assert path == run_dir / run_folder.CLASSIFICATION_FILE
    saved = classify.read_results(run_dir)
    assert saved == json.loads(json.dumps(result.to_dict()))
    assert tuple(saved) == classify.RESULT_KEYS
    assert saved["test_reviews"] == 40 and saved["settings"]["sizes"] == [8, None]
    assert len(saved["runs"]) == 2 * 2 * 2 and all(0 <= r["accuracy"] <= 1 for r in saved["runs"])
    # the example in docs/run-folder.md has the same keys, and so has its summary row
    docs = (ROOT / "docs" / "run-folder.md").read_text(encoding="utf-8")
    section = docs[docs.index("## classification.json") :]
    block = section[section.index("```json") + 7 : section.index("```\n", 8)]
    example = json.loads(block.replace(", ...", ""))  # "..." marks records left out
    assert tuple(example) == classify.RESULT_KEYS
    assert set(example["summary"][0]) == set(saved["summary"][0])
    assert set(example["runs"][0]) == set(saved["runs"][0])
    assert set(example["settings"]) == set(saved["settings"])
    table = classify.results_table_markdown(saved)
    assert table.count("\n") == 2 + 1 and f"| {result.train_available} |" in table


def test_summary_and_gaps_from_runs():
    runs = [
        {"encoder": e, "size": n, "seed": s, "accuracy": a}
        for e, n, s, a in [
            ("adapted", 10, 0, 0.7),
            ("general", 10, 0, 0.5),
            ("general", 10, 1, 0.7),
            ("adapted", 10, 1, 0.9),
            ("general", 100, 0, 0.9),
            ("adapted", 100, 0, 0.9),
        ]
    ]
    summary = classify.summarize(runs)
    assert [(r["size"], r["encoder"]) for r in summary] == [
        (10, "general"),
        (10, "adapted"),
        (100, "general"),
        (100, "adapted"),
    ]
    assert summary[0]["mean"] == pytest.approx(0.6) and summary[0]["std"] == pytest.approx(
        0.1414, 1e-3
    )
    assert summary[2]["std"] == 0.0 and summary[2]["seeds"] == 1
    assert classify.gaps({"runs": runs}) == pytest.approx({10: 0.2, 100: 0.0})
    fig = classify.plot_learning_curve({"runs": runs})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["10", "100"]


def test_read_results_says_how_to_make_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 07"):
        classify.read_results(tmp_path)
    run_folder.write_json_atomic(tmp_path / run_folder.CLASSIFICATION_FILE, {"runs": []})
    with pytest.raises(ValueError, match="lacks"):
        classify.read_results(tmp_path)


# ----------------------------------------------------------------------------------- CLI
def cli_args(tmp_path: Path, general: Path, name: str, *extra: str) -> list[str]:
    return [
        "classify",
        "--profile",
        "embedded",
        "--runs-dir",
        str(tmp_path),
        "--run-name",
        name,
        "--set",
        f"model={general}",
        "--set",
        "chunk_size=32",
        "--set",
        "max_reviews=100",
        "--option",
        "test_reviews=20",
        "--option",
        "min_steps=4",
        "--quiet",
        *extra,
    ]


def test_cli_writes_the_results_into_the_run_folder(tmp_path, general_folder, capsys):
    run_dir = finished_run(tmp_path, "cli", general_folder)
    code = cli.main(cli_args(tmp_path, general_folder, "cli", "--sizes", "8,all", "--seeds", "3"))
    assert code == 0
    assert capsys.readouterr().out.strip() == str(run_dir / run_folder.CLASSIFICATION_FILE)
    saved = classify.read_results(run_dir)
    assert saved["settings"]["seeds"] == [3] and saved["settings"]["sizes"] == [8, None]
    assert {r["size"] for r in saved["runs"]} == {8, saved["train_available"]}


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--sizes", "8,5000"), cli.EXIT_USAGE, "N=5000 labelled reviews were asked for"),
        (("--sizes", "8,many"), cli.EXIT_USAGE, "'many' is not a whole number or 'all'"),
        (("--option", "train_split=unsupervised"), cli.EXIT_USAGE, "no labelled reviews"),
        (("--option", "colour=blue"), cli.EXIT_USAGE, "no field(s) ['colour']"),
    ],
)
def test_cli_refuses_bad_input(tmp_path, general_folder, capsys, extra, code, message):
    finished_run(tmp_path, "bad", general_folder)
    assert cli.main(cli_args(tmp_path, general_folder, "bad", *extra)) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad" / run_folder.CLASSIFICATION_FILE).exists()


def test_cli_refuses_a_run_folder_without_a_model(tmp_path, general_folder, capsys):
    assert cli.main(cli_args(tmp_path, general_folder, "nothing")) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "holds no finished run" in err and "python -m mlm_helpers train" in err


def test_an_adapted_model_of_another_architecture_is_refused(
    tmp_path, general_folder, embedded_tokenizer, make_tiny_mlm
):
    other = tmp_path / "two-layers"
    make_tiny_mlm(embedded_tokenizer, n_layers=2).save_pretrained(other)
    trainer = classify.ClassifierTrainer(
        str(general_folder), learning_rate=1e-3, fine_tune_encoder=False
    )
    assert len(trainer.encoder_weights(str(general_folder))) == len(trainer.encoder)
    with pytest.raises(ValueError, match="does not have the architecture of the general model"):
        trainer.encoder_weights(str(other))
