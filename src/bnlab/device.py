"""Where tensors live and with what numerics: one place for the device, the evaluation batch and precision.

Training may run in bf16 autocast on CUDA; evaluation uses the same autocast as training, so a run's
reported accuracy and any later re-evaluation of its weights agree exactly. Measurements of gradients
(the line-search probe, the gradient analyses) run in exact fp32: TF32 off and deterministic kernels
where torch offers them, so a gradient difference at a small step is not rounding noise.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator

import torch

# Images per forward pass when evaluating: no gradients are kept, so it can be large.
EVAL_BATCH = 1000


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def training_autocast(device: torch.device):
    """bf16 autocast on CUDA, none elsewhere: the precision of training and of every evaluation."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@contextlib.contextmanager
def exact_numerics() -> Iterator[None]:
    """fp32 matmuls and convolutions without TF32, deterministic algorithms where available; restored on exit."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[0], saved[1]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])
