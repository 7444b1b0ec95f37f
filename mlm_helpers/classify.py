"""Stage 07 — does domain adaptation pay off? Sentiment from the general vs the adapted encoder.

ULMFiT's argument: a language model adapted to the target domain needs fewer labels for a task in that
domain. `learning_curve` measures it. For every number of labelled reviews N and every seed it trains
a sentiment classifier twice — once from the general model (``config.model``: the shipped tiny model,
or ``distilbert-base-uncased``) and once from the adapted model of the run folder (notebook 04) — and
scores both on the same held-out test reviews. Notebook 07 and ``python -m mlm_helpers classify``.

What is held equal between the two encoders (the *budget*, `ClassifySettings`):

- the tokenizer and the input length (``config.chunk_size`` tokens, longer reviews truncated);
- the N labelled reviews: drawn per (N, seed), stratified by label (`sample_labelled`);
- the classification head's initial weights (drawn from the seed) and the order of the batches;
- the optimizer (Adam, constant learning rate), the batch size and the number of steps
  (`budget_steps`: ``epochs`` passes over the N reviews, at least ``min_steps`` steps);
- the test reviews: the same ``test_reviews`` reviews of the test split for every classifier (a
  shuffle with ``config.seed`` picks them), after dropping every test review whose text occurs in a
  split the classifier or the adaptation trained on (`data.held_out_overlap`).

The classifier is the encoder's last hidden states averaged over the review's tokens, then one dense
layer. With ``fine_tune_encoder`` every weight trains (full fine-tuning, as ULMFiT and the Hugging Face
course do: the hub profile); without it the encoder is frozen and only the dense layer trains, on the
encoder's output computed once per review (the embedded profile: fifty classifiers in about a minute
of CPU). One Keras model serves every run: each run loads its encoder's weights and a fresh head into
it and resets the optimizer, so the train step is traced once, not once per run.

The results go to ``<run_dir>/classification.json`` (`write_results`; docs/run-folder.md describes
it). Plotting and tables read them without TensorFlow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import SCRATCH, ClassifySettings, RunConfig
from .run_folder import (
    CLASSIFICATION_FILE,
    TRAIN_HINT,
    Run,
    RunLike,
    is_finished,
    model_dir,
    read_json,
    write_json_atomic,
)

ENCODERS = ("general", "adapted")
NUM_LABELS = 2
HEAD_INIT_STD = 0.02  # DistilBERT's initializer_range: how transformers initialises a new head


# ----------------------------------------------------------------------------------- settings
def budget_steps(size: int, settings: ClassifySettings) -> int:
    """Optimizer steps for N = `size` labelled reviews: ``epochs`` passes over them in batches of
    ``batch_size``, and at least ``min_steps``. The same for both encoders."""
    return max(settings.min_steps, math.ceil(settings.epochs * size / settings.batch_size))


# ----------------------------------------------------------------------------------- labels
def check_labels(labels: Sequence[int] | np.ndarray | None, split: str) -> np.ndarray:
    """The labels of `split` as an int array, or ValueError when it cannot train a sentiment
    classifier: no label column, only -1 (unlabelled, like ``unsupervised``), or a single class."""
    fix = "choose a split with labels 0 (negative) and 1 (positive), such as 'train' or 'test'"
    if labels is None:
        raise ValueError(f"split {split!r} has no 'label' column: {fix}")
    labels = np.asarray(labels, dtype=np.int64)
    labelled = labels[labels >= 0]
    if labelled.size == 0:
        raise ValueError(
            f"split {split!r} has no labelled reviews (all {labels.size} labels are -1, "
            f"unlabelled): {fix}"
        )
    if labelled.size < labels.size:
        raise ValueError(
            f"split {split!r} mixes unlabelled reviews (label -1: {labels.size - labelled.size} of "
            f"{labels.size}) with labelled ones: {fix}"
        )
    classes = np.unique(labelled)
    if classes.size < NUM_LABELS:
        raise ValueError(
            f"split {split!r} has a single class (every label is {int(classes[0])}): a classifier "
            f"needs both. {fix.capitalize()}"
        )
    return labels


def resolve_size(size: int | None, available: int, split: str) -> int:
    """N for a requested `size` (None = all `available`); ValueError naming both when N is larger."""
    if size is None:
        return available
    if size > available:
        raise ValueError(
            f"N={size} labelled reviews were asked for, but split {split!r} has only {available}: "
            f"use sizes up to {available} (or None for all of them)"
        )
    return size


def sample_labelled(labels: Sequence[int] | np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of `size` reviews drawn without replacement, stratified by label, reproducibly.

    Each class gets its share of `size` in proportion to its count (rounded by largest remainder,
    and at least one review per class), so a draw of 50 from a balanced split holds 25 and 25. The
    draw depends only on (`labels`, `size`, `seed`): both encoders train on the same reviews.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if not NUM_LABELS <= size <= labels.size:
        raise ValueError(f"size={size} must lie between {NUM_LABELS} and {labels.size}")
    exact = size * counts / counts.sum()
    take = np.maximum(np.floor(exact).astype(int), 1)
    while take.sum() > size:  # the "at least one" pushed it over: take from the largest share
        take[np.argmax(take - exact)] -= 1
    for i in np.argsort(-(exact - np.floor(exact)), kind="stable")[: size - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng([seed, size])
    chosen = [
        rng.choice(np.flatnonzero(labels == c), n, replace=False)
        for c, n in zip(classes, take, strict=True)
    ]
    return rng.permutation(np.concatenate(chosen))


def batch_order(indices: np.ndarray, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """(steps, batch_size) indices: passes over `indices`, each in a new shuffled order, cut into
    full batches (a pass may end inside a batch: every batch has the same shape, so the train step
    is traced once)."""
    rng = np.random.default_rng([seed, len(indices), 1])
    needed = steps * batch_size
    passes = [rng.permutation(indices) for _ in range(math.ceil(needed / len(indices)))]
    return np.concatenate(passes)[:needed].reshape(steps, batch_size)


# ----------------------------------------------------------------------------------- data
@dataclass
class LabelledData:
    """Tokenized reviews for the experiment: ``train`` and ``test`` hold ``input_ids``,
    ``attention_mask`` (int32, ``max_length`` columns) and ``labels``; ``dropped`` counts the test
    reviews left out because their text occurs in a training split."""

    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    train_split: str
    test_split: str
    max_length: int
    dropped: int = 0


def encode(texts: Sequence[str], labels: np.ndarray, tokenizer: Any, max_length: int) -> dict:
    """Token arrays for `texts`: [CLS] ... [SEP], truncated and padded to `max_length`."""
    encoded = tokenizer(
        list(texts), truncation=True, max_length=max_length, padding="max_length", verbose=False
    )
    return {
        "input_ids": np.asarray(encoded["input_ids"], np.int32),
        "attention_mask": np.asarray(encoded["attention_mask"], np.int32),
        "labels": np.asarray(labels, np.int32),
    }


def prepare_labelled(
    config: RunConfig, settings: ClassifySettings, tokenizer: Any = None
) -> LabelledData:
    """Load, check and tokenize the labelled training split and the test reviews (notebook 07).

    Test reviews whose text occurs in the training split or in a split the adaptation trained on
    (``config.train_splits``) are dropped first: held out in content. Then the first
    ``settings.test_reviews`` of them, in an order shuffled with ``config.seed``, are kept.
    """
    from .data import held_out_overlap, load_reviews, load_tokenizer

    if tokenizer is None:
        tokenizer = load_tokenizer(config)
    train, test = settings.train_split, settings.test_split
    splits = list(dict.fromkeys([train, test, *config.train_splits]))
    reviews = load_reviews(config, splits=splits)
    labels = {s: check_labels(_labels(reviews[s]), s) for s in (train, test)}
    seen = held_out_overlap(reviews, [s for s in splits if s != test], test)
    keep = np.setdiff1d(np.arange(reviews[test].num_rows), seen)
    keep = np.random.default_rng(config.seed).permutation(keep)[: settings.test_reviews]
    check_labels(labels[test][keep], f"{test} (the {keep.size} test reviews kept)")
    return LabelledData(
        train=encode(reviews[train]["text"], labels[train], tokenizer, config.chunk_size),
        test=encode(
            reviews[test].select(keep)["text"], labels[test][keep], tokenizer, config.chunk_size
        ),
        train_split=train,
        test_split=test,
        max_length=config.chunk_size,
        dropped=len(seen),
    )


def _labels(dataset: Any) -> list[int] | None:
    return list(dataset["label"]) if "label" in dataset.column_names else None


# ----------------------------------------------------------------------------------- encoders
def encoder_sources(config: RunConfig, run_dir: RunLike | None = None) -> dict[str, str]:
    """{"general": the model `config.model` names, "adapted": the run folder's model/}.

    `run_dir` is a run folder (default ``config.run_dir``) or a `Run`, such as `training.open_run`
    returns for a published model (its `model_dir` is then the downloaded folder).

    FileNotFoundError when the run folder holds no finished run (naming the folder and how to train
    it); ValueError for a ``"scratch"`` configuration, whose starting point is random, not general.
    """
    from .paths import local_folder

    if config.model == SCRATCH:
        raise ValueError(
            "config.model='scratch' starts from random weights, so there is no general model to "
            "compare with: use a run adapted from a pre-trained model ('embedded', a Hub id or a "
            "folder)"
        )
    if isinstance(run_dir, Run):
        where, adapted = run_dir.path, run_dir.model_dir
        finished = bool(run_dir.results) and adapted.is_dir()
    else:
        where = Path(run_dir if run_dir is not None else config.run_dir)
        adapted, finished = model_dir(where), is_finished(where)
    if not finished:
        raise FileNotFoundError(
            f"{where} holds no finished run (no {adapted.name}/ with a trained model and "
            f"results): the adapted encoder comes from there. To create it, {TRAIN_HINT}."
        )
    general = local_folder(config.model, kind="model")
    return {"general": str(general or config.model), "adapted": str(adapted)}


def _load_encoder(source: str) -> Any:
    """The base model (no head) at `source`, built; transformers' note that the masked-LM head's
    weights go unused is silenced (intended: the classifier puts its own head on top)."""
    import transformers
    from transformers import TFAutoModel

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        model = TFAutoModel.from_pretrained(source)
    except OSError as err:
        raise OSError(
            f"could not load the encoder {source!r}: {err}\nOffline? Use the 'embedded' profile "
            "or a local folder in Hub format."
        ) from err
    finally:
        transformers.logging.set_verbosity(verbosity)
    model({"input_ids": np.zeros((1, 2), np.int32), "attention_mask": np.ones((1, 2), np.int32)})
    return model


def _local_name(variable: Any) -> str:
    """A variable's name without the model instance's scope ("tf_distil_bert_model_1/")."""
    return variable.name.partition("/")[2]


def initial_head(width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A new head for `seed`: kernel (width, 2) drawn from N(0, 0.02²), as transformers initialises
    a new head, and a zero bias. The same for both encoders."""
    rng = np.random.default_rng([seed, 2])
    kernel = rng.normal(0.0, HEAD_INIT_STD, (width, NUM_LABELS)).astype(np.float32)
    return kernel, np.zeros(NUM_LABELS, np.float32)


class ClassifierTrainer:
    """One classifier whose steps are traced once and reused by every run of the experiment.

    The classifier: the encoder's last hidden states, averaged over the review's tokens (mean
    pooling, attention mask applied), then one dense layer to 2 logits. With ``fine_tune_encoder``
    every weight trains (full fine-tuning); without, the encoder is frozen, so its pooled output
    is computed once per encoder (`features`) and only the head trains on it — the same
    classifier, far cheaper. `reset` loads an encoder and a new head and zeroes Adam's state.
    """

    def __init__(
        self,
        source: str,
        *,
        learning_rate: float,
        fine_tune_encoder: bool,
        jit_compile: bool = False,
    ) -> None:
        from . import runtime

        tf = runtime.import_tensorflow()
        keras = runtime.import_keras()
        self._tf = tf
        self.fine_tune_encoder = fine_tune_encoder
        self.encoder_model = _load_encoder(source)
        self.encoder = list(self.encoder_model.weights)
        width = self.encoder_model.config.hidden_size  # DistilBERT: its `dim`
        self.kernel = tf.Variable(tf.zeros((width, NUM_LABELS)), name="head/kernel")
        self.bias = tf.Variable(tf.zeros((NUM_LABELS,)), name="head/bias")
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        encoder, head = self.encoder_model, [self.kernel, self.bias]
        trained = [*encoder.trainable_variables, *head] if fine_tune_encoder else head
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def pooled(input_ids: Any, attention_mask: Any, training: bool) -> Any:
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            hidden = tf.cast(encoder(inputs, training=training)[0], tf.float32)
            mask = tf.cast(attention_mask, tf.float32)[..., None]
            return tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)

        def step(loss_of: Callable[[], Any]) -> Any:
            with tf.GradientTape() as tape:
                loss = loss_of()
            self.optimizer.apply_gradients(zip(tape.gradient(loss, trained), trained, strict=True))
            return loss

        def full_step(input_ids: Any, attention_mask: Any, labels: Any) -> Any:
            features = lambda: pooled(input_ids, attention_mask, True)  # noqa: E731
            return step(lambda: loss_fn(labels, features() @ self.kernel + self.bias))

        def head_steps(features: Any, labels: Any, batches: Any) -> Any:
            # Every step of a run in one graph: a Python loop would cost more than the steps.
            def body(i: Any, loss: Any) -> tuple[Any, Any]:
                x, y = tf.gather(features, batches[i]), tf.gather(labels, batches[i])
                return i + 1, step(lambda: loss_fn(y, x @ self.kernel + self.bias))

            steps = tf.shape(batches)[0]
            return tf.while_loop(lambda i, _: i < steps, body, (0, tf.constant(float("nan"))))[1]

        def features_step(input_ids: Any, attention_mask: Any) -> Any:
            return pooled(input_ids, attention_mask, False)

        compile_ = dict(jit_compile=jit_compile, autograph=False)
        self._train = tf.function(full_step, **compile_)
        self._train_head = tf.function(head_steps, autograph=False)
        self._features = tf.function(features_step, **compile_)
        self.optimizer.build(trained)  # Adam's slots now, not inside the first trace

    def encoder_weights(self, source: str) -> list[np.ndarray]:
        """The encoder weights of the model at `source`, in this model's variable order (the
        architecture must be the general model's)."""
        other = _load_encoder(source).weights
        if [_local_name(v) for v in other] != [_local_name(v) for v in self.encoder] or any(
            a.shape != b.shape for a, b in zip(other, self.encoder, strict=True)
        ):
            raise ValueError(
                f"the encoder at {source!r} does not have the architecture of the general model: "
                "the adapted model must come from a run of the same configuration.model"
            )
        return [v.numpy() for v in other]

    def load_encoder(self, weights: Sequence[np.ndarray]) -> None:
        for variable, value in zip(self.encoder, weights, strict=True):
            variable.assign(value)

    def reset(self, weights: Sequence[np.ndarray] | None, seed: int) -> None:
        """Load the encoder `weights` (None: keep the loaded ones, as the frozen mode does), the head
        of `seed`, and zero the optimizer's state; seed dropout."""
        if weights is not None:
            self.load_encoder(weights)
        kernel, bias = initial_head(int(self.kernel.shape[0]), seed)
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        for variable in self.optimizer.variables:
            variable.assign(self._tf.zeros_like(variable))
        self._tf.random.set_seed(seed)

    def features(self, data: Mapping[str, np.ndarray], batch_size: int = 64) -> np.ndarray:
        """The pooled encoder output of every review of `data` (full batches: the last one is
        padded with repeats, then cut)."""
        total = len(data["input_ids"])
        rows = np.resize(np.arange(total), math.ceil(total / batch_size) * batch_size)
        parts = [
            self._features(data["input_ids"][batch], data["attention_mask"][batch]).numpy()
            for batch in rows.reshape(-1, batch_size)
        ]
        return np.concatenate(parts)[:total]

    def train(self, data: Mapping[str, np.ndarray], batches: np.ndarray) -> float:
        """One optimizer step per row of `batches` (indices into `data`, which holds token arrays
        when fine-tuning the encoder, else ``features``); returns the last batch's loss."""
        labels = data["labels"]
        if not self.fine_tune_encoder:
            return float(self._train_head(data["features"], labels, batches.astype(np.int32)))
        loss = float("nan")
        for batch in batches:
            ids, mask = data["input_ids"][batch], data["attention_mask"][batch]
            loss = float(self._train(ids, mask, labels[batch]))
        return loss

    def accuracy(self, data: Mapping[str, np.ndarray]) -> float:
        """Share of `data`'s reviews whose predicted label (the larger logit) is right."""
        features = data["features"] if "features" in data else self.features(data)
        logits = features @ self.kernel.numpy() + self.bias.numpy()
        return float(np.mean(np.argmax(logits, axis=1) == data["labels"]))


