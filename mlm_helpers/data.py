"""Stage 01 — loading, validating, cleaning and exploring review datasets (notebook 01).

One loader serves every source, always through `datasets.load_dataset`:
- ``"embedded"``: the review corpus shipped in this package (Hub layout, loaded from its folder);
- a Hub dataset id such as ``"imdb"`` (needs the network the first time; cached afterwards);
- a local folder in Hub layout (``<split>-*.parquet`` / ``.jsonl`` / ``.csv`` / ``.txt`` files, or
  ``data/`` below it; files with no split in their name are all ``train``);
- a dict ``{split: file or [files]}`` of local parquet/jsonl/json/csv/txt files.

One rule for text files, whichever form names them: a ``.txt`` file is one text (one document),
blank lines and all; with ``text_per_line`` (`RunConfig.text_per_line`) each non-blank line is one.
The text and label columns of other files are named by `RunConfig.text_column` / ``label_column``
(renamed to ``text`` / ``label`` on loading). A corpus without an evaluation split gets one with
`RunConfig.held_out_share`: that share of the first training split, chosen by content hash
(`split_by_hash`), so the same texts are held out on every machine and run.

Every split is validated against the imdb schema (``text``: str, ``label``: 0/1; -1 allowed in
``unsupervised``) with errors that say what is wrong and how to fix it; local files are inspected
before `load_dataset` reads them (empty files, files without rows, columns missing in one file). Only
`load_dataset` itself touches the network (for a Hub id); when it fails, `DataError` names the dataset
and the fix. `hold_out` makes the evaluation split disjoint in content from the training splits. No
TensorFlow here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._pages import release
from .config import RunConfig, dataset_record
from .paths import EMBEDDED, EMBEDDED_MODEL_DIR, local_folder

EMBEDDED_VOCAB = EMBEDDED_MODEL_DIR / "vocab.txt"  # the shipped WordPiece vocabulary
UNLABELLED_SPLITS = ("unsupervised",)
_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".txt": "text"}
READ_BATCH = 10_000  # rows read at a time by the checks that go over a whole split
HASH_BATCH = 100_000  # texts hashed at a time by the held-out check (1.6 MB of hashes)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")


class DataError(ValueError):
    """A dataset does not have the imdb schema this tutorial expects."""


# --------------------------------------------------------------------------- cleaning
def clean_text(text: str, *, html: bool = True) -> str:
    """Replace ``<br />`` tags (any spelling) by a space and squeeze repeated spaces.

    Scraped reviews carry ``<br /><br />`` between paragraphs; left in, the tokenizer turns each tag
    into several tokens (``<``, ``br``, ``/``, ``>``) that the model would spend capacity predicting.
    """
    if html:
        text = _BR.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def clean_dataset(dataset, *, html: bool = True, num_proc: int | None = None):
    """`clean_text` applied to the ``text`` column of a Dataset or DatasetDict (cached by datasets)."""

    import pyarrow as pa

    def clean_batch(table: pa.Table) -> pa.Table:
        where = table.schema.get_field_index("text")
        cleaned = [clean_text(t, html=html) for t in table.column(where).to_pylist()]
        out = table.set_column(where, "text", pa.array(cleaned, table.schema.field(where).type))
        release(table)  # read once: its memory-mapped pages need not stay (`_pages`)
        return out

    def clean(split):
        arrow = split.with_format("arrow")
        done = arrow.map(
            clean_batch, batched=True, num_proc=num_proc, features=split.features, desc="cleaning"
        )
        return done.with_format(split.format["type"])

    if hasattr(dataset, "num_rows") and not isinstance(dataset.num_rows, dict):
        return clean(dataset)
    return type(dataset)({name: clean(split) for name, split in dataset.items()})


# --------------------------------------------------------------------------- loading
def _file_columns(split: str, path: Path) -> tuple[str, ...] | None:
    """The columns of one local data file, read cheaply (parquet schema, csv header, first JSON
    line); None when that cannot tell (a JSON document over several lines).

    Raises `DataError` naming the split and file when the file is empty or has no rows, which
    `load_dataset` would report as a bare ``StopIteration`` or ``Instruction ... corresponds to no data``.
    """
    where = f"split {split!r}: file {path}"
    fix = (
        f"put reviews in it, or leave split {split!r} out of the files (and of "
        "RunConfig.train_splits / eval_split)"
    )
    if path.stat().st_size == 0:
        raise DataError(f"{where} is empty (0 bytes): {fix}")
    if path.suffix.lower() == ".txt":  # one text per file (or per line): no columns to compare
        with path.open(encoding="utf-8", errors="replace") as handle:
            if not any(line.strip() for line in handle):
                raise DataError(f"{where} holds only blank lines: {fix}")
        return None
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise DataError(
                f"{where} is not a readable parquet file ({err}): write it again"
            ) from err
        if parquet.metadata.num_rows == 0:
            raise DataError(f"{where} has no rows: {fix}")
        return tuple(parquet.schema_arrow.names)
    with path.open(encoding="utf-8", errors="replace") as handle:
        lines = (line for line in handle if line.strip())
        first, second = next(lines, None), next(lines, None)
    is_csv = path.suffix.lower() == ".csv"
    if first is None or (is_csv and second is None):
        raise DataError(f"{where} has no rows{' (only a header)' if first else ''}: {fix}")
    if is_csv:
        return tuple(next(csv.reader([first])))
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return None  # a JSON document spread over several lines: left to load_dataset
    return tuple(record) if isinstance(record, dict) else None


def _check_files(files: Mapping[str, Sequence[str]]) -> None:
    """Refuse, before `load_dataset` does with an opaque error, local files that are empty, have no
    rows, or lack a column another file has (`datasets` needs the same columns in every file)."""
    columns = {
        (split, f): cols
        for split, paths in files.items()
        for f in paths
        if (cols := _file_columns(split, Path(f))) is not None
    }
    every = set().union(*map(set, columns.values())) if columns else set()
    for (split, f), cols in columns.items():
        missing = sorted(every - set(cols))
        if missing:
            (other_split, other), _ = next(
                (key, c) for key, c in columns.items() if set(missing) <= set(c)
            )
            label = " (label -1 marks unlabelled reviews)" if "label" in missing else ""
            raise DataError(
                f"file {f} (split {split!r}) lacks column(s) {missing} that {other} (split "
                f"{other_split!r}) has; every file must have the same columns: add them to {f}"
                f"{label} or drop them from the other files"
            )


def _text_options(builder: str, text_per_line: bool) -> dict[str, str]:
    """`load_dataset`'s options for text files: one text per file, or per line when asked."""
    return {"sample_by": "line" if text_per_line else "document"} if builder == "text" else {}


