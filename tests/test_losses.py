import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnlab.errors import ConfigError
from bnlab.models import build_model
from bnlab.registry import LOSSES, MODELS
from bnlab.train.components import load_all
from bnlab.train.losses import build_loss, final_linear, mixed_loss

load_all()

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, -2.0, 0.5]])
TARGET = torch.tensor([0, 2, 2, 1])


def test_the_loss_registry_holds_the_four_losses():
    assert set(LOSSES.names()) >= {"ce", "label_smoothing", "focal", "center"}


def test_cross_entropy_is_torchs():
    torch.testing.assert_close(build_loss("ce", {})(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))


def test_label_smoothing_is_torchs_and_the_hand_formula():
    loss = build_loss("label_smoothing", {})(LOGITS, TARGET)
    torch.testing.assert_close(loss, F.cross_entropy(LOGITS, TARGET, label_smoothing=0.1))
    # by hand: target 0.9 on the true class + 0.1 / 3 on every class, against log-softmax
    log_p = [[z - math.log(sum(math.exp(v) for v in row)) for z in row] for row in LOGITS.tolist()]
    hand = sum(-(0.9 * row[t] + 0.1 / 3 * sum(row)) for row, t in zip(log_p, TARGET.tolist(), strict=True)) / 4
    assert loss.item() == pytest.approx(hand, rel=1e-6)


def test_focal_with_gamma_zero_is_cross_entropy():
    focal = build_loss("focal", {"gamma": 0.0})
    torch.testing.assert_close(focal(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))


def test_focal_with_gamma_two_matches_the_hand_formula():
    # one example, logits (2, 0, 0), class 0: p = e^2 / (e^2 + 2), loss = (1 - p)^2 * -log p
    p = math.exp(2) / (math.exp(2) + 2)
    loss = build_loss("focal", {})(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
    assert loss.item() == pytest.approx((1 - p) ** 2 * -math.log(p), rel=1e-6)
    assert build_loss("focal", {"alpha": 0.25})(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])).item() == (
        pytest.approx(0.25 * (1 - p) ** 2 * -math.log(p), rel=1e-6)
    )


def test_losses_ignore_the_options_of_the_other_losses_on_their_axis():
    options = {"smoothing": 0.1, "gamma": 2.0, "center_weight": 0.01}
    for name in ("ce", "label_smoothing", "focal", "center"):
        build_loss(name, options)


# -- center loss ---------------------------------------------------------------------------------------------------

