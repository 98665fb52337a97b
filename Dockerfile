# bnlab's software for a cluster or cloud GPU: CUDA base, Python 3.11, the torch pinned in pyproject.toml.
#
#   docker build -t bnlab .
#   docker run --gpus all --rm --user "$(id -u):$(id -g)" -v "$PWD":/work bnlab snakemake --cores 8 --resources gpu=1
#
# The checkout is mounted at /work, so results/, logs/ and .snakemake/ stay on the host, owned by you, and a rerun
# of the same command resumes. For Apptainer: `apptainer build bnlab.sif docker-daemon://bnlab:latest`, then
# `apptainer exec --nv bnlab.sif snakemake --cores 8 --resources gpu=1` in the checkout (README, "Set up").
#
# PyPI's Linux torch wheels bring their own CUDA 13 libraries (cuDNN, cuBLAS, NCCL); the base image matches
# them (CUDA 13.0 update 2), and the host needs an NVIDIA driver for CUDA 13 with the NVIDIA container toolkit.
FROM nvidia/cuda:13.0.2-base-ubuntu24.04

# HOME=/tmp: any --user can write the caches of matplotlib and Jupyter (papermill runs the notebooks).
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 HOME=/tmp
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch and torchvision first, with the pins of pyproject.toml (tests/test_deployment.py checks they agree),
# so this large layer stays cached while the code changes.
RUN pip install torch==2.14.1 torchvision==0.29.1

# bnlab and the rest of its dependencies, from pyproject.toml.
COPY pyproject.toml /opt/bnlab/
COPY src /opt/bnlab/src
RUN pip install /opt/bnlab

WORKDIR /work
CMD ["snakemake", "--cores", "8", "--resources", "gpu=1"]
