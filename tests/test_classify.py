"""Notebook 07's classifier (`mlm_helpers.classify`) and ``python -m mlm_helpers classify``: both
encoders trained alike from what the run records, classification.json and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlm_helpers import classify, cli, experiment, run_folder, runtime
from mlm_helpers.config import SCRATCH, ClassifySettings, embedded_profile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def general_folder(tmp_path_factory, embedded_tokenizer, make_tiny_mlm):
    """A tiny 'general' model in Hub format, with the shipped tokenizer."""
    folder = tmp_path_factory.mktemp("general")
    make_tiny_mlm(embedded_tokenizer, seed=1).save_pretrained(folder)
    embedded_tokenizer.save_pretrained(folder)
    return folder


def recorded_run(runs_dir: Path, name: str, general: Path, **changes) -> Path:
    """A run folder with its records (config.json, history.json) adapted from `general`, not yet
    finished: tiny data (120 reviews a split, chunks of 32 tokens)."""
    config = embedded_profile(
        runs_dir=str(runs_dir), run_name=name, model=str(general), chunk_size=32, max_reviews=120
    ).replace(**changes)
    config.save(config.run_dir / run_folder.CONFIG_FILE)
    run_folder.write_json_atomic(config.run_dir / run_folder.HISTORY_FILE, {})
    return config.run_dir


def finished_run(runs_dir: Path, name: str, general: Path, *, perturb: float = 0.0) -> Path:
    """A run folder as training leaves it (records, model/, all_results.json); its model is the
    general one, its weights moved by `perturb` when given."""
    run_dir = recorded_run(runs_dir, name, general)
    shutil.copytree(general, run_folder.model_dir(run_dir))
    if perturb:
        from transformers import TFAutoModelForMaskedLM

        model = TFAutoModelForMaskedLM.from_pretrained(general, use_safetensors=False)
        rng = np.random.default_rng(0)
        model.set_weights([w + perturb * rng.standard_normal(w.shape) for w in model.weights])
        model.save_pretrained(run_folder.model_dir(run_dir))
    results = {"global_step": 1, "precision": "float32", "jit_compile": False}
    run_folder.write_json_atomic(run_dir / run_folder.RESULTS_FILE, results)
    return run_dir


def tiny_budget(**changes) -> ClassifySettings:
    return ClassifySettings.for_profile(
        "embedded",
        **{"sizes": (8, None), "seeds": (0, 1), "test_reviews": 40, "min_steps": 6, "epochs": 1.0}
        | changes,
    )


# ----------------------------------------------------------------------------------- the run
def test_a_run_folder_without_a_model_is_refused(tmp_path, general_folder):
    run_dir = recorded_run(tmp_path, "untrained", general_folder)
    with pytest.raises(FileNotFoundError) as err:
        classify.encoder_sources(run_dir)
    assert str(run_dir) in str(err.value) and "notebook 04" in str(err.value)
    scratch = finished_run(tmp_path, "scratch", general_folder)
    embedded_profile(run_name="scratch", model=SCRATCH).save(scratch / run_folder.CONFIG_FILE)
    with pytest.raises(ValueError, match="no general model"):
        classify.encoder_sources(scratch)


def test_the_general_model_is_the_one_the_run_started_from(tmp_path, general_folder):
    run_dir = finished_run(tmp_path, "from", general_folder)
    assert classify.encoder_sources(run_folder.load_run(run_dir)) == {
        "general": str(general_folder),
        "adapted": str(run_folder.model_dir(run_dir)),
    }


def test_an_unlabelled_training_split_is_refused_before_any_training(tmp_path, general_folder):
    run_dir = recorded_run(tmp_path, "unlabelled", general_folder, max_reviews=50)
    with pytest.raises(ValueError, match=r"split 'unsupervised' has no labelled reviews"):
        classify.prepare_labelled(run_dir, tiny_budget(train_split="unsupervised"))


def test_the_data_are_the_runs(tmp_path, general_folder):
    """Dataset, chunk length and seed come from the run's config.json, not from a notebook's."""
    data = classify.prepare_labelled(recorded_run(tmp_path, "data", general_folder), tiny_budget())
    assert data.max_length == 32 and data.train["input_ids"].shape == (120, 32)
    other = recorded_run(tmp_path, "longer", general_folder, chunk_size=48, max_reviews=60)
    assert classify.prepare_labelled(other, tiny_budget()).train["input_ids"].shape == (60, 48)


# ----------------------------------------------------------------------------------- training
@pytest.mark.parametrize("fine_tune_encoder", [False, True])
def test_same_encoder_gives_the_same_accuracy_and_another_one_does_not(
    tmp_path, general_folder, fine_tune_encoder
):
    """Both encoders get the same reviews, head, batches, dropout and steps: with the same weights
    the accuracies agree run by run; with other weights (the control) they do not."""
    budget = tiny_budget(fine_tune_encoder=fine_tune_encoder)
    if fine_tune_encoder:  # every step runs the encoder: keep it short
        budget = tiny_budget(fine_tune_encoder=True, min_steps=3, epochs=0.2)
    run_dir = finished_run(tmp_path, "same", general_folder)
    data = classify.prepare_labelled(run_dir, budget)
    result = classify.learning_curve(run_dir, budget, data=data, verbose=False)
    available = result.train_available
    assert {(r["size"], r["seed"]) for r in result.runs} == {
        (8, 0),
        (8, 1),
        (available, 0),
        (available, 1),
    }
    by_run = {(r["encoder"], r["size"], r["seed"]): r for r in result.runs}
    for (_, size, seed), record in by_run.items():
        other = by_run[("adapted", size, seed)]
        assert record["steps"] == other["steps"] == experiment.budget_steps(size, budget)
        assert record["final_loss"] == other["final_loss"], (size, seed)
        assert record["accuracy"] == other["accuracy"], (size, seed)
    # The control: an encoder with other weights, everything else equal, ends elsewhere.
    moved = finished_run(tmp_path, "moved", general_folder, perturb=0.5)
    control = classify.learning_curve(moved, budget, data=data, verbose=False)
    loss = {
        e: [r["final_loss"] for r in control.runs if r["encoder"] == e]
        for e in ("general", "adapted")
    }
    assert loss["general"] == [r["final_loss"] for r in result.runs if r["encoder"] == "general"]
    assert all(a != g for a, g in zip(loss["adapted"], loss["general"], strict=True))


def test_accuracy_by_cue_splits_the_test_reviews_by_their_cue(tmp_path, general_folder):
    """On the embedded corpus every record also scores each group of test reviews (everyday words,
    both, idioms only; `data.review_cues`): the groups' accuracies, weighted by their sizes, are the
    accuracy on all of them."""
    budget = tiny_budget(test_reviews=120)
    run_dir = finished_run(tmp_path, "cues", general_folder, perturb=0.5)
    data = classify.prepare_labelled(run_dir, budget)
    counts = {cue: int((data.test_cues == cue).sum()) for cue in experiment.CUES}
    assert sum(counts.values()) == 120 and all(counts.values()), counts
    result = classify.learning_curve(run_dir, budget, data=data, verbose=False)
    for record in result.runs:
        by_cue = record["accuracy_by_cue"]
        assert set(by_cue) == set(experiment.CUES)
        weighted = sum(by_cue[c] * counts[c] for c in by_cue) / 120
        assert weighted == pytest.approx(record["accuracy"]), record
    table = result.cue_markdown()
    assert table.count("| 8 |") == 3 and "the domain's idioms only" in table


def test_the_experiment_leaves_the_global_seed_alone(general_folder):
    """A user's `tf.random.set_seed` still decides their random numbers after a classifier run."""
    tf = runtime.import_tensorflow()
    trainer = classify.ClassifierTrainer(
        str(general_folder), learning_rate=1e-3, fine_tune_encoder=True
    )
    tf.random.set_seed(7)
    expected = tf.random.uniform([4]).numpy()
    tf.random.set_seed(7)
    trainer.reset(None, seed=0)
    assert np.array_equal(tf.random.uniform([4]).numpy(), expected)