def _folder_builder(path: Path) -> str | None:
    """The file format of a local folder's data files ("text" for .txt), None when it holds none;
    DataError when it mixes formats (`load_dataset` would read only one of them). In Hub layout the
    data files are under ``data/``, and files beside it (a README, side information) are not data."""
    root = path / "data" if (path / "data").is_dir() else path
    found = {
        _FORMATS[f.suffix.lower()]
        for f in root.rglob("*")
        if f.suffix.lower() in _FORMATS and f.is_file() and not f.name.startswith(".")
    }
    if len(found) > 1:
        raise DataError(
            f"{path} mixes data file formats {sorted(found)}: keep one kind of file in the folder"
        )
    return found.pop() if found else None


def _source_args(
    source: str | Mapping[str, Any], *, text_per_line: bool = False
) -> tuple[tuple, dict]:
    """Positional and keyword arguments of `load_dataset` for a source (see module doc)."""
    if isinstance(source, Mapping):
        files = {
            split: [str(f) for f in ([v] if isinstance(v, (str, Path)) else v)]
            for split, v in source.items()
        }
        suffixes = {Path(f).suffix.lower() for paths in files.values() for f in paths}
        if len(suffixes) != 1 or next(iter(suffixes)) not in _FORMATS:
            raise DataError(
                f"local files must all be one of {sorted(_FORMATS)}, got {sorted(suffixes)}"
            )
        for paths in files.values():
            for f in paths:
                if not Path(f).is_file():
                    raise DataError(f"file not found: {f}")
        _check_files(files)
        builder = _FORMATS[suffixes.pop()]
        return (builder,), {"data_files": files, **_text_options(builder, text_per_line)}
    try:
        path = local_folder(source, kind="dataset")
    except FileNotFoundError as err:
        raise DataError(str(err)) from err
    if path is None:  # a Hub id: `load_raw` turns a failure to fetch it into a DataError
        return (source,), {}
    if path.is_file():
        raise DataError(
            f"{path} is a single file; give {{'train': '{path}', ...}} to say which "
            "split it is, or a folder with <split>-*.parquet files"
        )
    return (str(path),), _text_options(_folder_builder(path), text_per_line)


