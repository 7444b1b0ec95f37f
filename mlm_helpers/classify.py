"""Stage 07's classifier: sentiment from the general vs the adapted encoder (TensorFlow).

`learning_curve(run)` is the stage's entry (notebook 07, ``python -m mlm_helpers classify``): for
every (N, seed) of `experiment.plan` it trains a classifier from the general model the run started
from and one from the run's adapted model, and scores both on the same held-out test reviews.
Everything comes from the run: the general model, data, tokenizer and chunk length (config.json),
the precision and XLA setting (all_results.json). Held equal besides the plan: the head's initial
weights (`initial_head`), Adam at a constant rate, the dropout masks (seeded per run through the
model's own generators, not TensorFlow's global seed) and the test reviews (`prepare_labelled`).

The classifier: the encoder's last hidden states averaged over the review's tokens, then one dense
layer. With ``fine_tune_encoder`` every weight trains (the hub profile, as ULMFiT does); without,
the encoder is frozen and only the layer trains, on the encoder's output computed once per review
(the embedded profile: fifty classifiers in about a minute of CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import runtime
from .config import SCRATCH, ClassifySettings
from .data import held_out_overlap, load_reviews, load_tokenizer, review_cues
from .experiment import CUES, ENCODERS, NUM_LABELS, CurveResult, check_labels, plan
from .hardware import training_policies
from .hub_folder import load_model
from .paths import EMBEDDED, local_folder
from .recorder import dropout_generators, reseed_dropout
from .run_folder import TRAIN_HINT, RunLike, load_run

tf = runtime.import_tensorflow()
keras = runtime.import_keras()

HEAD_INIT_STD = 0.02  # DistilBERT's initializer_range: how transformers initialises a new head


# ----------------------------------------------------------------------------------- data
@dataclass
class LabelledData:
    """Tokenized reviews for the experiment: ``train`` and ``test`` hold ``input_ids``,
    ``attention_mask`` (int32, ``max_length`` columns) and ``labels``; ``dropped`` counts the test
    reviews left out because their text occurs in a training split; ``test_cues``, for the embedded
    corpus, how each test review states its verdict (`data.review_cues`), else None."""

    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    train_split: str
    test_split: str
    max_length: int
    dropped: int = 0
    test_cues: np.ndarray | None = None


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


def prepare_labelled(run: RunLike, settings: ClassifySettings | None = None) -> LabelledData:
    """Load, check and tokenize the labelled training split and the test reviews of the run's
    dataset, with its tokenizer and chunk length (notebook 07).

    Test reviews whose text occurs in the training split or in a split the adaptation trained on
    (the run's ``train_splits``) are dropped first: held out in content. Then the first
    ``settings.test_reviews`` of them, in an order shuffled with the run's seed, are kept.
    `settings` defaults to the run's profile's.
    """
    config = load_run(run).run_config()
    settings = settings or ClassifySettings.for_profile(config.profile)
    train, test = settings.train_split, settings.test_split
    splits = list(dict.fromkeys([train, test, *config.train_splits]))
    reviews = load_reviews(config, splits=splits)
    labels = {s: check_labels(_labels(reviews[s]), s) for s in (train, test)}
    seen = held_out_overlap(reviews, [s for s in splits if s != test], test)
    keep = np.setdiff1d(np.arange(reviews[test].num_rows), seen)
    keep = np.random.default_rng(config.seed).permutation(keep)[: settings.test_reviews]
    check_labels(labels[test][keep], f"{test} (the {keep.size} test reviews kept)")
    tokenizer, length = load_tokenizer(config), config.chunk_size
    test_texts = reviews[test].select(keep)["text"]
    cues = review_cues(test_texts) if config.dataset == EMBEDDED else [None]
    return LabelledData(
        train=encode(reviews[train]["text"], labels[train], tokenizer, length),
        test=encode(test_texts, labels[test][keep], tokenizer, length),
        train_split=train,
        test_split=test,
        max_length=length,
        dropped=len(seen),
        test_cues=None if None in cues else np.asarray(cues),
    )


def _labels(dataset: Any) -> list[int] | None:
    return list(dataset["label"]) if "label" in dataset.column_names else None


# ----------------------------------------------------------------------------------- encoders
def encoder_sources(run: RunLike) -> dict[str, str]:
    """{"general": the model the run started from (its config's ``model``), "adapted": its model/}.

    `run` is a run folder or a `Run`, such as `open_run` returns for a published model (its
    `model_dir` is then the downloaded folder). FileNotFoundError when it holds no finished run
    (naming the folder and how to train it); ValueError for a ``"scratch"`` run, whose starting
    point is random, not general.
    """
    run = load_run(run)
    if not (run.results and run.model_dir.is_dir()):
        raise FileNotFoundError(
            f"{run.path} holds no finished run (no {run.model_dir.name}/ with a trained model and "
            f"results): the adapted encoder comes from there. To create it, {TRAIN_HINT}."
        )
    general = run.run_config().model
    if general == SCRATCH:
        raise ValueError(
            f"{run.name} was trained from model='scratch', random weights, so there is no general "
            "model to compare with: use a run adapted from a pre-trained model ('embedded', a Hub "
            "id or a folder)"
        )
    return {
        "general": str(local_folder(general, kind="model") or general),
        "adapted": str(run.model_dir),
    }


def _load_encoder(source: str) -> Any:
    """The base model (no head) at `source` (`hub_folder.load_model`), built."""
    model = load_model(source, encoder_only=True)
    model({"input_ids": np.zeros((1, 2), np.int32), "attention_mask": np.ones((1, 2), np.int32)})
    return model


def initial_head(width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A new head for `seed`: kernel (width, 2) drawn from N(0, 0.02²), as transformers initialises
    a new head, and a zero bias. The same for both encoders."""
    rng = np.random.default_rng([seed, 2])
    kernel = rng.normal(0.0, HEAD_INIT_STD, (width, NUM_LABELS)).astype(np.float32)
    return kernel, np.zeros(NUM_LABELS, np.float32)


# ----------------------------------------------------------------------------------- classifier
class ClassifierTrainer:
    """One classifier whose steps are traced once and reused by every run of the experiment.

    The classifier: the encoder's last hidden states, averaged over the review's tokens (mean
    pooling, attention mask applied), then one dense layer to 2 logits. With ``fine_tune_encoder``
    every weight trains (full fine-tuning); without, the encoder is frozen, so its pooled output
    is computed once per encoder (`features`) and only the head trains on it — the same
    classifier, far cheaper. `reset` loads an encoder and a new head, resets Adam's state and
    seeds the dropout generators. The encoder is built under the run's `precision`.
    """

    def __init__(
        self,
        source: str,
        *,
        learning_rate: float,
        fine_tune_encoder: bool,
        precision: str = "float32",
        jit_compile: bool = False,
    ) -> None:
        self.fine_tune_encoder = fine_tune_encoder
        with training_policies(precision):  # dropout from seedable tf.random.Generators
            self.encoder_model = _load_encoder(source)
        self.encoder = list(self.encoder_model.weights)
        self.dropout = dropout_generators(self.encoder_model)
        width = self.encoder_model.config.hidden_size  # DistilBERT: its `dim`
        self.kernel = tf.Variable(tf.zeros((width, NUM_LABELS)), name="head/kernel")
        self.bias = tf.Variable(tf.zeros((NUM_LABELS,)), name="head/bias")
        self.trained = [self.kernel, self.bias]
        if fine_tune_encoder:
            self.trained += self.encoder_model.trainable_variables
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self._scaled = precision == "mixed_float16"  # float16 gradients underflow unscaled
        if self._scaled:
            self.optimizer = keras.mixed_precision.LossScaleOptimizer(self.optimizer)
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self._train = tf.function(self._full_step, jit_compile=jit_compile, autograph=False)
        self._train_head = tf.function(self._head_steps, autograph=False)
        self._features = tf.function(self._pooled, jit_compile=jit_compile, autograph=False)
        self.optimizer.build(self.trained)  # Adam's slots now, not inside the first trace
        self._fresh = [v.numpy() for v in self.optimizer.variables]  # zero moments, initial scale

    # -- the traced steps
    def _pooled(self, input_ids: Any, attention_mask: Any, training: bool = False) -> Any:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        hidden = tf.cast(self.encoder_model(inputs, training=training)[0], tf.float32)
        mask = tf.cast(attention_mask, tf.float32)[..., None]
        return tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)

    def _step(self, features_of: Callable[[], Any], labels: Any) -> Any:
        """One optimizer step on the loss of the head over `features_of()`."""
        with tf.GradientTape() as tape:
            loss = self.loss(labels, features_of() @ self.kernel + self.bias)
            scaled = self.optimizer.get_scaled_loss(loss) if self._scaled else loss
        gradients = tape.gradient(scaled, self.trained)
        if self._scaled:
            gradients = self.optimizer.get_unscaled_gradients(gradients)
        self.optimizer.apply_gradients(zip(gradients, self.trained, strict=True))
        return loss

    def _full_step(self, input_ids: Any, attention_mask: Any, labels: Any) -> Any:
        return self._step(lambda: self._pooled(input_ids, attention_mask, True), labels)

    def _head_steps(self, features: Any, labels: Any, batches: Any) -> Any:
        """Every step of a frozen run in one graph: a Python loop would cost more than the steps."""

        def body(i: Any, loss: Any) -> tuple[Any, Any]:
            rows = batches[i]
            return i + 1, self._step(lambda: tf.gather(features, rows), tf.gather(labels, rows))

        steps = tf.shape(batches)[0]
        return tf.while_loop(lambda i, _: i < steps, body, (0, tf.constant(float("nan"))))[1]

    # -- what the experiment calls
    def encoder_weights(self, source: str) -> list[np.ndarray]:
        """The encoder weights of the model at `source`, in this model's variable order (the
        architecture must be the general model's: the same class and weight shapes)."""
        other = _load_encoder(source)
        shapes = [tuple(v.shape) for v in other.weights]
        if type(other) is not type(self.encoder_model) or shapes != [
            tuple(v.shape) for v in self.encoder
        ]:
            raise ValueError(
                f"the encoder at {source!r} does not have the architecture of the general model: "
                "the adapted model must come from a run of the same configuration.model"
            )
        return [v.numpy() for v in other.weights]

    def load_encoder(self, weights: Sequence[np.ndarray]) -> None:
        for variable, value in zip(self.encoder, weights, strict=True):
            variable.assign(value)

    def reset(self, weights: Sequence[np.ndarray] | None, seed: int) -> None:
        """Load the encoder `weights` (None: keep the loaded ones, as the frozen mode does), the
        head of `seed`, restore the optimizer's initial state, and seed dropout with `seed`
        (through the model's own generators, not TensorFlow's global seed)."""
        if weights is not None:
            self.load_encoder(weights)
        kernel, bias = initial_head(int(self.kernel.shape[0]), seed)
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        for variable, value in zip(self.optimizer.variables, self._fresh, strict=True):
            variable.assign(value)
        reseed_dropout(self.dropout, seed, 0)

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
def _runs_of(
    encoder: str,
    trainer: ClassifierTrainer,
    weights: list[np.ndarray],
    data: LabelledData,
    batches: Mapping[tuple[int, int], np.ndarray],
) -> Iterator[dict[str, Any]]:
    """Train and score one classifier per (N, seed) of `batches` from `weights`; yield each
    record."""
    trainer.load_encoder(weights)
    train, test = data.train, data.test
    if not trainer.fine_tune_encoder:  # frozen: pool each review once, train the head on it
        used = np.unique(np.concatenate([b.ravel() for b in batches.values()]))
        pooled = np.zeros((len(train["labels"]), int(trainer.kernel.shape[0])), np.float32)
        pooled[used] = trainer.features({k: v[used] for k, v in train.items()})
        train = {**train, "features": pooled}
        test = {**test, "features": trainer.features(test)}
    cues = {} if data.test_cues is None else {c: data.test_cues == c for c in CUES}
    for (size, seed), order in batches.items():
        trainer.reset(weights if trainer.fine_tune_encoder else None, seed)
        loss = trainer.train(train, order)
        record = {
            "encoder": encoder,
            "size": size,
            "seed": seed,
            "steps": len(order),
            "final_loss": loss if math.isfinite(loss) else None,
            "accuracy": trainer.accuracy(test),
        }
        if cues:  # the embedded corpus: accuracy on the reviews of each kind of cue
            record["accuracy_by_cue"] = {
                cue: trainer.accuracy({k: v[rows] for k, v in test.items()})
                for cue, rows in cues.items()
                if rows.any()
            }
        yield record


def learning_curve(
    run: RunLike,
    settings: ClassifySettings | None = None,
    *,
    data: LabelledData | None = None,
    verbose: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> CurveResult:
    """Accuracy against the number of labelled reviews, for the general and the adapted encoder.

    `run` is the finished run (a `Run` or its folder): its config gives the general model, the data
    and the tokenizer, its all_results.json the precision and XLA setting, its model/ the adapted
    encoder. `settings`: the sizes, seeds and budget (default: the run's profile's); `data` reuses
    `prepare_labelled`'s arrays. Every size is checked against the split before any training. With
    `verbose`, one line per run. Notebook 07 and ``python -m mlm_helpers classify``.
    """
    start = time.perf_counter()
    run = load_run(run)
    sources = encoder_sources(run)
    profile = run.run_config().profile
    settings = settings or ClassifySettings.for_profile(profile)
    data = data or prepare_labelled(run, settings)
    batches = plan(data.train["labels"], settings, data.train_split)
    trainer = ClassifierTrainer(
        sources["general"],
        learning_rate=settings.learning_rate,
        fine_tune_encoder=settings.fine_tune_encoder,
        precision=run.results.get("precision", "float32"),  # what the run trained with
        jit_compile=bool(run.results.get("jit_compile", False)),
    )
    weights = {name: trainer.encoder_weights(source) for name, source in sources.items()}
    runs = []
    for encoder in ENCODERS:
        for record in _runs_of(encoder, trainer, weights[encoder], data, batches):
            runs.append(record)
            if verbose:
                print(
                    f"{encoder:>8} encoder, N={record['size']:>6}, seed {record['seed']}: "
                    f"accuracy {record['accuracy']:.3f} ({record['steps']} steps)"
                )
            if progress is not None:
                progress(record)
    return CurveResult(
        runs=runs,
        settings=settings,
        encoders=sources,
        profile=profile,
        train_split=data.train_split,
        test_split=data.test_split,
        train_available=len(data.train["labels"]),
        test_reviews=len(data.test["labels"]),
        test_dropped=data.dropped,
        max_length=data.max_length,
        seconds=time.perf_counter() - start,
        versions=runtime.library_versions(),
    )
