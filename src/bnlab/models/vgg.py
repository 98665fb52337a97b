"""The VGG-A family adapted to 32x32 inputs (Simonyan & Zisserman's configuration A).

Convs [64,M,128,M,256,256,M,512,512,M,512,512,M], classifier 512-512-512-classes with
dropout 0.5, Glorot init. Variants differ in normalisation, activation and skip
connections only, so the BatchNorm analyses compare like with like.
"""

from __future__ import annotations

from torch import nn

from bnlab.models.common import scaled, xavier_init
from bnlab.registry import MODELS

STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))  # each stage ends in a 2x2 max-pool


def conv_unit(c_in: int, c_out: int, *, batch_norm: bool, activation: type[nn.Module] | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    if activation is not None:
        layers.append(activation())
    return layers


class ResidualStage(nn.Module):
    """The stage's convs (conv-BN-act, last without act) plus a shortcut, then the activation.

    The shortcut is a 1x1 conv + BN where the channel count changes, identity otherwise.
    """

    def __init__(self, c_in: int, widths: tuple[int, ...], activation: type[nn.Module], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for i, c_out in enumerate(widths):
            last = i == len(widths) - 1
            layers += conv_unit(c, c_out, batch_norm=True, activation=None if last else activation)
            c = c_out
        self.body = nn.Sequential(*layers)
        self.shortcut = (nn.Identity() if c_in == c
                         else nn.Sequential(nn.Conv2d(c_in, c, 1, bias=False), nn.BatchNorm2d(c)))
        self.act = activation()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x):
        return self.drop(self.act(self.body(x) + self.shortcut(x)))


class VGG(nn.Module):
    def __init__(self, *, num_classes: int, in_channels: int, image_size: int, width: float,
                 batch_norm: bool = False, residual: bool = False, stage_dropout: float = 0.0,
                 activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for widths in STAGES:
            widths = tuple(scaled(w, width) for w in widths)
            if residual:
                layers.append(ResidualStage(c, widths, activation, stage_dropout))
            else:
                for c_out in widths:
                    layers += conv_unit(c, c_out, batch_norm=batch_norm, activation=activation)
                    c = c_out
            c = widths[-1]
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        spatial = image_size // 2 ** len(STAGES)
        hidden = scaled(512, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * spatial * spatial, hidden), activation(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), activation(), nn.Dropout(0.5),
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
    """VGG-A with BatchNorm and a residual shortcut around every stage (1x1 projection where channels change)."""
    return VGG(**shape, batch_norm=True, residual=True)


@MODELS.register("vgg_a_res_dropout")
def vgg_a_res_dropout(**shape) -> nn.Module:
    """vgg_a_res with dropout 0.2 after every stage."""
    return VGG(**shape, batch_norm=True, residual=True, stage_dropout=0.2)


@MODELS.register("vgg_a_gelu")
def vgg_a_gelu(**shape) -> nn.Module:
    """VGG-A with BatchNorm and GELU instead of ReLU."""
    return VGG(**shape, batch_norm=True, activation=nn.GELU)
