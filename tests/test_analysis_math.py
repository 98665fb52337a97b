"""The BatchNorm analyses on problems with known answers: a quadratic loss, hand-checkable linear models.
(tests/test_bn_protocols.py checks what tells the two protocols and their quirks apart.)"""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bnlab.analysis.activations import relu_statistics
from bnlab.analysis.feature_maps import conv_activations, first_of_each_class
from bnlab.analysis.grad_distance import max_grad_diff
from bnlab.analysis.gradient_health import parameter_gradient_health
from bnlab.analysis.input_smoothness import gradient_change, paper_ratio
from bnlab.analysis.landscape import loss_band
from bnlab.analysis.probe_bands import probe_bands
from bnlab.errors import AnalysisError
from bnlab.train.line_search import probe


class Weights(nn.Module):
    """A model whose output is its own weight vector, so loss_fn(model(x), y) is any function of w."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return self.w


def quadratic(a: torch.Tensor):
    """L(w) = 1/2 w^T A w, whose gradient is A w."""
    return lambda w, y: 0.5 * w @ a @ w


@pytest.fixture
def spd():
    """A symmetric positive-definite A with known eigenvalues 0.5, 1, 3, 7 and its eigenvectors."""
    eigenvalues = torch.tensor([0.5, 1.0, 3.0, 7.0], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    return q @ torch.diag(eigenvalues) @ q.T, eigenvalues, q


DUMMY = torch.zeros(1), torch.zeros(1)


def test_beta_smoothness_of_a_quadratic_along_its_top_eigenvector_is_the_largest_eigenvalue(spd):
    a, eigenvalues, q = spd
    model = Weights(2.0 * q[:, 3])  # gradient A w = 7 w: an eigenvector of the largest eigenvalue
    records = probe(model, quadratic(a), *DUMMY, [0.01, 0.05, 0.1])
    assert [r["beta"] for r in records] == pytest.approx([7.0] * 3, rel=1e-12)
    bands = probe_bands(pd.DataFrame(records).assign(model="q", lr=0.1, run="r", seed=0, step=0, epoch=1))
    assert bands["beta_max"].item() == pytest.approx(eigenvalues.max().item(), rel=1e-12)


def test_beta_smoothness_of_a_quadratic_is_the_rayleigh_ratio_along_the_gradient(spd):
    a, _, _ = spd
    w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    model = Weights(w)
    g = a @ w
    records = probe(model, quadratic(a), *DUMMY, [0.01, 0.1])
    expected = ((a @ g).norm() / g.norm()).item()  # ||A g|| / ||g||, the same for every step size
    assert [r["beta"] for r in records] == pytest.approx([expected] * 2, rel=1e-12)
    assert [r["grad_diff"] for r in records] == pytest.approx(
        [0.01 * (a @ g).norm().item(), 0.1 * (a @ g).norm().item()], rel=1e-12
    )
    assert torch.equal(model.w.detach(), w)  # the probe leaves the weights as they were


def test_gradient_difference_of_a_quadratic_grows_linearly_with_distance(spd):
    a, _, _ = spd
    w = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    model = Weights(w)
    distances = np.linspace(0, 2, 9)
    diffs = max_grad_diff(model, quadratic(a), *DUMMY, distances, statistics="batch", normalisation="global", sign=-1)
    u = -(a @ w) / (a @ w).norm()
    # grad L(w + d u) - grad L(w) = d A u, so the largest entry is d max|A u|.
    assert diffs == pytest.approx(distances * (a @ u).abs().max().item(), rel=1e-12, abs=1e-15)
    assert torch.equal(model.w.detach(), w)


def test_input_gradient_ratio_is_one_when_the_gradient_is_the_input():
    x = torch.randn(5, 3, dtype=torch.float64)
    delta = 0.01 * torch.randn(5, 3, dtype=torch.float64)
    # mean loss 1/2 ||x||^2 / n; summed over the batch its input gradient is x itself.
    mean_loss = lambda out, y: 0.5 * out.square().sum() / len(out)  # noqa: E731
    ratio = paper_ratio(
        gradient_change(nn.Identity(), mean_loss, x, torch.zeros(5), delta, statistics="batch", summed=True), delta
    )
    assert ratio == pytest.approx(1.0, rel=1e-12)


def test_dead_units_of_a_linear_model_match_a_hand_count():
    first = nn.Linear(2, 3, bias=False)
    second = nn.Linear(3, 1)
    with torch.no_grad():
        # unit 0: x0 (mean 0.5); unit 1: 0.01 x1 (mean 0.005, below 0.01 yet active once); unit 2: never > 0
        first.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.01], [-1.0, -1.0]]))
        second.weight.fill_(1.0)
        second.bias.fill_(-10.0)  # the single second-layer unit never fires on these inputs
    model = nn.Sequential(first, nn.ReLU(), second, nn.ReLU())
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    stats = relu_statistics(model, [x[:1], x[1:]], threshold=0.01)  # two batches, accumulated
    assert stats["layer"].tolist() == ["1", "3"]
    assert stats["units"].tolist() == [3, 1]
    assert stats["dead_units"].tolist() == [2, 1]
    assert stats["never_active_units"].tolist() == [1, 1]
    values = np.array([1.0, 0.0, 0.0, 0.0, 0.01, 0.0])
    assert stats["mean"][0] == pytest.approx(values.mean())
    assert stats["std"][0] == pytest.approx(values.std())
    assert stats["mean"][1] == 0.0 and stats["std"][1] == 0.0


def test_dead_units_of_a_conv_layer_are_channels():
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
    x = torch.rand(3, 1, 4, 4) + 0.1  # positive images: channel 0 always fires, channel 1 never
    stats = relu_statistics(nn.Sequential(conv, nn.ReLU()), [x], threshold=0.01)
    assert stats[["units", "dead_units", "never_active_units"]].values.tolist() == [[2, 1, 1]]


def test_a_model_without_relu_is_refused():
    with pytest.raises(AnalysisError, match="no nn.ReLU"):
        relu_statistics(nn.Sequential(nn.Linear(2, 2), nn.GELU()), [torch.zeros(1, 2)], threshold=0.01)


def test_gradient_health_counts_vanishing_and_exploding_entries():
    c = torch.tensor([1e-9, 0.5, 2.0, -3.0], dtype=torch.float64)
    model = Weights(torch.zeros(4, dtype=torch.float64))
    health = parameter_gradient_health(model, lambda w, y: (c * w).sum(), *DUMMY, statistics="batch")  # gradient = c
    assert health.to_dict("records") == [
        {
            "parameter": "w",
            "numel": 4,
            "grad_norm": pytest.approx(c.norm().item()),
            "vanishing_frac": 0.25,
            "exploding_frac": 0.5,
        }
    ]


def test_the_landscape_band_of_identical_runs_has_zero_width():
    losses = [2.3, 2.1, 1.7, 1.9]
    steps = pd.DataFrame(
        [
            {"model": "m", "lr": lr, "seed": 0, "step": i, "epoch": 1, "loss": v}
            for lr in (1e-3, 1e-4)
            for i, v in enumerate(losses)
        ]
    )
    band = loss_band(steps)
    assert band["loss_max"].tolist() == band["loss_min"].tolist() == losses
    assert band["lrs"].tolist() == [2] * 4


def test_the_landscape_band_spans_the_learning_rates_and_a_diverged_one_makes_it_unbounded():
    steps = pd.DataFrame(
        {
            "model": "m",
            "seed": 0,
            "lr": [0.1, 0.01, 1.0, 0.1, 0.01, 1.0],
            "step": [0, 0, 0, 1, 1, 1],
            "epoch": 1,
            "loss": [2.0, 2.5, 2.2, 1.0, 1.5, float("nan")],
        }
    )
    band = loss_band(steps)
    assert band[["lrs", "diverged", "loss_min", "loss_max"]].values.tolist() == [
        [3, 0, 2.0, 2.5],
        [2, 1, 1.0, float("inf")],
    ]


def test_feature_maps_keep_only_conv_activations_and_one_image_per_class():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 4 * 4, 2), nn.ReLU()
    )
    maps = conv_activations(model, torch.rand(2, 3, 8, 8), layers=2)
    assert [(name, tuple(out.shape)) for name, out in maps] == [("1", (2, 4, 6, 6)), ("3", (2, 5, 4, 4))]
    with pytest.raises(AnalysisError, match="2 ReLU feature maps"):
        conv_activations(model, torch.rand(1, 3, 8, 8), layers=3)
    assert first_of_each_class(np.array([0, 0, 1, 2, 1, 2]), 3).tolist() == [0, 2, 3]
