"""Where tensors live and with what numerics: one place for the device, the evaluation batch and precision.

Each job process computes on one device. Snakemake counts GPU jobs (``--resources gpu=N``) but assigns no GPU, so
with several visible GPUs a job claims the one the fewest other bnlab jobs on this machine hold (``claim_gpu``): a
lock file per claim, held with ``flock`` for the life of the process, so the kernel frees it however the job ends.
More jobs than GPUs (``gpu=N`` above the GPU count) share them evenly.

Training may run in bf16 autocast on CUDA; evaluation uses the same autocast as training, so a run's
reported accuracy and any later re-evaluation of its weights agree exactly. Measurements of gradients
(the line-search probe, the gradient analyses) run in exact fp32: TF32 off and deterministic kernels
where torch offers them, so a gradient difference at a small step is not rounding noise.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import platform
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import torch

# Images per forward pass when evaluating: no gradients are kept, so it can be large.
EVAL_BATCH = 1000
# Where the GPU claims of this machine's jobs live (default: a folder per user in the temporary directory).
GPU_LOCK_DIR_ENV = "BNLAB_GPU_LOCK_DIR"
# This process's claim: (index of the GPU, its open lock file), kept until the process exits.
_claim: tuple[int, IO] | None = None


def pick_device() -> torch.device:
    """The CPU without CUDA; else this process's GPU: the only one visible, or the one ``claim_gpu`` gives it."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    count = torch.cuda.device_count()
    index = claim_gpu(gpu_ids(count), gpu_lock_dir()) if count > 1 else 0
    torch.cuda.set_device(index)  # what plain "cuda" means in this process, too
    return torch.device("cuda", index)


def gpu_ids(count: int) -> list[str]:
    """The visible GPUs' UUIDs: names every process agrees on, however CUDA_VISIBLE_DEVICES numbers them."""
    return [str(torch.cuda.get_device_properties(i).uuid) for i in range(count)]


def gpu_lock_dir() -> Path:
    return Path(os.environ.get(GPU_LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / f"bnlab-gpu-locks-{os.getuid()}")


def _slot_file(lock_dir: Path, gpu: str, slot: int | str) -> Path:
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9_-]', '_', gpu)}-slot{slot}.lock"


def _held_slots(lock_dir: Path, gpu: str) -> set[int]:
    """The slots of ``gpu`` that live processes hold (their lock files are locked)."""
    held = set()
    for path in lock_dir.glob(_slot_file(lock_dir, gpu, "*").name):
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: the lock goes when f closes
            except BlockingIOError:
                held.add(int(path.stem.rsplit("slot", 1)[1]))
    return held


def claim_gpu(gpus: list[str], lock_dir: Path) -> int:
    """Index into ``gpus`` of the GPU this process takes (the same on every call): the one held by the fewest
    processes, ties to the lowest index. The claim is a slot file locked until the process exits."""
    global _claim
    if _claim is None:
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / "choose.lock", "a") as chooser:
            fcntl.flock(chooser, fcntl.LOCK_EX)  # one process chooses at a time; released when chooser closes
            held = [_held_slots(lock_dir, gpu) for gpu in gpus]
            index = min(range(len(gpus)), key=lambda i: len(held[i]))
            slot = next(s for s in itertools.count() if s not in held[index])
            handle = open(_slot_file(lock_dir, gpus[index], slot), "a")  # stays open: the claim lasts the process
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _claim = (index, handle)
    return _claim[0]


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU, whose work is done when a call returns)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
