"""One object describes a run: `RunConfig`, with two named profiles.

- ``hub``: the real recipe — `distilbert-base-uncased` fine-tuned on the Hub's `imdb`, meant for a GPU.
- ``embedded``: the same story in miniature — a tiny DistilBERT that this project pre-trained on
  generated general-domain text (shipped in the package with its tokenizer) is adapted to the
  project's own generated review corpus; the whole series runs offline on a 2-core CPU in minutes.

Both go through the same code. The notebooks choose the profile in their parameters cell (notebook 01
introduces it); the environment variable ``MLM_PROFILE`` overrides that choice.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runtime
from .paths import EMBEDDED, SCRATCH, resolve_runs_dir  # noqa: F401 - the names RunConfig.model takes

PROFILE_ENV = "MLM_PROFILE"
ON_COLAB_MODULE = "google.colab"
COLAB_GPU_HELP = (
    "This Colab runtime has no GPU, so the real recipe cannot run here. For it: Runtime → Change "
    "runtime type → Hardware accelerator: T4 GPU → Save, then run the notebook again from the top."
)
PROFILES = ("hub", "embedded")
MASKING_KINDS = ("token", "whole_word")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "default", "mirrored", "tpu")
EVAL_OVERLAPS = ("drop", "refuse")  # what `data.hold_out` does with eval reviews also in training

DEFAULT_PROMPTS = (
    "This is a great [MASK].",
    "The acting was [MASK] and the plot was predictable.",
    "I would [MASK] this movie to anyone.",
)


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


def _finite(value: Any) -> bool:
    """Whether `value` is a real number (not bool) other than nan and ±inf."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value)


