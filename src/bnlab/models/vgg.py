"""The VGG-A family adapted to 32x32 inputs (Simonyan & Zisserman's configuration A).

``vgg_a``, ``vgg_a_bn``, ``vgg_a_gelu``: convs [64,M,128,M,256,256,M,512,512,M,512,512,M], classifier
512-512-512-classes with dropout 0.5, Glorot init; they differ in normalisation and activation only, so the
BatchNorm analyses compare like with like.

``vgg_a_res``, ``vgg_a_res_dropout``: report 000's residual VGG-A as its notebook built it (20,514,954 parameters
at width 1): conv 3->64 + BN + ReLU, then one ResidualBlock per conv of VGG-A (64->64 M 64->128 M 128->256 256->256 M
256->512 512->512 M 512->512 512->512), a global average pool and the head 512-512-classes with one dropout 0.5.
"""

from __future__ import annotations

from torch import nn

from bnlab.models.common import scaled, xavier_init
from bnlab.registry import MODELS

STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))  # VGG-A's convs; each stage ends in a 2x2 max-pool


def conv_unit(c_in: int, c_out: int, *, batch_norm: bool, activation: type[nn.Module] | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    if activation is not None:
        layers.append(activation())
    return layers


class VGG(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        image_size: int,
        width: float,
        batch_norm: bool = False,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for widths in STAGES:
            for c_out in widths:
                layers += conv_unit(c, scaled(c_out, width), batch_norm=batch_norm, activation=activation)
                c = scaled(c_out, width)
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        spatial = image_size // 2 ** len(STAGES)
        hidden = scaled(512, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * spatial * spatial, hidden),
            activation(),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            activation(),
            nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )
        xavier_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))


class ResidualBlock(nn.Module):
    """Report 000's block: conv-BN-ReLU-conv-BN plus a shortcut, then ReLU.

    The shortcut is a 1x1 conv + BN where the channel count changes, the identity otherwise; convs keep their
    biases, as in the report's code. With ``dropout`` a Dropout2d follows the first ReLU and the second BN.
    """

    def __init__(self, c_in: int, c_out: int, dropout: float):
        super().__init__()
        layers = conv_unit(c_in, c_out, batch_norm=True, activation=nn.ReLU)
        if dropout:
            layers.append(nn.Dropout2d(dropout))
        layers += conv_unit(c_out, c_out, batch_norm=True, activation=None)
        if dropout:
            layers.append(nn.Dropout2d(dropout))
        self.body = nn.Sequential(*layers)
        self.shortcut = (
            nn.Identity() if c_in == c_out else nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        )
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class ResidualVGG(nn.Module):
    """Report 000's residual VGG-A: a conv stem, one ResidualBlock per VGG-A conv, average pool, 512-512-classes."""

    def __init__(self, *, num_classes: int, in_channels: int, image_size: int, width: float, dropout: float = 0.0):
        super().__init__()
        c = scaled(64, width)
        layers: list[nn.Module] = conv_unit(in_channels, c, batch_norm=True, activation=nn.ReLU)
        for i, widths in enumerate(STAGES):
            for c_out in widths:
                layers.append(ResidualBlock(c, scaled(c_out, width), dropout))
                c = scaled(c_out, width)
            # the last stage ends in the average pool instead of a fifth max-pool
            layers.append(nn.MaxPool2d(2) if i < len(STAGES) - 1 else nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        hidden = scaled(512, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )
        xavier_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))


@MODELS.register("vgg_a")
def vgg_a(**shape) -> nn.Module:
    """VGG-A (VGG-11) without normalisation."""
    return VGG(**shape)


@MODELS.register("vgg_a_bn")
def vgg_a_bn(**shape) -> nn.Module:
    """VGG-A with BatchNorm after every conv."""
    return VGG(**shape, batch_norm=True)


@MODELS.register("vgg_a_res")
def vgg_a_res(**shape) -> nn.Module:
    """Report 000's residual VGG-A."""
    return ResidualVGG(**shape)


@MODELS.register("vgg_a_res_dropout")
def vgg_a_res_dropout(**shape) -> nn.Module:
    """Report 000's residual VGG-A with Dropout2d(0.3) twice inside every block."""
    return ResidualVGG(**shape, dropout=0.3)


@MODELS.register("vgg_a_gelu")
def vgg_a_gelu(**shape) -> nn.Module:
    """VGG-A with BatchNorm and GELU instead of ReLU."""
    return VGG(**shape, batch_norm=True, activation=nn.GELU)
