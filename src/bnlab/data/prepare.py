"""Turn any source into one cached, checked file: uint8 images, int64 labels, class names, sha256 beside it.

The declared classes are the truth: the source's (image-folder names, torchvision's, an .npz ``classes`` array) or
the config's ``classes``/``num_classes``. Every split is checked against them (labels in range, every class
present, one image shape) before anything is written, so bad data leaves no file behind.
"""

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


def balanced_split(x: np.ndarray, y: np.ndarray, per_class: int, seed: int, what: str) -> tuple:
    """``per_class`` examples of every class drawn with a fixed seed, and the rest: (x, y, rest_x, rest_y),
    each kept in its original order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        index = np.flatnonzero(y == label)
        if len(index) < per_class:
            raise DataError(f"{what}: class {label} has {len(index)} examples, fewer than the {per_class} asked for")
        chosen.append(rng.choice(index, per_class, replace=False))
    picked = np.zeros(len(y), dtype=bool)
    picked[np.concatenate(chosen)] = True
    return x[picked], y[picked], x[~picked], y[~picked]


def declared_classes(dataset: dict, source_classes: list[str] | None, origin: str) -> list[str]:
    """The class names: the source's (folder names, torchvision's, an .npz ``classes`` array) and/or the config's
    ``classes`` or ``num_classes`` (names "0", "1", ...); where both name them, they must agree."""
    named, count = dataset.get("classes"), dataset.get("num_classes")
    if source_classes is None:
        if named:
            return [str(c) for c in named]
        if count:
            return [str(i) for i in range(count)]
        raise DataError(
            f"{origin}: the classes are not declared; add a classes array to the .npz or set the "
            "dataset's classes or num_classes in the config"
        )
    repeated = next((name for i, name in enumerate(source_classes) if name in source_classes[:i]), None)
    if repeated is not None:
        raise DataError(f"{origin}: the class name {repeated!r} names more than one class")
    if count is not None and count != len(source_classes):
        raise DataError(
            f"{origin}: the source has {len(source_classes)} classes but the config's num_classes is {count}"
        )
    if named is not None:
        if len(named) != len(source_classes):
            raise DataError(
                f"{origin}: the source has {len(source_classes)} classes but the config's classes names {len(named)}"
            )
        for label, (ours, theirs) in enumerate(zip(named, source_classes)):
            if ours != theirs:
                raise DataError(
                    f"{origin}: class {label} is {theirs!r} in the source but {ours!r} in the config's classes"
                )
    return list(source_classes)


def check(arrays: dict, classes: list[str], origin: str) -> dict:
    """Raise DataError naming ``origin`` and the fault unless every split is a non-empty uint8 NHWC array of one
    image shape with integer labels in ``range(len(classes))`` and an example of every class."""
    num_classes = len(classes)
    shapes = {}
    for s in SPLITS:
        if f"x_{s}" not in arrays:
            if s == "val":  # optional: an .npz may have none, and a split of proportion 0 makes none
                continue
            raise DataError(f"{origin}: the {s} split is empty")
        x, y = arrays[f"x_{s}"], arrays[f"y_{s}"]
        if x.ndim == 3:
            x = arrays[f"x_{s}"] = x[..., None]
        if x.ndim != 4:
            raise DataError(f"{origin}: x_{s} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1|3)")
        if x.shape[-1] not in (1, 3):
            raise DataError(f"{origin}: x_{s} has {x.shape[-1]} channels (shape {x.shape}); expected 1 or 3")
        if x.dtype != np.uint8:
            raise DataError(f"{origin}: x_{s} has dtype {x.dtype}; expected uint8")
        if len(x) == 0:
            raise DataError(f"{origin}: the {s} split is empty (x_{s} has shape {x.shape})")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{origin}: y_{s} has shape {y.shape}; expected ({len(x)},) to match x_{s}")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{origin}: y_{s} has dtype {y.dtype}; expected integers")
        outside = y[(y < 0) | (y >= num_classes)]
        if len(outside):
            raise DataError(
                f"{origin}: y_{s} has label {int(outside[0])}, outside the {num_classes} declared "
                f"classes 0..{num_classes - 1}"
            )
        absent = np.setdiff1d(np.arange(num_classes), y)
        if len(absent):
            raise DataError(
                f"{origin}: class {int(absent[0])} ({classes[absent[0]]!r}) has no example in the {s} "
                f"split ({len(absent)} of {num_classes} classes have none)"
            )
        arrays[f"y_{s}"] = y.astype(np.int64)
        shapes[s] = x.shape[1:]
    if shapes["train"] != shapes["test"] or shapes.get("val", shapes["train"]) != shapes["train"]:
        raise DataError(
            f"{origin}: images differ in shape between splits: "
            + ", ".join(f"{s} {shape}" for s, shape in shapes.items())
        )
    arrays["classes"] = np.array(classes)
    return arrays


def check_declared_shape(image_shape: tuple, dataset: dict, origin: str) -> None:
    """Raise DataError unless the images have the config's image_size and channels, where it sets them (the
    models are built for those; an .npz or a torchvision array dataset is never resized)."""
    height, width, channels = image_shape
    size = dataset.get("image_size")
    if size and (height, width) != (size, size):
        raise DataError(f"{origin}: images are {height}x{width}, but the dataset's image_size is {size}")
    if dataset.get("channels") and channels != dataset["channels"]:
        raise DataError(
            f"{origin}: images have {channels} channel(s), but the dataset's channels is {dataset['channels']}"
        )


def prepare(dataset: dict, source: Path, out: Path) -> str:
    """Read ``source`` as ``dataset`` (a config entry) describes, check all of it, then write ``out`` and
    ``out``.sha256; bad data raises DataError before anything is written."""
    if source.is_dir() and dataset["torchvision"] and (source / sources.TORCHVISION_MARKER).exists():
        arrays = sources.read_torchvision(dataset["torchvision"], source, dataset.get("image_size"))
    else:
        arrays = sources.read_local(source, dataset.get("image_size"))
    classes = declared_classes(dataset, arrays.pop("classes", None), str(source))
    if "x" in arrays:  # one pool of images: split it ourselves
        arrays.update(split(arrays.pop("x"), arrays.pop("y"), dataset["split"], dataset["seed"]))
    arrays = check(arrays, classes, str(source))
    check_declared_shape(arrays["x_train"].shape[1:], dataset, str(source))
    if dataset.get("validation_per_class") and "x_val" not in arrays:
        # Held out from the training images before any subsetting, so no training image is ever validated on.
        arrays["x_val"], arrays["y_val"], arrays["x_train"], arrays["y_train"] = balanced_split(
            arrays["x_train"],
            arrays["y_train"],
            dataset["validation_per_class"],
            dataset["seed"],
            f"{source} (validation)",
        )
    for s, key in (("train", "train_per_class"), ("test", "test_per_class")):
        if dataset.get(key):
            arrays[f"x_{s}"], arrays[f"y_{s}"], _, _ = balanced_split(
                arrays[f"x_{s}"], arrays[f"y_{s}"], dataset[key], dataset["seed"], f"{source} ({s})"
            )
    # The training split's own per-channel statistics, for a config that gives no mean and std of its own.
    pixels = arrays["x_train"].reshape(-1, arrays["x_train"].shape[-1]) / 255.0
    arrays["mean"], arrays["std"] = pixels.mean(axis=0), pixels.std(axis=0)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    digest = sha256_file(out)
    with atomic_path(out.with_suffix(".sha256")) as tmp:
        tmp.write_text(f"{digest}  {out.name}\n")
    return digest


def normalisation(spec: dict, data: dict) -> tuple[list[float], list[float]]:
    """The (mean, std) a run normalises its images with: its config's, else its training split's own."""
    if spec["mean"] is not None and spec["std"] is not None:
        return spec["mean"], spec["std"]
    return data["mean"].tolist(), data["std"].tolist()


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