def load_raw(source: str | Mapping[str, Any] = EMBEDDED, *, text_per_line: bool = False):
    """`load_dataset` for any supported source, without validation; returns a DatasetDict.

    Text files give one row per file, or one per non-blank line with `text_per_line`."""
    import datasets

    args, kwargs = _source_args(source, text_per_line=text_per_line)
    try:
        loaded = datasets.load_dataset(*args, **kwargs)
    except OSError as err:  # ConnectionError offline, DatasetNotFoundError for an unknown id
        if kwargs or Path(args[0]).exists():
            raise  # local files: not a Hub problem
        raise DataError(
            f"dataset {source!r} is not a local folder and could not be loaded from the Hugging "
            f"Face Hub ({type(err).__name__}: {err}). Fix: check the id (e.g. 'imdb' or "
            "'stanfordnlp/imdb'); connect once so that `datasets` caches it (offline, "
            "HF_HUB_OFFLINE=1 makes it fail at once instead of retrying); or give a local folder "
            f"(write a path, such as './{source}'), a {{split: file}} dict, or {EMBEDDED!r}"
        ) from err
    if not isinstance(
        loaded, datasets.DatasetDict
    ):  # pragma: no cover - load_dataset without split
        loaded = datasets.DatasetDict({"train": loaded})
    if kwargs.get("sample_by") == "line":  # a blank line between paragraphs is no text
        loaded = loaded.filter(lambda row: bool(row["text"].strip()), desc="blank lines")
    return loaded


def split_names(source: str | Mapping[str, Any]) -> list[str] | None:
    """The splits a local source holds, read without loading it (`datasets`' own file-name rules
    for a folder); None for a Hub id (only loading it tells). `preflight` checks names with it."""
    import datasets

    if isinstance(source, Mapping):
        return list(source)
    args, kwargs = _source_args(source)
    if not Path(args[0]).exists():
        return None
    return [str(s) for s in datasets.load_dataset_builder(*args, **kwargs).config.data_files]


def validate_split(
    dataset, split: str, *, text_column: str = "text", label_column: str = "label"
) -> None:
    """Raise `DataError` unless `dataset` has str texts and labels in {0, 1} (-1 if unlabelled).

    Reads `READ_BATCH` rows at a time, so a split of any size is checked in bounded memory."""
    if dataset.num_rows == 0:
        raise DataError(f"split {split!r} is empty: check the files or the down-sampling size")
    if text_column not in dataset.column_names:
        strings = [
            n
            for n, f in dataset.features.items()
            if getattr(f, "dtype", None) in ("string", "large_string")
        ]
        hint = (
            (
                f"; rename it with dataset.rename_column({strings[0]!r}, 'text') or pass "
                f"text_column={strings[0]!r}"
            )
            if strings
            else ""
        )
        raise DataError(
            f"split {split!r} has no {text_column!r} column (columns: {dataset.column_names})"
            f"{hint} (RunConfig.text_column, --text-column on the command line)"
        )
    labelled = label_column in dataset.column_names
    columns = [text_column, label_column] if labelled else [text_column]
    has_text, labels = False, set()
    row = 0
    for batch in _batches(dataset, columns, READ_BATCH):
        texts = batch[text_column]
        for i, text in enumerate(texts, row):
            if not isinstance(text, str):
                raise DataError(
                    f"split {split!r}, row {i}: text is {type(text).__name__} ({text!r:.60}), "
                    "not str; drop or fill such rows first (dataset.filter(...))"
                )
        has_text = has_text or any(clean_text(text) for text in texts)
        if labelled:
            labels.update(batch[label_column])
        row += len(texts)
    if not has_text:
        raise DataError(
            f"split {split!r} has no text left after cleaning: all {dataset.num_rows} texts are "
            f"empty or only <br /> tags; check that the {text_column!r} column holds the reviews"
        )
    if labelled:
        allowed = {0, 1, -1} if split in UNLABELLED_SPLITS else {0, 1}
        bad = sorted({v for v in labels if v not in allowed}, key=str)
        if bad:
            raise DataError(
                f"split {split!r} has labels {bad[:5]} in column {label_column!r} outside "
                f"{sorted(allowed)}; the imdb schema uses 0 = negative, 1 = positive (-1 only in "
                "'unsupervised'): fix them, or name another column (RunConfig.label_column)"
            )


