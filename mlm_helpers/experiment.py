"""Stage 07's experiment design, without TensorFlow: does domain adaptation pay off?

ULMFiT's argument: a model adapted to the target domain needs fewer labelled examples for a task in
that domain. `classify.learning_curve` trains a sentiment classifier from the general and the
adapted encoder for each (N, seed) of `plan`, which holds the budget (`config.ClassifySettings`)
equal: the same stratified sample (`sample_labelled`), the same batches in the same order
(`batch_order`), the same number of steps (`budget_steps`). The result, a `CurveResult`, goes into
``<run>/classification.json`` (`CurveResult.save`; docs/run-folder.md) and comes back from
`read_results`; its table, gaps and figure (`plot_learning_curve`) need no TensorFlow. Notebook 07.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import ClassifySettings
from .run_folder import CLASSIFICATION_FILE, Run, RunLike, read_json, write_json_atomic

ENCODERS = ("general", "adapted")
NUM_LABELS = 2
# How a labelled review of the embedded corpus states its verdict (`data.review_cues`).
CUES = ("general", "both", "idiom")
CUE_WORDS = {
    "general": "everyday words only",
    "both": "everyday words and idioms",
    "idiom": "the domain's idioms only",
}


# ----------------------------------------------------------------------------------- design
def budget_steps(size: int, settings: ClassifySettings) -> int:
    """Optimizer steps for N = `size` labelled reviews: ``epochs`` passes over them in batches of
    ``batch_size``, and at least ``min_steps``. The same for both encoders. Notebook 07."""
    return max(settings.min_steps, math.ceil(settings.epochs * size / settings.batch_size))


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


def plan(
    labels: np.ndarray, settings: ClassifySettings, split: str
) -> dict[tuple[int, int], np.ndarray]:
    """{(N, seed): its batches}: the reviews, steps and batch order both encoders get (N = None
    is every review). A size larger than `split` raises ValueError naming both, before any
    training."""
    available = len(labels)
    for n in settings.sizes:
        if n is not None and n > available:
            raise ValueError(
                f"N={n} labelled reviews were asked for, but split {split!r} has only "
                f"{available}: use sizes up to {available} (or None for all of them)"
            )
    return {
        (size, seed): batch_order(
            sample_labelled(labels, size, seed),
            budget_steps(size, settings),
            settings.batch_size,
            seed,
        )
        for size in (available if n is None else n for n in settings.sizes)
        for seed in settings.seeds
    }


# ----------------------------------------------------------------------------------- results
RESULT_KEYS = (  # classification.json's fields, in order (docs/run-folder.md)
    "profile", "encoders", "train_split", "test_split", "train_available", "test_reviews",
    "test_dropped", "max_length", "settings", "runs", "summary", "seconds", "versions"
)  # fmt: skip


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
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        stats = {"mean": arr.mean(), "std": std, "min": arr.min(), "max": arr.max()}
        rows.append({"encoder": encoder, "size": size, **{k: float(v) for k, v in stats.items()}})
        rows[-1]["seeds"] = int(arr.size)
    return rows


def summarize_cues(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (encoder, N, cue): mean, min and max over seeds of the accuracy on the test reviews of
    that cue (the runs' ``accuracy_by_cue``, recorded on the embedded corpus); [] without it."""
    groups: dict[tuple[str, int, str], list[float]] = {}
    for run in runs:
        for cue, accuracy in run.get("accuracy_by_cue", {}).items():
            groups.setdefault((run["encoder"], int(run["size"]), cue), []).append(float(accuracy))
    encoders, cues = ({name: i for i, name in enumerate(names)} for names in (ENCODERS, CUES))
    rows = []
    for (encoder, size, cue), values in sorted(
        groups.items(), key=lambda kv: (kv[0][1], cues.get(kv[0][2], 9), encoders.get(kv[0][0], 9))
    ):
        arr = np.asarray(values)
        rows.append(
            {"encoder": encoder, "size": size, "cue": cue, "mean": float(arr.mean())}
            | {"min": float(arr.min()), "max": float(arr.max()), "seeds": int(arr.size)}
        )
    return rows


def _folder(run: RunLike) -> Path:
    """The run folder of a path or a `Run` (where its records are)."""
    return run.path if isinstance(run, Run) else Path(run)


