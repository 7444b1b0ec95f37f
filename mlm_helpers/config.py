"""One object describes a run (`RunConfig`), and one object describes each profile (`Profile`).

- ``hub``: the real recipe — `distilbert-base-uncased` fine-tuned on the Hub's `imdb`, meant for a GPU.
- ``embedded``: the same story in miniature — a tiny DistilBERT that this project pre-trained on
  generated general-domain text (shipped in the package with its tokenizer) is adapted to the
  project's own generated review corpus; the whole series runs offline on a 2-core CPU in minutes.

"What is the hub profile?" has one answer, `PROFILES["hub"]`: its run defaults, the general model it
adapts, the hardware it is sized for, notebook 07's experiment (`ClassifySettings`) and the
perplexity drop its adaptation must reach (`min_gain`, checked by `evaluation.check_adaptation`).
Both profiles go through the same code. The notebooks choose the profile in their parameters cell
(notebook 01 introduces it); the environment variable ``MLM_PROFILE`` overrides that choice, and
the command line's explicit ``--profile`` overrides ``MLM_PROFILE``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runtime
from .checks import finite_number, invalid, is_int, one_of, positive_int
from .paths import EMBEDDED, SCRATCH, resolve_runs_dir  # noqa: F401 - the names RunConfig.model takes

PROFILE_ENV = "MLM_PROFILE"
ON_COLAB_MODULE = "google.colab"
COLAB_GPU_HELP = (
    "This Colab runtime has no GPU, so the real recipe cannot run here. For it: Runtime → Change "
    "runtime type → Hardware accelerator: T4 GPU → Save, then run the notebook again from the top."
)
MASKING_KINDS = ("token", "whole_word")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# "multi_worker": several machines (or processes) with tf.distribute.MultiWorkerMirroredStrategy,
# the cluster read from the TF_CONFIG environment variable (README: training on several machines).
STRATEGIES = ("auto", "default", "mirrored", "tpu", "multi_worker")
EVAL_OVERLAPS = ("drop", "refuse")  # what `data.hold_out` does with eval reviews also in training

MASK_PLACEHOLDER = "[MASK]"  # how prompts are written here, whatever the tokenizer's mask token
DEFAULT_PROMPTS = (
    "This is a great [MASK].",
    "The acting was [MASK] and the plot was predictable.",
    "I would [MASK] this movie to anyone.",
)
# The architecture of a model="scratch" run. The shipped model has this shape (pre-trained by
# tools/embedded/build.py, which also widens the initial weights); tests use smaller ones.
TINY_MODEL = {
    "n_layers": 3,
    "dim": 64,
    "n_heads": 4,
    "hidden_dim": 256,
    "max_position_embeddings": 512,
    "dropout": 0.0,
    "attention_dropout": 0.0,
}


def check_masking(kind: str, mlm_probability: float, *, owner: str = "") -> None:
    """Raise ValueError unless `kind` is a masking kind and `mlm_probability` lies in (0, 1).

    The one check of these two fields: `RunConfig` (``owner="RunConfig."``, so that the message
    names its fields) and `masking.MaskingSpec` both call it.
    """
    if kind not in MASKING_KINDS:
        raise ValueError(
            f"{owner + 'masking=' if owner else 'masking kind '}{kind!r} is unknown: choose one of "
            f"{MASKING_KINDS}"
        )
    number = isinstance(mlm_probability, int | float) and not isinstance(mlm_probability, bool)
    if not number or not 0.0 < mlm_probability < 1.0:
        raise ValueError(
            f"{owner}mlm_probability={mlm_probability!r} must lie strictly between 0 and 1 "
            "(0.15 is the usual value)"
        )


def _replace(obj: Any, changes: Mapping[str, Any]) -> Any:
    """`dataclasses.replace`, refusing unknown field names with a TypeError that lists them."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(obj)}
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field(s) {sorted(unknown)}")
    return dataclasses.replace(obj, **changes)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; recorded in the run folder and on the model card.

    Frozen and validated once, when it is made: change a field with `replace`, which makes (and
    validates) a new one. The defaults are the embedded profile's.
    """

    profile: str = EMBEDDED
    run_name: str = "embedded-default"
    # -- data (notebook 01)
    # A Hub dataset id, a local folder (Hub layout, or .txt files), {split: file or [files]}
    # (parquet, jsonl, csv or txt), or "embedded" (`data.load_reviews`).
    dataset: str | Mapping[str, Any] = EMBEDDED
    text_column: str = "text"  # the column holding the texts (csv, jsonl, parquet)
    label_column: str = "label"  # the column holding sentiment labels (notebook 07)
    text_per_line: bool = False  # .txt files: one text per file (False) or per line (True)
    # A corpus without `eval_split`: hold out this share of the first training split's texts as
    # `eval_split`, chosen by content hash (reproducible; `data.load_reviews`). None: refuse.
    held_out_share: float | None = None
    language: str = "en"  # the texts' language (ISO 639-1), recorded on the model card
    train_splits: tuple[str, ...] = ("train", "unsupervised")
    eval_split: str = "test"
    # Eval reviews whose text also occurs in a training split: "drop" them (and say how many) or
    # "refuse" to run (`data.hold_out`).
    eval_overlap: str = "drop"
    max_reviews: int | None = None  # per split, sampled with `seed` before tokenizing; None = all
    # Processes that tokenize (`datasets.map(num_proc=...)` in `chunking.prepare_chunks`); None:
    # every core this process may use. Never changes a chunk, only how fast they are made.
    num_proc: int | None = None
    clean_html: bool = True  # turn "<br />" tags into spaces
    # -- tokenizer and model (notebooks 02 and 04)
    # A Hub model id, a local folder in Hub format, "embedded" (the shipped tiny general-language
    # DistilBERT) or "scratch" (a fresh random model sized by `tiny_model`).
    model: str = EMBEDDED
    # None: the model's own ("embedded" and "scratch": the shipped WordPiece vocab)
    tokenizer: str | None = None
    tiny_model: Mapping[str, Any] = field(default_factory=lambda: dict(TINY_MODEL))
    chunk_size: int = 128
    # -- masking (notebook 03)
    masking: str = "token"  # "token" or "whole_word"
    mlm_probability: float = 0.15
    train_chunks: int | None = 3_000  # chunks sampled for training; None = all
    # Chunks sampled from the held-out split (None = all). 2,000 (256,000 tokens): on reviews whose
    # sentences are their own, 300 chunks left the held-out perplexity 16% apart between seeds.
    eval_chunks: int | None = 2_000
    # -- optimisation (notebook 04)
    # Embedded default: 3 epochs of 188 steps adapt the shipped model on any seed (held-out
    # perplexity within 4% across seeds, benchmarks/adaptation.py); a model this small takes a larger
    # learning rate than distilbert-base's 2e-5.
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1  # a fraction of all steps if < 1, else a number of steps
    epochs: int = 3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    clip_norm: float | None = 1.0
    # -- hardware
    precision: str = "auto"  # auto: mixed_float16 on GPU, mixed_bfloat16 on TPU, float32 on CPU
    jit_compile: bool | str = "auto"  # auto: XLA on GPU/TPU
    strategy: str = "auto"
    # -- run bookkeeping
    seed: int = 42
    runs_dir: str = "runs"
    checkpoint_every_steps: int | None = 2_000  # benchmarks/checkpointing.py
    fill_mask_prompts: tuple[str, ...] = DEFAULT_PROMPTS
    top_k: int = 5

    def __post_init__(self) -> None:
        for name in tuple_fields():
            value = getattr(self, name)
            if isinstance(value, str):  # tuple("train") would be ('t', 'r', 'a', 'i', 'n')
                raise ValueError(
                    f"RunConfig.{name}={value!r} is a bare string, not a tuple of names: write "
                    f"{name}=({value!r},) or a list (on the command line: --set {name}=a,b)"
                )
            object.__setattr__(self, name, tuple(value))
        if not isinstance(self.tiny_model, Mapping):
            raise invalid(
                "RunConfig.tiny_model", self.tiny_model, "give a dict of DistilBertConfig fields"
            )
        object.__setattr__(self, "tiny_model", types.MappingProxyType(dict(self.tiny_model)))
        object.__setattr__(self, "dataset", _dataset_value(self.dataset))
        self._validate()

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        """Raise ValueError naming the bad field and what would be accepted."""

        def name(field_name: str) -> str:
            return f"RunConfig.{field_name}"

        if self.profile not in PROFILES:
            raise invalid(
                name("profile"),
                self.profile,
                f"choose one of {tuple(PROFILES)} (or 'auto' in get_config)",
            )
        for field_name in ("batch_size", "epochs", "top_k"):
            positive_int(getattr(self, field_name), name(field_name))
        if self.chunk_size < 2:
            raise invalid(name("chunk_size"), self.chunk_size, "a chunk needs at least 2 tokens")
        for field_name in ("max_reviews", "train_chunks", "eval_chunks", "checkpoint_every_steps"):
            positive_int(getattr(self, field_name), name(field_name), allow_none=True)
        if self.num_proc is not None and (not is_int(self.num_proc) or self.num_proc < 1):
            raise invalid(
                name("num_proc"),
                self.num_proc,
                "give a number of processes >= 1, or None (every core)",
            )
        check_masking(self.masking, self.mlm_probability, owner="RunConfig.")
        for field_name in ("learning_rate", "adam_epsilon"):
            finite_number(getattr(self, field_name), name(field_name), positive=True)
        for field_name in ("weight_decay", "warmup", "adam_beta1", "adam_beta2"):
            finite_number(getattr(self, field_name), name(field_name))
        finite_number(
            self.clip_norm,
            name("clip_norm"),
            positive=True,
            allow_none=True,
            none_means="no clipping",
        )
        for field_name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, field_name) < 1:
                raise invalid(name(field_name), getattr(self, field_name), "it must lie in [0, 1)")
        if self.weight_decay < 0:
            raise invalid(name("weight_decay"), self.weight_decay, "it must be >= 0")
        if self.warmup < 0 or (self.warmup >= 1 and float(self.warmup) != int(self.warmup)):
            raise invalid(
                name("warmup"), self.warmup, "give a fraction in [0, 1) or a whole number of steps"
            )
        one_of(self.precision, name("precision"), PRECISIONS)
        one_of(self.jit_compile, name("jit_compile"), (True, False, "auto"))
        one_of(self.strategy, name("strategy"), STRATEGIES)
        positive_int(self.seed, name("seed"), minimum=0)
        one_of(self.eval_overlap, name("eval_overlap"), EVAL_OVERLAPS)
        for field_name in ("text_column", "label_column", "language"):
            if not isinstance(getattr(self, field_name), str) or not getattr(self, field_name):
                raise invalid(name(field_name), getattr(self, field_name), "give a non-empty name")
        one_of(self.text_per_line, name("text_per_line"), (True, False))
        if self.held_out_share is not None and not (
            isinstance(self.held_out_share, float) and 0 < self.held_out_share < 1
        ):
            raise invalid(
                name("held_out_share"),
                self.held_out_share,
                "give a share strictly between 0 and 1 (e.g. 0.1), or None to hold nothing out",
            )
        self._validate_splits()

    def _validate_splits(self) -> None:
        if not self.train_splits:
            raise invalid(
                "RunConfig.train_splits", self.train_splits, "name at least one split to train on"
            )
        if not all(isinstance(s, str) and s for s in self.train_splits):
            raise invalid(
                "RunConfig.train_splits", self.train_splits, "split names must be non-empty strings"
            )
        if not isinstance(self.eval_split, str) or not self.eval_split:
            raise invalid(
                "RunConfig.eval_split",
                self.eval_split,
                "name the split to evaluate on (a corpus without one: set held_out_share)",
            )
        if self.eval_split in self.train_splits:
            raise invalid(
                "RunConfig.eval_split",
                self.eval_split,
                f"it must not be one of the training splits {self.train_splits}: "
                "validation rows must be held out",
            )

    # ---------------------------------------------------------------- conveniences
    @property
    def run_dir(self) -> Path:
        """The run folder `<runs_dir>/<run_name>`; a relative `runs_dir` is taken from the project
        root (point `runs_dir`, or `$MLM_RUNS_DIR`, at Google Drive on Colab)."""
        return resolve_runs_dir(self.runs_dir) / self.run_name

    @property
    def tokenizer_name(self) -> str:
        return self.tokenizer if self.tokenizer is not None else self.model

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated)."""
        return _replace(self, changes)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data.update(
            dataset=dataset_record(self.dataset),
            tiny_model=dict(self.tiny_model),
            train_splits=list(self.train_splits),
            fill_mask_prompts=list(self.fill_mask_prompts),
        )
        return data

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each field's default (as `to_dict` writes it), for records saved before a field existed."""
        return {
            f.name: f.default
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {sorted(unknown)} in the saved config")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the config as JSON, atomically (a temporary file renamed over `path`): a reader,
        e.g. another worker resuming the run, sees the old or the new file, never half of one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # as run_folder's
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _dataset_value(dataset: Any) -> str | Mapping[str, tuple[str, ...]]:
    """`RunConfig.dataset` checked: a non-empty name, or {split: file or [files]} frozen as
    {split: (file, ...)} (recorded in config.json as lists)."""
    if isinstance(dataset, os.PathLike):
        dataset = os.fspath(dataset)
    if isinstance(dataset, str):
        if not dataset.strip():
            raise invalid(
                "RunConfig.dataset",
                dataset,
                f"give a Hub dataset id, a local folder, {{split: files}} or {EMBEDDED!r}",
            )
        return dataset
    if not isinstance(dataset, Mapping) or not dataset:
        raise invalid(
            "RunConfig.dataset", dataset, "give a name or a non-empty {split: file or [files]} dict"
        )
    files = {}
    for split, value in dataset.items():
        paths = [value] if isinstance(value, str | os.PathLike) else list(value)
        if not isinstance(split, str) or not split or not paths:
            raise invalid("RunConfig.dataset", dict(dataset), f"split {split!r} names no file")
        files[split] = tuple(os.fspath(p) for p in paths)
    return types.MappingProxyType(files)


def dataset_record(dataset: Any) -> str | dict[str, list[str]]:
    """A dataset as config.json records it: the name, or {split: [file, ...]}. Chunks and reviews
    carry it too (`chunking.prepare_chunks`), so that a run can tell what they were made from."""
    value = _dataset_value(dataset)
    return value if isinstance(value, str) else {s: list(files) for s, files in value.items()}


def tuple_fields() -> tuple[str, ...]:
    """The RunConfig fields that hold a tuple of strings (their defaults are tuples): a bare string
    is refused there, and the CLI reads ``--set train_splits=train,unsupervised`` as a comma list."""
    return tuple(f.name for f in dataclasses.fields(RunConfig) if isinstance(f.default, tuple))


# ----------------------------------------------------------------------------------- notebook 07
@dataclass(frozen=True)
class ClassifySettings:
    """Notebook 07's experiment: which label counts and seeds, and the budget both encoders get.

    ``sizes``: numbers of labelled training reviews (None = every review of ``train_split``);
    ``seeds``: one run per seed and size (the sample, the head's initial weights and the batch order);
    ``epochs`` passes over the N reviews, at least ``min_steps`` optimizer steps of ``batch_size``;
    ``test_reviews``: how many held-out reviews score each classifier (None = all);
    ``fine_tune_encoder``: train every weight (True), or freeze the encoder and train only the head
    on its pooled output (False: the embedded profile's default, to fit two minutes of CPU).
    """

    sizes: tuple[int | None, ...]
    seeds: tuple[int, ...]
    batch_size: int
    learning_rate: float
    epochs: float
    min_steps: int
    test_reviews: int | None
    fine_tune_encoder: bool = True
    train_split: str = "train"
    test_split: str = "test"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if not self.sizes or not self.seeds:
            raise ValueError("ClassifySettings needs at least one size and one seed")
        for n in self.sizes:
            if n is not None and (not is_int(n) or n < 2):
                raise ValueError(
                    f"size {n!r} is not a number of labelled reviews: give integers >= 2 (one "
                    "review per class at least) or None for the whole split"
                )
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes {self.sizes} repeat a value: give each size once")
        if any(not is_int(s) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds {self.seeds} must be non-negative integers")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} repeat a value: each seed is one run")
        for name in ("batch_size", "min_steps"):
            positive_int(getattr(self, name), name)
        for name in ("learning_rate", "epochs"):
            finite_number(getattr(self, name), name, positive=True)
        positive_int(self.test_reviews, "test_reviews", minimum=2, allow_none=True)
        if self.train_split == self.test_split:
            raise ValueError(
                f"train_split and test_split are both {self.train_split!r}: the test reviews must "
                "be held out"
            )

    @classmethod
    def for_profile(cls, profile: str, **changes: Any) -> ClassifySettings:
        """The settings of a profile ("embedded" or "hub"), with fields changed by `changes`."""
        return _replace(profile_of(profile).classify, changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(sizes=list(self.sizes), seeds=list(self.seeds))
        return data


# ----------------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class Profile:
    """Everything a profile decides, in one place.

    ``run``: the RunConfig fields that differ from `RunConfig`'s defaults (the embedded values);
    ``general_model``: the model that adaptation starts from; ``hardware``: what the run is sized
    for; ``classify``: notebook 07's experiment; ``min_gain``: how many-fold the held-out
    perplexity must fall for the adaptation to count (`evaluation.check_adaptation`, notebooks 04
    and 05).
    """

    name: str
    run: Mapping[str, Any]
    general_model: str
    hardware: str
    classify: ClassifySettings
    min_gain: float

    def config(self, **overrides: Any) -> RunConfig:
        """This profile's `RunConfig`, with fields changed by `overrides`."""
        return RunConfig(profile=self.name, **{**self.run, **overrides})


PROFILES: dict[str, Profile] = {
    "hub": Profile(
        name="hub",
        run=dict(
            run_name="distilbert-imdb",
            dataset="imdb",
            model="distilbert-base-uncased",
            tiny_model={},
            max_reviews=None,
            train_chunks=10_000,
            eval_chunks=1_000,
            batch_size=32,
            learning_rate=2e-5,
            weight_decay=0.01,
            warmup=0.1,
            epochs=3,
        ),
        general_model="distilbert-base-uncased",
        hardware="a GPU (a Colab T4 is enough): mixed precision, XLA",
        # The usual distilbert-base fine-tuning recipe (batch 16, 2e-5 to 5e-5, 2 epochs).
        classify=ClassifySettings(
            sizes=(50, 200, 1000, None),
            seeds=(0, 1, 2),
            batch_size=16,
            learning_rate=3e-5,
            epochs=2.0,
            min_steps=50,
            test_reviews=5_000,
            fine_tune_encoder=True,
        ),
        min_gain=1.5,  # unmeasured here: the course's one epoch gave 1.9x
    ),
    "embedded": Profile(
        name="embedded",
        run={},
        general_model=EMBEDDED,
        hardware="any CPU, minutes",
        # Keeps notebook 07 within two minutes of a 2-core CPU.
        classify=ClassifySettings(
            sizes=(16, 64, 256, 1024, None),
            seeds=(0, 1, 2, 3, 4),
            batch_size=32,
            learning_rate=1e-2,
            epochs=10.0,
            min_steps=100,
            test_reviews=400,
            fine_tune_encoder=False,
        ),
        min_gain=2.0,  # measured >= 10,600x over 5 seeds (benchmarks/adaptation.py)
    ),
}


def profile_of(name: str) -> Profile:
    """The `Profile` called `name` ("hub" or "embedded"); ValueError naming the choices otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {tuple(PROFILES)}")
    return PROFILES[name]


def hub_profile(**overrides: Any) -> RunConfig:
    """The real recipe: distilbert-base-uncased on the Hub's imdb, sized for a Colab GPU."""
    return PROFILES["hub"].config(**overrides)


def embedded_profile(**overrides: Any) -> RunConfig:
    """The offline default: the shipped review corpus and a tiny DistilBERT, minutes on a CPU."""
    return PROFILES["embedded"].config(**overrides)


def resolve_profile(
    profile: str = "auto", *, verbose: bool = True, chosen_by: str | None = None
) -> str:
    """Turn "auto" (or the `MLM_PROFILE` environment variable) into "hub" or "embedded".

    `MLM_PROFILE`, when set, wins over the argument (a notebook's parameters cell), unless
    `chosen_by` names an explicit choice (the CLI's ``--profile``), which wins over it. The line
    printed says which one decided. "auto" picks "hub" when a GPU/TPU is visible and the Hub
    answers — the one place a profile asks the network (`runtime.hub_reachable`, asked once per
    process) — and "embedded" otherwise, and says which it chose and how to override it.
    """
    source, env = chosen_by or "argument", os.environ.get(PROFILE_ENV, "").strip().lower()
    if env and chosen_by is None:
        profile, source = env, f"${PROFILE_ENV}"
    elif env and env != profile:
        source += f", which wins over ${PROFILE_ENV}={env}"
    if profile == "auto":
        return _auto_profile(verbose)
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r} (from {source}): choose 'auto', 'hub' or 'embedded'"
        )
    if verbose:
        print(f"Profile: {profile} (from {source}).")
    return profile


