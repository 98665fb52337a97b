"""Read a dataset from its source into uint8 NHWC images and int64 labels.

Sources: a torchvision download, a local ``.npz`` (x_train, y_train, x_test, y_test), or a
local image-folder tree (``train/<class>/*`` and ``test/<class>/*``, or one folder per class
that :func:`bnlab.data.prepare.split` divides).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from bnlab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DATA_ROOT_ENV = "BNLAB_DATA_ROOT"


def data_root(configured: str | None) -> Path | None:
    """Where local copies live: $BNLAB_DATA_ROOT, else the config's data_root, else None (download)."""
    root = os.environ.get(DATA_ROOT_ENV) or configured
    return Path(root) if root else None


def download(torchvision_name: str, root: Path) -> None:
    """Fetch the dataset with torchvision into ``root`` (needs the internet)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_name)
    try:
        if torchvision_name == "Imagenette":
            for split in ("train", "val"):
                cls(root, split=split, size="160px", download=True)
        else:
            for train in (True, False):
                cls(root, train=train, download=True)
    except OSError as e:  # URLError and socket errors are OSErrors
        raise DataError(f"cannot download {torchvision_name} into {root} ({e}); offline, set {DATA_ROOT_ENV} "
                        "to a folder with local copies") from None


def read_torchvision(torchvision_name: str, root: Path, image_size: int | None) -> dict:
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_name)
    if torchvision_name == "Imagenette":
        # No test split of its own: pool train and val, prepare() splits them.
        parts = [cls(root, split=s, size="160px") for s in ("train", "val")]
        paths = [p for part in parts for p, _ in part._samples]
        labels = np.array([y for part in parts for _, y in part._samples], dtype=np.int64)
        return {"x": decode_images(paths, image_size), "y": labels, "classes": list(parts[0].classes)}
    arrays = {}
    for split, train in (("train", True), ("test", False)):
        ds = cls(root, train=train)
        images = np.asarray(ds.data, dtype=np.uint8)
        arrays[f"x_{split}"] = images[..., None] if images.ndim == 3 else images
        arrays[f"y_{split}"] = np.asarray(ds.targets, dtype=np.int64)
        arrays["classes"] = [c if isinstance(c, str) else c[0] for c in ds.classes]
    return arrays


def read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            arrays = {k: npz[k] for k in npz.files}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot be read as .npz (truncated or corrupt?): {e}") from None
    if "classes" in arrays:
        arrays["classes"] = [str(c) for c in arrays["classes"]]
    return arrays


def _class_dirs(folder: Path) -> list[Path]:
    dirs = sorted(d for d in folder.iterdir() if d.is_dir())
    if not dirs:
        raise DataError(f"{folder}: no class folders")
    return dirs


def decode_images(paths: list[Path], image_size: int | None) -> np.ndarray:
    """Decode to RGB (or keep grayscale as one channel), centre-crop and resize when asked."""
    from PIL import Image

    images = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img = img.convert("L" if img.mode in ("L", "I;16", "1") else "RGB")
                if image_size and img.size != (image_size, image_size):
                    side = min(img.size)
                    left, top = (img.width - side) // 2, (img.height - side) // 2
                    img = img.crop((left, top, left + side, top + side)).resize(
                        (image_size, image_size), Image.Resampling.LANCZOS)
                array = np.asarray(img, dtype=np.uint8)
        except OSError as e:
            raise DataError(f"{path}: cannot be decoded as an image: {e}") from None
        images.append(array[..., None] if array.ndim == 2 else array)
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise DataError(f"{paths[0].parent.parent}: images differ in shape {sorted(shapes)[:3]}; set image_size")
    return np.stack(images)


def _read_class_tree(folder: Path, classes: list[str], image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
            if (folder / name).is_dir() else []
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise DataError(f"{folder}: no image files")
    return decode_images(paths, image_size), np.array(labels, dtype=np.int64)


def read_image_folder(folder: Path, image_size: int | None) -> dict:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        classes = [d.name for d in _class_dirs(folder / "train")]
        arrays = {"classes": classes}
        for split in ("train", "test"):
            arrays[f"x_{split}"], arrays[f"y_{split}"] = _read_class_tree(folder / split, classes, image_size)
        return arrays
    classes = [d.name for d in _class_dirs(folder)]
    x, y = _read_class_tree(folder, classes, image_size)
    return {"x": x, "y": y, "classes": classes}


def read_local(path: Path, image_size: int | None) -> dict:
    if not path.exists():
        raise DataError(f"{path}: does not exist (check data_root / {DATA_ROOT_ENV})")
    return read_npz(path) if path.suffix == ".npz" else read_image_folder(path, image_size)