@dataclass
class CurveResult:
    """What `classify.learning_curve` measured: one record per (encoder, N, seed) in ``runs``, and
    the setup. `summary` gives mean, spread and range per (encoder, N), `gaps` the adapted minus
    general means, `markdown` the table; `save` writes classification.json (`to_dict`), and
    `read_results` reads it back."""

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

    def gaps(self) -> dict[int, float]:
        """{N: mean accuracy of the adapted encoder minus that of the general one}."""
        means = {(r["encoder"], r["size"]): r["mean"] for r in self.summary()}
        sizes = sorted({size for _, size in means})
        return {n: means[("adapted", n)] - means[("general", n)] for n in sizes}

    def markdown(self) -> str:
        """The learning curve as a Markdown table: one row per N, mean ± standard deviation over
        the seeds per encoder (min–max in brackets), and the adapted minus general difference."""
        rows: dict[int, dict[str, dict[str, Any]]] = {}
        for row in self.summary():
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
            gap = f"{by_encoder['adapted']['mean'] - by_encoder['general']['mean']:+.3f}"
            lines.append(f"| {size} | {cells[0]} | {cells[1]} | {gap if both else '—'} |")
        return "\n".join(lines)

    def cue_markdown(self) -> str:
        """Accuracy by the kind of cue a test review carries (`summarize_cues`) as a Markdown
        table: one row per N and cue, mean over seeds per encoder (min–max in brackets)."""
        rows: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
        for row in summarize_cues(self.runs):
            rows.setdefault((row["size"], row["cue"]), {})[row["encoder"]] = row
        lines = [
            "| labelled reviews | test reviews whose cue is | general encoder | adapted encoder "
            "| adapted − general |",
            "|---:|---|---|---|---:|",
        ]
        for (size, cue), by in rows.items():
            cells = [
                f"{r['mean']:.3f} ({r['min']:.3f}–{r['max']:.3f})" if (r := by.get(name)) else "—"
                for name in ENCODERS
            ]
            gap = (
                f"{by['adapted']['mean'] - by['general']['mean']:+.3f}"
                if all(name in by for name in ENCODERS)
                else "—"
            )
            lines.append(
                f"| {size} | {CUE_WORDS.get(cue, cue)} | {cells[0]} | {cells[1]} | {gap} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """classification.json: the fields named by `RESULT_KEYS`, in that order."""
        values = {"settings": self.settings.to_dict(), "summary": self.summary()}
        return {key: values[key] if key in values else getattr(self, key) for key in RESULT_KEYS}

    def save(self, run: RunLike) -> Path:
        """Write classification.json into the run folder (or `Run`) atomically and return its
        path. Notebook 07."""
        return write_json_atomic(_folder(run) / CLASSIFICATION_FILE, self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurveResult:
        """The result classification.json holds (its summary is recomputed from the runs)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {key: data[key] for key in RESULT_KEYS if key in fields}
        return cls(**{**values, "settings": ClassifySettings(**data["settings"])})


def read_results(run: RunLike) -> CurveResult:
    """The `CurveResult` in classification.json of a run folder (or `Run`); FileNotFoundError saying
    how to make it, ValueError naming the keys it lacks."""
    path = _folder(run) / CLASSIFICATION_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run notebook 07, or `python -m mlm_helpers classify` with the "
            "run's configuration"
        )
    data = read_json(path)
    missing = [key for key in RESULT_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(f"{path} lacks {missing} (see docs/run-folder.md for the format)")
    return CurveResult.from_dict(data)


# ----------------------------------------------------------------------------------- figure
def plot_learning_curve(result: CurveResult, *, title: str | None = None):
    """Test accuracy against labelled reviews (log scale) for both encoders: the mean over seeds
    as a line, each seed as a dot, the min–max range shaded; the title says whether the encoder
    was frozen or fine-tuned. Notebook 07."""
    import matplotlib.pyplot as plt

    summary = result.summary()
    colors = {"general": "tab:gray", "adapted": "tab:blue"}
    names = {"general": "general encoder", "adapted": "adapted encoder (notebook 04)"}
    fig, ax = plt.subplots()
    for encoder in ENCODERS:
        rows = [r for r in summary if r["encoder"] == encoder]
        if not rows:
            continue
        sizes, color = np.array([r["size"] for r in rows], float), colors[encoder]
        ax.plot(sizes, [r["mean"] for r in rows], "-o", color=color, label=names[encoder])
        ax.fill_between(
            sizes, [r["min"] for r in rows], [r["max"] for r in rows], color=color, alpha=0.15
        )
        dots = [(r["size"], r["accuracy"]) for r in result.runs if r["encoder"] == encoder]
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
    how = "fine-tuned" if result.settings.fine_tune_encoder else "frozen"
    ax.set_title(title or f"Sentiment accuracy from the general vs the adapted encoder ({how})")
    ax.legend(loc="upper left")
    return fig