def load_reviews(
    source: str | Mapping[str, Any] | RunConfig = EMBEDDED,
    *,
    splits: Sequence[str] | None = None,
    max_reviews: int | None = None,
    seed: int | None = None,
    clean: bool | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    text_per_line: bool | None = None,
):
    """Load review splits as a `datasets.DatasetDict`, validated, optionally down-sampled and cleaned.

    `source` is "embedded", a Hub id, a local folder, a {split: files} dict, or a RunConfig (its
    dataset, splits, max_reviews, seed, clean_html, text/label columns and text_per_line fill the
    arguments not given; its `held_out_share` makes a missing `eval_split`, see `split_by_hash`).
    The text and label columns are renamed ``text`` and ``label``. Down-sampling draws
    `max_reviews` rows per split with `seed` (42 by default); `clean` (True by default) applies
    `clean_text`. Used in notebook 01 and by every later stage.
    """
    import datasets

    config = source if isinstance(source, RunConfig) else None
    if config is not None:
        source = config.dataset
        splits = splits or (*config.train_splits, config.eval_split)
        max_reviews = max_reviews if max_reviews is not None else config.max_reviews
        seed = config.seed if seed is None else seed
        clean = config.clean_html if clean is None else clean
        text_column = text_column or config.text_column
        label_column = label_column or config.label_column
        text_per_line = config.text_per_line if text_per_line is None else text_per_line
    seed = 42 if seed is None else seed
    text_column, label_column = text_column or "text", label_column or "label"
    if max_reviews is not None and (not isinstance(max_reviews, int) or max_reviews < 1):
        raise DataError(f"max_reviews must be a positive integer, got {max_reviews}")
    raw = load_raw(source, text_per_line=bool(text_per_line))
    wanted = list(splits) if splits else list(raw)
    made = check_splits(config, list(raw), wanted, source)
    result = {}
    for split in dict.fromkeys(
        [s for s in wanted if s != (made[0] if made else None)] + list(made[1:])
    ):
        ds = raw[split]
        validate_split(ds, split, text_column=text_column, label_column=label_column)
        result[split] = _renamed(ds, text_column, label_column)
    if made:
        result[made[1]], result[made[0]] = split_by_hash(result[made[1]], config.held_out_share)
        held = result[made[0]].num_rows
        notice_once(
            (repr(source), made[0], held),
            hold_out_notice(config, result[made[1]].num_rows, held),
        )
    if max_reviews is not None:
        result = {
            split: ds.shuffle(seed=seed).select(range(min(max_reviews, ds.num_rows)))
            for split, ds in result.items()
        }
    reviews = datasets.DatasetDict({s: result[s] for s in wanted})
    reviews = reviews if clean is False else clean_dataset(reviews)
    reviews.dataset = dataset_record(source)  # what they were loaded from (`prepare_chunks`)
    return reviews


def _renamed(dataset, text_column: str, label_column: str):
    """`dataset` with its text and label columns named ``text`` and ``label`` (a column already
    called so, which the other one replaces, is dropped)."""
    for column, name in ((text_column, "text"), (label_column, "label")):
        if column != name and column in dataset.column_names:
            if name in dataset.column_names:
                dataset = dataset.remove_columns(name)
            dataset = dataset.rename_column(column, name)
    return dataset


