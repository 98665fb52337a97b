import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from bnlab.data import augment
from bnlab.data.augment import build_augmentation, build_mixing, cutmix
from bnlab.errors import ConfigError
from bnlab.registry import AUGMENTATIONS

IMAGE_STEPS = [name for name in AUGMENTATIONS.names() if name not in ("none", "cutmix")]
SHAPES = [(3, 32, 32), (1, 28, 28), (3, 84, 84)]


def images(n, shape=(3, 32, 32), seed=0):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def test_the_registry_holds_every_augmentation_of_the_studies():
    assert set(AUGMENTATIONS.names()) >= {
        "crop",
        "flip",
        "cutout",
        "colorjitter",
        "rotate",
        "homemade_autoaugment",
        "autoaugment",
        "cutmix",
    }


@pytest.mark.parametrize("name", IMAGE_STEPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_image_step_keeps_shape_and_range_on_any_size_and_channel_count(name, shape):
    out = build_augmentation(name)(images(6, shape), torch.Generator().manual_seed(0))
    assert out.shape == (6, *shape) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", IMAGE_STEPS)
def test_every_image_step_draws_per_image(name):
    """Copies of one image in one batch come out different: the randomness is per image, not per batch."""
    batch = images(1).expand(16, -1, -1, -1).clone()
    out = build_augmentation(name)(batch, torch.Generator().manual_seed(0))
    assert len({tuple(o.flatten().tolist()) for o in out}) > 1


@pytest.mark.parametrize("name", IMAGE_STEPS + ["crop+flip+homemade_autoaugment+cutout"])
def test_every_image_step_is_reproducible_from_the_generator_and_leaves_the_global_rng_alone(name):
    global_state = torch.get_rng_state()
    first = build_augmentation(name)(images(8), torch.Generator().manual_seed(5))
    again = build_augmentation(name)(images(8), torch.Generator().manual_seed(5))
    other = build_augmentation(name)(images(8), torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(torch.get_rng_state(), global_state)


# -- crop, flip, cutout --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, pad", [(32, 4), (28, 4), (84, 10), (16, 2)])
def test_crop_padding_is_an_eighth_of_the_side(size, pad):
    x = images(64, (1, size, size))
    out = augment.random_crop(x, torch.Generator().manual_seed(0))
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = set()
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + size, dx : dx + size])
        ]
        assert len(found) == 1, f"image {i} is not one crop of the {pad}-padded original"
        offsets.add(found[0])
    shifts = {d for offset in offsets for d in offset}
    assert min(shifts) == 0 and max(shifts) == 2 * pad  # the whole range of shifts is drawn


def test_flip_can_be_left_out_of_a_pipeline():
    x = images(32)
    g = torch.Generator().manual_seed(0)
    out = build_augmentation("crop")(x, g)
    assert not any(torch.equal(o, i.flip(2)) for o, i in zip(out, x, strict=True))


@pytest.mark.parametrize("size, side", [(32, 16), (28, 14), (84, 42)])
def test_cutout_zeroes_one_half_side_square_clipped_at_the_border(size, side):
    out = augment.cutout(torch.ones(200, 1, size, size), torch.Generator().manual_seed(0))
    for hole in out[:, 0] == 0:
        rows, cols = hole.any(1).nonzero().squeeze(1), hole.any(0).nonzero().squeeze(1)
        assert hole.sum() == len(rows) * len(cols)  # a rectangle
        assert len(rows) <= side and len(cols) <= side
        if 0 < rows.min() and rows.max() < size - 1 and 0 < cols.min() and cols.max() < size - 1:
            assert len(rows) == len(cols) == side  # away from the border the hole is the full square
    assert (out[:, 0] == 0).sum((1, 2)).max() == side * side


# -- colour --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, reference, low, high",
    [
        (augment.adjust_brightness, TF.adjust_brightness, 0.6, 1.4),
        (augment.adjust_contrast, TF.adjust_contrast, 0.6, 1.4),
        (augment.adjust_saturation, TF.adjust_saturation, 0.6, 1.4),
        (augment.adjust_hue, TF.adjust_hue, -0.5, 0.5),
    ],
)
@pytest.mark.parametrize("channels", [3, 1])
def test_batched_colour_ops_match_torchvision_image_by_image(op, reference, low, high, channels):
    x = images(12, (channels, 8, 8))
    factors = low + (high - low) * torch.rand(12, generator=torch.Generator().manual_seed(1))
    expected = torch.stack([reference(image, float(f)) for image, f in zip(x, factors, strict=True)])
    torch.testing.assert_close(op(x, factors), expected, atol=2e-6, rtol=0)


def test_colorjitter_applies_its_ops_in_an_order_drawn_per_image():
    # brightness then contrast differs from contrast then brightness once brightness clips at 1
    x = images(64, (3, 8, 8))
    factors = {"brightness": torch.full((64,), 1.4), "contrast": torch.full((64,), 0.6)}
    out = augment.jitter(x, factors, torch.Generator().manual_seed(0))
    b_then_c = augment.adjust_contrast(augment.adjust_brightness(x, factors["brightness"]), factors["contrast"])
    c_then_b = augment.adjust_brightness(augment.adjust_contrast(x, factors["contrast"]), factors["brightness"])
    first = [torch.allclose(o, e) for o, e in zip(out, b_then_c, strict=True)]
    second = [torch.allclose(o, e) for o, e in zip(out, c_then_b, strict=True)]
    assert all(a or b for a, b in zip(first, second, strict=True)) and 16 < sum(first) < 48


