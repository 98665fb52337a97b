"""The numbers the report quotes about BatchNorm, per protocol, and the size of each quirk of report 000's protocol.

Every metric belongs to one protocol (bnlab.analysis.protocols) and reads one analysis table, named
``<analysis>.<protocol>``. It is computed once per model and seed (a repeat; runs of one model and seed are
pooled) from the rows measured as specified, then summarised over the seeds. Its name,
``<protocol>.<quantity>``, is unique in the summary.

Table results/analysis/bn_summary.csv, one row per metric and model:
    metric       ``<protocol>.<quantity>``, a key of METRICS
    model        the model name
    value        mean over seeds (inf when a repeat is unbounded: a band over a run that diverged)
    std          sample standard deviation over seeds (NaN for a single seed)
    seeds        number of seeds
    protocol     paper or course
    experiment   the experiment whose runs were measured

Quantities (units in the name or stated):
    final_test_acc                  test accuracy (%) after the last epoch
    probe_loss_band_mean            mean over probed steps of (max - min) loss along the line search
    grad_predictiveness_mean        paper: mean over probed steps of the line search's gradient difference (mean over
                                    step sizes); course: mean over batches of sum_i ||g'_i - g_i|| after w += 0.1 g
    beta_smoothness_mean            mean over probed steps of the effective beta-smoothness (max over step sizes)
    landscape_band_mean             mean over training steps of (max - min) training loss across learning rates
    max_grad_diff_at_distance_0.5   max |gradient difference| at distance 0.5, mean over batches (linear interpolation
                                    between the computed distances)
    mean_max_grad_diff              the same, averaged over all distances and batches
    mean_input_gradient_smoothness  mean over batches of the input-gradient change ratio (the protocol's definition)
    dead_neuron_ratio_pct           paper: % of all ReLU units whose mean test activation is below the threshold;
                                    course: mean over hooked layers of the % of entries with |a| < 0.01
    never_active_ratio_pct          % of all ReLU units never active on any test image
    vanishing_gradient_pct          % of gradient entries with |g| < 1e-7 (paper: over all entries, epochs and
                                    batches; course: the mean over parameter tensors of each tensor's %)
    exploding_gradient_pct          % of gradient entries with |g| > 1, likewise

Table results/analysis/bn_quirks.csv, one row per metric, quirk and model, for the course metrics a quirk
changes:
    metric          the course metric
    quirk           what report 000's code does
    instead         what the paper protocol does instead
    model           the model name
    value           the metric as specified (mean over seeds)
    instead_value   the metric with only this quirk replaced (mean over seeds)
    seeds           number of seeds
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bnlab.analysis.protocols import AS_SPECIFIED, BATCH_STATISTICS, QUIRKS
from bnlab.errors import AnalysisError

COLUMNS = ["metric", "model", "value", "std", "seeds", "protocol", "experiment"]
QUIRK_COLUMNS = ["metric", "quirk", "instead", "model", "value", "instead_value", "seeds"]
SUMMARY_DISTANCE = 0.5

Reduce = Callable[[pd.DataFrame], float]


@dataclass(frozen=True)
class Quirk:
    """A choice of report 000's code (``name``) and the paper protocol's (``instead``); the metric without the
    quirk reads the rows of ``variant`` with the metric's own reduction, or the as-specified rows with ``reduce``."""

    name: str
    instead: str
    variant: str = AS_SPECIFIED
    reduce: Reduce | None = None


@dataclass(frozen=True)
class Metric:
    table: str  # <analysis>.<protocol>
    reduce: Reduce  # the rows of one model and seed -> the number
    quirks: tuple[Quirk, ...] = ()

    @property
    def protocol(self) -> str:
        return self.table.split(".")[1]


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


def _mean_over_tensors(column: str) -> Reduce:
    return lambda f: 100.0 * f[column].mean()


def _weighted_by_size(column: str) -> Reduce:
    return lambda f: _pct(f[column] * f["numel"], f["numel"])


# Report 000's choices that the variants of its measurements replace (bnlab.analysis.protocols.QUIRKS).
RUNNING_STATISTICS = Quirk("BatchNorm with running statistics (model.eval())", "batch statistics", BATCH_STATISTICS)
PER_TENSOR = Quirk("each parameter tensor normalised by its own norm", "one global norm", QUIRKS["normalisation"])
ASCENT = Quirk("moving along +g", "along -g, as a gradient step does", QUIRKS["sign"])
DISTANCE_QUIRKS = (RUNNING_STATISTICS, PER_TENSOR, ASCENT)


def _tensor_shares(column: str) -> tuple[Reduce, tuple[Quirk, ...]]:
    unweighted = Quirk(
        "shares averaged over parameter tensors unweighted", "weighted by tensor size", reduce=_weighted_by_size(column)
    )
    return _mean_over_tensors(column), (RUNNING_STATISTICS, unweighted)


