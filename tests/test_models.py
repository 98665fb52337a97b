import pytest
import torch
from torch import nn

from bnlab.models import build_model, count_parameters
from bnlab.registry import MODELS, load_all

load_all()


@pytest.mark.parametrize("name, expected", [
    ("simple_cnn", 62_006),
    ("vgg_a", 9_750_922),
    ("vgg_a_bn", 9_756_426),
])
def test_parameter_counts_match_the_architectures(name, expected):
    assert count_parameters(build_model(name)) == expected


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("width", [1.0, 0.25])
def test_every_model_maps_a_cifar_batch_to_logits(name, width):
    model = build_model(name, width=width)
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 10)


@pytest.mark.parametrize("name", MODELS.names())
def test_width_multiplier_shrinks_the_model(name):
    assert count_parameters(build_model(name, width=0.25)) < count_parameters(build_model(name)) / 4


def test_models_adapt_to_grayscale_inputs_and_class_count():
    model = build_model("simple_cnn", in_channels=1, image_size=28, num_classes=7)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)


def test_vgg_variants_differ_only_where_named():
    def layers(name, kind):
        return sum(isinstance(m, kind) for m in build_model(name).modules())

    assert layers("vgg_a", nn.BatchNorm2d) == 0
    assert layers("vgg_a_bn", nn.BatchNorm2d) == 8
    assert layers("vgg_a_gelu", nn.GELU) == 10 and layers("vgg_a_gelu", nn.ReLU) == 0
    assert layers("vgg_a", nn.ReLU) == 10  # 8 convs + 2 hidden linear layers
    # residual: 1x1 projections exactly where the channel count changes (3->64, 64->128, 128->256, 256->512)
    projections = [m for m in build_model("vgg_a_res").modules()
                   if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert [(p.in_channels, p.out_channels) for p in projections] == [(3, 64), (64, 128), (128, 256), (256, 512)]
    assert layers("vgg_a_res_dropout", nn.Dropout) == layers("vgg_a_res", nn.Dropout) + 5


def test_vgg_init_is_glorot_with_zero_bias_and_unit_batchnorm():
    model = build_model("vgg_a_bn")
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    bound = (6 / (conv.in_channels * 9 + conv.out_channels * 9)) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.all(conv.bias == 0)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown model 'vgg_z'.*vgg_a_bn"):
        build_model("vgg_z")
