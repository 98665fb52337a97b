"""Peak memory of a stretch of work: on CUDA the most torch allocated on the device; on the CPU the high-water mark
of this process's resident memory (VmHWM, reset through /proc/self/clear_refs), which counts the dataset, the model
and everything else the process holds, as a job's own would."""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator
from pathlib import Path

import torch

from bnlab.device import synchronize

MIB = 2**20


def _cpu_high_water_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # no /proc: the peak since start


def _reset_cpu_high_water() -> None:
    with contextlib.suppress(OSError):  # without /proc (or the right to write it) the mark is the process's peak
        Path("/proc/self/clear_refs").write_text("5")


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict]:
    """Yield a dict whose ``mib`` is, after the block, the peak memory in MiB of the work inside it."""
    result = {"mib": float("nan")}
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_cpu_high_water()
    yield result
    synchronize(device)
    if device.type == "cuda":
        result["mib"] = torch.cuda.max_memory_allocated(device) / MIB
    else:
        result["mib"] = _cpu_high_water_mib()
