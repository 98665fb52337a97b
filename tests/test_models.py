import itertools

import pytest
import torch
from torch import nn

from bnlab.models import build_model, count_parameters
from bnlab.registry import MODELS
from bnlab.train.components import load_all

load_all()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("simple_cnn", 62_006),
        ("vgg_a", 9_750_922),
        ("vgg_a_bn", 9_756_426),
        ("vgg_a_res", 20_514_954),  # report 000's notebook prints these two
        ("vgg_a_res_dropout", 20_514_954),
        ("resnet_cifar6", 692_122),  # report 001
        ("resnet_cifar9", 1_080_090),
    ],
)
def test_parameter_counts_match_the_architectures(name, expected):
    assert count_parameters(build_model(name)) == expected


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("width", [1.0, 0.25])
def test_every_model_maps_a_cifar_batch_to_logits(name, width):
    model = build_model(name, width=width)
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 10)


# softmax_regression has no hidden layer, so its width is a documented no-op (tests/test_softmax_bug.py).
@pytest.mark.parametrize("name", [n for n in MODELS.names() if n != "softmax_regression"])
def test_width_multiplier_shrinks_the_model(name):
    # A quarter of the hidden units: at most ~1/4 of the parameters (a fixed-size input layer, as in an MLP on
    # raw pixels, shrinks linearly; convolutions quadratically), never more than 0.3 of them.
    assert count_parameters(build_model(name, width=0.25)) < 0.3 * count_parameters(build_model(name))


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
    # residual (report 000's notebook): after the 3->64 stem, 1x1 projections exactly where a block changes channels
    projections = [
        m for m in build_model("vgg_a_res").modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]
    assert [(p.in_channels, p.out_channels) for p in projections] == [(64, 128), (128, 256), (256, 512)]
    assert layers("vgg_a_res", nn.Dropout2d) == 0 and layers("vgg_a_res_dropout", nn.Dropout2d) == 16  # 2 per block
    assert all(m.p == 0.3 for m in build_model("vgg_a_res_dropout").modules() if isinstance(m, nn.Dropout2d))


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


def conv_bn(c_in, c_out, k):
    return c_in * c_out * k * k + 2 * c_out  # a bias-free conv and its BatchNorm's gamma and beta


def basic_blocks(c_in, c_out, blocks, *, downsample):
    """Parameters of a ResNet stage by hand: two 3x3 conv+BN per block, a 1x1 conv+BN shortcut on the first one."""
    first = conv_bn(c_in, c_out, 3) + conv_bn(c_out, c_out, 3) + (conv_bn(c_in, c_out, 1) if downsample else 0)
    return first + (blocks - 1) * 2 * conv_bn(c_out, c_out, 3)


def cifar_resnet_parameters(blocks, width=1.0):
    c = [round(n * width) for n in (16, 32, 64, 128)]
    stages = sum(basic_blocks(a, b, blocks, downsample=True) for a, b in itertools.pairwise(c))
    return conv_bn(3, c[0], 3) + stages + c[3] * 10 + 10


def resnet18_parameters(in_channels, stem_kernel):
    stages = (
        basic_blocks(64, 64, 2, downsample=False)
        + basic_blocks(64, 128, 2, downsample=True)
        + basic_blocks(128, 256, 2, downsample=True)
        + basic_blocks(256, 512, 2, downsample=True)
    )
    return conv_bn(in_channels, 64, stem_kernel) + stages + 512 * 10 + 10


@pytest.mark.parametrize(
    "name, width, expected",
    [
        ("resnet_cifar6", 1.0, cifar_resnet_parameters(2)),
        ("resnet_cifar9", 1.0, cifar_resnet_parameters(3)),
        ("resnet_cifar6", 0.25, cifar_resnet_parameters(2, 0.25)),
        ("resnet_cifar9", 0.25, cifar_resnet_parameters(3, 0.25)),
    ],
)
def test_cifar_resnets_count_their_blocks_by_hand(name, width, expected):
    assert count_parameters(build_model(name, width=width)) == expected


def test_cifar_resnets_halve_the_resolution_in_each_of_three_stages():
    model = build_model("resnet_cifar6")
    shapes = []
    for i in (1, 2, 3):
        getattr(model, f"layer{i}").register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[1:])))
    model(torch.randn(2, 3, 32, 32))
    assert shapes == [(32, 16, 16), (64, 8, 8), (128, 4, 4)]


@pytest.mark.parametrize(
    "name, in_channels, stem_kernel",
    [
        ("resnet18", 3, 3),
        ("resnet18", 1, 3),
        ("resnet18_imagenet", 3, 7),
        ("resnet18_imagenet", 1, 7),
    ],
)
def test_resnet18_counts_match_the_stem(name, in_channels, stem_kernel):
    model = build_model(name, in_channels=in_channels, image_size=28 if in_channels == 1 else 32)
    assert count_parameters(model) == resnet18_parameters(in_channels, stem_kernel)
    size = 28 if in_channels == 1 else 32
    assert model(torch.randn(2, in_channels, size, size)).shape == (2, 10)


def test_resnet18_imagenet_is_torchvisions_resnet18():
    import torchvision

    reference = torchvision.models.resnet18(num_classes=10).eval()
    ours = build_model("resnet18_imagenet").eval()
    ours.load_state_dict(reference.state_dict())  # same module names and shapes
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), reference(x))


def test_cifar_stem_keeps_full_resolution_and_imagenet_stem_quarters_it():
    def stage1(name):
        model = build_model(name, in_channels=1, image_size=28)
        shapes = []
        model.layer1.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[-2:])))
        model(torch.randn(2, 1, 28, 28))
        return shapes[0]

    assert stage1("resnet18") == (28, 28) and stage1("resnet18_imagenet") == (7, 7)


@pytest.mark.parametrize(
    "name", ["resnet_cifar6", "resnet_cifar9", "resnet18", "resnet18_imagenet", "vgg_a_res", "vgg_a_res_dropout"]
)
@pytest.mark.parametrize("width", [1.0, 0.25])
def test_new_families_take_28x28_grayscale(name, width):
    model = build_model(name, in_channels=1, image_size=28, num_classes=7, width=width)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)


def test_residual_vgg_block_is_conv_bn_relu_conv_bn_plus_shortcut_then_relu():
    from bnlab.models.vgg import ResidualBlock

    torch.manual_seed(0)
    block = ResidualBlock(4, 6, dropout=0.0).eval()
    x = torch.randn(2, 4, 5, 5)
    conv1, bn1, _, conv2, bn2 = block.body
    projection, projection_bn = block.shortcut
    expected = torch.relu(bn2(conv2(torch.relu(bn1(conv1(x))))) + projection_bn(projection(x)))
    torch.testing.assert_close(block(x), expected)
    assert isinstance(ResidualBlock(6, 6, dropout=0.0).shortcut, nn.Identity)


@pytest.mark.parametrize("name", ["resnet_cifar6", "resnet18", "resnet18_imagenet", "vgg_a_res"])
def test_every_relu_module_runs_once_per_forward(name):
    """The activation and feature-map analyses hook each nn.ReLU as one layer: none may be reused."""
    model = build_model(name, width=0.25).eval()
    calls = {}
    for module_name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda m, i, out, key=module_name: calls.update({key: calls.get(key, 0) + 1}))
    model(torch.randn(2, 3, 32, 32))
    assert calls and set(calls.values()) == {1}