def check_splits(
    config: RunConfig | None, available: Sequence[str], wanted: Sequence[str], source: Any = None
) -> tuple[str, ...]:
    """Refuse `wanted` split names the corpus (with splits `available`) lacks, with the two fixes:
    names that exist, or `RunConfig.held_out_share`. Returns (eval split, training split it is
    cut from) when `config` asks for a held-out split the corpus lacks, else (). A corpus that has
    the split keeps it: held_out_share is refused then. `load_reviews` and `preflight` call it."""
    made: tuple[str, ...] = ()
    if config is not None and config.held_out_share is not None and config.eval_split in wanted:
        if config.eval_split in available:
            raise DataError(
                f"the corpus already has a {config.eval_split!r} split, so held_out_share="
                f"{config.held_out_share} has nothing to make: set RunConfig.held_out_share=None "
                "to evaluate on it, or eval_split to a name the corpus does not use"
            )
        made = (config.eval_split, config.train_splits[0])
    missing = [s for s in wanted if s not in available and s not in made[:1]]
    if not missing:
        return made
    source = config.dataset if source is None and config is not None else source
    message = f"split(s) {missing} not found in {source!r}; available: {list(available)}"
    eval_split = config.eval_split if config is not None else "test"
    if eval_split in missing and available:
        train = config.train_splits[0] if config is not None else "train"
        train = train if train in available else available[0]
        message += (
            f". Fix: name splits that exist (RunConfig.train_splits / eval_split), or hold out a "
            f"share of {train!r} as {eval_split!r}: RunConfig.held_out_share=0.1 (on the command "
            "line --set held_out_share=0.1), with a first training split the corpus has"
        )
    raise DataError(message)


# --------------------------------------------------------------------------- held out
def text_hash(text: str) -> bytes:
    """A 16-byte digest of the cleaned text (`clean_text`): two reviews are the same review when
    their hashes are equal, whatever their ``<br />`` tags or repeated spaces."""
    return hashlib.blake2b(clean_text(text).encode("utf-8"), digest_size=16).digest()


def _batches(dataset, columns: Sequence[str], batch_size: int) -> Iterator[dict[str, list]]:
    """`columns` of `dataset`, `batch_size` rows at a time, as Python lists; each batch's
    memory-mapped pages are released once it has been read (`_pages.release`), so a pass over a
    split of any size keeps only one batch in memory."""
    for table in dataset.select_columns(list(columns)).with_format("arrow").iter(batch_size):
        batch = {name: table.column(name).to_pylist() for name in columns}
        release(table)
        yield batch


def _hash_blocks(dataset, batch_size: int = HASH_BATCH) -> Iterator[np.ndarray]:
    """`text_hash` of every row as 16-byte NumPy values, `batch_size` rows at a time (a split
    never becomes one Python list)."""
    for batch in _batches(dataset, ["text"], batch_size):
        yield np.array([text_hash(text) for text in batch["text"]], dtype="S16")


def hash_share(text: str) -> float:
    """Where `text` falls in [0, 1), read off its `text_hash`: the same on every machine, and
    the same for two texts that are the same review."""
    return int.from_bytes(text_hash(text)[:8], "big") / 2**64


def split_by_hash(dataset, share: float) -> tuple[Any, Any]:
    """(rest, held out): the rows whose `hash_share` is below `share` are held out. Reproducible
    without a seed, independent of row order, and a text repeated in the corpus never lands on
    both sides. `RunConfig.held_out_share` uses it; DataError when a side would be empty."""
    shares = np.concatenate(
        [
            np.fromiter(map(hash_share, batch["text"]), float, len(batch["text"]))
            for batch in _batches(dataset, ["text"], READ_BATCH)
        ]
        or [np.zeros(0)]
    )
    held = np.flatnonzero(shares < share)
    rest = np.flatnonzero(shares >= share)
    if held.size == 0 or rest.size == 0:
        side = "no text is" if held.size == 0 else "every text is"
        raise DataError(
            f"with held_out_share={share} {side} held out of the {dataset.num_rows} texts: "
            "choose a share that leaves texts on both sides (0.1 is usual), or add texts"
        )
    return dataset.select(rest), dataset.select(held)


