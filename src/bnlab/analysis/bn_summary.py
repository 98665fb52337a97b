"""The numbers the report quotes about BatchNorm, computed from the analysis tables.

Table results/analysis/bn_summary.csv, long form, one row per metric and model:
    metric   one of the names below
    model    the model name
    value    the number (runs of the same model are pooled)

Metrics (units in the name or stated):
    dead_neuron_ratio_pct           % of all ReLU units whose mean test activation is below the threshold
    never_active_ratio_pct          % of all ReLU units never active on any test image
    max_grad_diff_at_distance_0.5   max |gradient difference| at distance 0.5 along the gradient, mean over batches
                                    (linear interpolation between the computed distances)
    mean_max_grad_diff              the same, averaged over all distances and batches
    mean_input_gradient_smoothness  mean over batches of ||grad_x L(x + delta) - grad_x L(x)|| / ||delta||
    vanishing_gradient_pct          % of gradient entries with |g| < 1e-7, over all parameters, batches and epochs
    exploding_gradient_pct          % of gradient entries with |g| > 1, likewise
    landscape_band_mean             mean over training steps of (max - min) training loss across learning rates
    probe_loss_band_mean            mean over probed steps of (max - min) loss along the line search
    grad_predictiveness_mean        mean over probed steps of the gradient difference (mean over step sizes)
    beta_smoothness_mean            mean over probed steps of the effective beta-smoothness (max over step sizes)
    final_test_acc                  test accuracy (%) after the last epoch
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnlab.errors import AnalysisError

COLUMNS = ["metric", "model", "value"]
SUMMARY_DISTANCE = 0.5
TABLES = (
    "loss_landscape",
    "line_search",
    "grad_distance",
    "input_smoothness",
    "activations",
    "gradient_health",
    "training_curves",
)


def _pct(part: pd.Series, whole: pd.Series) -> float:
    return 100.0 * part.sum() / whole.sum()


def _at_distance(frame: pd.DataFrame) -> float:
    curve = frame.groupby("distance")["max_grad_diff"].mean()
    if not curve.index.min() <= SUMMARY_DISTANCE <= curve.index.max():
        raise AnalysisError(
            f"gradient differences were computed for distances {curve.index.min():g}.."
            f"{curve.index.max():g}, which do not reach {SUMMARY_DISTANCE}"
        )
    return float(np.interp(SUMMARY_DISTANCE, curve.index.to_numpy(), curve.to_numpy()))


def _final_test_acc(frame: pd.DataFrame) -> float:
    test = frame[frame["split"] == "test"]
    return test[test["epoch"] == test.groupby("run")["epoch"].transform("max")]["acc"].mean()


# metric -> (table, per-model reduction)
METRICS = {
    "dead_neuron_ratio_pct": ("activations", lambda f: _pct(f["dead_units"], f["units"])),
    "never_active_ratio_pct": ("activations", lambda f: _pct(f["never_active_units"], f["units"])),
    f"max_grad_diff_at_distance_{SUMMARY_DISTANCE:g}": ("grad_distance", _at_distance),
    "mean_max_grad_diff": ("grad_distance", lambda f: f["max_grad_diff"].mean()),
    "mean_input_gradient_smoothness": ("input_smoothness", lambda f: f["ratio"].mean()),
    "vanishing_gradient_pct": ("gradient_health", lambda f: _pct(f["vanishing_frac"] * f["numel"], f["numel"])),
    "exploding_gradient_pct": ("gradient_health", lambda f: _pct(f["exploding_frac"] * f["numel"], f["numel"])),
    "landscape_band_mean": ("loss_landscape", lambda f: (f["loss_max"] - f["loss_min"]).mean()),
    "probe_loss_band_mean": ("line_search", lambda f: (f["loss_max"] - f["loss_min"]).mean()),
    "grad_predictiveness_mean": ("line_search", lambda f: f["grad_diff_mean"].mean()),
    "beta_smoothness_mean": ("line_search", lambda f: f["beta_max"].mean()),
    "final_test_acc": ("training_curves", _final_test_acc),
}


def summary(tables: dict[str, pd.DataFrame], models: list[str]) -> pd.DataFrame:
    """One row per metric and model of ``models``, from the analysis tables keyed by the names in TABLES."""
    rows = []
    for metric, (name, reduce) in METRICS.items():
        table = tables[name]
        for model in models:
            frame = table[table["model"] == model]
            if frame.empty:
                raise AnalysisError(f"the {name} table has no rows for model {model!r}")
            rows.append({"metric": metric, "model": model, "value": float(reduce(frame))})
    return pd.DataFrame(rows, columns=COLUMNS)
