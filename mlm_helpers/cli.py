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

``evaluate`` runs notebook 05's steps on one run (no training unless ``--train-if-missing``): the
figures (into ``<run>/figures/`` unless ``--figures DIR``), the epoch and fill-mask tables, the
summary and the lesson's claims; ``publish`` runs notebook 06's: the loss plot and the model card
into ``<run>/model/``, then a **dry run** of the upload (what would be sent, and whether a token was
found; the token itself is never printed). Only ``--upload`` sends anything:

    python -m mlm_helpers evaluate --profile embedded
    python -m mlm_helpers publish --profile hub --repo-id you/distilbert-imdb-mlm            # dry run
    python -m mlm_helpers publish --profile hub --repo-id you/distilbert-imdb-mlm --upload   # sends

Every failure ends with one line ``error: ...`` (or ``interrupted: ...``) that says what to do
next, and an exit code (`EXIT_CODES`, also in ``--help``): 0 done; 1 the run failed (a diverged
loss, missing or corrupt files, an upload refused or failed, claims not met with ``--check``);
2 bad arguments or configuration, nothing written (also a run that is not there, or one refused
by ``--mode``); 3 the run folder is claimed by another run (`run_lock`); 4 out of disk space (resume
once space is freed); 130 interrupted by Ctrl-C, 143 by SIGTERM (both print the exact command that
resumes the run). ``--traceback`` shows the full traceback of an unexpected error.

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
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import RunConfig, get_config, tuple_fields
from .exits import EXIT_CODES, EXIT_DONE, EXIT_FAILED, EXIT_USAGE, guarded
from .run_folder import OPEN_MODES


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


def version_line() -> str:
    """``--version``: this package's version and the stack's, read without importing them."""
    from . import __version__

    stack = []
    for name in ("transformers", "tensorflow", "tf-keras"):
        try:
            stack.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            stack.append(f"{name} not installed")
    python = ".".join(map(str, sys.version_info[:3]))
    return f"mlm_helpers {__version__} ({', '.join(stack)}; Python {python})"


# ------------------------------------------------------------------------------------ arguments
def _add_config_arguments(command: argparse.ArgumentParser, *, source: bool = False) -> None:
    """The arguments that choose the RunConfig: profile, --set, runs folder and run name (and,
    for the commands that read a run, --run: another run folder or a published model)."""
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
    command.add_argument(
        "--num-proc",
        type=int,
        help="processes that tokenize the corpus (RunConfig.num_proc; default: every core)",
    )
    command.add_argument("--runs-dir", help="folder holding run folders (e.g. on Google Drive)")
    command.add_argument("--run-name", help="name of the run folder inside the runs folder")
    if source:
        command.add_argument(
            "--run",
            dest="source",
            help="read this run instead of the configuration's: a run folder, a model folder "
            "written by notebook 06, or '<user>/<model>' on the Hub (as the notebooks' RUN)",
        )
    command.add_argument("--quiet", action="store_true", help="print only the result's path")


