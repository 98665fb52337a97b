"""The one style every figure shares, and the one way figures are saved (PNG at 150 dpi plus SVG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bnlab.io import atomic_path  # noqa: E402

DPI = 150
STYLE = {
    "figure.figsize": (6.4, 4.0),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "svg.hashsalt": "bnlab",  # stable SVG ids, so an unchanged figure is byte-identical
}
# One colour per model, fixed across figures so vgg_a is always the same colour.
MODEL_COLORS = {
    "vgg_a": "#d62728",
    "vgg_a_bn": "#1f77b4",
    "vgg_a_res": "#2ca02c",
    "vgg_a_res_dropout": "#9467bd",
    "vgg_a_gelu": "#ff7f0e",
    "simple_cnn": "#8c564b",
}


def color(model: str) -> str:
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return MODEL_COLORS.get(model, palette[sum(map(ord, model)) % len(palette)])


def subplots(*args, **kwargs):
    plt.rcParams.update(STYLE)
    return plt.subplots(*args, **kwargs)


def save(fig, png: str | Path) -> None:
    """Write ``png`` and its SVG twin (same name, .svg) atomically, then close the figure."""
    png = Path(png)
    fig.tight_layout()
    for path, kwargs in ((png, {"dpi": DPI}), (png.with_suffix(".svg"), {"metadata": {"Date": None}})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], **kwargs)
    plt.close(fig)
