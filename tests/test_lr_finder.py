import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnlab.train.lr_finder import lr_range_test


def sgd(parameters, lr):
    return torch.optim.SGD(parameters, lr=lr)


def regression_batches(seed, batch=256):
    """y = 3x + noise, x ~ N(0, 1): for w -> mean((w x - y)^2) the curvature is 2 E[x^2] = 2, so SGD is stable
    below lr 2 / 2 = 1 and blows up above it."""
    g = torch.Generator().manual_seed(seed)
    while True:
        x = torch.randn(batch, 1, generator=g)
        yield x, 3 * x + 0.1 * torch.randn(batch, 1, generator=g)


def test_rates_grow_exponentially_from_lr_min_to_lr_max_and_the_model_is_left_alone():
    model = nn.Linear(1, 1, bias=False)
    before = model.weight.detach().clone()
    result = lr_range_test(model, F.mse_loss, regression_batches(0), sgd, lr_min=1e-6, lr_max=1e-2, steps=5)
    assert [row["lr"] for row in result.rows] == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    assert not result.diverged and torch.equal(model.weight, before)


def test_losses_are_taken_before_each_step_and_smoothed_with_bias_correction():
    torch.manual_seed(0)
    model = nn.Linear(1, 1, bias=False)
    batches = regression_batches(1)
    (x0, y0), (x1, y1) = next(batches), next(batches)
    result = lr_range_test(
        model, F.mse_loss, iter([(x0, y0), (x1, y1)]), sgd, lr_min=0.1, lr_max=0.2, steps=2, smoothing=0.9
    )
    first, second = result.rows
    assert first["loss"] == pytest.approx(F.mse_loss(model(x0), y0).item())  # the untouched model's loss
    moved = model.weight.detach() - 0.1 * torch.autograd.grad(F.mse_loss(model(x0), y0), model.weight)[0]
    assert second["loss"] == pytest.approx(F.mse_loss(x1 @ moved.T, y1).item(), rel=1e-5)  # after one step at 0.1
    assert first["smoothed_loss"] == pytest.approx(first["loss"])
    expected = (0.9 * 0.1 * first["loss"] + 0.1 * second["loss"]) / (1 - 0.9**2)
    assert second["smoothed_loss"] == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_test_stops_soon_after_the_stability_edge_of_a_quadratic(seed):
    result = lr_range_test(
        nn.Linear(1, 1, bias=False), F.mse_loss, regression_batches(seed), sgd, lr_min=1e-4, lr_max=100.0, steps=200
    )
    stop = result.rows[-1]["lr"]
    assert result.diverged and 1.0 < stop < 4.0  # it cannot blow up below the edge at lr 1
    assert result.rows[-1]["smoothed_loss"] > 4 * min(row["smoothed_loss"] for row in result.rows[:-1])


def classification(seed, n=2048, d=10, classes=4):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(d, classes, generator=g)
    x = torch.randn(n, d, generator=g)
    return x, (x @ teacher + 0.5 * torch.randn(n, classes, generator=g)).argmax(1)


def shuffled_batches(x, y, seed, batch=32):
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x) - batch + 1, batch):
            yield x[order[start : start + batch]], y[order[start : start + batch]]


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))


def final_loss(lr, seed, x, y, steps=300):
    model = mlp(seed)
    optimizer = sgd(model.parameters(), lr)
    for (xb, yb), _ in zip(shuffled_batches(x, y, seed + 1), range(steps), strict=False):
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    return loss if math.isfinite(loss) else math.inf


@pytest.mark.parametrize("seed", [0, 1])
def test_suggestion_is_within_a_factor_of_3_of_the_best_rate_of_a_grid_search(seed):
    """The known good rate: the best of plain-SGD trainings of a small MLP at rates 10^(k/4), found by brute force."""
    x, y = classification(seed)
    grid = [10 ** (k / 4) for k in range(-8, 5)]
    best = min(grid, key=lambda lr: final_loss(lr, seed, x, y))
    result = lr_range_test(
        mlp(seed), F.cross_entropy, shuffled_batches(x, y, seed + 1), sgd, lr_min=1e-4, lr_max=10.0, steps=200
    )
    assert best / 3 < result.suggested_lr < best * 3


def test_the_test_ends_with_the_batches_and_needs_one():
    result = lr_range_test(nn.Linear(1, 1), F.mse_loss, iter([(torch.ones(2, 1), torch.ones(2, 1))] * 3), sgd, steps=10)
    assert len(result.rows) == 3 and not result.diverged
    with pytest.raises(ValueError, match="no batches|ran out"):
        lr_range_test(nn.Linear(1, 1), F.mse_loss, iter([]), sgd)


def test_the_range_test_of_a_run_spec_sweeps_its_models_lr_range(tmp_path):
    """Each model set up as its run trains; the lr grows exponentially; the suggestion lies in the swept range."""
    from bnlab import config as study
    from bnlab.data.prepare import load, prepare
    from bnlab.train.components import load_all
    from bnlab.train.lr_finder import range_test_table
    from conftest import REPO, write_npz

    load_all()
    config = study.validate(
        {
            "datasets": {"d": {"torchvision": "CIFAR10", "local": "x", "num_classes": 10}},
            "experiments": {"e": {"dataset": "d", "model": ["simple_cnn", "vgg_a"], "width": 0.25, "batch_size": 20}},
        },
        REPO / "workflow" / "schemas" / "config.schema.yaml",
    )
    prepare(
        config["datasets"]["d"], write_npz(tmp_path / "s.npz", train_per_class=4, test_per_class=2), tmp_path / "d.npz"
    )
    table = range_test_table(study.expand(config), load(tmp_path / "d.npz"), lr_min=1e-4, lr_max=1.0, steps=12)
    assert list(table["model"].unique()) == ["simple_cnn", "vgg_a"]
    for _, rows in table.groupby("model"):
        ratios = rows["lr"].iloc[1:].to_numpy() / rows["lr"].iloc[:-1].to_numpy()
        assert ratios == pytest.approx(10 ** (4 / 11))  # 12 steps from 1e-4 to 1: a constant factor each step
        assert 1e-5 <= rows["suggested_lr"].iloc[0] <= 0.1  # a tenth of a swept rate
