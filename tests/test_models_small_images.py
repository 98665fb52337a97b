"""The models of the 28x28 grayscale study (report 003) and the 84x84 ImageNet subset (report 004)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnlab.models import build_model, count_parameters
from bnlab.models.lenet import PadTo

GRAY28 = {"in_channels": 1, "image_size": 28}
IMAGENET84 = {"in_channels": 3, "image_size": 84}


def linear(n_in, n_out):
    return n_in * n_out + n_out


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def batch_norm(c):
    return 2 * c  # gamma and beta


FLAT84 = 3 * 84 * 84  # 21,168


# Parameter counts at width 1, by hand: weights + biases of every layer, gamma + beta of every BatchNorm.
EXPECTED_PARAMETERS = {
    # 784 -> 256 -> 128 -> 10: 200,960 + 32,896 + 1,290 = 235,146
    "fc_net": linear(784, 256) + linear(256, 128) + linear(128, 10),
    # conv 1->6, 6->16, 16->120 (5x5); 120 -> 84 -> 10: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706
    "lenet5": conv(1, 6, 5) + conv(6, 16, 5) + conv(16, 120, 5) + linear(120, 84) + linear(84, 10),
    # 784 -> 10: 7,850
    "softmax_regression": linear(784, 10),
    # 21,168 -> 1024 (+BN) -> 10: 21,677,056 + 2,048 + 10,250 = 21,689,354
    "two_layer_nn": linear(FLAT84, 1024) + batch_norm(1024) + linear(1024, 10),
    # 21,168 -> 2048 -> 1024 -> 512 -> 256 with BN (43,358,208 + 2,100,224 + 525,824 + 131,840 = 46,116,096),
    # shortcuts 21,168 -> 1024 and 1024 -> 256 (21,677,056 + 262,400), 256 -> 10 (2,570): 68,058,122
    "residual_mlp": sum(
        linear(a, b) + batch_norm(b) for a, b in [(FLAT84, 2048), (2048, 1024), (1024, 512), (512, 256)]
    )
    + linear(FLAT84, 1024)
    + linear(1024, 256)
    + linear(256, 10),
    # six 3x3 convs with BN, 64, 64, 128, 128, 256, 256 channels (1,147,200);
    # 256 * 10 * 10 = 25,600 -> 512 (+BN) -> 10 (13,113,866): 14,261,066
    "cnn84": sum(
        conv(a, b, 3) + batch_norm(b) for a, b in [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    )
    + linear(25_600, 512)
    + batch_norm(512)
    + linear(512, 10),
}
REPORT_INPUT = {"fc_net": GRAY28, "lenet5": GRAY28, "softmax_regression": GRAY28}  # the others: IMAGENET84


@pytest.mark.parametrize("name", EXPECTED_PARAMETERS)
def test_parameter_counts_and_output_shape_on_the_reports_inputs(name):
    shape = REPORT_INPUT.get(name, IMAGENET84)
    model = build_model(name, **shape)
    assert count_parameters(model) == EXPECTED_PARAMETERS[name]
    size = shape["image_size"]
    assert model(torch.randn(3, shape["in_channels"], size, size)).shape == (3, 10)


@pytest.mark.parametrize("name", list(EXPECTED_PARAMETERS))
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32), (3, 64), (1, 84)])
def test_models_build_for_other_image_sizes_and_class_counts(name, channels, size):
    model = build_model(name, in_channels=channels, image_size=size, num_classes=7, width=0.125)
    assert model(torch.randn(2, channels, size, size)).shape == (2, 7)


@pytest.mark.parametrize(
    "name, hidden",
    [
        ("fc_net", [256, 128]),
        ("two_layer_nn", [1024]),
        ("residual_mlp", [2048, 1024, 1024, 512, 256, 256]),  # each shortcut sits after the layer it joins
        ("cnn84", [512]),
    ],
)
def test_width_scales_hidden_sizes_but_not_input_or_classes(name, hidden):
    layers = [m for m in build_model(name, width=0.25, **IMAGENET84).modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in layers[:-1]] == [h // 4 for h in hidden]
    assert layers[-1].out_features == 10
    if name != "cnn84":
        assert layers[0].in_features == FLAT84


def test_residual_mlp_wiring_matches_report_004():
    model = build_model("residual_mlp", num_classes=10, in_channels=1, image_size=6, width=1 / 64).eval()
    x = torch.randn(5, 1, 6, 6)
    flat = x.flatten(1)
    fc1, fc2, shortcut1, fc3, fc4, shortcut2, out = [m for m in model.modules() if isinstance(m, nn.Linear)]
    bn1, bn2, bn3, bn4 = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    for bn in (bn1, bn2, bn3, bn4):  # non-trivial running statistics and affine, so a misplaced BN shows
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    assert (shortcut1.in_features, shortcut2.in_features) == (36, 16)
    # eval mode: dropout is the identity; the shortcut is added after BN, before the ReLU
    a1 = F.relu(bn1(fc1(flat)))
    a2 = F.relu(bn2(fc2(a1)) + shortcut1(flat))
    a3 = F.relu(bn3(fc3(a2)))
    a4 = F.relu(bn4(fc4(a3)) + shortcut2(a2))
    torch.testing.assert_close(model(x), out(a4))


def test_residual_mlp_input_dropout_is_0_2_and_hidden_dropout_0_5():
    rates = [m.p for m in build_model("residual_mlp", width=0.01).modules() if isinstance(m, nn.Dropout)]
    assert rates == [0.2, 0.5, 0.5, 0.5, 0.5]


def test_cnn84_flattens_256_maps_of_10x10():
    model = build_model("cnn84", **IMAGENET84)
    first_linear = next(m for m in model.modules() if isinstance(m, nn.Linear))
    assert first_linear.in_features == 256 * 10 * 10
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 3


# -- LeNet-5 padding ------------------------------------------------------------------------------


def conv_outputs(model, x):
    """Spatial sizes of every conv's output for input ``x``."""
    sizes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[-2:])))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    model(x)
    for h in hooks:
        h.remove()
    return sizes


