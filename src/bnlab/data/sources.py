"""Read a dataset from its source into uint8 NHWC images, int64 labels and the class names the source declares.

Sources: a torchvision download, a local ``.npz`` (x_train, y_train, x_test, y_test, optionally classes), or a
local image-folder tree (``train/<class>/*`` and ``test/<class>/*``, or one folder per class that
:func:`bnlab.data.prepare.split` divides). An image folder's classes are its folder names, a torchvision
dataset's are torchvision's; a bare ``.npz`` declares none (the config must, see :mod:`bnlab.data.prepare`).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from http.client import HTTPException
from pathlib import Path

import numpy as np

from bnlab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DATA_ROOT_ENV = "BNLAB_DATA_ROOT"
# A URL prefix that serves the published dataset files under their published names (a local mirror or cache).
MIRROR_ENV = "BNLAB_DATASET_MIRROR"
# Written last into a finished download: prepare reads a folder as a torchvision download only when it is there.
TORCHVISION_MARKER = ".torchvision"
IMAGENETTE_SIZE = "160px"  # the archive whose images are 160 px on the short side (the smallest published)


def data_root(configured: str | None) -> Path | None:
    """Where local copies live: $BNLAB_DATA_ROOT, else the config's data_root, else None (download)."""
    root = os.environ.get(DATA_ROOT_ENV) or configured
    return Path(root) if root else None


def torchvision_class(torchvision_name: str) -> type:
    """The torchvision dataset class, fetching its files from $BNLAB_DATASET_MIRROR when that is set."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_name)
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return cls
    prefix = mirror.rstrip("/") + "/"
    if torchvision_name == "Imagenette":
        archives = {size: (prefix + url.rsplit("/", 1)[1], md5) for size, (url, md5) in cls._ARCHIVES.items()}
        overrides = {"_ARCHIVES": archives}
    elif hasattr(cls, "mirrors"):  # the MNIST family: several files, each tried at every mirror in turn
        overrides = {"mirrors": [prefix]}
    else:
        overrides = {"url": prefix + cls.filename}
    # The same class name: the MNIST family keeps its files in a folder named after the class.
    return type(cls.__name__, (cls,), overrides)


def published_files(cls: type) -> list[tuple[list[str], str, str]]:
    """(the URLs tried, in order; file name; md5) of every file torchvision fetches for the dataset class ``cls``."""
    if cls.__name__ == "Imagenette":
        url, md5 = cls._ARCHIVES[IMAGENETTE_SIZE]
        return [([url], url.rsplit("/", 1)[1], md5)]
    if hasattr(cls, "mirrors"):
        return [([mirror + name for mirror in cls.mirrors], name, md5) for name, md5 in cls.resources]
    return [([cls.url], cls.filename, cls.tgz_md5)]


def _open_splits(cls: type, root: Path, download: bool = False) -> dict:
    """The dataset's splits as torchvision objects (Imagenette has train and val, the others train and test)."""
    if cls.__name__ == "Imagenette":
        return {s: cls(root, split=s, size=IMAGENETTE_SIZE, download=download) for s in ("train", "val")}
    return {s: cls(root, train=s == "train", download=download) for s in ("train", "test")}


def download(torchvision_name: str, out: Path) -> None:
    """Fetch the dataset with torchvision (its URLs and md5 checks) into ``out``, which appears only when complete.

    Files arrive in ``<out>.partial``, which every attempt starts afresh, so a download cut off halfway is never
    read as data; the marker is written last and the finished folder renamed to ``out``.
    """
    if out.exists():
        raise DataError(f"{out}: already exists; remove it to download {torchvision_name} again")
    cls = torchvision_class(torchvision_name)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _open_splits(cls, partial, download=True)
    except (OSError, HTTPException, RuntimeError) as e:  # network errors, cut connections, failed md5 checks
        error = _download_error(torchvision_name, cls, partial, e)
        shutil.rmtree(partial, ignore_errors=True)
        raise error from None
    (partial / TORCHVISION_MARKER).write_text(torchvision_name + "\n")
    os.replace(partial, out)


def _download_error(torchvision_name: str, cls: type, partial: Path, error: Exception) -> DataError:
    """One line naming the dataset and the URL of the first file that did not arrive intact."""
    from torchvision.datasets.utils import calculate_md5

    reason = " ".join(str(error).split()) or type(error).__name__
    for urls, name, md5 in published_files(cls):
        where = " or ".join(urls)
        path = next(partial.rglob(name), None)
        got = calculate_md5(path) if path is not None else None
        if got == md5:
            continue
        # torchvision reports a file that arrived with the wrong md5 as a RuntimeError. urllib ends a response cut
        # off before its Content-Length without an error, so a cut connection usually shows up this way too.
        if got is not None and isinstance(error, RuntimeError):
            return DataError(
                f"{torchvision_name}: {where} does not match its published md5 {md5} (got {got}): the download "
                "was cut off or the server sent another file; rerun to retry"
            )
        return DataError(
            f"{torchvision_name}: cannot download {where} ({reason}); rerun to retry, or offline set "
            f"{DATA_ROOT_ENV} to a folder with local copies"
        )
    return DataError(f"{torchvision_name}: the files downloaded into {partial} fail torchvision's checks ({reason})")