@dataclass
class RunConfig:
    """Everything that defines a run; recorded in the run folder and on the model card."""

    profile: str = EMBEDDED
    run_name: str = "embedded-default"
    # -- data (notebook 01)
    dataset: str = EMBEDDED  # a Hub dataset id, a local folder in Hub format, or "embedded"
    train_splits: tuple[str, ...] = ("train", "unsupervised")
    eval_split: str = "test"
    # Eval reviews whose text also occurs in a training split: "drop" them (and say how many) or
    # "refuse" to run (`data.hold_out`).
    eval_overlap: str = "drop"
    max_reviews: int | None = None  # per split, sampled with `seed` before tokenizing; None = all
    clean_html: bool = True  # turn "<br />" tags into spaces
    # -- tokenizer and model (notebooks 02 and 04)
    # A Hub model id, a local folder in Hub format, "embedded" (the shipped tiny general-language
    # DistilBERT) or "scratch" (a fresh random model sized by `tiny_model`).
    model: str = EMBEDDED
    tokenizer: str | None = (
        None  # None: the model's own ("embedded" and "scratch": the shipped WordPiece vocab)
    )
    # The architecture of a model="scratch" run. The shipped model has this shape (pre-trained by
    # tools/embedded/build.py, which also widens the initial weights); tests use smaller ones.
    tiny_model: dict[str, Any] = field(
        default_factory=lambda: {
            "n_layers": 3,
            "dim": 64,
            "n_heads": 4,
            "hidden_dim": 256,
            "max_position_embeddings": 512,
            "dropout": 0.0,
            "attention_dropout": 0.0,
        }
    )
    chunk_size: int = 128
    # -- masking (notebook 03)
    masking: str = "token"  # "token" or "whole_word"
    mlm_probability: float = 0.15
    train_chunks: int | None = 3_000  # chunks sampled for training; None = all
    eval_chunks: int | None = 300  # chunks sampled from the held-out split; None = all
    # -- optimisation (notebook 04)
    # Embedded default: 3 epochs of 188 steps adapt the shipped model on any seed (held-out
    # perplexity within 6% across seeds, benchmarks/adaptation.py); a model this small takes a larger
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
    checkpoint_every_steps: int | None = None
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
            setattr(self, name, tuple(value))
        self.validate()

    # ---------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise ValueError naming the bad field and what would be accepted."""

        def bad(name: str, value: Any, expected: str) -> ValueError:
            return ValueError(f"RunConfig.{name}={value!r} is invalid: {expected}")

        if self.profile not in PROFILES:
            raise bad(
                "profile", self.profile, f"choose one of {PROFILES} (or 'auto' in get_config)"
            )
        for name in ("batch_size", "epochs", "chunk_size", "top_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(name, value, "it must be a positive integer")
        if self.chunk_size < 2:
            raise bad("chunk_size", self.chunk_size, "a chunk needs at least 2 tokens")
        for name in ("max_reviews", "train_chunks", "eval_chunks", "checkpoint_every_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise bad(name, value, "it must be a positive integer or None (no limit)")
        check_masking(self.masking, self.mlm_probability, owner="RunConfig.")
        for name in ("learning_rate", "weight_decay", "warmup", "adam_beta1", "adam_beta2"):
            if not _finite(getattr(self, name)):
                raise bad(name, getattr(self, name), "it must be a finite number (not nan or inf)")
        for name in ("adam_epsilon", "clip_norm"):
            value = getattr(self, name)
            if not (value is None and name == "clip_norm") and not (_finite(value) and value > 0):
                none = " (or None: no clipping)" if name == "clip_norm" else ""
                raise bad(name, value, f"it must be a finite positive number{none}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise bad(name, getattr(self, name), "it must lie in [0, 1)")
        if not self.learning_rate > 0:
            raise bad("learning_rate", self.learning_rate, "it must be positive")
        if self.weight_decay < 0:
            raise bad("weight_decay", self.weight_decay, "it must be >= 0")
        if self.warmup < 0 or (self.warmup >= 1 and float(self.warmup) != int(self.warmup)):
            raise bad("warmup", self.warmup, "give a fraction in [0, 1) or a whole number of steps")
        if self.precision not in PRECISIONS:
            raise bad("precision", self.precision, f"choose one of {PRECISIONS}")
        if self.jit_compile not in (True, False, "auto"):
            raise bad("jit_compile", self.jit_compile, "use True, False or 'auto'")
        if self.strategy not in STRATEGIES:
            raise bad("strategy", self.strategy, f"choose one of {STRATEGIES}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise bad("seed", self.seed, "it must be a non-negative integer")
        splits = (*self.train_splits, self.eval_split)
        if not all(isinstance(s, str) and s for s in splits):
            raise bad(
                "train_splits",
                self.train_splits,
                f"split names must be non-empty strings (eval_split={self.eval_split!r})",
            )
        if self.eval_overlap not in EVAL_OVERLAPS:
            raise bad("eval_overlap", self.eval_overlap, f"choose one of {EVAL_OVERLAPS}")
        if not self.train_splits or self.eval_split in self.train_splits:
            raise bad(
                "eval_split",
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
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"RunConfig has no field(s) {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train_splits"] = list(self.train_splits)
        data["fill_mask_prompts"] = list(self.fill_mask_prompts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {sorted(unknown)} in the saved config")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def tuple_fields() -> tuple[str, ...]:
    """The RunConfig fields that hold a tuple of strings (their defaults are tuples): a bare string
    is refused there, and the CLI reads ``--set train_splits=train,unsupervised`` as a comma list."""
    return tuple(f.name for f in dataclasses.fields(RunConfig) if isinstance(f.default, tuple))


def hub_profile(**overrides: Any) -> RunConfig:
    """The real recipe: distilbert-base-uncased on the Hub's imdb, sized for a Colab GPU."""
    base = RunConfig(
        profile="hub",
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
    )
    return base.replace(**overrides)


def embedded_profile(**overrides: Any) -> RunConfig:
    """The offline default: the shipped review corpus and a tiny DistilBERT, minutes on a CPU."""
    return RunConfig().replace(**overrides)


def resolve_profile(profile: str = "auto", *, verbose: bool = True) -> str:
    """Turn "auto" (or the `MLM_PROFILE` environment variable) into "hub" or "embedded".

    `MLM_PROFILE`, when set, wins over the argument. "auto" picks "hub" when a GPU/TPU is visible and
    the Hub answers, "embedded" otherwise, and says which it chose and how to override it.
    """
    source = "argument"
    if os.environ.get(PROFILE_ENV):
        profile, source = os.environ[PROFILE_ENV].strip().lower(), f"${PROFILE_ENV}"
    if profile == "auto":
        accelerator = runtime.detect_accelerator()
        online = accelerator != "cpu" and runtime.hub_reachable()
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
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r} (from {source}): choose 'auto', 'hub' or 'embedded'"
        )
    if verbose:
        print(f"Profile: {profile} (from {source}).")
    return profile


def get_config(profile: str = "auto", *, verbose: bool = True, **overrides: Any) -> RunConfig:
    """The run configuration for a profile ("auto", "hub" or "embedded"), with field overrides.

    This is the one call in every notebook's parameters cell.
    """
    chosen = resolve_profile(profile, verbose=verbose)
    factory = hub_profile if chosen == "hub" else embedded_profile
    return factory(**overrides)
