"""The paper's probe of the loss landscape along the gradient (Santurkar et al., 2018, Fig. 4).

At weights w with gradient g = grad L(w) on a batch, for each step size eta it measures
  loss            L(w - eta g)                                   (landscape, Fig. 4a)
  grad_diff       ||grad L(w) - grad L(w - eta g)||              (gradient predictiveness, 4b)
  beta            grad_diff / ||eta g||                          (effective beta-smoothness, 4c)
The model is left exactly as it was: weights, BatchNorm statistics and RNG streams. It runs in exact
fp32 (bnlab.device.exact_numerics), so a small step's gradient difference is not rounding noise.
"""

from __future__ import annotations

import torch
from torch import nn

from bnlab.device import exact_numerics


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


@exact_numerics()
def probe(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, step_sizes: list[float]) -> list[dict]:
    params = [p for p in model.parameters() if p.requires_grad]
    weights = [p.detach().clone() for p in params]
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    devices = [x.device] if x.device.type == "cuda" else []

    with torch.random.fork_rng(devices=devices):
        rng = torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in devices]

        def loss_and_grad() -> tuple[float, torch.Tensor]:
            # Same dropout masks at every point, and BatchNorm running stats untouched.
            torch.set_rng_state(rng[0])
            for d, state in zip(devices, rng[1]):
                torch.cuda.set_rng_state(state, d)
            loss = loss_fn(model(x), y)
            grad = _flat(torch.autograd.grad(loss, params))
            with torch.no_grad():
                for name, b in model.named_buffers():
                    b.copy_(buffers[name])
            return loss.item(), grad

        loss0, grad0 = loss_and_grad()
        grad0_norm = grad0.norm().item()
        records = []
        try:
            for eta in step_sizes:
                with torch.no_grad():
                    offset = 0
                    for p, w in zip(params, weights):
                        n = p.numel()
                        p.copy_(w - eta * grad0[offset : offset + n].view_as(p))
                        offset += n
                loss, grad = loss_and_grad()
                grad_diff = (grad - grad0).norm().item()
                records.append(
                    {
                        "step_size": eta,
                        "loss": loss,
                        "loss_at_w": loss0,
                        "grad_norm": grad0_norm,
                        "grad_diff": grad_diff,
                        "beta": grad_diff / (eta * grad0_norm) if grad0_norm > 0 else float("nan"),
                    }
                )
        finally:
            with torch.no_grad():
                for p, w in zip(params, weights):
                    p.copy_(w)
    return records
