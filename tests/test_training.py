"""Tests of mlm_helpers.training and the command line: schedule, precision, strategy, fit, run
folder, resume, NaN handling and errors (notebook 04).

Runs use a one-layer DistilBERT of width 32 on 64 synthetic 32-token chunks (8 steps per epoch),
a few seconds each. Tests that need TensorFlow set up differently (two logical CPUs) or the command
line run in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import TINY_MODEL, tiny_config

from mlm_helpers import runtime
from mlm_helpers.cli import parse_overrides, parse_value
from mlm_helpers.config import SCRATCH, RunConfig, embedded_profile, get_config
from mlm_helpers.evaluation import DOMAIN_WORDS, fill_mask, masked_lm_loss
from mlm_helpers.hardware import Hardware, training_policies
from mlm_helpers.recorder import SimulatedDisconnect, interrupt_at
from mlm_helpers.run_folder import ResumeError
from mlm_helpers.runs import OpenedRun, open_run
from mlm_helpers.schedule import Schedule
from mlm_helpers.training import TrainingDiverged, build_model, make_optimizer, prepare_data

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chunks(embedded_tokenizer):
    """64 training and 16 held-out 32-token chunks of the embedded corpus."""
    from mlm_helpers.chunking import prepare_chunks

    config = tiny_config(Path("unused"), max_reviews=60)
    return prepare_chunks(config, embedded_tokenizer)


@pytest.fixture(autouse=True)
def _no_leaked_policies():
    """Every test starts and ends with float32 and legacy dropout randomness (nothing leaks)."""
    yield
    leaked = (
        keras.mixed_precision.global_policy().name,
        keras.backend.experimental.is_tf_random_generator_enabled(),
    )
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.experimental.disable_tf_random_generator()
    assert leaked == ("float32", False), f"a global Keras policy leaked: {leaked}"


def weights_of(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def without_timings(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_sec")} for r in records]


def last_record_per_step(steps: list[dict]) -> list[dict]:
    """What plotting makes of history.json: the last record of each step, in step order."""
    by_step = {r["step"]: r for r in steps}
    return [by_step[s] for s in sorted(by_step)]


# ------------------------------------------------------------------------------------ model
def test_mixed_float16_is_used_by_the_layers_and_the_loss_stays_float32(embedded_tokenizer):
    config = tiny_config(Path("unused"), precision="mixed_float16")
    with training_policies("mixed_float16"):
        model = build_model(config, embedded_tokenizer)
        optimizer = make_optimizer(config, Schedule.from_config(config, 8), "mixed_float16")
    dense = model.vocab_transform
    assert dense.compute_dtype == "float16" and dense.variable_dtype == "float32"
    assert dense.kernel.dtype == tf.float32
    assert isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)
    ids = np.random.default_rng(0).integers(5, len(embedded_tokenizer), (2, 32)).astype(np.int32)
    labels = np.where(np.arange(32) % 5 == 0, ids, -100).astype(np.int32)
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    assert model(inputs).logits.dtype == tf.float16
    loss_sum, count = masked_lm_loss(model, inputs, labels, training=True)
    assert loss_sum.dtype == tf.float32 and np.isfinite(float(loss_sum)) and float(count) > 0
    assert keras.mixed_precision.global_policy().name == "float32"  # restored on exit


def test_weight_decay_skips_layer_norm_and_biases(embedded_tokenizer):
    config = tiny_config(Path("unused"), weight_decay=0.5)
    with training_policies("float32"):
        model = build_model(config, embedded_tokenizer)
    optimizer = make_optimizer(config, Schedule(0.1, 0, 1, 1), "float32")  # one step at 0.1
    before = {v.name: v.numpy() for v in model.trainable_variables}
    zeros = [tf.zeros_like(v) for v in model.trainable_variables]  # Adam moves nothing: only decay
    optimizer.apply_gradients(zip(zeros, model.trainable_variables, strict=True))
    decayed = {
        v.name for v in model.trainable_variables if not np.allclose(v.numpy(), before[v.name])
    }
    names = set(before)
    exempt = {n for n in names if "layer_norm" in n.lower() or "LayerNorm" in n or "bias" in n}
    assert exempt and decayed == names - exempt


def test_model_from_a_local_folder_and_clear_errors_for_bad_paths(tmp_path, embedded_tokenizer):
    config = tiny_config(tmp_path)
    with training_policies("float32"):
        model = build_model(config, embedded_tokenizer)
        model.save_pretrained(tmp_path / "saved")
        loaded = build_model(config.replace(model=str(tmp_path / "saved")), embedded_tokenizer)
    for a, b in zip(weights_of(model), weights_of(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="model folder not found: .*nowhere"):
        build_model(config.replace(model=str(tmp_path / "nowhere")), embedded_tokenizer)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        build_model(config.replace(model=str(tmp_path / "empty")), embedded_tokenizer)


# ------------------------------------------------------------------------------------ data
def test_training_and_evaluation_rows_come_from_disjoint_splits(embedded_tokenizer):
    import datasets

    vocab = [t for t in embedded_tokenizer.get_vocab() if t.isalpha() and len(t) > 2]
    train_words, test_words = sorted(vocab)[:40], sorted(vocab)[-40:]
    rng = np.random.default_rng(0)

    def split(words, n):
        texts = [" ".join(rng.choice(words, 60)) for _ in range(n)]
        return datasets.Dataset.from_dict({"text": texts, "label": [0] * n})

    reviews = datasets.DatasetDict(
        {
            "train": split(train_words, 30),
            "unsupervised": split(train_words, 30),
            "test": split(test_words, 30),
        }
    )
    config = embedded_profile(chunk_size=32, batch_size=4, train_chunks=None, eval_chunks=None)
    _, data = prepare_data(config, tokenizer=embedded_tokenizer, reviews=reviews)
    ids_of = {
        name: set(embedded_tokenizer.convert_tokens_to_ids(words))
        for name, words in (("train", train_words), ("test", test_words))
    }
    train_ids = set(np.unique(data.train_arrays["input_ids"]).tolist())
    eval_ids = set(np.unique(data.eval_arrays["original_ids"]).tolist())
    assert train_ids & ids_of["train"] and not train_ids & ids_of["test"]
    assert eval_ids & ids_of["test"] and not eval_ids & ids_of["train"]
    with pytest.raises(ValueError, match="held out"):
        embedded_profile(eval_split="train")


# ------------------------------------------------------------------------------------ fine_tune
@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, embedded_tokenizer, chunks):
    """An uninterrupted 2-epoch run (shared by the tests that read a finished run folder)."""
    config = tiny_config(tmp_path_factory.mktemp("runs"), run_name="straight")
    return open_run(config, mode="train", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)


def test_run_folder_has_the_documented_files(straight_run):
    run_dir, config = straight_run.path, straight_run.run_config()
    assert json.loads((run_dir / "config.json").read_text()) == config.to_dict()
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["step"] for r in history["steps"]] == list(range(1, 17))
    assert set(history["steps"][0]) == {"step", "epoch", "loss", "learning_rate"}
    assert [r["epoch"] for r in history["steps"]] == [1] * 8 + [2] * 8
    assert [r["epoch"] for r in history["epochs"]] == [1, 2]
    assert [r["step"] for r in history["epochs"]] == [8, 16]
    for record in history["epochs"]:
        assert set(record) == {
            "epoch",
            "step",
            "train_loss",
            "eval_loss",
            "perplexity",
            "learning_rate",
            "tokens_per_sec",
            "seconds",
        }
        assert record["perplexity"] == pytest.approx(np.exp(record["eval_loss"]))
    first_epoch = [r["loss"] for r in history["steps"][:8]]
    assert history["epochs"][0]["train_loss"] == pytest.approx(np.mean(first_epoch), rel=0.05)

    results = json.loads((run_dir / "all_results.json").read_text())
    assert results["eval_loss_after"] < results["eval_loss_before"]
    assert results["eval_loss_after"] == pytest.approx(history["epochs"][-1]["eval_loss"])
    assert results["global_step"] == 16 and results["epochs_completed"] == 2
    assert (results["steps_per_epoch"], results["total_steps"], results["warmup_steps"]) == (
        8,
        16,
        2,
    )
    # The rates logged are those of the schedule object the optimizer was given.
    schedule = Schedule.from_config(config, results["steps_per_epoch"])
    np.testing.assert_array_equal([r["learning_rate"] for r in history["steps"]], schedule.curve())
    # The hardware policy follows the detected hardware; tiny runs hide GPUs (tiny_runs.py), so
    # here it is the CPU's: float32, no XLA, one replica.
    detected = Hardware.resolve(config).record()
    assert {name: results[name] for name in detected} == detected
    assert (
        results["precision"],
        results["jit_compile"],
        results["replicas"],
        results["accelerator"],
    ) == ("float32", False, 1, "cpu")
    assert results["versions"]["tensorflow"] == tf.__version__
    for when in ("before", "after"):
        predictions = results[f"fill_mask_{when}"]["a great [MASK]."]
        assert len(predictions) == 3 and {"token", "score"} == set(predictions[0])

    from transformers import AutoTokenizer, TFAutoModelForMaskedLM

    reloaded = TFAutoModelForMaskedLM.from_pretrained(run_dir / "model", use_safetensors=False)
    np.testing.assert_array_equal(
        reloaded.vocab_transform.kernel.numpy(), straight_run.model.vocab_transform.kernel.numpy()
    )
    assert len(AutoTokenizer.from_pretrained(run_dir / "model")) == len(straight_run.tokenizer)

    events = list((run_dir / "logs").glob("events.out.tfevents.*"))
    tags = {
        v.tag
        for path in events
        for e in tf.compat.v1.train.summary_iterator(str(path))
        for v in e.summary.value
    }
    assert {"train/loss", "train/learning_rate", "epoch/eval_loss", "epoch/perplexity"} <= tags


def test_an_existing_run_is_never_overwritten_silently(straight_run, embedded_tokenizer, chunks):
    config = straight_run.run_config()
    with pytest.raises(FileExistsError, match="mode='auto' reopens it, mode='afresh'"):
        open_run(config, mode="train", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    with pytest.raises(ResumeError, match=r"learning_rate: saved 0\.005, now 0\.001"):
        open_run(
            config.replace(learning_rate=1e-3),
            mode="resume",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
        )


@pytest.mark.parametrize("stop_at", [5, 11])  # mid epoch 1; mid epoch 2 (after a step checkpoint)
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    straight_run, tmp_path, embedded_tokenizer, chunks, stop_at
):
    config = straight_run.run_config().replace(runs_dir=str(tmp_path), run_name="broken")
    with pytest.raises(SimulatedDisconnect):
        open_run(
            config,
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
            callbacks=[interrupt_at(stop_at)],
        )
    saved = json.loads((config.run_dir / "history.json").read_text())
    assert [r["step"] for r in saved["steps"]] == list(range(1, stop_at + 1))  # nothing lost

    resumed = open_run(
        config, mode="resume", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0
    )
    for a, b in zip(weights_of(straight_run.model), weights_of(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    history = json.loads((config.run_dir / "history.json").read_text())
    assert last_record_per_step(history["steps"]) == straight_run.history["steps"]
    assert without_timings(history["epochs"]) == without_timings(straight_run.history["epochs"])
    assert resumed.results["eval_loss_before"] == straight_run.results["eval_loss_before"]


def test_resume_is_exact_only_because_the_dropout_state_is_kept(
    tmp_path, embedded_tokenizer, chunks, monkeypatch
):
    """Control: with the dropout generators left out of checkpoints and re-seeding, the same
    interruption gives different weights - so the test above really checks dropout."""
    import mlm_helpers.recorder as recorder

    monkeypatch.setattr(recorder, "dropout_generators", lambda model: [])
    config = tiny_config(tmp_path)
    straight = open_run(
        config.replace(run_name="a"),
        mode="train",
        tokenizer=embedded_tokenizer,
        chunks=chunks,
        verbose=0,
    )
    with pytest.raises(SimulatedDisconnect):
        open_run(
            config.replace(run_name="b"),
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
            callbacks=[interrupt_at(5)],
        )
    resumed = open_run(
        config.replace(run_name="b"),
        mode="resume",
        tokenizer=embedded_tokenizer,
        chunks=chunks,
        verbose=0,
    )
    differences = [
        np.abs(a - b).max()
        for a, b in zip(weights_of(straight.model), weights_of(resumed.model), strict=True)
    ]
    assert max(differences) > 1e-6


class PoisonAt(keras.callbacks.Callback):
    """Put a NaN into the model's weights after step `step`, so the next loss is NaN."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            kernel = self.model.mlm.vocab_transform.kernel
            kernel.assign(tf.fill(kernel.shape, float("nan")))


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    tmp_path, embedded_tokenizer, chunks
):
    config = tiny_config(tmp_path, checkpoint_every_steps=2)
    with pytest.raises(TrainingDiverged, match=r"became nan at step 6 .*ckpt-4"):
        open_run(
            config,
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
            callbacks=[PoisonAt(5)],
        )
    run_dir = config.run_dir
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["step"] for r in history["steps"]] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r["loss"]) for r in history["steps"])
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["status"] == "diverged" and state["global_step"] == 4
    assert not (run_dir / "all_results.json").exists() and not (run_dir / "model").exists()
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    assert latest.endswith("ckpt-4")
    kernel = tf.train.load_variable(
        latest, "model/vocab_transform/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert np.isfinite(kernel).all()


def test_bad_settings_give_clear_errors(tmp_path, embedded_tokenizer, chunks):
    with pytest.raises(ValueError, match=r"warmup of 20 steps .* 16 training steps"):
        open_run(
            tiny_config(tmp_path, warmup=20),
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
        )
    assert not (tmp_path / "tiny").exists()  # refused before anything was written
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        tiny_config(tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="batch_size=100 is larger than the 64 training"):
        open_run(
            tiny_config(tmp_path, batch_size=100),
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
        )
    with pytest.raises(ValueError, match="unknown profile 'tiny'"):
        get_config("tiny", verbose=False)
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        open_run(
            tiny_config(tmp_path, model="./no/such/model", tokenizer="embedded"),
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks=chunks,
            verbose=0,
        )
    with pytest.raises(ValueError, match="'eval'"):
        open_run(
            tiny_config(tmp_path),
            mode="train",
            tokenizer=embedded_tokenizer,
            chunks={"train": chunks["train"]},
            verbose=0,
        )


# ------------------------------------------------------------------------------------ subprocesses
def run_python(code: str, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    # CPU runs (two logical CPUs, tiny CLI runs), also on a machine with a GPU.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLM_PROFILE": "", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_mirrored_strategy_on_two_logical_cpus_trains(tmp_path):
    code = textwrap.dedent(f"""
        import json, sys
        from mlm_helpers import runtime
        runtime.split_cpu(2)  # before TensorFlow initialises its devices
        from mlm_helpers.config import embedded_profile
        from mlm_helpers.runs import open_run
        config = embedded_profile(runs_dir={str(tmp_path)!r}, run_name="mirrored", chunk_size=32,
                                  batch_size=8, epochs=1, learning_rate=5e-3, max_reviews=60,
                                  train_chunks=64, eval_chunks=16, model="scratch",
                                  tiny_model={TINY_MODEL!r},
                                  strategy="mirrored", fill_mask_prompts=("a [MASK].",))
        result = open_run(config, mode="train", verbose=0)
        print(json.dumps({{k: result.results[k] for k in
                          ("replicas", "eval_loss_before", "eval_loss_after", "global_step")}}))
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["replicas"] == 2 and results["global_step"] == 8
    assert results["eval_loss_after"] < results["eval_loss_before"]


def test_cli_trains_end_to_end(tmp_path):
    model = json.dumps({**TINY_MODEL, "dropout": 0.0, "attention_dropout": 0.0})
    command = (
        "-m mlm_helpers train --profile embedded --epochs 1 --run-name cli --set max_reviews=40"
    )
    sets = "chunk_size=32 train_chunks=32 eval_chunks=8 batch_size=8 model=scratch".split()
    done = run_python(
        "",
        *command.split(),
        "--runs-dir",
        str(tmp_path),
        *[arg for s in [*sets, f"tiny_model={model}"] for arg in ("--set", s)],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(tmp_path / "cli")
    assert "epoch 1/1: train loss" in done.stdout
    results = json.loads((tmp_path / "cli" / "all_results.json").read_text())
    assert results["global_step"] == 4 and results["epochs_completed"] == 1
    # The default mode is notebook 04's, "auto": a finished run is reopened, not trained again ...
    same = [*command.split(), "--runs-dir", str(tmp_path), *[a for s in sets for a in ("--set", s)]]
    same += ["--set", f"tiny_model={model}", "--quiet"]
    again = run_python("", *same)
    assert again.returncode == 0 and "already trained (4 steps): reopened" in again.stderr
    assert again.stdout.strip() == str(tmp_path / "cli")
    assert json.loads((tmp_path / "cli" / "all_results.json").read_text()) == results
    # ... and "train" refuses it, as runs.open_run(mode="train") does.
    refused = run_python("", *same, "--mode", "train")
    assert refused.returncode == 2 and "already holds a finished run" in refused.stderr
    other = run_python("", *command.split(), "--runs-dir", str(tmp_path), "--quiet")
    assert other.returncode == 2 and "finished run of another configuration" in other.stderr


def test_cli_help_and_usage_errors():
    done = run_python("", *"-m mlm_helpers --help".split())
    assert done.returncode == 0 and "train" in done.stdout
    bad = run_python("", *"-m mlm_helpers train --profile tiny".split())
    assert bad.returncode == 2 and "invalid choice: 'tiny'" in bad.stderr
    bad = run_python("", *"-m mlm_helpers train --profile embedded --set batch_size=0".split())
    assert bad.returncode == 2 and "batch_size=0 is invalid" in bad.stderr


def test_cli_overrides_are_parsed_as_json_or_text():
    assert parse_value("3") == 3 and parse_value("1e-4") == 1e-4 and parse_value("null") is None
    assert parse_value("distilbert-base-uncased") == "distilbert-base-uncased"
    overrides = parse_overrides(
        ["epochs=2", "tiny_model.dim=64", "tiny_model.n_layers=1", "model=./runs/x/model"]
    )
    assert overrides["epochs"] == 2 and overrides["model"] == "./runs/x/model"
    assert overrides["tiny_model"]["dim"] == 64 and overrides["tiny_model"]["n_layers"] == 1
    assert overrides["tiny_model"]["n_heads"] == RunConfig().tiny_model["n_heads"]
    with pytest.raises(ValueError, match="no field 'epoch'"):
        parse_overrides(["epoch=2"])
    with pytest.raises(ValueError, match="field=value"):
        parse_overrides(["epochs"])


def test_overwrite_keeps_the_previous_run_aside(tmp_path, embedded_tokenizer, chunks):
    config = tiny_config(tmp_path, run_name="again", epochs=1, checkpoint_every_steps=None)
    first = open_run(config, mode="train", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    first_weights = (first.path / "model" / "tf_model.h5").read_bytes()
    open_run(config, mode="afresh", tokenizer=embedded_tokenizer, chunks=chunks, verbose=0)
    [previous] = first.path.parent.glob("again.previous-*")  # -<UTC time>
    assert (previous / "model" / "tf_model.h5").read_bytes() == first_weights
    assert (previous / "history.json").is_file() and (first.path / "history.json").is_file()


def test_the_embedded_model_is_the_shipped_general_model(embedded_tokenizer):
    """model="embedded" loads the pre-trained folder shipped in the package (not a fresh model),
    and what it knows is general language: general prompts get the general corpus' words, and the
    review prompt of notebook 04 gets a general word, not a film word, before any adaptation."""
    from mlm_helpers.paths import EMBEDDED_MODEL_DIR
    from tools.embedded import general

    with training_policies("float32"):
        model = build_model(embedded_profile(), embedded_tokenizer)
    shipped = json.loads((EMBEDDED_MODEL_DIR / "config.json").read_text())
    assert model.config.n_layers == shipped["n_layers"] and model.config.dim == shipped["dim"]
    assert model.config.vocab_size == len(embedded_tokenizer)
    prompts = {
        "This is a great [MASK].": general.GREAT_NOUNS,
        "I would recommend this [MASK] to anyone.": general.RECOMMEND,
        "The weather was [MASK] for the whole trip.": general.GOOD,
    }
    predictions = fill_mask(model, embedded_tokenizer, list(prompts), top_k=3)
    for prompt, words in prompts.items():
        top = [p["token"] for p in predictions[prompt]]
        assert top[0] in words, (prompt, top)
        assert not set(top) & set(DOMAIN_WORDS), (prompt, top)
    fresh = embedded_profile(model=SCRATCH, tiny_model={**RunConfig().tiny_model, "n_layers": 1})
    with training_policies("float32"):
        assert build_model(fresh, embedded_tokenizer).config.n_layers == 1


def test_an_opened_run_prints_a_diverged_perplexity_as_inf(tmp_path):
    """Defect 5: `TrainResult.__str__` formatted perplexities with :.2f, and they are None when
    not finite (JSON has no inf), so printing such a run raised TypeError."""
    results = {
        "epochs_completed": 1,
        "global_step": 8,
        "eval_loss_before": 8.0,
        "eval_loss_after": 900.0,
        "perplexity_before": 2980.0,
        "perplexity_after": None,
    }
    text = str(OpenedRun(tmp_path / "x", results=results))
    assert text == "x: 1 epoch, 8 steps; eval loss 8.0000 -> 900.0000, perplexity 2980.00 -> inf"
