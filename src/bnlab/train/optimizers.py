"""Optimizers by name, including a hand-written Nesterov SGD with L2 weight decay."""

from __future__ import annotations

import torch

from bnlab.registry import OPTIMIZERS


class NesterovSGD(torch.optim.Optimizer):
    """SGD with Nesterov momentum and L2 regularisation, written out step by step.

    With gradient g, weight decay wd and momentum mu (buffer b, started at g):
        g <- g + wd * w;  b <- mu * b + g;  w <- w - lr * (g + mu * b)
    which is exactly ``torch.optim.SGD(nesterov=True, dampening=0)``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"invalid NesterovSGD settings lr={lr} momentum={momentum} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad.add(w, alpha=wd) if wd else w.grad.clone()
                state = self.state[w]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = g.clone()
                else:
                    state["momentum_buffer"].mul_(mu).add_(g)
                w.add_(g.add_(state["momentum_buffer"], alpha=mu), alpha=-lr)
        return loss


@OPTIMIZERS.register("sgd")
def sgd(params, *, lr, momentum=0.9, weight_decay=0.0):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("nesterov_sgd")
def nesterov_sgd(params, *, lr, momentum=0.9, weight_decay=0.0):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True)


@OPTIMIZERS.register("custom_sgd_nesterov")
def custom_sgd_nesterov(params, *, lr, momentum=0.9, weight_decay=0.0):
    return NesterovSGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def adam(params, *, lr, momentum=None, weight_decay=0.0):
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("adamw")
def adamw(params, *, lr, momentum=None, weight_decay=0.01):
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("rmsprop")
def rmsprop(params, *, lr, momentum=0.0, weight_decay=0.0):
    return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def build_optimizer(name: str, params, lr: float, options: dict) -> torch.optim.Optimizer:
    return OPTIMIZERS[name](params, lr=lr, **options)