@pytest.mark.parametrize(
    ("precision", "jit", "fine_tune"),
    [("mixed_bfloat16", True, False), ("mixed_float16", False, True)],
)
def test_the_hardware_is_the_runs(tmp_path, general_folder, monkeypatch, precision, jit, fine_tune):
    """Precision and XLA come from the run's all_results.json, not from this machine; the
    encoder is built (and fine-tuned, float16 with a loss scale) under the run's precision."""
    run_dir = finished_run(tmp_path, "hardware", general_folder)
    results = run_folder.read_json(run_dir / run_folder.RESULTS_FILE)
    results.update(precision=precision, jit_compile=jit)
    run_folder.write_json_atomic(run_dir / run_folder.RESULTS_FILE, results)
    built = {}

    class Recording(classify.ClassifierTrainer):
        def __init__(self, source, **kwargs):
            built.update(kwargs)
            super().__init__(source, **kwargs)
            built["compute"] = self.encoder_model.layers[0].compute_dtype

    monkeypatch.setattr(classify, "ClassifierTrainer", Recording)
    budget = tiny_budget(sizes=(8,), seeds=(0,), test_reviews=8, min_steps=2, epochs=0.1)
    budget = ClassifySettings(**{**budget.to_dict(), "fine_tune_encoder": fine_tune})
    result = classify.learning_curve(run_dir, budget, verbose=False)
    assert (built["precision"], built["jit_compile"]) == (precision, jit)
    assert built["compute"] == precision.removeprefix("mixed_")
    assert all(np.isfinite(r["final_loss"]) for r in result.runs)


