"""`bnlab analyse <analysis>`: the analysis stage's verbs (registered by `bnlab.cli`).

Argument parsing and file I/O only. An analysis that can measure the way the paper does and the way report
000's code did takes ``--protocol`` (bnlab.analysis.protocols); ``--batches`` defaults to the protocol's own count.
"""

from __future__ import annotations

from pathlib import Path


def _tables(args, name: str):
    from bnlab.analysis.runs import run_tables

    return run_tables(args.runs, name)


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


def _batches(args, module) -> int:
    """The training batches to read: as given, else the protocol's own count."""
    return module.BATCHES[args.protocol] if args.batches is None else args.batches


def _model_table(args, module, **options) -> None:
    """Write ``module.table`` of the runs, measured on the prepared data's training batches."""
    from bnlab.io import write_csv

    data, device = _on_device(args)
    batches = _batches(args, module)
    write_csv(
        module.table(args.runs, data, device, batches=batches, batch_size=args.batch_size, seed=args.seed, **options),
        args.out,
    )


def cmd_grad_distance(args) -> None:
    from bnlab.analysis import grad_distance

    _model_table(args, grad_distance, protocol=args.protocol, d_max=args.d_max, points=args.points)


def cmd_grad_predictiveness(args) -> None:
    from bnlab.analysis import grad_predictiveness

    _model_table(args, grad_predictiveness)


def cmd_input_smoothness(args) -> None:
    from bnlab.analysis import input_smoothness

    _model_table(args, input_smoothness, protocol=args.protocol, noise_std=args.noise_std)


def cmd_activations(args) -> None:
    from bnlab.analysis import activations

    _model_table(args, activations, protocol=args.protocol, threshold=args.threshold)


def cmd_gradient_health(args) -> None:
    from bnlab.analysis import gradient_health

    _model_table(args, gradient_health, protocol=args.protocol)


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

    from bnlab.analysis.bn_summary import TABLES, quirks, summary
    from bnlab.errors import AnalysisError
    from bnlab.io import write_csv

    paths = dict(pair.split("=", 1) for pair in args.tables)
    if sorted(paths) != sorted(TABLES):
        raise AnalysisError(f"the summary reads exactly the tables {', '.join(TABLES)}; given {', '.join(paths)}")
    tables = {name: pd.read_csv(path) for name, path in paths.items()}
    experiments = {name: Path(path).stem for name, path in paths.items()}
    write_csv(summary(tables, args.models, experiments), args.out)
    write_csv(quirks(tables, args.models), args.quirks_out)


def add_verbs(analyse) -> None:
    """Add this stage's sub-commands to its parser, `bnlab analyse`."""
    from bnlab.analysis.protocols import COURSE, PAPER, PROTOCOLS

    kinds = analyse.add_subparsers(dest="analysis", required=True)

    def kind(name: str, func, help: str, protocols: tuple[str, ...], *, model: bool = False, batches: bool = False):
        v = kinds.add_parser(name, help=help)
        v.add_argument("--runs", nargs="+", required=True, help="run folders (each with run.json)")
        v.add_argument("--out", required=True)
        v.add_argument(
            "--protocol", choices=protocols, default=protocols[0], help="measure as the paper or as report 000 did"
        )
        if model:
            v.add_argument("--data", required=True, help="the prepared .npz the runs were trained on")
            v.add_argument("--threads", type=int, default=1)
        if batches:
            v.add_argument("--batches", type=int, help="training batches per run (default: the protocol's own)")
            v.add_argument("--batch-size", type=int, default=128)
            v.add_argument("--seed", type=int, default=0, help="seed of the image sample (and of any noise)")
        v.set_defaults(func=func)
        return v

    kind("loss-landscape", cmd_loss_landscape, "report 000's band of per-step training loss over lrs", (COURSE,))
    kind("line-search", cmd_line_search, "per-step bands of the trainer's line-search probe, the paper's", (PAPER,))
    kind("training-curves", cmd_training_curves, "loss and accuracy per epoch (metrics.csv), long form", (PAPER,))
    v = kind(
        "grad-distance",
        cmd_grad_distance,
        "max gradient difference over distance along the gradient",
        PROTOCOLS,
        model=True,
        batches=True,
    )
    v.add_argument("--d-max", type=float, default=1.0, help="largest distance moved in weight space (paper)")
    v.add_argument("--points", type=int, default=11, help="number of distances in [0, d-max] (paper)")
    kind(
        "grad-predictiveness",
        cmd_grad_predictiveness,
        "report 000's gradient predictiveness at the trained weights",
        (COURSE,),
        model=True,
        batches=True,
    )
    v = kind(
        "input-smoothness",
        cmd_input_smoothness,
        "change of the input gradient under Gaussian input noise",
        PROTOCOLS,
        model=True,
        batches=True,
    )
    v.add_argument("--noise-std", type=float, default=0.01, help="std of the noise, in normalised input units (paper)")
    v = kind(
        "activations",
        cmd_activations,
        "per-layer activation statistics and dead units",
        PROTOCOLS,
        model=True,
        batches=True,
    )
    v.add_argument("--threshold", type=float, default=0.01, help="a unit with a lower mean activation is dead (paper)")
    kind(
        "gradient-health",
        cmd_gradient_health,
        "per-parameter gradient norm, vanishing and exploding shares",
        PROTOCOLS,
        model=True,
        batches=True,
    )
    v = kind(
        "feature-maps",
        cmd_feature_maps,
        "first conv layers' activations for fixed test images (.npz)",
        (PAPER,),
        model=True,
    )
    v.add_argument("--images", type=int, default=4, help="first test image of each of this many classes")
    v.add_argument("--layers", type=int, default=2, help="number of conv ReLUs to keep")

    v = kinds.add_parser("summary", help="the BatchNorm numbers the report quotes (bn_summary.csv, bn_quirks.csv)")
    v.add_argument(
        "--tables",
        nargs="+",
        required=True,
        metavar="ANALYSIS.PROTOCOL=CSV",
        help="each analysis table the summary reads (bnlab.analysis.bn_summary.TABLES)",
    )
    v.add_argument("--models", nargs="+", required=True, help="models to summarise")
    v.add_argument("--out", required=True, help="the summary CSV")
    v.add_argument("--quirks-out", required=True, help="the CSV of the quirks' sizes")
    v.set_defaults(func=cmd_summary)
