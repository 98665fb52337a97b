"""bnlab.device gives each job process its own GPU: tested with fake device counts (and fake UUIDs) on the CPU,
in concurrent processes that hold their claim until the test lets them go."""

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from bnlab import device

# A job that fakes CUDA with the given GPU UUIDs (in its CUDA_VISIBLE_DEVICES order), prints the index of the device
# pick_device gives it (twice: a process keeps its GPU), and holds it until its stdin closes.
JOB = textwrap.dedent(
    """
    import sys
    from types import SimpleNamespace

    import torch

    from bnlab import device

    uuids = sys.argv[1].split(",")
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: len(uuids)
    torch.cuda.get_device_properties = lambda i: SimpleNamespace(uuid=uuids[i])
    torch.cuda.set_device = lambda i: None
    first, again = device.pick_device(), device.pick_device()
    assert first == again and first.type == "cuda", (first, again)
    print(first.index, flush=True)
    sys.stdin.read()
    """
)


def start_jobs(lock_dir, uuid_lists: list[list[str]]) -> list[subprocess.Popen]:
    env = {**os.environ, device.GPU_LOCK_DIR_ENV: str(lock_dir)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", JOB, ",".join(uuids)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for uuids in uuid_lists
    ]


def claimed(jobs: list[subprocess.Popen]) -> list[int]:
    """The GPU index each running job printed (it keeps holding it)."""
    return [int(job.stdout.readline()) for job in jobs]


def finish(jobs: list[subprocess.Popen]) -> None:
    for job in jobs:
        if job.poll() is None:
            job.stdin.close()
        assert job.wait(timeout=60) in (0, -signal.SIGKILL)


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    path = tmp_path / "locks"
    monkeypatch.setenv(device.GPU_LOCK_DIR_ENV, str(path))
    monkeypatch.setattr(device, "_claim", None)
    yield path
    if device._claim is not None:
        device._claim[1].close()


def fake_cuda(monkeypatch, count: int) -> list[int]:
    """Pretend ``count`` GPUs are visible in this process; returns the list set_device is called with."""
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(uuid=f"GPU-{i}"))
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    return chosen


def test_without_cuda_the_device_is_the_cpu_and_nothing_is_claimed(lock_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.pick_device() == torch.device("cpu")
    assert not lock_dir.exists()


def test_one_visible_gpu_is_taken_without_a_claim(lock_dir, monkeypatch):
    """One GPU (also what SLURM's cgroups show each job) needs no choosing: nothing is written."""
    chosen = fake_cuda(monkeypatch, 1)
    assert device.pick_device() == torch.device("cuda", 0)
    assert chosen == [0] and not lock_dir.exists()


def test_of_several_gpus_a_process_claims_one_and_keeps_it(lock_dir, monkeypatch):
    chosen = fake_cuda(monkeypatch, 3)
    first = device.pick_device()
    assert first == torch.device("cuda", 0) and device.pick_device() == first
    assert chosen == [0, 0]
    assert [p.name for p in lock_dir.glob("gpu-*")] == ["gpu-GPU-0-slot0.lock"]


def test_concurrent_jobs_each_get_their_own_gpu(lock_dir):
    gpus = ["GPU-a", "GPU-b", "GPU-c", "GPU-d"]
    jobs = start_jobs(lock_dir, [gpus] * 4)
    try:
        assert sorted(claimed(jobs)) == [0, 1, 2, 3]
    finally:
        finish(jobs)


def test_more_jobs_than_gpus_share_them_evenly(lock_dir):
    jobs = start_jobs(lock_dir, [["GPU-a", "GPU-b"]] * 3)
    try:
        assert sorted(Counter(claimed(jobs)).values()) == [1, 2]
    finally:
        finish(jobs)


def test_a_killed_job_frees_its_gpu_for_the_next(lock_dir):
    gpus = ["GPU-a", "GPU-b"]
    jobs = start_jobs(lock_dir, [gpus])
    try:
        assert claimed(jobs) == [0]
        jobs += start_jobs(lock_dir, [gpus])
        assert claimed(jobs[1:]) == [1]
        jobs[0].kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        jobs[0].wait(timeout=60)
        jobs += start_jobs(lock_dir, [gpus])
        assert claimed(jobs[2:]) == [0]
    finally:
        finish(jobs)


def test_gpus_are_told_apart_by_uuid_whatever_their_index(lock_dir):
    """A job that sees the GPUs in the other order (CUDA_VISIBLE_DEVICES=1,0) takes the one still free."""
    jobs = start_jobs(lock_dir, [["GPU-a", "GPU-b"]])
    try:
        assert claimed(jobs) == [0]  # GPU-a
        jobs += start_jobs(lock_dir, [["GPU-b", "GPU-a"]])
        assert claimed(jobs[1:]) == [0]  # index 0 of its view is GPU-b, the free one
    finally:
        finish(jobs)
