"""Batched augmentations that run on the training device.

Each image step maps a float batch in [0, 1], NCHW, 1 or 3 channels, any size, to an augmented batch of the same
shape. ``crop`` and ``flip`` only move pixels (and fill with zeros), so they take any dtype and memory format and keep
them: the loader gives a pipeline its images as stored (uint8), and the pipeline turns them into floats in [0, 1] just
before its first step that computes with pixel values, if any. Every random choice is drawn per image from the run's
generator, so a checkpoint that stores the generator resumes the same stream. Pipelines are named by joining
registry names with '+', e.g. ``crop+flip+cutout``.

Image steps: ``crop`` (zero-pad by round(side / 8), 4 at 32, then a random crop), ``flip`` (horizontal, p 1/2;
leave it out for digits), ``cutout`` (one square hole of half the side, 16 at 32), ``colorjitter`` (brightness,
contrast, saturation 0.4, hue 0.1, in a random order per image), ``rotate`` (up to 15 degrees either way),
``homemade_autoaugment`` (report 000's own "AutoAugment", see its docstring; report 000's "advanced" pipeline is
``crop+flip+homemade_autoaugment+cutout``) and ``autoaugment`` (torchvision's AutoAugment, CIFAR-10 policy).
Geometric steps resample as torchvision does: nearest neighbour, zero fill.

``cutmix`` mixes labels as well as images, so it is not an image step: it must end the pipeline, and the training
loop applies it to each (normalised) batch through ``build_mixing``; see ``cutmix``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from bnlab.errors import ConfigError
from bnlab.registry import AUGMENTATIONS

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
# (images, labels, generator) -> (mixed images, labels, partner labels, per-image weight of the own labels)
LabelMixing = Callable[
    [torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
]


def uniform(low: float, high: float, n: int, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``n`` draws from U(low, high) on ``like``'s device."""
    return low + (high - low) * torch.rand(n, device=like.device, generator=generator)


