"""Headless runs of the notebooks' code: ``python -m mlm_helpers train ...`` (or ``mlm-helpers``).

``train`` calls what notebook 04 calls, `runs.open_run(config, mode=...)`, with the same default
mode, ``auto`` (train, resume an interrupted run, reopen a finished one; refuse a finished run of
another configuration), and prints the run folder, so a long run can go to a terminal, a batch job
or ``nohup`` while the notebooks only read its folder:

    python -m mlm_helpers train --profile embedded --epochs 2
    python -m mlm_helpers train --profile hub --set batch_size=64 --set learning_rate=3e-5
    python -m mlm_helpers train --profile hub --runs-dir /content/drive/MyDrive/runs --mode resume

``classify`` runs notebook 07's experiment (`classify.learning_curve`) on a finished run: sentiment
accuracy against labelled reviews, general vs adapted encoder. It prints the table and writes
``classification.json`` into the run folder:

    python -m mlm_helpers classify --profile embedded
    python -m mlm_helpers classify --profile hub --sizes 50,200,1000,all --seeds 0,1,2

``--set field=value`` changes any `RunConfig` field; the value is read as JSON when it parses
(numbers, true/false, null, lists, objects) and as a string otherwise; ``--set tiny_model.dim=64``
changes one key of a dict field, and a tuple field takes a comma list
(``--set train_splits=train,unsupervised``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .config import RunConfig, get_config, tuple_fields
from .run_folder import OPEN_MODES

EXIT_USAGE = 2  # bad arguments or configuration (argparse uses 2 as well)
EXIT_FAILED = 1  # the run itself failed (diverged, missing files, ...)


def parse_value(text: str, *, comma_list: bool = False) -> Any:
    """A `--set` value: JSON when it parses (``3``, ``1e-4``, ``true``, ``null``, ``[...]``), else
    the text itself.

    With `comma_list` (the tuple fields, `config.tuple_fields`) a list becomes a tuple and text is
    split at commas: ``train,unsupervised`` → ``("train", "unsupervised")``; an item that holds a
    comma needs the JSON form, ``["a, b", "c"]``.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if comma_list and isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return tuple(value) if comma_list and isinstance(value, list) else value


def parse_overrides(assignments: Sequence[str], base: RunConfig | None = None) -> dict[str, Any]:
    """``["field=value", "tiny_model.dim=64", ...]`` → keyword overrides for `get_config`.

    Raises ValueError naming an assignment without ``=`` or an unknown field. A dotted name updates
    one key of a dict field, starting from `base`'s value (the default config's when omitted).
    """
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    tuples = tuple_fields()
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set {assignment!r}: write it as field=value, e.g. --set epochs=2")
        field_name, dot, key = name.partition(".")
        if field_name not in fields:
            raise ValueError(
                f"--set {assignment!r}: RunConfig has no field {field_name!r}; "
                f"fields are {', '.join(sorted(fields))}"
            )
        value = parse_value(raw, comma_list=field_name in tuples and not dot)
        if dot:
            current = overrides.get(field_name)
            if current is None:
                current = getattr(base or RunConfig(), field_name)
            if not isinstance(current, Mapping):
                raise ValueError(f"--set {assignment!r}: {field_name} is not a dict field")
            overrides[field_name] = {**current, key: value}
        else:
            overrides[field_name] = value
    return overrides