def hold_out_notice(config: RunConfig, kept: int, held: int) -> str:
    """The line saying which split was made by `held_out_share`, and of what."""
    return (
        f"Held out: {config.eval_split!r} is {held:,} of the {kept + held:,} texts of "
        f"{config.train_splits[0]!r} ({config.held_out_share:.0%} by content hash, "
        f"RunConfig.held_out_share); training uses the other {kept:,}."
    )


_NOTICES_SHOWN: set[tuple] = set()  # (dataset, split, count) of the notices printed so far


def notice_once(key: tuple, message: str) -> None:
    """Print `message` on stdout unless this process already printed the notice of `key` (a
    dataset, split and count): a notebook that loads the same corpus in several cells says it
    once, and not in the red of stderr."""
    if key not in _NOTICES_SHOWN:
        _NOTICES_SHOWN.add(key)
        print(message)


def held_out_overlap(reviews, train_splits: Sequence[str], eval_split: str) -> list[int]:
    """Rows of ``reviews[eval_split]`` whose text (cleaned, hashed) also occurs in a training split.

    The leak check of `hold_out` (so of every run) and of `describe_corpus` (notebook 01): held out
    means disjoint in content, not only in split name. Bounded memory: the evaluation split's
    hashes are kept, sorted (16 bytes a review); the training splits are hashed `HASH_BATCH` texts
    at a time and looked up in them, never held.
    """
    held = list(_hash_blocks(reviews[eval_split]))
    if not held:
        return []
    unique, inverse = np.unique(np.concatenate(held), return_inverse=True)
    found = np.zeros(unique.size, dtype=bool)
    for split in train_splits:
        for block in _hash_blocks(reviews[split]):
            where = np.searchsorted(unique, block)
            inside = where < unique.size
            where, block = where[inside], block[inside]
            found[where[unique[where] == block]] = True
    return np.flatnonzero(found[inverse.ravel()]).tolist()


def hold_out(reviews, config: RunConfig):
    """`reviews` with no evaluation review whose text occurs in a training split.

    ``config.eval_overlap="drop"`` (the default) drops them from ``config.eval_split`` and says how
    many (`notice_once`); ``"refuse"`` raises `DataError`. Refused as well when every evaluation review
    is a training review. Called by `chunking.prepare_chunks` before tokenizing.
    """
    import datasets

    split, train = config.eval_split, list(config.train_splits)
    rows = held_out_overlap(reviews, train, split)
    total = reviews[split].num_rows
    if not rows:
        return reviews
    if len(rows) == total:
        raise DataError(
            f"all {total} {split!r} reviews also occur in the training split(s) {train}: nothing "
            "is held out. Evaluate on other reviews (RunConfig.dataset / eval_split)"
        )
    if config.eval_overlap == "refuse":
        raise DataError(
            f"{len(rows)} of the {total} {split!r} reviews also occur in the training split(s) "
            f"{train}, so evaluation would not be held out: remove them from the data, or set "
            "RunConfig.eval_overlap='drop' to leave them out of the evaluation"
        )
    notice_once(
        (repr(config.to_dict()["dataset"]), split, len(rows), total),
        f"Held out: dropped {len(rows)} of the {total} {split!r} reviews whose text also occurs in "
        f"{train} (RunConfig.eval_overlap='refuse' stops instead).",
    )
    keep = np.setdiff1d(np.arange(total), rows)
    return datasets.DatasetDict({**reviews, split: reviews[split].select(keep)})


