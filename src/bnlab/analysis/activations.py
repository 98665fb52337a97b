"""Per-layer activation statistics of a trained model (model.eval()), and its dead units.

paper   every ``nn.ReLU`` module, found by type and observed with a forward hook over the whole test set.
        A unit is a channel of a conv layer's output (pooled over positions) or one feature of a linear layer's.
        Two dead-unit measures, side by side because they differ a lot:
            dead_units          units whose mean activation over the test set is below ``threshold``
            never_active_units  units that are exactly 0 at every position of every test image
course  report 000's code: forward hooks on every ``nn.Conv2d``, ``nn.Linear`` and ``nn.BatchNorm2d`` output (so
        before the ReLU) over 5 batches of the training loader; per batch the mean, the std and the share of
        *entries* with |a| < 0.01, each averaged over the batches.
Both observe the model as it is used, in evaluation mode, so neither has a quirk variant.

Table results/analysis/activations/<protocol>/<experiment>.csv, one row per run and layer:
    model, lr, run, seed   the run (model name, its base learning rate, run id, seed)
    protocol, variant      how it was measured (bnlab.analysis.protocols)
    layer_index            position of the layer in forward order (0 = first)
    layer                  the module's name, e.g. features.2
    mean, std              of its activations (paper: over all values; course: mean over batches of each batch's)
    threshold              the dead threshold used
paper also:   units, dead_units, never_active_units (counts, as above)
course also:  module (Conv2d, Linear or BatchNorm2d), dead_frac (share of entries with |a| < threshold)
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.analysis.gradients import measuring
from bnlab.analysis.protocols import AS_SPECIFIED, COURSE, PAPER, run_columns
from bnlab.device import EVAL_BATCH
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import load_saved, rebuild_model

NAMES = ["model", "lr", "run", "seed", "protocol", "variant"]
COLUMNS = {
    PAPER: [*NAMES, "layer_index", "layer", "units", "mean", "std", "threshold", "dead_units", "never_active_units"],
    COURSE: [*NAMES, "layer_index", "layer", "module", "mean", "std", "threshold", "dead_frac"],
}
COURSE_LAYERS = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)
COURSE_THRESHOLD = 0.01
BATCHES = {PAPER: 0, COURSE: 5}  # training batches read: the paper protocol reads the test set instead


class _LayerStats:
    """Running sums over batches, in float64 so 5,000 images x 32x32 positions do not lose precision."""

    def __init__(self):
        self.count = 0  # activation values seen
        self.total = self.total_sq = 0.0
        self.unit_sum: torch.Tensor | None = None
        self.unit_count = 0  # values per unit
        self.ever_active: torch.Tensor | None = None

    def __call__(self, module, inputs, output: torch.Tensor) -> None:
        values = output.detach().double()
        per_unit = values.transpose(0, 1).reshape(values.shape[1], -1)  # (units, images x positions)
        if self.unit_sum is None:
            self.unit_sum = torch.zeros(per_unit.shape[0], dtype=torch.float64, device=values.device)
            self.ever_active = torch.zeros(per_unit.shape[0], dtype=torch.bool, device=values.device)
        self.count += values.numel()
        self.total += values.sum().item()
        self.total_sq += values.square().sum().item()
        self.unit_sum += per_unit.sum(1)
        self.unit_count += per_unit.shape[1]
        self.ever_active |= (per_unit > 0).any(1)


def _observed(model: nn.Module, layers: list[tuple[str, nn.Module]], hooks: list, batches) -> None:
    """Run ``batches`` through ``model`` with ``hooks[i]`` observing the output of ``layers[i]``."""
    handles = [m.register_forward_hook(h) for (_, m), h in zip(layers, hooks)]
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        for handle in handles:
            handle.remove()


def relu_statistics(model: nn.Module, batches, threshold: float) -> pd.DataFrame:
    """The paper protocol's statistics of every ReLU's output over the input ``batches`` (an iterable of inputs)."""
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise AnalysisError(f"{type(model).__name__} has no nn.ReLU module to observe")
    stats = [_LayerStats() for _ in relus]
    with measuring(model, "running"):
        _observed(model, relus, stats, batches)
    rows = []
    for index, ((name, _), s) in enumerate(zip(relus, stats)):
        if s.unit_sum is None:
            raise AnalysisError(f"ReLU {name} was never called")
        mean = s.total / s.count
        rows.append(
            {
                "layer_index": index,
                "layer": name,
                "units": len(s.unit_sum),
                "mean": mean,
                "std": max(s.total_sq / s.count - mean**2, 0.0) ** 0.5,
                "threshold": threshold,
                "dead_units": int((s.unit_sum / s.unit_count < threshold).sum()),
                "never_active_units": int((~s.ever_active).sum()),
            }
        )
    return pd.DataFrame(rows)


def layer_statistics(model: nn.Module, batches, threshold: float = COURSE_THRESHOLD) -> pd.DataFrame:
    """The course protocol's statistics of every Conv2d, Linear and BatchNorm2d output: per batch the mean, the
    (unbiased) std and the share of entries with |a| < ``threshold``, each averaged over the batches."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, COURSE_LAYERS)]
    per_batch: list[list[tuple[float, float, float]]] = [[] for _ in layers]

    def hook(index: int):
        def record(module, inputs, output: torch.Tensor) -> None:
            a = output.detach()
            per_batch[index].append((a.mean().item(), a.std().item(), (a.abs() < threshold).double().mean().item()))

        return record

    with measuring(model, "running"):
        _observed(model, layers, [hook(i) for i in range(len(layers))], batches)
    rows = []
    for index, ((name, module), values) in enumerate(zip(layers, per_batch)):
        mean, std, dead = (sum(v) / len(v) for v in zip(*values))
        rows.append(
            {
                "layer_index": index,
                "layer": name,
                "module": type(module).__name__,
                "mean": mean,
                "std": std,
                "threshold": threshold,
                "dead_frac": dead,
            }
        )
    return pd.DataFrame(rows)


def table(
    run_dirs,
    data: dict,
    device: torch.device,
    *,
    protocol: str,
    threshold: float,
    batches: int,
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    frames = []
    for run_dir in run_dirs:
        saved = load_saved(run_dir)
        spec = saved["spec"]
        model = rebuild_model(saved, data, device)
        if protocol == PAPER:
            test = runs.whole(data, "test", spec, device)
            frame = relu_statistics(model, (x for x, _ in test.batches(EVAL_BATCH)), threshold)
        else:
            sampled = runs.training_batches(
                data, spec, device, COURSE, batches=batches, batch_size=batch_size, seed=seed
            )
            frame = layer_statistics(model, (x for x, _ in sampled))
        frames.append(frame.assign(**run_columns(spec), protocol=protocol, variant=AS_SPECIFIED))
    return pd.concat(frames, ignore_index=True)[COLUMNS[protocol]]
