"""The one table of figures: every kind of figure the workflow draws, with the function that draws it.

``bnlab figure KIND --input ... --out PNG`` draws one figure of a kind: it reads each input (a CSV as a
table, an .npz as its arrays) and calls the kind's function with them, in order, then the output path and
the options. bnlab.report.manifest says which figure files of which kind a config makes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    module: str
    function: str
    inputs: tuple[str, ...]  # what each input is, in the order the function takes them
    options: tuple[str, ...] = ()


FIGURES = {
    # The course studies: one per dataset or per experiment.
    "augmentations": Figure(
        "bnlab.plots.augmentation_grid", "draw", ("the prepared .npz",), ("augmentations", "images")
    ),
    "training": Figure(
        "bnlab.plots.training_curves",
        "draw",
        ("the experiment's runs table (.csv)", "the prepared .npz (its classes set the chance line)"),
        ("title",),
    ),
    "per-class": Figure("bnlab.plots.per_class", "draw", ("the experiment's per-class table (.csv)",), ("title",)),
    "lr-range": Figure("bnlab.plots.lr_range", "draw", ("the range test table (.csv)",), ("title",)),
    "confusion": Figure("bnlab.plots.confusion", "draw", ("the experiment's confusion matrices (.csv)",), ("title",)),
    # The BatchNorm study: one per analysis; a figure of both protocols draws the paper's beside report 000's.
    "loss-landscape": Figure(
        "bnlab.plots.bn.landscape",
        "loss_landscape",
        ("line_search table (paper)", "loss_landscape table (course)"),
        ("smooth",),
    ),
    "gradient-predictiveness": Figure(
        "bnlab.plots.bn.line_search",
        "gradient_predictiveness",
        ("line_search table (paper)", "grad_predictiveness table (course)"),
        ("smooth",),
    ),
    "beta-smoothness": Figure("bnlab.plots.bn.line_search", "beta_smoothness", ("line_search table",), ("smooth",)),
    "max-grad-diff": Figure(
        "bnlab.plots.bn.grad_distance", "max_grad_diff", ("grad_distance table (paper)", "grad_distance table (course)")
    ),
    "input-smoothness": Figure(
        "bnlab.plots.bn.input_smoothness",
        "input_smoothness",
        ("input_smoothness table (paper)", "input_smoothness table (course)"),
    ),
    "activations": Figure(
        "bnlab.plots.bn.activations", "activation_stats", ("activations table (paper)", "activations table (course)")
    ),
    "gradient-health": Figure(
        "bnlab.plots.bn.gradient_health",
        "gradient_health",
        ("gradient_health table (paper)", "gradient_health table (course)"),
    ),
    "feature-maps": Figure(
        "bnlab.plots.bn.feature_maps", "feature_maps", ("feature_maps arrays (.npz)",), ("channels",)
    ),
    "bn-training-curves": Figure("bnlab.plots.bn.training_curves", "training_curves", ("training_curves table",)),
}

# The options a figure may take, as argparse arguments.
OPTIONS = {
    "smooth": {
        "type": int,
        "default": 0,
        "help": "trailing rolling mean over this many points, named in the title (0 = raw)",
    },
    "channels": {"type": int, "default": 8, "help": "channels shown per layer"},
    "title": {"default": "", "help": "the figure's title"},
    "augmentations": {"nargs": "+", "required": True, "help": "augmentation pipelines, e.g. crop+flip"},
    "images": {"type": int, "default": 8, "help": "how many images (one per class)"},
}
