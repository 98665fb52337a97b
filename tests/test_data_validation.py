"""Bad data stops at `prepare` with one line naming the file and the fault, and nothing is written.

The declared classes are the truth: an image folder's class folders, an .npz ``classes`` array or the config's
``classes``/``num_classes``. Each broken source below is refused for its own fault.
"""

import json
import re

import numpy as np
import pytest
from PIL import Image

from bnlab.cli import main as bnlab
from bnlab.data.prepare import load, prepare
from conftest import DATASET_ENTRY

TEN = {**DATASET_ENTRY, "num_classes": 10}


def npz(path, classes=None, **changes):
    """An .npz of 10 classes x 2 images of 4x4 RGB per split, with ``changes`` applied (None drops an array)."""
    x = np.arange(20 * 4 * 4 * 3, dtype=np.uint8).reshape(20, 4, 4, 3)
    y = np.repeat(np.arange(10), 2)
    arrays = {"x_train": x, "y_train": y, "x_test": x, "y_test": y, **changes}
    if classes is not None:
        arrays["classes"] = np.array(classes)
    np.savez(path / "src.npz", **{k: v for k, v in arrays.items() if v is not None})
    return path / "src.npz"


def image_folder(path, splits=("train", "test"), classes=("cat", "dog"), per_class=2, sizes=None):
    """Class folders of 8x8 PNGs; ``sizes`` maps (split, class, index) to another (height, width)."""
    root = path / "tree"
    for split in splits:
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                height, width = (sizes or {}).get((split, name, i), (8, 8))
                Image.fromarray(np.full((height, width, 3), 30 * i, np.uint8)).save(folder / f"{i:04d}.png")
    return root


def without(path, *relative):
    """Delete files, or every file in a folder, of ``path``."""
    for target in (path / r for r in relative):
        for file in [target] if target.is_file() else list(target.iterdir()):
            file.unlink()
    return path


def truncated(path):
    source = npz(path)
    source.write_bytes(source.read_bytes()[:400])
    return source


def labels(**at):
    """The standard labels (two of each class) with some positions replaced: labels(at0=10)."""
    y = np.repeat(np.arange(10), 2)
    for key, value in at.items():
        y[int(key[2:])] = value
    return y


BROKEN = {
    # label range against the declared classes
    "label equal to num_classes": (
        lambda p: npz(p, y_train=labels(at5=10)),
        TEN,
        r"src\.npz: y_train has label 10, outside the 10 declared classes 0\.\.9",
    ),
    "negative label": (lambda p: npz(p, y_test=labels(at0=-1)), TEN, r"src\.npz: y_test has label -1, outside"),
    "label outside the npz's classes array": (
        lambda p: npz(p, classes=["a", "b", "c"]),
        DATASET_ENTRY,
        r"src\.npz: y_train has label 3, outside the 3 declared",
    ),
    "float labels": (
        lambda p: npz(p, y_train=labels().astype(np.float64)),
        TEN,
        r"src\.npz: y_train has dtype float64; expected integers",
    ),
    # every class in every split
    "class without a train example": (
        lambda p: npz(p, y_train=labels(at6=2, at7=2)),
        TEN,
        r"src\.npz: class 3 \('3'\) has no example in the train split",
    ),
    "more declared classes than labelled": (
        npz,
        {**DATASET_ENTRY, "num_classes": 12},
        r"src\.npz: class 10 \('10'\) has no example in the train split \(2 of 12",
    ),
    "class without a test example": (
        lambda p: npz(p, classes=list("abcdefghij"), y_test=labels(at18=0, at19=0)),
        DATASET_ENTRY,
        r"src\.npz: class 9 \('j'\) has no example in the test split",
    ),
    "empty train split": (
        lambda p: npz(p, x_train=np.zeros((0, 4, 4, 3), np.uint8), y_train=np.zeros(0, int)),
        TEN,
        r"src\.npz: the train split is empty",
    ),
    "empty test split": (
        lambda p: npz(p, x_test=np.zeros((0, 4, 4, 3), np.uint8), y_test=np.zeros(0, int)),
        TEN,
        r"src\.npz: the test split is empty",
    ),
    "flat folder: a class too small for the val split": (
        lambda p: without(image_folder(p, splits=("",), per_class=5), *(f"dog/000{i}.png" for i in range(1, 5))),
        DATASET_ENTRY,
        r"tree: class 1 \('dog'\) has no example in the val split",
    ),
    # images
    "mixed sizes in an image folder": (
        lambda p: image_folder(p, sizes={("train", "dog", 1): (6, 8)}),
        DATASET_ENTRY,
        r"tree/train/dog/0001\.png: image of shape \(6, 8, 3\) .*mixed sizes",
    ),
    "mixed sizes between train and test": (
        lambda p: npz(p, x_test=np.zeros((20, 5, 5, 3), np.uint8)),
        TEN,
        r"src\.npz: images differ in shape between splits: train \(4, 4, 3\), test \(5, 5, 3\)",
    ),
    "npz images of another size than image_size": (
        npz,
        {**TEN, "image_size": 32},
        r"src\.npz: images are 4x4, but the dataset's image_size is 32",
    ),
    "images of other channels than declared": (
        npz,
        {**TEN, "channels": 1},
        r"src\.npz: images have 3 channel\(s\), but the dataset's channels is 1",
    ),
    "wrong dtype": (
        lambda p: npz(p, x_test=np.zeros((20, 4, 4, 3), np.float32)),
        TEN,
        r"src\.npz: x_test has dtype float32; expected uint8",
    ),
    "wrong ndim": (
        lambda p: npz(p, x_train=np.zeros((20, 4), np.uint8)),
        TEN,
        r"src\.npz: x_train has shape \(20, 4\); expected \(N, H, W\)",
    ),
    "wrong channel count": (
        lambda p: npz(p, x_train=np.zeros((20, 4, 4, 2), np.uint8)),
        TEN,
        r"src\.npz: x_train has 2 channels",
    ),
    "x and y lengths differ": (
        lambda p: npz(p, y_test=np.zeros(3, np.int64)),
        TEN,
        r"src\.npz: y_test has shape \(3,\); expected \(20,\) to match x_test",
    ),
    # files
    "missing array": (lambda p: npz(p, y_test=None), TEN, r"src\.npz: missing array\(s\) y_test"),
    "val images without val labels": (
        lambda p: npz(p, x_val=np.zeros((20, 4, 4, 3), np.uint8)),
        TEN,
        r"src\.npz: missing array\(s\) y_val",
    ),
    "truncated npz": (truncated, TEN, r"src\.npz: cannot be read as \.npz"),
    "absent source": (lambda p: p / "absent.npz", TEN, r"absent\.npz: does not exist"),
    "class folder without images": (
        lambda p: without(image_folder(p), "test/dog"),
        DATASET_ENTRY,
        r"tree/test/dog: class folder has no image files",
    ),
    "class folder in test only": (
        lambda p: (image_folder(p) / "test" / "bird").mkdir() or p / "tree",
        DATASET_ENTRY,
        r"tree/test: class folders \['bird'\] are in only one of train/ and test/",
    ),
    "undecodable image": (
        lambda p: (image_folder(p) / "train/cat/0001.png").write_bytes(b"not a png") and p / "tree",
        DATASET_ENTRY,
        r"tree/train/cat/0001\.png: cannot be decoded as an image",
    ),
    # declared classes
    "bare npz without classes or num_classes": (
        npz,
        DATASET_ENTRY,
        r"src\.npz: the classes are not declared; add a classes array to the \.npz or set the dataset's classes",
    ),
    "config classes disagree with the folders": (
        image_folder,
        {**DATASET_ENTRY, "classes": ["cat", "bird"]},
        r"tree: class 1 is 'dog' in the source but 'bird' in the config's",
    ),
    "config num_classes disagrees with the npz": (
        lambda p: npz(p, classes=list("abcdefghij")),
        {**DATASET_ENTRY, "num_classes": 9},
        r"src\.npz: the source has 10 classes but the config's num_classes is 9",
    ),
    "npz classes array of the wrong shape": (
        lambda p: npz(p, classes=[["a", "b"]] * 5),
        DATASET_ENTRY,
        r"src\.npz: classes has shape \(5, 2\); expected a 1-D array",
    ),
    "npz class names repeat": (
        lambda p: npz(p, classes=list("abcdefghia")),
        DATASET_ENTRY,
        r"src\.npz: the class name 'a' names more than one class",
    ),
}


