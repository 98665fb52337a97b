"""`bnlab analyse <analysis>`: the analysis stage's verbs (registered by `bnlab.cli`).

Argument parsing and file I/O only.
"""

from __future__ import annotations

from pathlib import Path


def _tables(args, name: str):
    from bnlab.train.run_folder import read_tables

    return read_tables(args.runs, name)


def cmd_loss_landscape(args) -> None:
    from bnlab.analysis.landscape import loss_band
    from bnlab.io import write_csv

    write_csv(loss_band(_tables(args, "steps.csv")), args.out)


def cmd_line_search(args) -> None:
    from bnlab.analysis.probe_bands import probe_bands
    from bnlab.errors import AnalysisError
    from bnlab.io import write_csv

    probes = _tables(args, "probes.csv")
    if probes.empty:
        raise AnalysisError(f"no probe records in {', '.join(args.runs)}; set the experiment's probe_every")
    write_csv(probe_bands(probes), args.out)


def cmd_training_curves(args) -> None:
    from bnlab.analysis.training_curves import training_curves
    from bnlab.io import write_csv

    write_csv(training_curves(_tables(args, "metrics.csv")), args.out)


def _on_device(args):
    """The prepared data and the trainer's device, with the job's thread count."""
    import torch

    from bnlab.data import prepare
    from bnlab.device import pick_device

    torch.set_num_threads(args.threads)
    return prepare.load(Path(args.data)), pick_device()


def cmd_grad_distance(args) -> None:
    from bnlab.analysis import grad_distance
    from bnlab.io import write_csv

    data, device = _on_device(args)
    write_csv(
        grad_distance.table(
            args.runs,
            data,
            device,
            d_max=args.d_max,
            points=args.points,
            batches=args.batches,
            batch_size=args.batch_size,
            seed=args.seed,
        ),
        args.out,
    )


def cmd_input_smoothness(args) -> None:
    from bnlab.analysis import input_smoothness
    from bnlab.io import write_csv

    data, device = _on_device(args)
    write_csv(
        input_smoothness.table(
            args.runs,
            data,
            device,
            noise_std=args.noise_std,
            batches=args.batches,
            batch_size=args.batch_size,
            seed=args.seed,
        ),
        args.out,
    )


def cmd_activations(args) -> None:
    from bnlab.analysis import activations
    from bnlab.io import write_csv

    data, device = _on_device(args)
    write_csv(activations.table(args.runs, data, device, threshold=args.threshold), args.out)


def cmd_gradient_health(args) -> None:
    from bnlab.analysis import gradient_health
    from bnlab.io import write_csv

    data, device = _on_device(args)
    write_csv(
        gradient_health.table(
            args.runs, data, device, batches=args.batches, batch_size=args.batch_size, seed=args.seed
        ),
        args.out,
    )


def cmd_feature_maps(args) -> None:
    import numpy as np

    from bnlab.analysis import feature_maps
    from bnlab.io import atomic_path

    data, device = _on_device(args)
    maps = feature_maps.arrays(args.runs, data, device, images=args.images, layers=args.layers)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **maps)


def cmd_summary(args) -> None:
    import pandas as pd

    from bnlab.analysis.bn_summary import TABLES, summary
    from bnlab.errors import AnalysisError
    from bnlab.io import write_csv

    paths = dict(pair.split("=", 1) for pair in args.tables)
    if sorted(paths) != sorted(TABLES):
        raise AnalysisError(f"the summary reads exactly the tables {', '.join(TABLES)}; given {', '.join(paths)}")
    tables = {name: pd.read_csv(path) for name, path in paths.items()}
    write_csv(summary(tables, args.models), args.out)


def add_verbs(analyse) -> None:
    """Add this stage's sub-commands to its parser, `bnlab analyse`."""
    kinds = analyse.add_subparsers(dest="analysis", required=True)

    def kind(name: str, func, help: str, *, model: bool = False, batches: bool = False):
        v = kinds.add_parser(name, help=help)
        v.add_argument("--runs", nargs="+", required=True, help="run folders (each with run.json)")
        v.add_argument("--out", required=True)
        if model:
            v.add_argument("--data", required=True, help="the prepared .npz the runs were trained on")
            v.add_argument("--threads", type=int, default=1)
        if batches:
            v.add_argument("--batches", type=int, default=4, help="training batches per run")
            v.add_argument("--batch-size", type=int, default=128)
            v.add_argument("--seed", type=int, default=0, help="seed of the image sample (and of any noise)")
        v.set_defaults(func=func)
        return v

    kind("loss-landscape", cmd_loss_landscape, "band of per-step training loss over learning rates (steps.csv)")
    kind("line-search", cmd_line_search, "per-step bands of the trainer's line-search probe (probes.csv)")
    kind("training-curves", cmd_training_curves, "loss and accuracy per epoch (metrics.csv), long form")
    v = kind(
        "grad-distance",
        cmd_grad_distance,
        "max gradient difference over distance along the gradient",
        model=True,
        batches=True,
    )
    v.add_argument("--d-max", type=float, default=1.0, help="largest distance moved in weight space")
    v.add_argument("--points", type=int, default=11, help="number of distances in [0, d-max]")
    v = kind(
        "input-smoothness",
        cmd_input_smoothness,
        "change of the input gradient under Gaussian input noise",
        model=True,
        batches=True,
    )
    v.add_argument("--noise-std", type=float, default=0.01, help="std of the noise, in normalised input units")
    v = kind("activations", cmd_activations, "per-ReLU mean, std and dead units over the test set", model=True)
    v.add_argument("--threshold", type=float, default=0.01, help="a unit with a lower mean activation is dead")
    kind(
        "gradient-health",
        cmd_gradient_health,
        "per-parameter gradient norm, vanishing and exploding shares at the snapshot epochs",
        model=True,
        batches=True,
    )
    v = kind(
        "feature-maps", cmd_feature_maps, "first conv layers' activations for fixed test images (.npz)", model=True
    )
    v.add_argument("--images", type=int, default=4, help="first test image of each of this many classes")
    v.add_argument("--layers", type=int, default=2, help="number of conv ReLUs to keep")

    v = kinds.add_parser("summary", help="the BatchNorm numbers the report quotes (bn_summary.csv)")
    v.add_argument(
        "--tables",
        nargs="+",
        required=True,
        metavar="ANALYSIS=CSV",
        help="each analysis table the summary reads (bnlab.analysis.bn_summary.TABLES)",
    )
    v.add_argument("--models", nargs="+", required=True, help="models to summarise")
    v.add_argument("--out", required=True)
    v.set_defaults(func=cmd_summary)