def class_name(entry: str | tuple[str, ...]) -> str:
    """torchvision names a class by a string, or (Imagenette) by a tuple of synonyms: the first one."""
    return entry if isinstance(entry, str) else entry[0]


def read_torchvision(torchvision_name: str, root: Path, image_size: int | None) -> dict:
    parts = _open_splits(torchvision_class(torchvision_name), root)
    classes = [class_name(c) for c in parts["train"].classes]
    if torchvision_name == "Imagenette":
        # No test split of its own: pool train and val, prepare() splits them.
        samples = [sample for part in parts.values() for sample in part._samples]
        labels = np.array([label for _, label in samples], dtype=np.int64)
        return {"x": decode_images([Path(p) for p, _ in samples], image_size), "y": labels, "classes": classes}
    arrays = {"classes": classes}
    for split, part in parts.items():
        images = np.asarray(part.data, dtype=np.uint8)  # CIFAR: (N, 32, 32, 3); MNIST family: (N, 28, 28)
        arrays[f"x_{split}"] = images[..., None] if images.ndim == 3 else images
        arrays[f"y_{split}"] = np.asarray(part.targets, dtype=np.int64)
    return arrays


def read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            present = set(npz.files)
            required = {"x_train", "y_train", "x_test", "y_test"}
            if "x_val" in present or "y_val" in present:
                required |= {"x_val", "y_val"}
            missing = sorted(required - present)
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            arrays = {k: npz[k] for k in npz.files}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot be read as .npz (truncated or corrupt?): {e}") from None
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or len(names) == 0:
            raise DataError(f"{path}: classes has shape {names.shape}; expected a 1-D array of class names")
        arrays["classes"] = [str(c) for c in names]
    return arrays


def _class_dirs(folder: Path) -> list[Path]:
    dirs = sorted(d for d in folder.iterdir() if d.is_dir())
    if not dirs:
        raise DataError(f"{folder}: no class folders")
    return dirs


def decode_images(paths: list[Path], image_size: int | None) -> np.ndarray:
    """Decode to RGB (or keep grayscale as one channel), centre-crop and resize when asked; all must match."""
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
                        (image_size, image_size), Image.Resampling.LANCZOS
                    )
                array = np.asarray(img, dtype=np.uint8)
        except OSError as e:
            raise DataError(f"{path}: cannot be decoded as an image: {' '.join(str(e).split())}") from None
        array = array[..., None] if array.ndim == 2 else array
        if images and array.shape != images[0].shape:
            raise DataError(
                f"{path}: image of shape {array.shape} (H, W, C), but {paths[0].name} is "
                f"{images[0].shape}; images of mixed sizes need the dataset's image_size"
            )
        images.append(array)
    return np.stack(images)


def _image_files(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    """Every class folder's image files, in class then file-name order, and their labels; none may be empty."""
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{folder / name}: class folder has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        paths += files
        labels += [label] * len(files)
    return paths, labels


def _read_class_tree(folder: Path, classes: list[str], image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    paths, labels = _image_files(folder, classes)
    return decode_images(paths, image_size), np.array(labels, dtype=np.int64)


def read_image_folder(folder: Path, image_size: int | None) -> dict:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        classes = [d.name for d in _class_dirs(folder / "train")]
        test_classes = [d.name for d in _class_dirs(folder / "test")]
        if test_classes != classes:
            raise DataError(
                f"{folder / 'test'}: class folders {sorted(set(test_classes) ^ set(classes))} are in "
                "only one of train/ and test/"
            )
        files = {split: _image_files(folder / split, classes) for split in ("train", "test")}
        arrays = {"classes": classes}
        for split, (paths, labels) in files.items():
            arrays[f"x_{split}"] = decode_images(paths, image_size)
            arrays[f"y_{split}"] = np.array(labels, dtype=np.int64)
        return arrays
    classes = [d.name for d in _class_dirs(folder)]
    x, y = _read_class_tree(folder, classes, image_size)
    return {"x": x, "y": y, "classes": classes}


def read_local(path: Path, image_size: int | None) -> dict:
    if not path.exists():
        raise DataError(f"{path}: does not exist (check data_root / {DATA_ROOT_ENV})")
    return read_npz(path) if path.suffix == ".npz" else read_image_folder(path, image_size)
