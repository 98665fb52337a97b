"""The training data path moves uint8 pixels (crop, flip) before converting once: the same batches, drawn from the
same random streams, as cropping and flipping floats, in any dtype and memory format."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bnlab.data.augment import build_augmentation, random_crop, random_flip, select_images
from bnlab.data.loader import DeviceDataset
from conftest import synthetic_images


def reference_crop(x: torch.Tensor, generator: torch.Generator, pad: int) -> torch.Tensor:
    """The definition, image by image: zero-pad, then the window at offsets (dy, dx) drawn as randint(0, 2 pad + 1,
    (2, n, 1))."""
    dy, dx = torch.randint(0, 2 * pad + 1, (2, len(x), 1), generator=generator)
    padded = F.pad(x, (pad, pad, pad, pad))
    h, w = x.shape[-2:]
    return torch.stack([p[:, t : t + h, s : s + w] for p, t, s in zip(padded, dy[:, 0], dx[:, 0])])


def reference_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(x), generator=generator) < 0.5
    return torch.stack([image.flip(-1) if f else image for image, f in zip(x, flip)])


def batch(shape, dtype, channels_last: bool, seed: int = 0) -> torch.Tensor:
    x = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@pytest.mark.parametrize("shape, pad", [((9, 3, 32, 32), 4), ((5, 1, 28, 28), 4), ((4, 3, 12, 20), 2)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("channels_last", [False, True])
def test_crop_and_flip_match_their_definitions_in_any_dtype_and_layout(shape, pad, dtype, channels_last):
    x = batch(shape, dtype, channels_last)
    cropped = random_crop(x, torch.Generator().manual_seed(3), pad=pad)
    assert torch.equal(cropped, reference_crop(x, torch.Generator().manual_seed(3), pad))
    flipped = random_flip(x, torch.Generator().manual_seed(3))
    assert torch.equal(flipped, reference_flip(x, torch.Generator().manual_seed(3)))
    for out in (cropped, flipped):
        assert out.dtype == dtype and out.is_contiguous(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format
        )


def test_select_images_is_indexing_in_either_layout():
    index = torch.tensor([4, 0, 4, 2])
    for channels_last in (False, True):
        x = batch((5, 3, 6, 7), torch.uint8, channels_last)
        assert torch.equal(select_images(x, index), x[index])


def test_a_pipeline_keeps_uint8_while_it_only_moves_pixels_and_converts_before_the_first_that_computes():
    x = batch((8, 3, 16, 16), torch.uint8, channels_last=True)
    as_float = x.float() / 255
    moved = build_augmentation("crop+flip")(x, torch.Generator().manual_seed(1))
    assert moved.dtype == torch.uint8
    assert torch.equal(moved.float() / 255, build_augmentation("crop+flip")(as_float, torch.Generator().manual_seed(1)))
    computed = build_augmentation("crop+flip+cutout")(x, torch.Generator().manual_seed(1))
    assert computed.dtype == torch.float32
    assert torch.equal(computed, build_augmentation("crop+flip+cutout")(as_float, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_training_batches_equal_cropping_and_flipping_floats_then_normalising(memory_format):
    """Bit for bit what converting first gives (x / 255, crop, flip, (x - mean) / std), in the asked layout."""
    images, labels = synthetic_images(6, classes=5, size=16)
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    data = DeviceDataset(images, labels, torch.device("cpu"), mean, std, memory_format)
    crop_flip, generator = build_augmentation("crop+flip"), torch.Generator().manual_seed(2)
    served = list(data.batches(7, augment=crop_flip, generator=generator, shuffle=True))
    generator = torch.Generator().manual_seed(2)
    order = torch.randperm(len(labels), generator=generator)
    floats = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    shape = (1, 3, 1, 1)
    for start, (x, y) in zip(range(0, len(labels), 7), served):
        index = order[start : start + 7]
        expected = reference_flip(reference_crop(floats[index], generator, pad=2), generator)
        expected = (expected - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape)
        assert torch.equal(x, expected) and x.is_contiguous(memory_format=memory_format)
        assert np.array_equal(y.numpy(), labels[index.numpy()])
