"""Turn any source into one cached, checked file: uint8 images, int64 labels, sha256 beside it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bnlab.data import sources
from bnlab.errors import DataError
from bnlab.io import atomic_path

SPLITS = ("train", "val", "test")


def split(x: np.ndarray, y: np.ndarray, proportions: list[float], seed: int) -> dict:
    """Seeded, per-class (stratified) train/val/test split by the given proportions."""
    rng = np.random.default_rng(seed)
    fractions = np.cumsum(proportions) / np.sum(proportions)
    parts = {s: [] for s in SPLITS}
    for label in np.unique(y):
        index = rng.permutation(np.flatnonzero(y == label))
        bounds = np.round(fractions * len(index)).astype(int)
        for name, chunk in zip(SPLITS, np.split(index, bounds[:-1])):
            parts[name].append(chunk)
    out = {}
    for name, chunks in parts.items():
        index = np.sort(np.concatenate(chunks))
        if len(index):
            out[f"x_{name}"], out[f"y_{name}"] = x[index], y[index]
    return out


def balanced_subset(x: np.ndarray, y: np.ndarray, per_class: int, seed: int, what: str) -> tuple:
    """``per_class`` examples of every class, drawn with a fixed seed, kept in their original order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        index = np.flatnonzero(y == label)
        if len(index) < per_class:
            raise DataError(f"{what}: class {label} has {len(index)} examples, fewer than the {per_class} asked for")
        chosen.append(rng.choice(index, per_class, replace=False))
    index = np.sort(np.concatenate(chosen))
    return x[index], y[index]


def check(arrays: dict, origin: str) -> dict:
    """Raise DataError naming ``origin`` unless every split is uint8 NHWC with in-range int labels."""
    classes = arrays.get("classes")
    # Without class names, the classes are those seen in training, numbered from 0.
    num_classes = len(classes) if classes is not None else len(np.unique(arrays["y_train"]))
    for s in SPLITS:
        if f"x_{s}" not in arrays:
            continue
        x, y = arrays[f"x_{s}"], arrays[f"y_{s}"]
        if x.ndim == 3:
            x = arrays[f"x_{s}"] = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise DataError(f"{origin}: x_{s} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1|3)")
        if x.dtype != np.uint8:
            raise DataError(f"{origin}: x_{s} has dtype {x.dtype}; expected uint8")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{origin}: y_{s} has shape {y.shape}; expected ({len(x)},) to match x_{s}")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{origin}: y_{s} has dtype {y.dtype}; expected integers")
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise DataError(f"{origin}: y_{s} has labels outside [0, {num_classes}): "
                            f"found {int(y.min())}..{int(y.max())}")
        arrays[f"y_{s}"] = y.astype(np.int64)
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{origin}: train images {arrays['x_train'].shape[1:]} and test images "
                        f"{arrays['x_test'].shape[1:]} differ in shape")
    arrays["classes"] = np.array(classes if classes is not None else [str(i) for i in range(num_classes)])
    return arrays


def prepare(dataset: dict, source: Path, out: Path) -> str:
    """Read ``source`` as ``dataset`` (a config entry) describes, write ``out`` and ``out``.sha256."""
    if source.is_dir() and dataset["torchvision"] and (source / ".torchvision").exists():
        arrays = sources.read_torchvision(dataset["torchvision"], source, dataset.get("image_size"))
    else:
        arrays = sources.read_local(source, dataset.get("image_size"))
    if "x" in arrays:  # one pool of images: split it ourselves
        arrays.update(split(arrays.pop("x"), arrays.pop("y"), dataset["split"], dataset["seed"]))
    arrays = check(arrays, str(source))
    for s, key in (("train", "train_per_class"), ("test", "test_per_class")):
        if dataset.get(key):
            arrays[f"x_{s}"], arrays[f"y_{s}"] = balanced_subset(
                arrays[f"x_{s}"], arrays[f"y_{s}"], dataset[key], dataset["seed"], f"{source} ({s})")
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    digest = sha256_file(out)
    with atomic_path(out.with_suffix(".sha256")) as tmp:
        tmp.write_text(f"{digest}  {out.name}\n")
    return digest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(path: Path) -> dict:
    """The prepared arrays, after checking them against the recorded sha256."""
    recorded = path.with_suffix(".sha256")
    if recorded.exists() and recorded.read_text().split()[0] != sha256_file(path):
        raise DataError(f"{path}: sha256 differs from {recorded.name}; rerun the prepare rule")
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
