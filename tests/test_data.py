import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from bnlab.data.augment import build_augmentation, cutout, random_crop, random_flip
from bnlab.data.loader import DeviceDataset
from bnlab.data.prepare import balanced_split, load, prepare, split
from bnlab.errors import DataError
from conftest import DATASET_ENTRY, SHARED_DATA, requires_shared_data, synthetic_images, write_npz

BARE_NPZ = {**DATASET_ENTRY, "num_classes": 10}  # write_npz stores no class names: the config declares them


def write_image_folder(root, splits=("train", "test"), per_class=3, classes=("cat", "dog"), size=8):
    for split_name in splits:
        for label, name in enumerate(classes):
            folder = root / split_name / name if split_name else root / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(np.full((size, size, 3), 40 * label + i, np.uint8)).save(folder / f"{i:04d}.png")


def test_prepare_npz_writes_checked_arrays_and_their_sha256(tmp_path):
    source = write_npz(tmp_path / "src.npz", train_per_class=4, test_per_class=2)
    out = tmp_path / "results" / "tiny.npz"
    digest = prepare(BARE_NPZ, source, out)
    assert (tmp_path / "results" / "tiny.sha256").read_text() == f"{digest}  tiny.npz\n"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    arrays = load(out)
    assert arrays["x_train"].shape == (40, 32, 32, 3) and arrays["x_train"].dtype == np.uint8
    assert arrays["y_test"].dtype == np.int64 and len(arrays["classes"]) == 10


def test_prepare_image_folder_with_train_and_test(tmp_path):
    write_image_folder(tmp_path / "tree")
    prepare(DATASET_ENTRY, tmp_path / "tree", tmp_path / "out.npz")
    arrays = load(tmp_path / "out.npz")
    assert list(arrays["classes"]) == ["cat", "dog"]
    assert arrays["x_train"].shape == (6, 8, 8, 3)
    assert list(arrays["y_train"]) == [0, 0, 0, 1, 1, 1]
    assert arrays["x_train"][4, 0, 0, 0] == 41  # dog, file 0001.png: labels follow the files


def test_flat_image_folder_is_split_three_one_one_per_class(tmp_path):
    write_image_folder(tmp_path / "flat", splits=("",), per_class=10)
    prepare(DATASET_ENTRY, tmp_path / "flat", tmp_path / "out.npz")
    arrays = load(tmp_path / "out.npz")
    assert [np.bincount(arrays[f"y_{s}"]).tolist() for s in ("train", "val", "test")] == [[6, 6], [2, 2], [2, 2]]
    every = np.concatenate([arrays[f"x_{s}"][:, 0, 0, 0] for s in ("train", "val", "test")])
    assert len(np.unique(every)) == 20  # a partition: nothing lost, nothing repeated


def test_split_and_subset_are_seeded_and_balanced():
    x, y = synthetic_images(30, classes=3, size=4)
    a, b = split(x, y, [3, 1, 1], seed=5), split(x, y, [3, 1, 1], seed=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    xs, ys, rest_x, rest_y = balanced_split(x, y, 7, seed=1, what="t")
    assert np.bincount(ys).tolist() == [7, 7, 7] and np.bincount(rest_y).tolist() == [23, 23, 23]
    # A partition of the images: the drawn ones and the rest, nothing repeated.
    assert len(np.unique(np.concatenate([xs, rest_x]).reshape(len(y), -1), axis=0)) == len(y)
    assert not np.array_equal(balanced_split(x, y, 7, seed=2, what="t")[0], xs)
    with pytest.raises(DataError, match="class 0 has 30 examples, fewer than the 31"):
        balanced_split(x, y, 31, seed=1, what="t")


def test_a_validation_split_is_held_out_of_the_training_images_before_subsetting(tmp_path):
    source = write_npz(tmp_path / "src.npz", train_per_class=20, test_per_class=4)
    prepare({**BARE_NPZ, "validation_per_class": 5, "train_per_class": 10}, source, tmp_path / "d.npz")
    arrays = load(tmp_path / "d.npz")
    assert np.bincount(arrays["y_val"]).tolist() == [5] * 10
    assert np.bincount(arrays["y_train"]).tolist() == [10] * 10
    train = {a.tobytes() for a in arrays["x_train"]}
    assert not train & {a.tobytes() for a in arrays["x_val"]}  # never validated on a training image


def test_load_refuses_a_file_that_no_longer_matches_its_sha256(tmp_path):
    prepare(BARE_NPZ, write_npz(tmp_path / "src.npz", 2, 1), tmp_path / "d.npz")
    (tmp_path / "d.sha256").write_text("0" * 64 + "  d.npz\n")
    with pytest.raises(DataError, match="sha256 differs"):
        load(tmp_path / "d.npz")


# -- device augmentation ---------------------------------------------------------------------


def _batch(n=16, size=8):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_random_crop_takes_a_shifted_window_of_the_zero_padded_image():
    x = _batch()
    out = random_crop(x, torch.Generator().manual_seed(1), pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 8])
        ]
        assert matches, f"image {i} is not a crop of its padded original"
        offsets.add(matches[0])
    assert len(offsets) > 3  # offsets differ across the batch


