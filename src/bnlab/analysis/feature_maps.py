"""Feature maps: the activations of the first convolutional layers for a few fixed test images.

The images are the first test image of each of the first ``images`` classes, so every run sees the
same ones; of the runs of one model (repeats with other seeds) only the first is shown. The layers are the
first ``layers`` ReLUs whose output is a feature map (N, C, H, W); the model is in evaluation mode.

File results/analysis/feature_maps/paper/<experiment>.npz (arrays, not a table: the figure shows images):
    images     uint8 (N, H, W, C)  the input images as stored
    labels     int (N)             their class indices; classes: str (classes) the class names
    models, lrs, runs, layers      one entry per stored map: the run's model, base lr and id, and the ReLU's name
    protocol   str                 paper: the runs the paper protocol measures (bnlab.analysis.protocols)
    map_<i>    float16 (N, C, H, W) the activations of map i
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bnlab.analysis.protocols import PAPER
from bnlab.data.loader import DeviceDataset
from bnlab.data.prepare import normalisation
from bnlab.errors import AnalysisError
from bnlab.train.run_folder import load_saved, rebuild_model


def first_of_each_class(labels: np.ndarray, count: int) -> np.ndarray:
    classes = np.unique(labels)
    if count > len(classes):
        raise AnalysisError(f"asked for {count} feature-map images, one per class; the data has {len(classes)} classes")
    return np.array([np.flatnonzero(labels == c)[0] for c in classes[:count]])


@torch.no_grad()
def conv_activations(model: nn.Module, x: torch.Tensor, layers: int) -> list[tuple[str, torch.Tensor]]:
    """(name, output) of the first ``layers`` ReLUs that output feature maps, in forward order."""
    outputs: list[tuple[str, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, name=name: outputs.append((name, out.detach())))
        for name, m in model.named_modules()
        if isinstance(m, nn.ReLU)
    ]
    try:
        model.eval()
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    maps = [(name, out) for name, out in outputs if out.dim() == 4][:layers]
    if len(maps) < layers:
        raise AnalysisError(f"{type(model).__name__} has {len(maps)} ReLU feature maps; asked for {layers}")
    return maps


def arrays(run_dirs, data: dict, device: torch.device, *, images: int, layers: int) -> dict[str, np.ndarray]:
    index = first_of_each_class(data["y_test"], images)
    out = {
        "images": data["x_test"][index],
        "labels": data["y_test"][index],
        "classes": data["classes"],
        "protocol": np.array(PAPER),
    }
    meta: dict[str, list] = {"models": [], "lrs": [], "runs": [], "layers": []}
    for run_dir in run_dirs:
        saved = load_saved(run_dir)
        spec = saved["spec"]
        if spec["model"] in meta["models"]:
            continue
        chosen = DeviceDataset(data["x_test"][index], data["y_test"][index], device, *normalisation(spec, data))
        x, _ = next(chosen.batches(len(index)))
        for name, activation in conv_activations(rebuild_model(saved, data, device), x, layers):
            out[f"map_{len(meta['models'])}"] = activation.cpu().numpy().astype(np.float16)
            for key, value in (("models", spec["model"]), ("lrs", spec["lr"]), ("runs", spec["run"]), ("layers", name)):
                meta[key].append(value)
    return out | {key: np.array(values) for key, values in meta.items()}