@pytest.mark.parametrize("make, dataset, fault", BROKEN.values(), ids=BROKEN.keys())
def test_broken_source_stops_prepare_with_one_line_and_writes_nothing(tmp_path, make, dataset, fault):
    (tmp_path / "in").mkdir()
    source = make(tmp_path / "in")
    results = tmp_path / "results"
    out = results / "data" / "d.npz"
    with pytest.raises(SystemExit) as stop:
        bnlab(["prepare", "--dataset", json.dumps(dataset), "--source", str(source), "--out", str(out)])
    message = str(stop.value)
    assert message.startswith(f"bnlab: error: {source}") and "\n" not in message
    assert re.search(fault, message), message
    assert not results.exists() or not any(results.rglob("*"))  # no output, no temporary file


def test_config_declares_the_classes_of_a_bare_npz(tmp_path):
    prepare(TEN, npz(tmp_path), tmp_path / "ten.npz")
    assert list(load(tmp_path / "ten.npz")["classes"]) == [str(i) for i in range(10)]
    names = [f"c{i}" for i in range(10)]
    prepare({**DATASET_ENTRY, "classes": names}, npz(tmp_path), tmp_path / "named.npz")
    assert list(load(tmp_path / "named.npz")["classes"]) == names


def test_source_and_config_that_agree_prepare(tmp_path):
    prepare({**DATASET_ENTRY, "classes": ["cat", "dog"]}, image_folder(tmp_path), tmp_path / "tree.npz")
    assert list(load(tmp_path / "tree.npz")["classes"]) == ["cat", "dog"]
    prepare({**DATASET_ENTRY, "num_classes": 10}, npz(tmp_path, classes=list("abcdefghij")), tmp_path / "npz.npz")
    assert list(load(tmp_path / "npz.npz")["classes"]) == list("abcdefghij")


def test_a_split_of_proportion_zero_leaves_no_val_split(tmp_path):
    prepare(
        {**DATASET_ENTRY, "split": [4, 0, 1]}, image_folder(tmp_path, splits=("",), per_class=5), tmp_path / "o.npz"
    )
    arrays = load(tmp_path / "o.npz")
    assert "x_val" not in arrays and np.bincount(arrays["y_train"]).tolist() == [4, 4]