def test_random_flip_mirrors_some_images_and_keeps_the_rest():
    x = _batch(64)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_cutout_zeroes_one_square_per_image():
    out = cutout(torch.ones(8, 3, 16, 16), torch.Generator().manual_seed(0), size_fraction=0.25)
    holes = (out == 0).all(1)  # (n, h, w)
    for hole in holes:
        rows, cols = hole.any(1).nonzero(), hole.any(0).nonzero()
        assert hole.sum() == len(rows) * len(cols) <= 16  # a rectangle, clipped at the border


def test_augmentation_is_reproducible_from_the_generator_state():
    pipeline = build_augmentation("crop+flip+cutout")
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    first = pipeline(_batch(), g)
    g.set_state(state)
    assert torch.equal(first, pipeline(_batch(), g))


def test_device_dataset_serves_every_example_once_per_epoch_normalised():
    x, y = synthetic_images(5, classes=4, size=4)
    data = DeviceDataset(x, y, torch.device("cpu"), [0.5], [0.25])
    seen_x, seen_y = zip(*data.batches(6, shuffle=True, generator=torch.Generator().manual_seed(0)))
    xs, ys = torch.cat(seen_x), torch.cat(seen_y)
    assert sorted(ys.tolist()) == sorted(y.tolist()) and len(ys) == 20
    expected = (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    order = [
        int(
            np.flatnonzero(
                (x == ((xi.permute(1, 2, 0) * 0.25 + 0.5) * 255).round().byte().numpy()).all(axis=(1, 2, 3))
            )[0]
        )
        for xi in xs
    ]
    torch.testing.assert_close(xs, expected[order])
    assert ys.tolist() == y[order].tolist()


@pytest.mark.shared_data
@requires_shared_data("cifar10", "test")
def test_real_cifar10_test_split_decodes_to_the_documented_sha256():
    from bnlab.data.sources import _read_class_tree

    classes = sorted(d.name for d in (SHARED_DATA / "cifar10" / "test").iterdir())
    x, y = _read_class_tree(SHARED_DATA / "cifar10" / "test", classes, None)
    assert x.shape == (10_000, 32, 32, 3) and np.bincount(y).tolist() == [1000] * 10
    assert (
        hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        == "5a6aa8185204d80b65d3dfb540696dadd5f10d185ded226a96665d3e0fc6259f"
    )


@pytest.mark.shared_data
@requires_shared_data("imagenet10")
def test_real_imagenet_subset_is_split_360_120_120_per_class(tmp_path):
    prepare(DATASET_ENTRY, SHARED_DATA / "imagenet10", tmp_path / "in.npz")
    arrays = load(tmp_path / "in.npz")
    assert arrays["x_train"].shape[1:] == (84, 84, 3)
    assert [np.bincount(arrays[f"y_{s}"]).tolist() for s in ("train", "val", "test")] == [
        [360] * 10,
        [120] * 10,
        [120] * 10,
    ]


@pytest.mark.shared_data
@requires_shared_data("fashion_mnist.npz")
def test_real_fashion_mnist_npz_prepares_as_one_channel_images(tmp_path):
    prepare(DATASET_ENTRY, SHARED_DATA / "fashion_mnist.npz", tmp_path / "fm.npz")
    arrays = load(tmp_path / "fm.npz")
    assert arrays["x_train"].shape == (60_000, 28, 28, 1) and arrays["x_test"].shape == (10_000, 28, 28, 1)
    assert arrays["classes"][0] == "T-shirt/top"