def test_results_round_trip_and_match_the_documented_contract(tmp_path, general_folder):
    run_dir = finished_run(tmp_path, "contract", general_folder)
    result = classify.learning_curve(run_dir, tiny_budget(), verbose=False)
    path = result.save(run_dir)
    assert path == run_dir / run_folder.CLASSIFICATION_FILE
    assert experiment.read_results(run_dir) == json_round_trip(result)
    saved = run_folder.read_json(path)
    assert tuple(saved) == experiment.RESULT_KEYS
    assert saved["test_reviews"] == 40 and saved["settings"]["sizes"] == [8, None]
    assert len(saved["runs"]) == 2 * 2 * 2 and all(0 <= r["accuracy"] <= 1 for r in saved["runs"])
    # the example in docs/run-folder.md has the same keys, and so has its summary row
    docs = (ROOT / "docs" / "run-folder.md").read_text(encoding="utf-8")
    section = docs[docs.index("## classification.json") :]
    block = section[section.index("```json") + 7 : section.index("```\n", 8)]
    example = json.loads(block.replace(", ...", ""))  # "..." marks records left out
    assert tuple(example) == experiment.RESULT_KEYS
    assert set(example["summary"][0]) == set(saved["summary"][0])
    assert set(example["runs"][0]) == set(saved["runs"][0])
    assert set(example["settings"]) == set(saved["settings"])


def json_round_trip(result: experiment.CurveResult) -> experiment.CurveResult:
    return experiment.CurveResult.from_dict(json.loads(json.dumps(result.to_dict())))


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


# ----------------------------------------------------------------------------------- CLI
def cli_args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return [
        "classify",
        "--profile",
        "embedded",
        "--runs-dir",
        str(tmp_path),
        "--run-name",
        name,
        "--option",
        "test_reviews=20",
        "--option",
        "min_steps=4",
        "--quiet",
        *extra,
    ]


def test_cli_writes_the_results_into_the_run_folder(tmp_path, general_folder, capsys):
    run_dir = finished_run(tmp_path, "cli", general_folder)
    code = cli.main(cli_args(tmp_path, "cli", "--sizes", "8,all", "--seeds", "3"))
    assert code == 0
    assert capsys.readouterr().out.strip() == str(run_dir / run_folder.CLASSIFICATION_FILE)
    saved = experiment.read_results(run_dir)
    assert saved.settings.seeds == (3,) and saved.settings.sizes == (8, None)
    assert {r["size"] for r in saved.runs} == {8, saved.train_available}
    assert saved.encoders["general"] == str(general_folder)  # the run's, not the profile's model


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
    assert cli.main(cli_args(tmp_path, "bad", *extra)) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad" / run_folder.CLASSIFICATION_FILE).exists()


@pytest.mark.parametrize("recorded", [False, True])
def test_cli_refuses_a_run_folder_without_a_model(tmp_path, general_folder, capsys, recorded):
    if recorded:  # records but no model: an unfinished run
        recorded_run(tmp_path, "nothing", general_folder)
    assert cli.main(cli_args(tmp_path, "nothing")) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert ("holds no finished run" if recorded else "does not exist") in err
    assert "python -m mlm_helpers train" in err