def _add_config_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments that choose the RunConfig: profile, --set, runs folder and run name."""
    command.add_argument(
        "--profile",
        choices=("embedded", "hub", "auto"),
        default=None,
        help="embedded: offline tiny model (CPU minutes); hub: distilbert-base-"
        "uncased on imdb (GPU); auto: hub when a GPU and the Hub are there (the default; "
        "$MLM_PROFILE replaces it, an explicit --profile wins over $MLM_PROFILE)",
    )
    command.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a RunConfig field (repeatable)",
    )
    command.add_argument(
        "--text-column", help="the column holding the texts (RunConfig.text_column)"
    )
    command.add_argument(
        "--label-column", help="the column holding the labels (RunConfig.label_column)"
    )
    command.add_argument("--runs-dir", help="folder holding run folders (e.g. on Google Drive)")
    command.add_argument("--run-name", help="name of the run folder inside the runs folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlm_helpers",
        description="Masked-language-model domain adaptation of DistilBERT on movie reviews: the "
        "tutorial notebooks' code, headless.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="fine-tune a model and write its run folder (notebook 04)",
        description="Fine-tune with the same code as notebook 04 and print the run folder.",
    )
    _add_config_arguments(train)
    train.add_argument("--epochs", type=int, help="number of epochs (overrides the profile's)")
    train.add_argument(
        "--mode",
        choices=OPEN_MODES,
        default="auto",
        help="what to do with a run already in the folder (as notebook 04; runs.open_run): auto "
        "trains, resumes an interrupted run or reopens a finished one; train refuses any "
        "existing run; resume only continues one; reopen only reads a finished one; afresh "
        "trains again, renaming the earlier run <run>.previous-<UTC time> (never deleted)",
    )
    train.add_argument("--progress", action="store_true", help="show Keras progress bars")
    train.add_argument("--quiet", action="store_true", help="print only the run folder")
    classify = commands.add_parser(
        "classify",
        help="sentiment accuracy, general vs adapted encoder, into the run folder (notebook 07)",
        description="Run notebook 07's experiment on a finished run: train a sentiment classifier "
        "from the general and from the adapted encoder on N labelled reviews for several N and "
        "seeds, print the table and write classification.json into the run folder.",
    )
    _add_config_arguments(classify)
    classify.add_argument(
        "--sizes",
        help="numbers of labelled reviews, comma-separated; 'all' = the whole split "
        "(default: the profile's)",
    )
    classify.add_argument("--seeds", help="seeds, comma-separated (default: the profile's)")
    classify.add_argument(
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a ClassifySettings field, e.g. test_reviews=1000 or fine_tune_encoder=true "
        "(repeatable)",
    )
    classify.add_argument("--quiet", action="store_true", help="print only the results file")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig a `train` or `classify` command line describes."""
    overrides = parse_overrides(args.assignments)
    for name in ("epochs", "runs_dir", "run_name", "text_column", "label_column"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    explicit = "--profile" if args.profile is not None else None
    return get_config(
        args.profile or "auto", verbose=not args.quiet, chosen_by=explicit, **overrides
    )


def run_train(args: argparse.Namespace) -> int:
    from . import runs, runtime
    from .run_folder import ResumeError
    from .training import TrainingDiverged

    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    runtime.quiet_libraries()
    verbose = 0 if args.quiet else 1 if args.progress else 2
    try:
        result = runs.open_run(config, mode=args.mode, verbose=verbose)
    except (ValueError, ResumeError, FileExistsError, runs.RunNotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (TrainingDiverged, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.quiet:  # what was done to the run folder is shown even then
        print(*result.notices, sep="\n", file=sys.stderr)
    else:
        print(result)
    print(result.path)
    return 0


def parse_list(text: str, *, what: str, allow_all: bool = False) -> tuple[int | None, ...]:
    """``"50,200,all"`` → ``(50, 200, None)``; ValueError naming an item that is not a whole
    number (or 'all', where `allow_all`)."""
    items = []
    for item in (part.strip() for part in text.split(",")):
        if allow_all and item.lower() == "all":
            items.append(None)
        elif item.isdigit():
            items.append(int(item))
        else:
            extra = " or 'all'" if allow_all else ""
            raise ValueError(f"{what} {text!r}: {item!r} is not a whole number{extra}")
    return tuple(items)


def settings_from_args(args: argparse.Namespace, profile: str) -> Any:
    """The `config.ClassifySettings` a `classify` command line describes."""
    from .config import ClassifySettings

    changes: dict[str, Any] = {}
    for assignment in args.options:
        name, sep, raw = assignment.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option {assignment!r}: write it as field=value")
        changes[name.strip()] = parse_value(raw)
    if args.sizes:
        changes["sizes"] = parse_list(args.sizes, what="--sizes", allow_all=True)
    if args.seeds:
        changes["seeds"] = parse_list(args.seeds, what="--seeds")
    return ClassifySettings.for_profile(profile, **changes)


def run_classify(args: argparse.Namespace) -> int:
    from . import runtime

    try:
        config = config_from_args(args)
        settings = settings_from_args(args, config.profile)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    runtime.quiet_libraries()
    from . import classify  # TensorFlow: after the arguments are checked

    try:
        result = classify.learning_curve(config.run_dir, settings, verbose=not args.quiet)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    path = result.save(config.run_dir)
    if not args.quiet:
        print(result.markdown())
        print(f"{len(result.runs)} classifiers trained in {result.seconds:.0f} s")
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mlm_helpers`` and the ``mlm-helpers`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return run_train(args)
    if args.command == "classify":
        return run_classify(args)
    parser.print_help()
    return EXIT_USAGE