@contextlib.contextmanager
def global_rng_seeded_from(generator: torch.Generator) -> Iterator[None]:
    """Let code that draws from torch's global CPU RNG (torchvision's transforms, distributions) draw from a stream
    seeded by ``generator`` instead, and leave the global RNG as it was."""
    seed = int(torch.randint(2**62, (), device=generator.device, generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether the batch is stored pixel by pixel (NHWC), not plane by plane (a 1-channel batch is both: planes)."""
    return not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def select_images(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[index]`` along the batch, in ``x``'s memory format: one gather of whole images as rows of bytes, many
    times faster on the CPU than indexing the 4-d tensor, which copies element by element."""
    in_memory_order = x.permute(0, 2, 3, 1) if is_channels_last(x) else x
    rows = in_memory_order.reshape(len(x), -1).index_select(0, index)
    picked = rows.view(len(index), *in_memory_order.shape[1:])
    return picked.permute(0, 3, 1, 2) if is_channels_last(x) else picked


def moves_pixels(step: Callable) -> bool:
    """Whether an image step only moves pixels (and fills with zeros), so it works on uint8 images as well."""
    return getattr(step, "moves_pixels", False)


@AUGMENTATIONS.register("none")
def identity(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x


@AUGMENTATIONS.register("crop")
def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int | None = None) -> torch.Tensor:
    """Zero-pad by ``pad`` pixels (default round(side / 8): 4 at 32), then take a random crop of the original size.

    Each output row of pixels is one contiguous run of the zero-padded batch, so the crop is a single gather of rows
    (``index_select``) from a strided view of every run, whatever the dtype and memory format."""
    n, c, h, w = x.shape
    pad = round(min(h, w) / 8) if pad is None else pad
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n, 1), device=x.device, generator=generator)
    # Planes of pixel rows in memory order: a whole image per plane if channels-last (a pixel is c values),
    # else one channel of one image (a pixel is one value).
    values, per_plane = (c, 1) if is_channels_last(x) else (1, c)
    planes = (x.permute(0, 2, 3, 1) if values > 1 else x).reshape(n * per_plane, h, w * values)
    padded_h, padded_w = h + 2 * pad, w + 2 * pad
    padded = x.new_zeros(len(planes), padded_h, padded_w * values)
    padded[:, pad : pad + h, pad * values : (pad + w) * values] = planes
    # Row i of `runs` is the w pixels that start at pixel i of the padded batch (rows overlap: a view, no copy).
    flat = padded.view(-1)
    runs = flat.as_strided(((flat.numel() - w * values) // values + 1, w * values), (values, 1))
    top, left = dy.repeat_interleave(per_plane, 0), dx.repeat_interleave(per_plane, 0)  # (planes, 1)
    plane = torch.arange(len(planes), device=x.device)[:, None]
    first_pixel = (plane * padded_h + top + torch.arange(h, device=x.device)) * padded_w + left  # (planes, h)
    cropped = runs.index_select(0, first_pixel.view(-1))
    return cropped.view(n, h, w, c).permute(0, 3, 1, 2) if values > 1 else cropped.view(n, c, h, w)


@AUGMENTATIONS.register("flip")
def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    # Each image is picked whole from the batch or its mirror image: a gather of rows, far cheaper than a masked
    # where, and with no host sync on CUDA.
    both = torch.cat([x, x.flip(3)])
    return select_images(both, flip.long() * len(x) + torch.arange(len(x), device=x.device))


identity.moves_pixels = random_crop.moves_pixels = random_flip.moves_pixels = True


def box_mask(
    top: torch.Tensor, left: torch.Tensor, bottom: torch.Tensor, right: torch.Tensor, h: int, w: int
) -> torch.Tensor:
    """(n, h, w) mask of the per-image boxes rows [top, bottom) x columns [left, right)."""
    rows = torch.arange(h, device=top.device)
    cols = torch.arange(w, device=top.device)
    in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
    in_cols = (cols >= left[:, None]) & (cols < right[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :]


@AUGMENTATIONS.register("cutout")
def cutout(x: torch.Tensor, generator: torch.Generator, size_fraction: float = 0.5) -> torch.Tensor:
    """Zero one square of side ``size_fraction`` x image side (16 at 32) centred on a random pixel, clipped at the
    border (DeVries & Taylor, 2017, as report 000 ran it)."""
    n, _, h, w = x.shape
    side = max(1, round(size_fraction * min(h, w)))
    cy, cx = (torch.randint(0, size, (n,), device=x.device, generator=generator) for size in (h, w))
    hole = box_mask(cy - side // 2, cx - side // 2, cy - side // 2 + side, cx - side // 2 + side, h, w)
    return x * ~hole[:, None]


# -- colour ----------------------------------------------------------------------------------------------------


def per_image(factor: torch.Tensor) -> torch.Tensor:
    return factor[:, None, None, None]


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R 601-2, torchvision's weights), (n, 1, h, w); a 1-channel batch is its own."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b)[:, None]


def blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (per_image(factor) * x + (1 - per_image(factor)) * other).clamp(0, 1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return blend(x, torch.zeros_like(x), factor)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return blend(x, grayscale(x).mean((1, 2, 3), keepdim=True), factor)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return x if x.shape[1] == 1 else blend(x, grayscale(x), factor)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns (HSV), keeping saturation and value; grayscale images stay as they are."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    value, low = x.amax(1), x.amin(1)
    spread = value - low
    safe = torch.where(spread == 0, torch.ones_like(spread), spread)
    hue = torch.where(value == r, (g - b) / safe, torch.where(value == g, 2 + (b - r) / safe, 4 + (r - g) / safe))
    hue = (hue / 6 + per_image(shift)[:, 0]) % 1.0
    saturation = spread / torch.where(spread == 0, torch.ones_like(value), value)
    # HSV -> RGB: channel n (R 5, G 3, B 1) is v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6 h) mod 6
    k = (torch.tensor([5.0, 3.0, 1.0], device=x.device)[None, :, None, None] + 6 * hue[:, None]) % 6
    return value[:, None] * (1 - saturation[:, None] * torch.minimum(k, 4 - k).clamp(0, 1))


COLOR_OPS = {
    "brightness": adjust_brightness,
    "contrast": adjust_contrast,
    "saturation": adjust_saturation,
    "hue": adjust_hue,
}


def jitter(x: torch.Tensor, factors: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """Apply the named colour ops with per-image factors, in an order drawn per image (as ColorJitter does)."""
    names = list(factors)
    order = torch.rand(len(x), len(names), device=x.device, generator=generator).argsort(1)
    x = x.clone()
    for position in range(len(names)):
        for i, name in enumerate(names):
            turn = (order[:, position] == i).nonzero().squeeze(1)  # the images whose op at this position it is
            x[turn] = COLOR_OPS[name](x[turn], factors[name][turn])
    return x


@AUGMENTATIONS.register("colorjitter")
def color_jitter(
    x: torch.Tensor,
    generator: torch.Generator,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
) -> torch.Tensor:
    """torchvision's ColorJitter(brightness, contrast, saturation, hue) with its own draw for every image."""
    n = len(x)
    factors = {
        name: uniform(1 - spread, 1 + spread, n, x, generator)
        for name, spread in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation))
    }
    factors["hue"] = uniform(-hue, hue, n, x, generator)
    return jitter(x, factors, generator)


# -- geometry --------------------------------------------------------------------------------------------------


def warp(x: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Per-image affine warp about the image centre, as torchvision's ``affine`` with nearest resampling and zero fill:
    rotation by ``angle`` degrees (clockwise), x-shear by ``shear`` degrees, then translation by ``shift`` (n, 2)
    pixels (x, y)."""
    n, _, h, w = x.shape
    rot, shear_x = torch.deg2rad(angle), torch.deg2rad(shear)
    # torchvision's inverse of rotation * x-shear, mapping output pixels (relative to the centre) to input pixels
    a, c = torch.cos(rot), torch.sin(rot)
    b = -(a * torch.tan(shear_x) + c)
    d = torch.cos(rot) - c * torch.tan(shear_x)
    tx, ty = shift.unbind(1)
    theta = torch.stack([torch.stack([d, -b, -d * tx + b * ty], 1), torch.stack([-c, a, c * tx - a * ty], 1)], 1)
    xs = torch.linspace((1 - w) / 2, (w - 1) / 2, w, device=x.device)
    ys = torch.linspace((1 - h) / 2, (h - 1) / 2, h, device=x.device)
    base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, device=x.device)], -1)
    grid = (base.view(1, h * w, 3) @ theta.transpose(1, 2)) / torch.tensor([w / 2, h / 2], device=x.device)
    return F.grid_sample(x, grid.view(n, h, w, 2), mode="nearest", padding_mode="zeros", align_corners=False)


def no_motion(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(angle, shift, shear) of the identity warp for every image of ``x``."""
    zeros = torch.zeros(len(x), device=x.device)
    return zeros, torch.zeros(len(x), 2, device=x.device), zeros


@AUGMENTATIONS.register("rotate")
def random_rotation(x: torch.Tensor, generator: torch.Generator, degrees: float = 15.0) -> torch.Tensor:
    """torchvision's RandomRotation(degrees): an angle from U(-degrees, degrees) per image."""
    _, shift, shear = no_motion(x)
    return warp(x, uniform(-degrees, degrees, len(x), x, generator), shift, shear)


def random_shift(x: torch.Tensor, generator: torch.Generator, fraction: float) -> torch.Tensor:
    """RandomAffine(translate=(fraction, fraction))'s draw: whole-pixel shifts up to ``fraction`` of each side."""
    h, w = x.shape[-2:]
    limit = torch.tensor([fraction * w, fraction * h], device=x.device)
    return ((2 * torch.rand(len(x), 2, device=x.device, generator=generator) - 1) * limit).round()


@AUGMENTATIONS.register("homemade_autoaugment")
def homemade_autoaugment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Report 000's own "AutoAugment" (the CIFAR10Policy of its code), per image: with probability 1/2 one of
    {shift by up to 10% of each side, ColorJitter(brightness 0.2, contrast 0.2)}, then, independently, with
    probability 1/2 one of {rotation by up to 15 degrees, x-shear by up to 10 degrees}, each pick 1/2 - 1/2."""
    n = len(x)
    first, first_is_shift, second, second_is_rotation = torch.rand(4, n, device=x.device, generator=generator) < 0.5
    angle, shift, shear = no_motion(x)
    shifted = first & first_is_shift
    x = torch.where(per_image(shifted), warp(x, angle, random_shift(x, generator, 0.1), shear), x)
    jittered = first & ~first_is_shift
    factors = {
        name: torch.where(jittered, uniform(0.8, 1.2, n, x, generator), 1.0) for name in ("brightness", "contrast")
    }
    x = jitter(x, factors, generator)  # factor 1 leaves an image exactly as it is
    angle = torch.where(second & second_is_rotation, uniform(-15, 15, n, x, generator), 0.0)
    shear = torch.where(second & ~second_is_rotation, uniform(-10, 10, n, x, generator), 0.0)
    return torch.where(per_image(second), warp(x, angle, shift, shear), x)


AUTOAUGMENT_CIFAR10 = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)


@AUGMENTATIONS.register("autoaugment")
def autoaugment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """torchvision's AutoAugment with its CIFAR-10 policy (Cubuk et al., 2019), torchvision's own code, on the uint8
    image. It draws one sub-policy per call, so it is called once per image: the only step here that loops in Python
    (about 0.15 ms per 32x32 image on one CPU core). The loop runs on the CPU, since on small images each call's cost
    is per-op overhead that kernel launches would only add to."""
    images = x.mul(255).round_().to(device="cpu", dtype=torch.uint8)
    with global_rng_seeded_from(generator):
        images = torch.stack([AUTOAUGMENT_CIFAR10(image) for image in images])
    return images.to(device=x.device, dtype=x.dtype).div_(255)


# -- label mixing ----------------------------------------------------------------------------------------------


@AUGMENTATIONS.register("cutmix")
def cutmix(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, alpha: float = 1.0, probability: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al., 2019) per image, as report 000's code ran it but drawn per image rather than per batch:
    with ``probability`` (its code mixed half of the batches) an image gets a box from a random partner in the batch,
    of side floor(side * sqrt(1 - lam)) (rounded down to even), lam ~ Beta(alpha, alpha), centred on a random pixel and
    clipped at the border.

    Returns (images, y, partner labels, lam), lam per image the fraction of its pixels that are still its own (1 for
    unmixed images); the loss is lam * loss(y) + (1 - lam) * loss(partner labels) (``bnlab.train.losses.mixed_loss``).
    """
    n, _, h, w = x.shape
    partner = torch.randperm(n, device=x.device, generator=generator)
    with global_rng_seeded_from(generator):  # torch's Beta sampler takes no generator
        drawn = torch.distributions.Beta(alpha, alpha).sample((n,)).to(x.device)
    mixed = torch.rand(n, device=x.device, generator=generator) < probability
    ratio = torch.sqrt(1 - drawn)
    half_h, half_w = (h * ratio).floor().long() // 2, (w * ratio).floor().long() // 2
    cy, cx = (torch.randint(0, size, (n,), device=x.device, generator=generator) for size in (h, w))
    top, bottom = (cy - half_h).clamp(0, h), (cy + half_h).clamp(0, h)
    left, right = (cx - half_w).clamp(0, w), (cx + half_w).clamp(0, w)
    box = box_mask(top, left, bottom, right, h, w) & mixed[:, None, None]
    lam = 1 - box.sum((1, 2)).float() / (h * w)
    return torch.where(box[:, None], x[partner], x), y, y[partner], lam


cutmix.mixes_labels = True


def mixes_labels(step: Callable) -> bool:
    return getattr(step, "mixes_labels", False)


def pipeline_steps(name: str) -> tuple[list[Augmentation], LabelMixing | None]:
    """The image steps of pipeline ``name`` and its label-mixing step (None if it has none), which must come last."""
    steps = [AUGMENTATIONS[part] for part in name.split("+")]
    mixing = [i for i, step in enumerate(steps) if mixes_labels(step)]
    if mixing and mixing != [len(steps) - 1]:
        raise ConfigError(f"augmentation {name!r}: a label-mixing step (cutmix) may appear once, at the end")
    return (steps[:-1], steps[-1]) if mixing else (steps, None)


def build_augmentation(name: str) -> Augmentation:
    """The image steps of pipeline ``name``, as one function of (batch, generator). Given uint8 images it returns
    uint8 images if every step only moves pixels, else floats in [0, 1]; given floats, floats."""
    steps, _ = pipeline_steps(name)

    def pipeline(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for step in steps:
            if not (x.is_floating_point() or moves_pixels(step)):
                x = x.float().div_(255)
            x = step(x, generator)
        return x

    return pipeline


def build_mixing(name: str) -> LabelMixing | None:
    """The label-mixing step that ends pipeline ``name`` (``cutmix``), or None."""
    return pipeline_steps(name)[1]