FEATURES = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
LABELS = torch.tensor([0, 2, 0])
CENTERS = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def head_with_center_loss(**options):
    """A model whose penultimate features are its input: a lone Linear(2, 3) head."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Identity(), nn.Linear(2, 3))
    loss_fn = build_loss("center", options)
    loss_fn.attach(model)
    loss_fn.centers.copy_(CENTERS)
    return model, loss_fn


def test_center_loss_adds_half_the_squared_distance_to_the_class_center():
    model, loss_fn = head_with_center_loss(center_weight=0.5)
    logits = model(FEATURES)
    # squared distances to the own class's center: 1, 1, 2 -> sum 4, / (2 * 3 examples) = 2/3, weight 0.5 -> 1/3
    expected = F.cross_entropy(logits, LABELS) + 1 / 3
    torch.testing.assert_close(loss_fn(logits, LABELS), expected)


def test_center_update_pulls_each_center_toward_its_class_features_by_hand():
    model, loss_fn = head_with_center_loss(center_weight=0.5, center_lr=0.5)
    loss_fn(model(FEATURES), LABELS).backward()
    loss_fn.after_step()
    # c_j += 0.5 * sum_{i: y_i = j} (f_i - c_j) / 3
    expected = torch.tensor([[1 / 3, 1 / 6], [1.0, 1.0], [0.0, 1 + 1 / 6]])
    torch.testing.assert_close(loss_fn.centers, expected)


def test_center_update_equals_report_000s_sgd_on_the_rescaled_center_gradient():
    weight, lr = 0.001, 0.5
    model, loss_fn = head_with_center_loss(center_weight=weight, center_lr=lr)
    logits = model(FEATURES)
    loss_fn(logits, LABELS)
    loss_fn.after_step()
    # the report's way: centers as a parameter of their own SGD, gradient of the weighted term divided by the weight
    centers = nn.Parameter(CENTERS.clone())
    center_term = (FEATURES - centers[LABELS]).pow(2).sum() / 2 / len(LABELS)
    (F.cross_entropy(logits.detach(), LABELS) + weight * center_term).backward()
    centers.grad *= 1 / weight
    torch.optim.SGD([centers], lr=lr).step()
    torch.testing.assert_close(loss_fn.centers, centers.detach())


def test_center_loss_gradient_reaches_the_features_but_not_the_centers_through_the_model_optimizer():
    model, loss_fn = head_with_center_loss(center_weight=1.0)
    features = FEATURES.clone().requires_grad_()
    loss_fn(model[1](features), LABELS).backward()
    ce_only = FEATURES.clone().requires_grad_()
    F.cross_entropy(model[1](ce_only), LABELS).backward()
    # d/df of sum ||f - c||^2 / (2n) = (f - c_y) / n
    torch.testing.assert_close(features.grad - ce_only.grad, (FEATURES - CENTERS[LABELS]) / 3)
    assert "centers" not in dict(model.named_parameters()) and not loss_fn.centers.requires_grad


def test_center_loss_state_survives_a_checkpoint():
    model, loss_fn = head_with_center_loss()
    loss_fn(model(FEATURES), LABELS)
    loss_fn.after_step()
    state = loss_fn.state_dict()
    _, restored = head_with_center_loss()
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.centers, loss_fn.centers)
    assert list(state) == ["centers"] and build_loss("focal", {}).state_dict() == {}


@pytest.mark.parametrize("name", MODELS.names())
def test_every_models_final_linear_layer_is_its_output(name):
    """The center loss reads the input of the last nn.Linear: that layer must produce the logits in every family
    that has one; a model without any (hand-written softmax regression) is refused by name."""
    model = build_model(name, width=0.25).eval()
    if not any(isinstance(m, nn.Linear) for m in model.modules()):
        with pytest.raises(ConfigError, match=type(model).__name__):
            final_linear(model)
        return
    outputs = []
    final_linear(model).register_forward_hook(lambda module, inputs, output: outputs.append(output))
    logits = model(torch.randn(2, 3, 32, 32))
    assert len(outputs) == 1 and torch.equal(outputs[0], logits)


def test_center_loss_reads_the_penultimate_features_of_a_real_model():
    model = build_model("vgg_a_bn", width=0.25).eval()
    loss_fn = build_loss("center", {})
    loss_fn.attach(model)
    assert loss_fn.centers.shape == (10, 128)
    x = torch.randn(3, 3, 32, 32)
    loss_fn(model(x), torch.tensor([0, 1, 2]))
    torch.testing.assert_close(loss_fn.last_batch[0], model.classifier[:-1](model.features(x)))


# -- CutMix's loss -------------------------------------------------------------------------------------------------


def test_mixed_loss_weights_each_example_by_its_own_area():
    other = torch.tensor([1, 0, 0, 2])
    lam = torch.tensor([1.0, 0.0, 0.25, 0.5])
    for name in ("ce", "label_smoothing", "focal"):
        loss_fn = build_loss(name, {})
        per_example = [
            lam[i] * loss_fn(LOGITS[i : i + 1], TARGET[i : i + 1])
            + (1 - lam[i]) * loss_fn(LOGITS[i : i + 1], other[i : i + 1])
            for i in range(4)
        ]
        torch.testing.assert_close(mixed_loss(loss_fn, LOGITS, TARGET, other, lam), torch.stack(per_example).mean())


def test_center_loss_refuses_mixed_labels():
    model, loss_fn = head_with_center_loss()
    with pytest.raises(ConfigError, match="center"):
        mixed_loss(loss_fn, model(FEATURES), LABELS, LABELS, torch.ones(3))
