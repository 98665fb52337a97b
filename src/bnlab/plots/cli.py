"""`bnlab figure KIND`: draws one figure of a kind in bnlab.plots.figures (registered by `bnlab.cli`).

Argument parsing and reading the inputs only.
"""

from __future__ import annotations


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
    import importlib

    from bnlab.plots.figures import FIGURES

    figure = FIGURES[args.figure]
    if len(args.input) != len(figure.inputs):
        from bnlab.errors import BnlabError

        raise BnlabError(f"figure {args.figure} takes {len(figure.inputs)} input(s): {', '.join(figure.inputs)}")
    draw = getattr(importlib.import_module(args.module), figure.function)
    draw(*(read(path) for path in args.input), args.out, **{name: getattr(args, name) for name in figure.options})


def add_verbs(figure) -> None:
    """Add one sub-command per kind of figure to this stage's parser, `bnlab figure`."""
    from bnlab.plots.figures import FIGURES, OPTIONS

    kinds = figure.add_subparsers(dest="figure", required=True)
    for name, spec in FIGURES.items():
        v = kinds.add_parser(name, help=f"drawn by {spec.module}.{spec.function}")
        v.add_argument("--input", nargs="+", required=True, help="; ".join(spec.inputs))
        v.add_argument("--out", required=True, help="the .png; the .svg is written beside it")
        for option in spec.options:
            v.add_argument(f"--{option}", **OPTIONS[option])
        # The drawing module is a default so that bnlab.provenance finds the code this figure runs.
        v.set_defaults(func=cmd_figure, module=spec.module)
