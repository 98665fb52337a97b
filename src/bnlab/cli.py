"""``bnlab <verb>``: the only entry point Snakemake rules call. Argument parsing only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bnlab.errors import BnlabError


def cmd_models(args) -> None:
    from bnlab.registry import MODELS, load_all
    from bnlab.report.tables import describe_models

    load_all()
    table = describe_models(MODELS.names(), width=args.width)
    print(table.to_string(index=False, formatters={"parameters": "{:,}".format}))


def cmd_download(args) -> None:
    from bnlab.data import sources

    out = Path(args.out)
    sources.download(args.torchvision, out)
    (out / ".torchvision").write_text(args.torchvision + "\n")


def cmd_prepare(args) -> None:
    from bnlab.data.prepare import prepare

    digest = prepare(json.loads(args.dataset), Path(args.source), Path(args.out))
    print(f"{args.out}: sha256 {digest}")


def cmd_train(args) -> None:
    import torch

    from bnlab.registry import load_all
    from bnlab.train.trainer import train

    load_all()
    torch.set_num_threads(args.threads)
    summary = train(json.loads(args.spec), Path(args.data), Path(args.out), log=lambda s: print(s, flush=True))
    print(f"done: {summary['status']}, final test acc {summary['final_test_acc']:.2f}%")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bnlab", description=__doc__)
    verbs = p.add_subparsers(dest="verb", required=True)

    v = verbs.add_parser("models", help="list the registered models with their parameter counts")
    v.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    v.set_defaults(func=cmd_models)

    v = verbs.add_parser("download", help="fetch a dataset with torchvision")
    v.add_argument("--torchvision", required=True, help="torchvision.datasets class, e.g. CIFAR10")
    v.add_argument("--out", required=True)
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
    v.set_defaults(func=cmd_train)

    # Later stages keep their verbs beside their code.
    from bnlab.analysis.cli import add_verbs as analysis_verbs
    from bnlab.plots.cli import add_verbs as plot_verbs
    from bnlab.report.cli import add_verbs as report_verbs

    for add in (analysis_verbs, plot_verbs, report_verbs):
        add(verbs)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except BnlabError as e:
        sys.exit(f"bnlab: error: {e}")
