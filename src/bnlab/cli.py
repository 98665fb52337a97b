"""``bnlab <verb>``: the only entry point Snakemake rules call. Argument parsing only."""

from __future__ import annotations

import argparse
import importlib
import json
import os
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


def cmd_bench(args) -> None:
    import torch

    from bnlab import config as study
    from bnlab.bench import throughput
    from bnlab.device import pick_device
    from bnlab.io import write_csv

    torch.set_num_threads(args.threads)
    table = throughput.bench(
        study.load_files(args.config, args.schema),
        datasets=args.datasets,
        models=args.models,
        batch_size=args.batch_size,
        data_dir=None if args.synthetic else args.data,
        train_images=args.train_images,
        test_images=args.test_images,
        repeats=args.repeats,
        workers=args.workers,
        with_analyses=not args.no_analyses,
        device=pick_device(),
        log=lambda s: print(s, flush=True),
        done=lambda table: write_csv(table, Path(args.out)),
    )
    print(throughput.summary(table))
    print(f"table: {args.out}")


def cmd_plan(args) -> None:
    from bnlab import config as study
    from bnlab.bench import plan

    table = plan.read_bench(args.bench)
    jobs, origins = plan.estimate(study.load_files(args.config, args.schema), table, Path(args.data_dir))
    print(plan.summary(jobs, origins, table["device"].iloc[0], args.devices))


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

    config_files = dict(
        nargs="+",
        default=["config.yaml"],
        help="config files, merged in order as Snakemake merges them (default: config.yaml; the quick profile: "
        "config.yaml workflow/profiles/quick/budget.yaml)",
    )
    schema = dict(default="workflow/schemas/config.schema.yaml", help="the config schema")
    cores = len(os.sched_getaffinity(0))
    v = verbs.add_parser(
        "bench",
        help="images/s of the trainer, the bare training step and the textbook DataLoader loop, per model (a table "
        "and a CSV)",
    )
    v.add_argument("--config", **config_files)
    v.add_argument("--schema", **schema)
    v.add_argument("--datasets", nargs="+", help="the config's datasets to measure on (default: all it trains on)")
    data = v.add_mutually_exclusive_group(required=True)
    data.add_argument(
        "--data", help="a folder of prepared <dataset>.npz (results/data) or of sources (a data root), prepared first"
    )
    data.add_argument("--synthetic", action="store_true", help="random images of the dataset's shape instead")
    v.add_argument(
        "--models", nargs="+", help="NAME or NAME:WIDTH (default: every model, width and batch size the config trains)"
    )
    v.add_argument("--batch-size", type=int, help="batch size of --models (default: the config's)")
    v.add_argument("--train-images", type=int, help="train on a seeded subset of this many images (default: all)")
    v.add_argument("--test-images", type=int, help="evaluate on a seeded subset of this many images (default: all)")
    v.add_argument("--repeats", type=int, default=3, help="epochs measured per model; medians are reported")
    v.add_argument("--threads", type=int, default=cores, help=f"torch threads (default: the {cores} cores)")
    v.add_argument("--workers", type=int, default=cores, help="DataLoader workers of the textbook loop")
    v.add_argument("--no-analyses", action="store_true", help="skip timing the model analyses")
    v.add_argument("--out", required=True, help="the CSV to write")
    v.set_defaults(func=cmd_bench)

    v = verbs.add_parser("plan", help="estimated device hours and wall time of a study, from a bench table")
    v.add_argument("--config", **config_files)
    v.add_argument("--schema", **schema)
    v.add_argument("--bench", required=True, help="the CSV bnlab bench wrote, on the device to plan for")
    v.add_argument("--data-dir", default="results/data", help="where prepared datasets are (their image counts)")
    v.add_argument("--devices", type=int, default=1, help="devices the jobs spread over (default 1)")
    v.set_defaults(func=cmd_plan)

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