# -- geometry ------------------------------------------------------------------------------------------------------


def test_warp_matches_torchvisions_affine_image_by_image():
    g = torch.Generator().manual_seed(0)
    x = images(12, (3, 16, 16))
    angle = 30 * torch.rand(12, generator=g) - 15
    shear = 20 * torch.rand(12, generator=g) - 10
    shift = torch.randint(-3, 4, (12, 2), generator=g).float()
    expected = torch.stack(
        [
            TF.affine(
                image,
                angle=float(a),
                translate=[int(s[0]), int(s[1])],
                scale=1.0,
                shear=[float(h), 0.0],
                interpolation=InterpolationMode.NEAREST,
            )
            for image, a, s, h in zip(x, angle, shift, shear, strict=True)
        ]
    )
    torch.testing.assert_close(augment.warp(x, angle, shift, shear), expected)


def test_rotation_turns_each_image_by_its_own_angle_within_15_degrees():
    size, radius = 65, 30  # one lit pixel 30 px right of the centre: its new position gives the angle
    x = torch.zeros(200, 1, size, size)
    x[:, 0, 32, 32 + radius] = 1
    out = augment.random_rotation(x, torch.Generator().manual_seed(0))
    angles = []
    for image in out[:, 0]:
        ys, xs = (image > 0).nonzero(as_tuple=True)
        angles.append(math.degrees(math.atan2(float(ys.float().mean()) - 32, float(xs.float().mean()) - 32)))
    assert max(abs(a) for a in angles) <= 15 + 2  # nearest-neighbour resampling moves a pixel by < 1 px
    assert min(angles) < -10 and max(angles) > 10  # both directions, near the ends of the range


def test_homemade_autoaugment_leaves_a_quarter_of_the_images_as_they_are():
    # each of its two groups applies with probability 1/2, independently: both skip for 1/4 of the images (a few
    # more stay as they are through a draw too small to move a pixel)
    x = images(400, (3, 64, 64))
    out = augment.homemade_autoaugment(x, torch.Generator().manual_seed(0))
    unchanged = sum(torch.equal(o, i) for o, i in zip(out, x, strict=True))
    assert 75 < unchanged < 140


def test_autoaugment_runs_torchvisions_policy_on_uint8_images():
    x = images(32)
    out = augment.autoaugment(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out * 255, (out * 255).round())  # went through uint8
    untouched = [torch.equal(o, (i * 255).round() / 255) for o, i in zip(out, x, strict=True)]
    assert 0 < sum(untouched) < 32  # some sub-policies draw no op for an image, most change it


# -- CutMix --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_cutmix_mixes_labels_by_exactly_the_pasted_area(shape):
    n = 200
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, *shape).clone()  # image i is all i
    y = torch.arange(n)
    out, y_a, y_b, lam = cutmix(x, y, torch.Generator().manual_seed(0))
    h, w = shape[1:]
    assert torch.equal(y_a, y)
    for i in range(n):
        pasted = out[i, 0] != i
        if y_b[i] == i:  # paired with itself: nothing visible changes and both labels are its own
            continue
        assert torch.all(out[i, :, pasted] == y_b[i]) and torch.all(out[i, :, ~pasted] == i)
        rows, cols = pasted.any(1).sum(), pasted.any(0).sum()
        assert pasted.sum() == rows * cols  # one rectangle
        assert lam[i] == 1 - pasted.sum() / (h * w)
    mixed = (lam < 1).float().mean()
    assert 0.35 < mixed < 0.65  # half of the images, as half of the report's batches


def test_cutmix_boxes_and_partners_differ_per_image_and_follow_the_generator():
    x, y = images(64), torch.arange(64)
    first = cutmix(x, y, torch.Generator().manual_seed(3))
    again = cutmix(x, y, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    lam = first[3]
    assert len(set(lam[lam < 1].tolist())) > 10  # box sizes drawn per image


def test_cutmix_pastes_boxes_of_every_size():
    # lam ~ Beta(1, 1) = U(0, 1) sets the box side to side * sqrt(1 - lam); clipping at the border only shrinks boxes
    _, _, _, lam = cutmix(
        images(2000, (1, 32, 32)), torch.arange(2000), torch.Generator().manual_seed(0), probability=1.0
    )
    assert 0.5 < lam.mean() < 0.8 and lam.min() < 0.3 and (lam > 0.95).any()


def test_cutmix_ends_the_pipeline_and_is_applied_by_the_training_loop():
    steps = build_augmentation("crop+flip+cutmix")
    x = images(4)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(steps(x, g1), build_augmentation("crop+flip")(x, g2))
    assert build_mixing("crop+flip+cutmix") is cutmix and build_mixing("crop+flip") is None
    with pytest.raises(ConfigError, match="'cutmix\\+flip'"):
        build_mixing("cutmix+flip")
