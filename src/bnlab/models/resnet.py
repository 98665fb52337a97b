"""The ResNet family with basic blocks (He et al., 2016): logits from a stem conv, stages of residual blocks, a global
average pool and one linear layer.

A basic block is conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU; the shortcut is a 1x1 conv + BN wherever the
block changes resolution or channel count, the identity elsewhere. Convs carry no bias (BN follows each).

- ``resnet_cifar6`` / ``resnet_cifar9`` (report 001): stem conv 3->16 + BN + ReLU, then three stages of 32, 64 and
  128 channels with 2 (or 3) blocks each, the first block of every stage with stride 2; 692,122 (1,080,090)
  parameters for 10 classes.
- ``resnet18`` (report 003): stages of 64, 128, 256, 512 channels with 2 blocks each and strides 1, 2, 2, 2 behind the
  CIFAR stem (one 3x3 conv, no max-pool), which keeps small (28x28, 32x32) images at full resolution in stage 1.
- ``resnet18_imagenet``: the same behind the ImageNet stem (7x7 stride-2 conv, 3x3 stride-2 max-pool), as report 003
  built it; module for module torchvision's ``resnet18``, so its state dicts load as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from bnlab.models.common import scaled
from bnlab.registry import MODELS


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.

    The parameterised modules carry torchvision's names; each ReLU is a module of its own (torchvision reuses one),
    so the analyses that hook every ReLU see each activation once.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.downsample = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + shortcut)


class ResNet(nn.Module):
    """Stem, then ``len(stage_channels)`` stages named layer1, layer2, ... of ``blocks`` basic blocks each."""

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        width: float,
        stem_channels: int,
        stage_channels: tuple[int, ...],
        strides: tuple[int, ...],
        blocks: int,
        imagenet_stem: bool = False,
    ):
        super().__init__()
        c = scaled(stem_channels, width)
        if imagenet_stem:
            self.conv1 = nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        for i, (channels, stride) in enumerate(zip(stage_channels, strides, strict=True), start=1):
            c_out = scaled(channels, width)
            stage = [BasicBlock(c, c_out, stride)] + [BasicBlock(c_out, c_out, 1) for _ in range(blocks - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            c = c_out
        self.stages = len(stage_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():  # He init for the convs, as torchvision's ResNets
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, self.stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cifar_resnet(blocks: int, *, num_classes: int, in_channels: int, image_size: int, width: float) -> ResNet:
    return ResNet(
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        stem_channels=16,
        stage_channels=(32, 64, 128),
        strides=(2, 2, 2),
        blocks=blocks,
    )


def resnet18_layout(
    *, num_classes: int, in_channels: int, image_size: int, width: float, imagenet_stem: bool
) -> ResNet:
    return ResNet(
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        stem_channels=64,
        stage_channels=(64, 128, 256, 512),
        strides=(1, 2, 2, 2),
        blocks=2,
        imagenet_stem=imagenet_stem,
    )


@MODELS.register("resnet_cifar6")
def resnet_cifar6(**shape) -> nn.Module:
    """Report 001's residual net with 6 blocks (2 per stage of 32, 64, 128 channels)."""
    return cifar_resnet(2, **shape)


@MODELS.register("resnet_cifar9")
def resnet_cifar9(**shape) -> nn.Module:
    """Report 001's residual net with 9 blocks (3 per stage of 32, 64, 128 channels)."""
    return cifar_resnet(3, **shape)


@MODELS.register("resnet18")
def resnet18(**shape) -> nn.Module:
    """ResNet-18 behind the CIFAR stem (3x3 conv, no max-pool), for small images."""
    return resnet18_layout(**shape, imagenet_stem=False)


@MODELS.register("resnet18_imagenet")
def resnet18_imagenet(**shape) -> nn.Module:
    """ResNet-18 behind the ImageNet stem (7x7 stride-2 conv, max-pool), as torchvision's."""
    return resnet18_layout(**shape, imagenet_stem=True)
