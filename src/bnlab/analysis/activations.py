"""Per-layer activation statistics after every ReLU, over the test set (model in evaluation mode).

Every ``nn.ReLU`` module is found by type and observed with a forward hook. A unit is a channel
of a conv layer's output (pooled over positions) or one feature of a linear layer's output.
Two dead-unit measures, reported side by side because they differ a lot:
    dead_units          units whose mean activation over the test set is below ``threshold``
    never_active_units  units that are exactly 0 at every position of every test image

Table results/analysis/activations/<experiment>.csv, one row per run and ReLU:
    model, lr, run       the run (model name, its base learning rate, run id)
    layer_index          position of the ReLU in forward order (0 = first)
    layer                the ReLU's module name, e.g. features.2
    units                number of units (channels or features)
    mean, std            mean and standard deviation of all its activation values
    threshold            the dead-unit threshold used
    dead_units           count of units with mean activation < threshold
    never_active_units   count of units never > 0
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from bnlab.analysis import runs
from bnlab.device import EVAL_BATCH
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import load_saved, rebuild_model

COLUMNS = [
    "model",
    "lr",
    "run",
    "layer_index",
    "layer",
    "units",
    "mean",
    "std",
    "threshold",
    "dead_units",
    "never_active_units",
]


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


@torch.no_grad()
def relu_statistics(model: nn.Module, batches, threshold: float) -> pd.DataFrame:
    """Statistics of every ReLU's output over the input ``batches`` (an iterable of input tensors)."""
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise AnalysisError(f"{type(model).__name__} has no nn.ReLU module to observe")
    stats = [_LayerStats() for _ in relus]
    hooks = [m.register_forward_hook(s) for (_, m), s in zip(relus, stats)]
    try:
        model.eval()
        for x in batches:
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
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


def table(run_dirs, data: dict, device: torch.device, *, threshold: float) -> pd.DataFrame:
    frames = []
    for run_dir in run_dirs:
        saved = load_saved(run_dir)
        spec = saved["spec"]
        test = runs.whole(data, "test", spec, device)
        frame = relu_statistics(rebuild_model(saved, data, device), (x for x, _ in test.batches(EVAL_BATCH)), threshold)
        frames.append(frame.assign(model=spec["model"], lr=spec["lr"], run=spec["run"]))
    return pd.concat(frames, ignore_index=True)[COLUMNS]
