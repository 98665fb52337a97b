"""Report 004's double-softmax bug: the from-scratch softmax regression and its three trainings."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bnlab.train.losses  # noqa: F401  (registers the losses)
from bnlab.models import build_model
from bnlab.models.common import output_weight
from bnlab.models.softmax_regression import log_softmax, softmax
from bnlab.registry import LOSSES


def output_weight_grad_norm(model: nn.Module) -> torch.Tensor:
    return output_weight(model).grad.norm()


CORRECT, DOUBLED, FIXED = "ce", "double_softmax", "own_softmax_nll"
GRAY28 = {"in_channels": 1, "image_size": 28}


def loss_and_logit_grad(name, logits, labels):
    z = logits.clone().requires_grad_()
    loss = LOSSES[name]()(z, labels)
    loss.backward()
    return loss.detach(), z.grad


def test_hand_computed_two_class_example():
    # z = (0, ln 3): p = softmax(z) = (1/4, 3/4); true class 1
    logits, labels = torch.tensor([[0.0, math.log(3)]], dtype=torch.float64), torch.tensor([1])
    loss, grad = loss_and_logit_grad(CORRECT, logits, labels)
    assert loss.item() == pytest.approx(math.log(4 / 3))  # -log 3/4
    torch.testing.assert_close(grad, torch.tensor([[0.25, -0.25]], dtype=torch.float64))  # p - onehot
    # doubled: q = softmax(1/4, 3/4), q_1 = 1 / (1 + e^-0.5); dL/dz = J(p) (q - onehot) with
    # J(p) = diag(p) - p p^T = (3/16) [[1, -1], [-1, 1]] and q - onehot = (q_0, -q_0), so dL/dz = (3/8) q_0 (1, -1)
    loss, grad = loss_and_logit_grad(DOUBLED, logits, labels)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.5)))
    q0 = 1 / (1 + math.exp(0.5))
    torch.testing.assert_close(grad, torch.tensor([[3 / 8 * q0, -3 / 8 * q0]], dtype=torch.float64))
    loss, grad = loss_and_logit_grad(FIXED, logits, labels)
    assert loss.item() == pytest.approx(math.log(4 / 3))
    torch.testing.assert_close(grad, torch.tensor([[0.25, -0.25]], dtype=torch.float64))


def test_doubled_applies_softmax_twice_and_fixed_once_on_a_random_batch():
    torch.manual_seed(0)
    logits, labels = torch.randn(64, 10, dtype=torch.float64) * 3, torch.randint(0, 10, (64,))

    def reference(z, softmaxes):
        z = z.clone().requires_grad_()
        probs = z
        for _ in range(softmaxes):
            probs = torch.softmax(probs, dim=1)
        loss = -probs[torch.arange(len(labels)), labels].log().mean()
        loss.backward()
        return loss.detach(), z.grad

    once, twice = reference(logits, 1), reference(logits, 2)
    for name, expected in [(CORRECT, once), (DOUBLED, twice), (FIXED, once)]:
        loss, grad = loss_and_logit_grad(name, logits, labels)
        torch.testing.assert_close(loss, expected[0])
        torch.testing.assert_close(grad, expected[1])
    assert abs(twice[0] - once[0]) > 0.1  # the two really differ on this batch


def test_fixed_stays_finite_where_the_probability_underflows():
    logits, labels = torch.tensor([[0.0, 200.0]]), torch.tensor([0])  # p_0 = e^-200 underflows to 0 in float32
    assert softmax(logits)[0, 0] == 0
    loss, grad = loss_and_logit_grad(FIXED, logits, labels)
    assert loss.item() == pytest.approx(200.0)  # -log p_0 = log(1 + e^200) ~ 200
    torch.testing.assert_close(grad, torch.tensor([[-1.0, 1.0]]))


def test_doubled_loss_cannot_fall_below_log_1_plus_9_over_e():
    # the best the bug can do is p = onehot(y): softmax(p)_y = e / (e + 9)
    labels = torch.arange(10)
    perfect = 100 * F.one_hot(labels, 10).double()
    floor = math.log(1 + 9 / math.e)  # 1.4612
    assert LOSSES[DOUBLED]()(perfect, labels).item() == pytest.approx(floor)
    assert LOSSES[CORRECT]()(perfect, labels).item() < 1e-40
    assert LOSSES[DOUBLED]()(torch.randn(500, 10) * 20, torch.randint(0, 10, (500,))).item() > floor


def test_own_softmax_and_log_softmax_match_torch():
    logits = torch.randn(8, 10) * 50
    torch.testing.assert_close(softmax(logits), torch.softmax(logits, dim=1))
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, dim=1))


# -- the model -----------------------------------------------------------------------------------


def test_softmax_regression_is_x_w_plus_b_with_small_normal_weights():
    torch.manual_seed(0)
    model = build_model("softmax_regression", **GRAY28)
    assert model.weight.shape == (784, 10)
    assert model.weight.std().item() == pytest.approx(0.01, rel=0.05)  # 7,840 draws from N(0, 0.01^2)
    assert torch.all(model.bias == 0)
    x = torch.rand(4, 1, 28, 28)
    logits = model(x)
    torch.testing.assert_close(logits, x.reshape(4, 784) @ model.weight + model.bias)
    torch.testing.assert_close(model.probabilities(x), torch.softmax(logits, dim=1))


@pytest.mark.parametrize(
    "name, layer",
    [
        ("softmax_regression", lambda m: m.weight),
        ("fc_net", lambda m: m[-1].weight),
        ("residual_mlp", lambda m: m.output.weight),
        ("cnn84", lambda m: m[-1].weight),
        ("vgg_a_bn", lambda m: m.classifier[-1].weight),
    ],
)
def test_output_weight_is_the_layer_that_produces_the_logits(name, layer):
    model = build_model(name, width=0.125)
    assert output_weight(model) is layer(model)


def output_grad_norm(model, loss_name, x, y):
    model.zero_grad()
    LOSSES[loss_name]()(model(x), y).backward()
    return output_weight_grad_norm(model).item()


def test_doubled_gradient_is_exactly_a_tenth_at_uniform_probabilities():
    # W = 0, b = 0: p is uniform and softmax(p) = p, so dL/dz = J(p)(p - onehot) = (p - onehot) / K
    model = build_model("softmax_regression", **GRAY28)
    nn.init.zeros_(model.weight)
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    correct = output_grad_norm(model, CORRECT, x, y)
    assert correct > 0.1
    assert output_grad_norm(model, DOUBLED, x, y) == pytest.approx(correct / 10, rel=1e-5)
    assert output_grad_norm(model, FIXED, x, y) == pytest.approx(correct, rel=1e-5)


def test_doubled_gradient_is_much_smaller_at_the_initial_weights():
    torch.manual_seed(1)
    model = build_model("softmax_regression", **GRAY28)
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    assert output_grad_norm(model, DOUBLED, x, y) < 0.15 * output_grad_norm(model, CORRECT, x, y)


def test_doubled_training_barely_lowers_the_loss_that_correct_training_lowers():
    torch.manual_seed(2)
    labels = torch.randint(0, 10, (640,))
    images = torch.randn(10, 1, 5, 5)[labels] + 0.5 * torch.randn(640, 1, 5, 5)  # one pattern per class, plus noise
    drops, norms = {}, {}
    for name in (CORRECT, DOUBLED, FIXED):
        torch.manual_seed(3)
        model = build_model("softmax_regression", in_channels=1, image_size=5)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn, losses, norms[name] = LOSSES[name](), [], []
        for start in range(0, 640, 64):  # one epoch, batch 64 as in the report
            loss = loss_fn(model(images[start : start + 64]), labels[start : start + 64])
            optimizer.zero_grad()
            loss.backward()
            norms[name].append(output_weight_grad_norm(model))  # where the trainer would record it: after backward
            optimizer.step()
            losses.append(loss.item())
        drops[name] = losses[0] - losses[-1]
    assert drops[CORRECT] > 1.0
    assert drops[DOUBLED] < 0.05 * drops[CORRECT]
    assert drops[FIXED] == pytest.approx(drops[CORRECT], rel=1e-4)
    # the doubled run's output gradient starts near a tenth of the correct run's and stays there
    assert max(norms[DOUBLED]) < 0.2 * norms[CORRECT][0]
    assert all(d < 0.5 * c for d, c in zip(norms[DOUBLED], norms[CORRECT]))


def test_softmax_regression_has_no_width_to_scale():
    assert build_model("softmax_regression", width=0.25).weight.shape == build_model("softmax_regression").weight.shape
