import pytest
import torch

from bnlab.registry import OPTIMIZERS, SCHEDULES
from bnlab.train.components import load_all
from bnlab.train.optimizers import NesterovSGD, build_optimizer
from bnlab.train.schedules import build_schedule

load_all()


def _trajectory(make_optimizer, steps=25):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    optimizer = make_optimizer(model.parameters())
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("momentum, weight_decay", [(0.9, 5e-4), (0.5, 0.0), (0.99, 1e-2)])
def test_hand_written_nesterov_matches_torch_sgd(momentum, weight_decay):
    ours = _trajectory(lambda p: NesterovSGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay))
    torch_sgd = _trajectory(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay, nesterov=True)
    )
    plain_sgd = _trajectory(lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum, weight_decay=weight_decay))
    for a, b in zip(ours, torch_sgd):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    if momentum:  # and the comparison can tell Nesterov from heavy-ball momentum
        assert any(not torch.allclose(a, b, atol=1e-4) for a, b in zip(ours, plain_sgd))


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_registered_optimizer_lowers_the_loss(name):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    optimizer = build_optimizer(name, model.parameters(), 0.01, {"weight_decay": 0.0})

    def loss():
        return torch.nn.functional.cross_entropy(model(x), y)

    before = loss().item()
    for _ in range(50):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < before


def test_multistep_schedule_decays_at_the_milestones():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = build_schedule("multistep", optimizer, 30, {"milestones": [20, 25], "gamma": 0.1})
    lrs = []
    for _ in range(30):
        lrs.append(optimizer.param_groups[0]["lr"])
        schedule.step()
    assert lrs[19] == 1.0 and lrs[20] == pytest.approx(0.1) and lrs[25] == pytest.approx(0.01)
    assert set(SCHEDULES.names()) >= {"none", "step", "multistep", "cosine"}