def _auto_profile(verbose: bool) -> str:
    accelerator = runtime.detect_accelerator()
    online = accelerator != "cpu" and runtime.hub_reachable()  # network I/O: only with a GPU/TPU
    chosen = "hub" if online else EMBEDDED
    if verbose:
        why = (
            f"a {accelerator.upper()} is visible and the Hub answers"
            if online
            else "no GPU/TPU is visible"
            if accelerator == "cpu"
            else "the Hub is not reachable"
        )
        print(
            f"Profile: {chosen} (auto: {why}). Override with PROFILE = 'hub' or 'embedded', "
            f"or the environment variable {PROFILE_ENV}."
        )
        if accelerator == "cpu" and ON_COLAB_MODULE in sys.modules:
            print(COLAB_GPU_HELP)
    return chosen


def get_config(
    profile: str = "auto", *, verbose: bool = True, chosen_by: str | None = None, **overrides: Any
) -> RunConfig:
    """The run configuration for a profile ("auto", "hub" or "embedded"), with field overrides.

    This is the one call in every notebook's parameters cell. With "auto" it may ask whether the
    Hub answers (see `resolve_profile`, which `chosen_by` goes to); "hub" and "embedded" do no I/O.
    """
    return PROFILES[resolve_profile(profile, verbose=verbose, chosen_by=chosen_by)].config(
        **overrides
    )