# --------------------------------------------------------------------------- tokenizer
def check_tokenizer(tokenizer: Any, *, fast: bool = True) -> None:
    """Raise `DataError` unless `tokenizer` has a mask token (and, with `fast`, is a fast one).

    Masked language modelling needs a ``[MASK]`` token; whole-word masking needs ``word_ids()``,
    which only fast (Rust) tokenizers give. The one tokenizer check of the package: `load_tokenizer`,
    chunking, `masking.MaskingSpec` (``fast=False``) and `evaluation.fill_mask` (``fast=False``)
    call it.
    """
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    if fast and not getattr(tokenizer, "is_fast", False):
        raise DataError(
            f"tokenizer {name!r} ({type(tokenizer).__name__}) is not a fast tokenizer but a slow one: word_ids(), "
            "needed for whole-word masking, come only from fast tokenizers. Load it with "
            "AutoTokenizer.from_pretrained(..., use_fast=True) or mlm_helpers.data.load_tokenizer"
        )
    if (
        getattr(tokenizer, "mask_token", None) is None
        or getattr(tokenizer, "mask_token_id", None) is None
    ):
        raise DataError(
            f"tokenizer {name!r} ({type(tokenizer).__name__}) has no mask token, so it cannot be "
            "used for masked language modelling: choose a BERT-style tokenizer (one with a [MASK] "
            "token), or add one with tokenizer.add_special_tokens({'mask_token': '[MASK]'}) and "
            "resize the model's embeddings"
        )


def token_pieces(tokenizer: Any, ids: Sequence[int]) -> list[tuple[str, bool]]:
    """(text, starts a word) for every id, for any subword scheme: WordPiece's ``##ing``,
    byte-level BPE's ``Ġthe`` and Unigram's ``▁the`` alike. A scheme with a continuation prefix
    (WordPiece's ``##``) says so by that prefix; any other is asked by decoding each token after a
    plain anchor ("a"): a space between them means the token starts a word. Special tokens stand
    alone. Used to show masked rows (`masking.decode_masked_rows`)."""
    tokens = tokenizer.convert_ids_to_tokens([int(i) for i in ids])
    special = set(getattr(tokenizer, "all_special_tokens", ()))
    backend = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    prefix = getattr(backend, "continuing_subword_prefix", None)
    pieces = []
    for token in tokens:
        if token in special:
            pieces.append((token, True))
        elif prefix:
            glued = token.startswith(prefix)
            pieces.append((token[len(prefix) :] if glued else token, not glued))
        else:
            after = tokenizer.convert_tokens_to_string(["a", token])[1:]
            pieces.append((after.strip(), after.startswith(" ")))
    return pieces


def token_text(tokenizer: Any, token_id: int) -> str:
    """One token as a reader sees it: decoded by its tokenizer (``the``, not ``Ġthe`` or
    ``▁the``; a WordPiece continuation keeps its ``##``). Fill-mask results are shown so."""
    text = tokenizer.decode([int(token_id)]).strip()
    return text or tokenizer.convert_ids_to_tokens(int(token_id))  # a bare "▁" or "Ġ" shows as is


def load_tokenizer(name: str | RunConfig = EMBEDDED):
    """A fast tokenizer: the shipped model's WordPiece tokenizer for "embedded" (and for a
    "scratch" model), else `from_pretrained(name)`.

    Raises `DataError` if the tokenizer is not a fast one (no word ids for whole-word masking) or has no
    mask token. Used from notebook 01 on.
    """
    from transformers import AutoTokenizer

    if isinstance(name, RunConfig):
        name = name.tokenizer_name
    folder = local_folder(name, kind="model")
    tokenizer = AutoTokenizer.from_pretrained(str(folder) if folder is not None else name)
    check_tokenizer(tokenizer)
    return tokenizer


# --------------------------------------------------------------------------- statistics
def describe_corpus(reviews, train_splits: Sequence[str] = ()):
    """A pandas DataFrame, one row per split: reviews, label counts, the share of reviews with
    ``<br />`` tags, the rows whose exact text occurs more than once in the split, and (with
    `train_splits`, for every other split) the rows whose text also occurs in a training split
    (`held_out_overlap`). Notebook 01's look at the corpus."""
    import pandas as pd

    rows = {}
    for split, ds in reviews.items():
        texts = ds["text"]
        labels = Counter(ds["label"]) if "label" in ds.column_names else Counter()
        repeats = Counter(texts)
        rows[split] = {
            "reviews": ds.num_rows,
            "negative": labels[0],
            "positive": labels[1],
            "unlabelled": labels[-1],
            "with_br": sum(bool(_BR.search(t)) for t in texts) / max(len(texts), 1),
            "duplicate_rows": sum(n for n in repeats.values() if n > 1),
        }
        if train_splits and split not in train_splits:
            rows[split]["in_training"] = len(held_out_overlap(reviews, train_splits, split))
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.astype({"in_training": "Int64"}) if "in_training" in table else table