def _exit_codes() -> str:
    """The exit codes, for the end of every --help."""
    lines = (f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return "exit codes:\n" + "\n".join(lines)


def _command(commands: Any, name: str, **texts: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the exit codes."""
    return commands.add_parser(
        name,
        **texts,
        epilog=_exit_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _switches(command: argparse.ArgumentParser, *flags: tuple[str, str]) -> None:
    """On/off flags: (name, help) each."""
    for name, text in flags:
        command.add_argument(name, action="store_true", help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlm_helpers",
        description="Masked-language-model domain adaptation of DistilBERT on movie reviews: the "
        "tutorial notebooks' code, headless.",
        epilog=_exit_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an unexpected error"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = _command(
        commands,
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
        "trains again, renaming the earlier run <run>.previous-<UTC time> (never deleted); "
        "resave saves a finished run's lost model again from its checkpoint",
    )
    train.add_argument(
        "--resume", action="store_true", help="the same as --mode resume: continue a run"
    )
    train.add_argument("--progress", action="store_true", help="show Keras progress bars")
    evaluate = _command(
        commands,
        "evaluate",
        help="figures, tables and the lesson's claims for a finished run (notebook 05)",
        description="Run notebook 05's steps on one run without a notebook: save its figures, "
        "print the epoch and fill-mask tables, the summary and the lesson's claims.",
    )
    _add_config_arguments(evaluate, source=True)
    evaluate.add_argument("--figures", help="folder for the figures (default: <run>/figures)")
    _switches(
        evaluate,
        (
            "--train-if-missing",
            "train (or resume) the run when it is not finished, as TRAIN_IF_MISSING = True",
        ),
        ("--check", "exit 1 when the lesson's claims are not met"),
    )
    publish = _command(
        commands,
        "publish",
        help="model card and a dry run of the upload; --upload sends (notebook 06)",
        description="Run notebook 06's steps without a notebook: write the loss plot and the "
        "model card into the run's model/ folder, then list what an upload would send (a dry "
        "run, the default). Only --upload sends anything; the token (HF_TOKEN, a Colab secret or "
        "the cached login) is never printed.",
    )
    _add_config_arguments(publish, source=True)
    publish.add_argument("--repo-id", required=True, help="the Hub model id, '<user>/<name>'")
    _switches(
        publish,
        ("--upload", "really upload (default: a dry run, nothing sent)"),
        ("--public", "create the repository public (default: private)"),
    )
    classify = _command(
        commands,
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
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig a command line describes."""
    overrides = parse_overrides(args.assignments)
    for name in ("epochs", "runs_dir", "run_name", "text_column", "label_column", "num_proc"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    explicit = "--profile" if args.profile is not None else None
    return get_config(
        args.profile or "auto", verbose=not args.quiet, chosen_by=explicit, **overrides
    )


# ------------------------------------------------------------------------------------ commands
def _prepare(args: argparse.Namespace) -> RunConfig:
    """The command's RunConfig (kept in `args` for `failure`), libraries quietened."""
    from . import runtime

    args.config = config_from_args(args)
    runtime.quiet_libraries()
    return args.config


def run_train(args: argparse.Namespace) -> int:
    from . import runs

    config = _prepare(args)
    verbose = 0 if args.quiet else 1 if args.progress else 2
    mode = "resume" if args.resume else args.mode
    result = runs.open_run(config, mode=mode, verbose=verbose)
    if args.quiet:  # what was done to the run folder is shown even then
        print(*result.notices, sep="\n", file=sys.stderr)
    else:
        print(result)
    print(result.path)
    return EXIT_DONE


def _open(args: argparse.Namespace, config: RunConfig) -> Any:
    """The run a read command names: `--run`, else the configuration's (reopened; trained when
    not finished only with --train-if-missing)."""
    from . import runs

    train = getattr(args, "train_if_missing", False)
    verbose = 0 if args.quiet else 2
    return runs.open_run(config, args.source, mode="auto" if train else "reopen", verbose=verbose)


def run_evaluate(args: argparse.Namespace) -> int:
    """What notebook 05 does with one run: figures (`plotting.plot_run`), tables and summary
    (`reports.summarize_run`), the lesson's claims (`evaluation.check_adaptation`)."""
    from . import evaluation, plotting, reports
    from .figures import save_fig

    config = _prepare(args)
    run = _open(args, config)
    folder = Path(args.figures) if args.figures else run.path / "figures"
    for kind in ("epoch_loss", "step_loss", "learning_rate", "perplexity", "fill_mask"):
        save_fig(plotting.plot_run(run, kind), f"05_{kind}", folder=folder, quiet=True)
    summary = reports.summarize_run(run)
    if not args.quiet:
        print(f"{run.name}: {len(run.epochs)} epochs, {len(run.steps)} steps logged")
        for table in (summary.epoch_table, summary.fill_mask_table):
            print(f"\n{table}" if table else "")
        print(f"\n{summary}\n")
    try:
        claims = evaluation.check_adaptation(run.results, profile=config.profile)
    except (AssertionError, KeyError) as err:
        print(f"claim not met: {err}", file=sys.stderr if args.check else sys.stdout)
        if args.check:
            print(f"error: the lesson's claims do not hold for {run.path}", file=sys.stderr)
            return EXIT_FAILED
    else:
        if not args.quiet:
            print(*claims, sep="\n")
    print(folder)
    return EXIT_DONE


def run_publish(args: argparse.Namespace) -> int:
    """What notebook 06 does: the loss plot and the card (`model_card.write_model_card`) into
    model/, then a dry run, or the upload with --upload (`publishing.publish`, which never prints
    the token)."""
    from . import model_card, plotting, publishing
    from .figures import save_fig

    config = _prepare(args)
    run = _open(args, config)
    folder = run.model_dir
    save_fig(plotting.plot_run(run, "epoch_loss"), "loss_curves", folder=folder, quiet=True)
    card = model_card.write_model_card(
        run, folder, repo_id=args.repo_id, figure=folder / "loss_curves.png"
    )
    if not args.quiet:
        print(f"model card: {card}")
    result = publishing.publish(
        folder, args.repo_id, private=not args.public, dry_run=not args.upload
    )
    if result.status == "no_token":
        print("error: no Hugging Face token found, nothing was sent: see above", file=sys.stderr)
        return EXIT_FAILED
    if result.status == "dry_run":
        print("Dry run only: add --upload to send these files.")
    print(result.url or folder)
    return EXIT_DONE


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
    config = _prepare(args)
    settings = settings_from_args(args, config.profile)
    from . import classify  # TensorFlow: after the arguments are checked

    result = classify.learning_curve(config.run_dir, settings, verbose=not args.quiet)
    path = result.save(config.run_dir)
    if not args.quiet:
        print(result.markdown())
        print(f"{len(result.runs)} classifiers trained in {result.seconds:.0f} s")
    print(path)
    return EXIT_DONE


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "publish": run_publish,
    "classify": run_classify,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mlm_helpers`` and the ``mlm-helpers`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in COMMANDS:
        parser.print_help()
        return EXIT_USAGE
    args.argv = argv[argv.index(args.command) :]  # the command and its arguments
    return guarded(COMMANDS[args.command], args)
