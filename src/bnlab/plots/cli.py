"""`bnlab figure <name>` verbs of the plots stage (registered by `bnlab.cli`). Argument parsing and file reading only."""

from __future__ import annotations

import importlib

# figure name -> (module, function, options it takes beyond the table and the output)
FIGURES = {
    "loss-landscape": ("bnlab.plots.bn.landscape", "loss_landscape", ("smooth",)),
    "probe-loss": ("bnlab.plots.bn.line_search", "probe_loss", ("smooth",)),
    "gradient-predictiveness": ("bnlab.plots.bn.line_search", "gradient_predictiveness", ("smooth",)),
    "beta-smoothness": ("bnlab.plots.bn.line_search", "beta_smoothness", ("smooth",)),
    "max-grad-diff": ("bnlab.plots.bn.grad_distance", "max_grad_diff", ()),
    "input-smoothness": ("bnlab.plots.bn.input_smoothness", "input_smoothness", ()),
    "activations": ("bnlab.plots.bn.activations", "activation_stats", ()),
    "gradient-health": ("bnlab.plots.bn.gradient_health", "gradient_health", ()),
    "feature-maps": ("bnlab.plots.bn.feature_maps", "feature_maps", ("channels",)),
    "training-curves": ("bnlab.plots.bn.training_curves", "training_curves", ()),
}


def read(path: str):
    """A CSV table, or the arrays of an .npz."""
    from bnlab.errors import AnalysisError

    if path.endswith(".npz"):
        import numpy as np

        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    import pandas as pd

    table = pd.read_csv(path)
    if table.empty:
        raise AnalysisError(f"{path}: the table is empty; nothing to draw")
    return table


def cmd_figure(args) -> None:
    module, function, options = FIGURES[args.figure]
    draw = getattr(importlib.import_module(module), function)
    draw(read(args.input), args.out, **{name: getattr(args, name) for name in options})


def add_verbs(verbs) -> None:
    """Add this stage's sub-commands to the `bnlab` parser's subparsers."""
    figure = verbs.add_parser("figure", help="draw one figure (PNG plus SVG twin) from an analysis table")
    names = figure.add_subparsers(dest="figure", required=True)
    for name, (_, _, options) in FIGURES.items():
        v = names.add_parser(name)
        v.add_argument("--input", required=True, help="the analysis table (.csv) or arrays (.npz)")
        v.add_argument("--out", required=True, help="the .png; the .svg is written beside it")
        if "smooth" in options:
            v.add_argument("--smooth", type=int, default=0,
                           help="trailing rolling mean over this many points, named in the title (0 = raw)")
        if "channels" in options:
            v.add_argument("--channels", type=int, default=8, help="channels shown per layer")
        v.set_defaults(func=cmd_figure)