def length_table(dataset, tokenizer=None, *, batch_size: int = 1000):
    """A pandas DataFrame with one row per review: label, chars, words (and tokens with `tokenizer`).

    Words are separated by white space, ``<br />`` tags not counted; tokens include the [CLS]/[SEP]
    the tokenizer adds, i.e. what the model's 512 limit counts. Notebook 01.
    """
    import pandas as pd

    texts = list(dataset["text"])
    table = pd.DataFrame(
        {
            "label": np.asarray(list(dataset["label"])) if "label" in dataset.column_names else -1,
            "chars": [len(t) for t in texts],
            "words": [len(clean_text(t).split()) for t in texts],
        }
    )
    if tokenizer is not None:
        lengths = []
        for start in range(0, len(texts), batch_size):
            encoded = tokenizer(
                texts[start : start + batch_size],
                add_special_tokens=True,
                truncation=False,
                verbose=False,
            )
            lengths.extend(len(ids) for ids in encoded["input_ids"])
        table["tokens"] = lengths
    return table


# --------------------------------------------------------------------------- figures
def plot_lengths(table, *, column: str = "words", marks: Sequence[int] = (128, 512)):
    """Figure of a `length_table`: review lengths in `column` by label (left) and the cumulative
    share of reviews by token length, with the chunk size and model limit marked (right).
    Notebook 01."""
    import matplotlib.pyplot as plt

    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = {0: "negative", 1: "positive", -1: "unlabelled"}
    edges = np.histogram_bin_edges(table[column], bins=40)
    for label, group in table.groupby("label"):
        hist.hist(group[column], bins=edges, alpha=0.55, label=names.get(int(label), str(label)))
    hist.set(xlabel=f"review length ({column})", ylabel="reviews", title=f"Length in {column}")
    hist.legend()
    lengths = np.sort(np.asarray(table["tokens"]))
    cdf.plot(lengths, np.arange(1, len(lengths) + 1) / len(lengths), color="tab:blue")
    for mark, color in zip(marks, ("tab:orange", "tab:red", "tab:purple"), strict=False):
        fit = float((lengths <= mark).mean())
        cdf.axvline(mark, color=color, linestyle="--", label=f"{mark} tokens: {fit:.0%} fit")
    cdf.set(xlabel="review length (tokens, with [CLS] and [SEP])", ylim=(0, 1.02))
    cdf.set(ylabel="share of reviews at most this long", title="Cumulative token length")
    cdf.legend(loc="lower right")
    return fig


# --------------------------------------------------------------------------- the embedded corpus's cues
CUES_FILE = "cues.json"  # next to the embedded corpus's data/: one letter per labelled row


def review_cues(texts: Sequence[str]) -> list[str | None]:
    """How each of `texts` states its verdict, if it is a labelled review of the embedded corpus:
    ``"general"`` (everyday sentiment words only), ``"both"``, or ``"idiom"`` (the film world's own
    idioms are its only cue), as the generator recorded it in ``cues.json``; None for a text that is
    not one of them. Matched by cleaned text (`text_hash`), so raw or cleaned, sampled or shuffled
    reviews all work. Notebook 01 counts them; `cue_markdown` shows notebook 07's diagnostic."""
    folder = local_folder(EMBEDDED, kind="dataset")
    recorded = json.loads((folder / CUES_FILE).read_text())
    names = {code: name for name, code in recorded["codes"].items()}
    raw = load_raw(EMBEDDED)
    known = {
        text_hash(text): names[code]
        for split in raw
        if split in recorded
        for text, code in zip(raw[split]["text"], recorded[split], strict=True)
    }
    return [known.get(text_hash(text)) for text in texts]