METRICS = {
    "paper.final_test_acc": Metric("training_curves.paper", _final_test_acc),
    "paper.probe_loss_band_mean": Metric("line_search.paper", lambda f: (f["loss_max"] - f["loss_min"]).mean()),
    "paper.grad_predictiveness_mean": Metric("line_search.paper", lambda f: f["grad_diff_mean"].mean()),
    "paper.beta_smoothness_mean": Metric("line_search.paper", lambda f: f["beta_max"].mean()),
    f"paper.max_grad_diff_at_distance_{SUMMARY_DISTANCE:g}": Metric("grad_distance.paper", _at_distance),
    "paper.mean_max_grad_diff": Metric("grad_distance.paper", lambda f: f["max_grad_diff"].mean()),
    "paper.mean_input_gradient_smoothness": Metric("input_smoothness.paper", lambda f: f["ratio"].mean()),
    "paper.dead_neuron_ratio_pct": Metric("activations.paper", lambda f: _pct(f["dead_units"], f["units"])),
    "paper.never_active_ratio_pct": Metric("activations.paper", lambda f: _pct(f["never_active_units"], f["units"])),
    "paper.vanishing_gradient_pct": Metric("gradient_health.paper", _weighted_by_size("vanishing_frac")),
    "paper.exploding_gradient_pct": Metric("gradient_health.paper", _weighted_by_size("exploding_frac")),
    "course.landscape_band_mean": Metric("loss_landscape.course", lambda f: (f["loss_max"] - f["loss_min"]).mean()),
    f"course.max_grad_diff_at_distance_{SUMMARY_DISTANCE:g}": Metric(
        "grad_distance.course", _at_distance, DISTANCE_QUIRKS
    ),
    "course.mean_max_grad_diff": Metric("grad_distance.course", lambda f: f["max_grad_diff"].mean(), DISTANCE_QUIRKS),
    "course.grad_predictiveness_mean": Metric(
        "grad_predictiveness.course",
        lambda f: f["grad_diff"].mean(),
        (
            RUNNING_STATISTICS,
            ASCENT,
            Quirk(
                "the sum over tensors of ||g'_i - g_i||",
                "one l2 norm ||g' - g||",
                reduce=lambda f: f["grad_diff_global"].mean(),
            ),
        ),
    ),
    "course.mean_input_gradient_smoothness": Metric(
        "input_smoothness.course",
        lambda f: f["ratio"].mean(),
        (
            RUNNING_STATISTICS,
            Quirk(
                "the mean loss's input gradient over the mean per-image noise norm",
                "the summed loss's over the whole noise's norm",
                reduce=lambda f: f["ratio_paper_definition"].mean(),
            ),
        ),
    ),
    "course.dead_neuron_ratio_pct": Metric("activations.course", lambda f: 100.0 * f["dead_frac"].mean()),
    "course.vanishing_gradient_pct": Metric("gradient_health.course", *_tensor_shares("vanishing_frac")),
    "course.exploding_gradient_pct": Metric("gradient_health.course", *_tensor_shares("exploding_frac")),
}
TABLES = tuple(dict.fromkeys(m.table for m in METRICS.values()))


def _per_seed(table: pd.DataFrame, name: str, model: str, variant: str, reduce: Reduce) -> pd.Series:
    """The number of each seed of ``model``, from the rows of ``variant`` (tables without variants: all rows)."""
    rows = table[table["model"] == model]
    if "variant" in rows:
        rows = rows[rows["variant"] == variant]
    if rows.empty:
        raise AnalysisError(
            f"the {name} table has no rows for model {model!r}" + (f" ({variant})" if variant != AS_SPECIFIED else "")
        )
    return pd.Series({seed: float(reduce(group)) for seed, group in rows.groupby("seed")})


def summary(tables: dict[str, pd.DataFrame], models: list[str], experiments: dict[str, str]) -> pd.DataFrame:
    """One row per metric and model of ``models``, from the tables keyed by the names in TABLES; ``experiments``
    names the experiment each table measured."""
    rows = []
    for metric, m in METRICS.items():
        for model in models:
            values = _per_seed(tables[m.table], m.table, model, AS_SPECIFIED, m.reduce)
            rows.append(
                {
                    "metric": metric,
                    "model": model,
                    "value": values.mean(),
                    "std": values.std(ddof=1) if len(values) > 1 else np.nan,
                    "seeds": len(values),
                    "protocol": m.protocol,
                    "experiment": experiments[m.table],
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def quirks(tables: dict[str, pd.DataFrame], models: list[str], metrics: dict[str, Metric] = METRICS) -> pd.DataFrame:
    """One row per metric with quirks, quirk and model: the metric as specified and with only that quirk replaced."""
    rows = []
    for metric, m in metrics.items():
        for quirk in m.quirks:
            for model in models:
                table = tables[m.table]
                value = _per_seed(table, m.table, model, AS_SPECIFIED, m.reduce)
                instead = _per_seed(table, m.table, model, quirk.variant, quirk.reduce or m.reduce)
                rows.append(
                    {
                        "metric": metric,
                        "quirk": quirk.name,
                        "instead": quirk.instead,
                        "model": model,
                        "value": value.mean(),
                        "instead_value": instead.mean(),
                        "seeds": len(value),
                    }
                )
    return pd.DataFrame(rows, columns=QUIRK_COLUMNS)