def test_lenet5_pads_28x28_inputs_by_2_to_32x32():
    model = build_model("lenet5", **GRAY28)
    x = torch.randn(2, 1, 28, 28)
    unpadded = model[1:]
    torch.testing.assert_close(model(x), unpadded(F.pad(x, (2, 2, 2, 2))))
    assert conv_outputs(model, x) == [(28, 28), (10, 10), (1, 1)]  # as report 003 lists: 28, 10, 1


def test_lenet5_leaves_32x32_inputs_unpadded():
    model = build_model("lenet5", in_channels=1, image_size=32)
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(model(x), model[1:](x))
    assert conv_outputs(model, x) == [(28, 28), (10, 10), (1, 1)]


def test_lenet5_on_larger_images_flattens_the_bigger_last_map():
    model = build_model("lenet5", **IMAGENET84)
    # 84 -> conv 80 -> pool 40 -> conv 36 -> pool 18 -> conv 14: 120 maps of 14x14
    assert conv_outputs(model, torch.randn(1, 3, 84, 84))[-1] == (14, 14)
    assert next(m for m in model.modules() if isinstance(m, nn.Linear)).in_features == 120 * 14 * 14


def test_lenet5_pools_max_then_average():
    pools = [type(m) for m in build_model("lenet5", **GRAY28).modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert pools == [nn.MaxPool2d, nn.AvgPool2d]


def test_pad_to_centres_odd_shortfalls_and_pads_with_zeros():
    x = torch.randn(1, 2, 29, 30)
    padded = PadTo(32)(x)
    assert padded.shape == (1, 2, 32, 32)
    torch.testing.assert_close(padded[..., 1:30, 1:31], x)  # 3 missing rows: 1 above, 2 below; 2 columns: 1 each side
    padded[..., 1:30, 1:31] = 0
    assert torch.all(padded == 0)  # the border