# ----------------------------------------------------------------------------------- experiment
@dataclass
class CurveResult:
    """What `learning_curve` measured: one record per (encoder, N, seed) in ``runs``, and the setup.
    `summary` gives mean, spread and range per (encoder, N); `to_dict` is classification.json."""

    runs: list[dict[str, Any]]
    settings: ClassifySettings
    encoders: dict[str, str]
    profile: str
    train_split: str
    test_split: str
    train_available: int
    test_reviews: int
    test_dropped: int
    max_length: int
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        return summarize(self.runs)

    def to_dict(self) -> dict[str, Any]:
        """classification.json: the fields named by `RESULT_KEYS`, in that order."""
        values = {"settings": self.settings.to_dict(), "summary": self.summary()}
        return {key: values[key] if key in values else getattr(self, key) for key in RESULT_KEYS}


def summarize(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (encoder, N): mean accuracy, its standard deviation over seeds (ddof=1; 0 for one seed),
    min, max and the number of seeds; sorted by N, then encoder as in `ENCODERS`."""
    groups: dict[tuple[str, int], list[float]] = {}
    for run in runs:
        groups.setdefault((run["encoder"], int(run["size"])), []).append(float(run["accuracy"]))
    order = {name: i for i, name in enumerate(ENCODERS)}
    rows = []
    for (encoder, size), values in sorted(
        groups.items(), key=lambda item: (item[0][1], order.get(item[0][0], len(order)))
    ):
        arr = np.asarray(values)
        rows.append(
            {
                "encoder": encoder,
                "size": size,
                "mean": float(arr.mean()),
                "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
                "min": float(arr.min()),
                "max": float(arr.max()),
                "seeds": int(arr.size),
            }
        )
    return rows


def learning_curve(
    config: RunConfig,
    settings: ClassifySettings | None = None,
    *,
    run_dir: RunLike | None = None,
    data: LabelledData | None = None,
    verbose: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> CurveResult:
    """Accuracy against the number of labelled reviews, for the general and the adapted encoder.

    `config` is the run's configuration (its tokenizer, chunk length, data and general model);
    `run_dir` the run folder holding the adapted model (default ``config.run_dir``); `settings`
    the sizes, seeds and budget (default: `ClassifySettings.for_profile(config.profile)`); `data`
    reuses `prepare_labelled`'s arrays. Every size is checked against the split before any
    training. With `verbose`, one line per run. Notebook 07 and ``python -m mlm_helpers classify``.
    """
    from . import runtime
    from .hardware import resolve_jit

    start = time.perf_counter()
    settings = settings or ClassifySettings.for_profile(config.profile)
    sources = encoder_sources(config, run_dir)
    data = data or prepare_labelled(config, settings)
    available = len(data.train["labels"])
    sizes = [resolve_size(n, available, data.train_split) for n in settings.sizes]
    jit = resolve_jit(config.jit_compile, runtime.detect_accelerator())
    trainer = ClassifierTrainer(
        sources["general"],
        learning_rate=settings.learning_rate,
        fine_tune_encoder=settings.fine_tune_encoder,
        jit_compile=jit,
    )
    weights = {name: trainer.encoder_weights(source) for name, source in sources.items()}
    plan = {  # the same reviews, steps and batch order for both encoders
        (size, seed): batch_order(
            sample_labelled(data.train["labels"], size, seed),
            budget_steps(size, settings),
            settings.batch_size,
            seed,
        )
        for size in sizes
        for seed in settings.seeds
    }
    runs = []
    for encoder in ENCODERS:
        trainer.load_encoder(weights[encoder])
        train, test = data.train, data.test
        if not settings.fine_tune_encoder:  # frozen: pool each review once, train the head on it
            used = np.unique(np.concatenate([b.ravel() for b in plan.values()]))
            pooled = np.zeros((len(train["labels"]), int(trainer.kernel.shape[0])), np.float32)
            pooled[used] = trainer.features({k: v[used] for k, v in train.items()})
            train = {**train, "features": pooled}
            test = {**test, "features": trainer.features(test)}
        for (size, seed), batches in plan.items():
            trainer.reset(weights[encoder] if settings.fine_tune_encoder else None, seed)
            loss = trainer.train(train, batches)
            record = {
                "encoder": encoder,
                "size": size,
                "seed": seed,
                "steps": len(batches),
                "final_loss": loss if math.isfinite(loss) else None,
                "accuracy": trainer.accuracy(test),
            }
            runs.append(record)
            if verbose:
                print(
                    f"{encoder:>8} encoder, N={size:>6}, seed {seed}: accuracy "
                    f"{record['accuracy']:.3f} ({len(batches)} steps)",
                    flush=True,
                )
            if progress is not None:
                progress(record)
    return CurveResult(
        runs=runs,
        settings=settings,
        encoders=sources,
        profile=config.profile,
        train_split=data.train_split,
        test_split=data.test_split,
        train_available=available,
        test_reviews=len(data.test["labels"]),
        test_dropped=data.dropped,
        max_length=data.max_length,
        seconds=time.perf_counter() - start,
        versions=runtime.library_versions(),
    )


# ----------------------------------------------------------------------------------- results
RESULT_KEYS = (
    "profile",
    "encoders",
    "train_split",
    "test_split",
    "train_available",
    "test_reviews",
    "test_dropped",
    "max_length",
    "settings",
    "runs",
    "summary",
    "seconds",
    "versions",
)


def _folder(run_dir: RunLike) -> Path:
    """The run folder of a path or a `Run` (where its records are)."""
    return run_dir.path if isinstance(run_dir, Run) else Path(run_dir)


def write_results(result: CurveResult | Mapping[str, Any], run_dir: RunLike) -> Path:
    """Write `result` to ``<run_dir>/classification.json`` atomically and return the path."""
    data = result.to_dict() if isinstance(result, CurveResult) else dict(result)
    return write_json_atomic(_folder(run_dir) / CLASSIFICATION_FILE, data)


def read_results(run_dir: RunLike) -> dict[str, Any]:
    """classification.json of a run folder (or `Run`); FileNotFoundError saying how to make it,
    ValueError naming the keys it lacks."""
    path = _folder(run_dir) / CLASSIFICATION_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run notebook 07, or `python -m mlm_helpers classify` with the "
            "run's configuration"
        )
    data = read_json(path)
    missing = [key for key in RESULT_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(f"{path} lacks {missing} (see docs/run-folder.md for the format)")
    return data


def _summary_of(result: CurveResult | Mapping[str, Any]) -> list[dict[str, Any]]:
    return result.summary() if isinstance(result, CurveResult) else summarize(result["runs"])


def results_table_markdown(result: CurveResult | Mapping[str, Any]) -> str:
    """The learning curve as a Markdown table: one row per N, mean ± standard deviation over the
    seeds per encoder (min–max in brackets), and the adapted minus general difference."""
    rows: dict[int, dict[str, dict[str, Any]]] = {}
    for row in _summary_of(result):
        rows.setdefault(row["size"], {})[row["encoder"]] = row
    lines = [
        "| labelled reviews | general encoder | adapted encoder | adapted − general |",
        "|---:|---|---|---:|",
    ]
    for size, by_encoder in rows.items():
        cells = [
            f"{r['mean']:.3f} ± {r['std']:.3f} ({r['min']:.3f}–{r['max']:.3f})"
            if (r := by_encoder.get(name))
            else "—"
            for name in ENCODERS
        ]
        both = all(name in by_encoder for name in ENCODERS)
        gap = by_encoder["adapted"]["mean"] - by_encoder["general"]["mean"] if both else None
        lines.append(
            f"| {size} | {cells[0]} | {cells[1]} | {'—' if gap is None else f'{gap:+.3f}'} |"
        )
    return "\n".join(lines)


def gaps(result: CurveResult | Mapping[str, Any]) -> dict[int, float]:
    """{N: mean accuracy of the adapted encoder minus that of the general one}."""
    means = {(r["encoder"], r["size"]): r["mean"] for r in _summary_of(result)}
    sizes = sorted({size for _, size in means})
    return {n: means[("adapted", n)] - means[("general", n)] for n in sizes}


def plot_learning_curve(result: CurveResult | Mapping[str, Any], *, title: str | None = None):
    """Test accuracy against labelled reviews (log scale) for both encoders: the mean over seeds
    as a line, each seed as a dot, the min–max range shaded; the title says whether the encoder
    was frozen or fine-tuned. Notebook 07."""
    import matplotlib.pyplot as plt

    summary = _summary_of(result)
    runs = result.runs if isinstance(result, CurveResult) else result["runs"]
    colors = {"general": "tab:gray", "adapted": "tab:blue"}
    names = {"general": "general encoder", "adapted": "adapted encoder (notebook 04)"}
    fig, ax = plt.subplots()
    for encoder in ENCODERS:
        rows = [r for r in summary if r["encoder"] == encoder]
        if not rows:
            continue
        sizes = np.array([r["size"] for r in rows], float)
        color = colors[encoder]
        ax.plot(sizes, [r["mean"] for r in rows], "-o", color=color, label=names[encoder])
        ax.fill_between(
            sizes, [r["min"] for r in rows], [r["max"] for r in rows], color=color, alpha=0.15
        )
        dots = [(r["size"], r["accuracy"]) for r in runs if r["encoder"] == encoder]
        shift = 0.96 if encoder == "general" else 1.04  # side by side, not on top of each other
        ax.scatter([s * shift for s, _ in dots], [a for _, a in dots], s=12, color=color, alpha=0.6)
    ax.axhline(0.5, color="black", linestyle=":", linewidth=1, label="chance (balanced classes)")
    ax.set_xscale("log")
    all_sizes = sorted({r["size"] for r in summary})
    ax.set_xticks(all_sizes, [str(s) for s in all_sizes])
    ax.minorticks_off()
    ax.set_xlabel("labelled training reviews (N, log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.4, 1.01)
    setup = result.settings.to_dict() if isinstance(result, CurveResult) else result.get("settings")
    how = ""
    if setup is not None:
        how = " (fine-tuned)" if setup["fine_tune_encoder"] else " (frozen)"
    ax.set_title(title or f"Sentiment accuracy from the general vs the adapted encoder{how}")
    ax.legend(loc="upper left")
    return fig
