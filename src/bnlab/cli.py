"""``bnlab <verb>``: the only entry point Snakemake rules call. Argument parsing only."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from bnlab.errors import BnlabError


def cmd_models(args) -> None:
    from bnlab.registry import MODELS
    from bnlab.report.tables import describe_models
    from bnlab.train.components import load_all

    load_all()
    table = describe_models(MODELS.names(), width=args.width)
    print(table.to_string(index=False, formatters={"parameters": "{:,}".format}))


def cmd_download(args) -> None:
    from bnlab.data import sources

    sources.download(args.torchvision, Path(args.out))
    print(f"{args.out}: {args.torchvision} downloaded")


def cmd_prepare(args) -> None:
    from bnlab.data.prepare import prepare

    digest = prepare(json.loads(args.dataset), Path(args.source), Path(args.out))
    print(f"{args.out}: sha256 {digest}")


def cmd_train(args) -> None:
    import torch

    from bnlab.train.components import load_all
    from bnlab.train.trainer import train

    load_all()
    torch.set_num_threads(args.threads)
    summary = train(
        json.loads(args.spec), Path(args.data), Path(args.out), args.code_version, log=lambda s: print(s, flush=True)
    )
    print(f"done: {summary['status']}, final test acc {summary['final_test_acc']:.2f}%")


def cmd_lr_range(args) -> None:
    import torch

    from bnlab.data import prepare
    from bnlab.io import write_csv
    from bnlab.train.components import load_all
    from bnlab.train.lr_finder import range_test_table

    load_all()
    torch.set_num_threads(args.threads)
    specs = [json.loads(spec) for spec in args.spec]
    table = range_test_table(specs, prepare.load(Path(args.data)), args.lr_min, args.lr_max, args.steps)
    write_csv(table, args.out)
    for model, row in table.groupby("model", sort=False).first().iterrows():
        print(f"{model}: suggested lr {row['suggested_lr']:.3g}" + (" (the loss blew up)" if row["diverged"] else ""))


# The later stages keep their verbs beside their code: stage -> (its CLI module, what it does).
STAGES = {
    "analyse": ("bnlab.analysis.cli", "compute one analysis table from finished runs"),
    "figure": ("bnlab.plots.cli", "draw one figure (PNG plus SVG twin) from its tables"),
    "report": ("bnlab.report.cli", "the report stage: tables, the executed notebook and the rendered report"),
}


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `bnlab` parser for the command line ``argv`` (default: this process's)."""
    p = argparse.ArgumentParser(prog="bnlab", description=__doc__)
    verbs = p.add_subparsers(dest="verb", required=True)

    v = verbs.add_parser("models", help="list the registered models with their parameter counts")
    v.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    v.set_defaults(func=cmd_models)

    v = verbs.add_parser(
        "download", help="fetch a dataset with torchvision (from $BNLAB_DATASET_MIRROR, a URL prefix, when set)"
    )
    v.add_argument(
        "--torchvision", required=True, help="torchvision.datasets class: CIFAR10, FashionMNIST, MNIST or Imagenette"
    )
    v.add_argument("--out", required=True, help="the folder to create; it appears only once the download is complete")
    v.set_defaults(func=cmd_download)

    v = verbs.add_parser("prepare", help="turn a source into the cached .npz (+ .sha256)")
    v.add_argument("--dataset", required=True, help="the dataset's config entry, as JSON")
    v.add_argument("--source", required=True, help="a torchvision download folder, an image-folder tree or an .npz")
    v.add_argument("--out", required=True)
    v.set_defaults(func=cmd_prepare)

    v = verbs.add_parser("train", help="train (or resume) one run")
    v.add_argument("--spec", required=True, help="the run spec, as JSON")
    v.add_argument("--data", required=True, help="the prepared .npz")
    v.add_argument("--out", required=True, help="the run's folder")
    v.add_argument("--threads", type=int, default=1)
    v.add_argument(
        "--code-version", required=True, help="hash of the code that trains (a checkpoint of other code is not resumed)"
    )
    v.set_defaults(func=cmd_train)

    v = verbs.add_parser("lr-range", help="learning-rate range test of runs' models, set up as for training")
    v.add_argument("--spec", nargs="+", required=True, help="the run specs, as JSON, one per model")
    v.add_argument("--data", required=True, help="the prepared .npz")
    v.add_argument("--lr-min", type=float, required=True)
    v.add_argument("--lr-max", type=float, required=True)
    v.add_argument("--steps", type=int, required=True, help="steps of exponentially growing learning rate")
    v.add_argument("--out", required=True, help="the table (.csv)")
    v.add_argument("--threads", type=int, default=1)
    v.set_defaults(func=cmd_lr_range)

    # A stage's verbs are built only when that stage is called, so a job imports no other stage's code.
    words = sys.argv[1:] if argv is None else argv
    for stage, (module, help) in STAGES.items():
        stage_parser = verbs.add_parser(stage, help=help)
        if words[:1] == [stage]:
            importlib.import_module(module).add_verbs(stage_parser)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser(argv).parse_args(argv)
    try:
        args.func(args)
    except BnlabError as e:
        sys.exit(f"bnlab: error: {e}")


if __name__ == "__main__":
    main()
