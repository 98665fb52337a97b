"""The two protocols of the BatchNorm analyses against hand-computed answers, built so that a plausible wrong
implementation fails: an asymmetric loss (a flipped direction changes the answer), two parameter tensors of very
different scales (global and per-tensor normalisation differ), a model with BatchNorm (batch and running
statistics differ), and BatchNorm running statistics that must come back unchanged after every measurement.

Expected values come from closed forms evaluated with numpy, or from torch's own functional BatchNorm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnlab.analysis import grad_distance
from bnlab.analysis.activations import layer_statistics
from bnlab.analysis.bn_summary import METRICS, quirks
from bnlab.analysis.grad_distance import COURSE_DISTANCES, SETTINGS, max_grad_diff
from bnlab.analysis.grad_predictiveness import STEP, gradient_change
from bnlab.analysis.gradient_health import parameter_gradient_health
from bnlab.analysis.input_smoothness import course_ratio, paper_ratio
from bnlab.analysis.input_smoothness import gradient_change as input_change
from bnlab.analysis.protocols import AS_SPECIFIED, BATCH_STATISTICS, COURSE, PAPER, variants
from bnlab.train.line_search import probe

DUMMY = torch.zeros(1), torch.zeros(1)
A0 = np.array([0.3, -0.2])  # tensor a: small gradients
B0 = np.array([2.0, 2.5, 1.5])  # tensor b: gradients about 20x larger
SCALE_A, SCALE_B = 0.1, 1.0


class TwoTensors(nn.Module):
    """Two parameter tensors; the output is both, so a loss can be any function of them."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(A0, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(B0, dtype=torch.float64))

    def forward(self, x):
        return self.a, self.b


def exp_loss(out, y, scale_a: float = SCALE_A, scale_b: float = SCALE_B):
    """L = 0.1 sum exp(a) + sum exp(b): asymmetric in every direction, gradient (0.1 exp(a), exp(b))."""
    a, b = out
    return scale_a * a.exp().sum() + scale_b * b.exp().sum()


def gradient(a: np.ndarray, b: np.ndarray, scale_a: float = SCALE_A, scale_b: float = SCALE_B) -> list[np.ndarray]:
    return [scale_a * np.exp(a), scale_b * np.exp(b)]


# For the normalisation: a steep in a with a small gradient, linear in b with a large one. One global norm barely
# moves a; normalising each tensor by its own norm moves it as far as b, and its gradient changes a lot.
STEEP, SLOPE_B = 3.0, np.array([3.0, -4.0, 12.0])


def steep_and_linear(out, y):
    a, b = out
    return SCALE_A * (STEEP * a).exp().sum() + (torch.tensor(SLOPE_B) * b).sum()


def steep_gradient(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    return [SCALE_A * STEEP * np.exp(STEEP * a), SLOPE_B]


def expected_max_grad_diff(distances, normalisation: str, sign: int) -> list[float]:
    g = steep_gradient(A0, B0)
    if normalisation == "global":
        total = np.sqrt(sum((t**2).sum() for t in g))
        unit = [sign * t / total for t in g]
    else:
        unit = [sign * t / np.linalg.norm(t) for t in g]
    out = []
    for d in distances:
        moved = steep_gradient(A0 + d * unit[0], B0 + d * unit[1])
        out.append(max(np.abs(m - t).max() for m, t in zip(moved, g)))
    return out


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# -- max gradient difference over distance ----------------------------------------------------------------------


# What each protocol specifies (bnlab.analysis.protocols), written out here rather than read from the code.
SPECIFIED = {
    PAPER: {"statistics": "batch", "normalisation": "global", "sign": -1},
    COURSE: {"statistics": "running", "normalisation": "tensor", "sign": 1},
}


def test_each_analysis_measures_with_its_protocols_settings_and_report_000s_constants():
    from bnlab.analysis import activations, grad_predictiveness, gradient_health, input_smoothness

    assert SETTINGS == SPECIFIED
    assert grad_predictiveness.SETTINGS[COURSE] == {"statistics": "running", "sign": 1} and STEP == 0.1
    assert (
        gradient_health.SETTINGS
        == input_smoothness.SETTINGS
        == {
            PAPER: {"statistics": "batch"},
            COURSE: {"statistics": "running"},
        }
    )
    assert input_smoothness.COURSE_NOISE_STD == 0.01 and activations.COURSE_THRESHOLD == 0.01
    # report 000 reads one batch for the distance curve and the gradient health, 50 and 5 for the others
    assert [m.BATCHES[COURSE] for m in (grad_distance, gradient_health, grad_predictiveness, input_smoothness)] == [
        1,
        1,
        50,
        50,
    ]
    assert activations.BATCHES[COURSE] == 5


@pytest.mark.parametrize("protocol", [PAPER, COURSE])
def test_max_grad_diff_moves_as_its_protocol_says_on_an_asymmetric_loss_with_two_scales(protocol):
    settings = SPECIFIED[protocol]
    distances = COURSE_DISTANCES if protocol == COURSE else np.linspace(0, 1, 5)
    model = TwoTensors()
    before = weights(model)
    diffs = max_grad_diff(model, steep_and_linear, *DUMMY, distances, **settings)
    assert diffs == pytest.approx(expected_max_grad_diff(distances, settings["normalisation"], settings["sign"]))
    # Each wrong choice gives another answer: the flipped direction, the other normalisation.
    flipped = expected_max_grad_diff(distances, settings["normalisation"], -settings["sign"])
    other = "tensor" if settings["normalisation"] == "global" else "global"
    renormalised = expected_max_grad_diff(distances, other, settings["sign"])
    assert not np.allclose(diffs[1:], flipped[1:], rtol=0.05) and not np.allclose(
        diffs[1:], renormalised[1:], rtol=0.05
    )
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # the weights come back


def test_the_course_distances_are_nine_from_a_ninth_of_the_way_to_one_half():
    assert COURSE_DISTANCES.tolist() == pytest.approx([0.5 * k / 9 for k in range(1, 10)])


def test_a_tensor_with_no_gradient_stays_put_under_per_tensor_normalisation():
    model = TwoTensors()
    loss = lambda out, y: SCALE_B * out[1].exp().sum()  # noqa: E731 (a does not enter the loss)
    diffs = max_grad_diff(model, loss, *DUMMY, [0.5], statistics="running", normalisation="tensor", sign=1)
    g = np.exp(B0)
    assert diffs == pytest.approx([np.abs(np.exp(B0 + 0.5 * g / np.linalg.norm(g)) - g).max()])
    assert not torch.isnan(model.a).any()


class ScaledBatchNorm(nn.Module):
    """out = BatchNorm1d(w x) without affine terms; w is the one trainable parameter."""

    def __init__(self, running_mean: float = 0.5, running_var: float = 4.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.5], dtype=torch.float64))
        self.bn = nn.BatchNorm1d(1, affine=False, dtype=torch.float64)
        self.bn.running_mean.fill_(running_mean)
        self.bn.running_var.fill_(running_var)

    def forward(self, x):
        return self.bn(self.w * x)


X = torch.tensor([[0.2], [1.0], [-0.7], [2.0]], dtype=torch.float64)
T = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)


def bn_loss(out, y):
    return (out.squeeze(1) * y).mean()


def reference_gradient(w: float, statistics: str, model: ScaledBatchNorm) -> float:
    """dL/dw from torch's functional BatchNorm with the given statistics, on a fresh leaf."""
    w = torch.tensor([w], dtype=torch.float64, requires_grad=True)
    mean, var = model.bn.running_mean.clone(), model.bn.running_var.clone()
    out = F.batch_norm(w * X, mean, var, training=statistics == "batch", eps=model.bn.eps)
    (g,) = torch.autograd.grad(bn_loss(out, T), w)
    return g.item()


@pytest.mark.parametrize("protocol", [PAPER, COURSE])
def test_max_grad_diff_uses_its_protocols_batchnorm_statistics_and_restores_the_running_ones(protocol):
    model = ScaledBatchNorm()
    model.eval()  # the mode the model is handed in must not matter, and must come back
    buffers = {k: v.clone() for k, v in model.bn.state_dict().items()}
    settings = SPECIFIED[protocol]
    (diff,) = max_grad_diff(model, bn_loss, X, T, [0.5], **settings)
    statistics = settings["statistics"]
    g0 = reference_gradient(1.5, statistics, model)
    moved = 1.5 + 0.5 * settings["sign"] * np.sign(g0)  # one tensor, one entry: both normalisations give sign(g)
    assert diff == pytest.approx(abs(reference_gradient(moved, statistics, model) - g0))
    # In eval mode the loss is linear in w, so its gradient never changes; with batch statistics it does.
    other = "running" if statistics == "batch" else "batch"
    assert abs(reference_gradient(moved, other, model) - reference_gradient(1.5, other, model)) != pytest.approx(diff)
    assert all(torch.equal(v, model.bn.state_dict()[k]) for k, v in buffers.items())
    assert not model.training and not model.bn.training


# -- the line-search probe (the paper's gradient predictiveness and landscape) -------------------------------------


def test_the_probe_steps_along_minus_the_unnormalised_gradient_and_records_the_loss_there():
    model = TwoTensors()
    before = weights(model)
    etas = [0.05, 0.2]
    records = probe(model, exp_loss, *DUMMY, etas)
    g = gradient(A0, B0)
    g_norm = np.sqrt(sum((t**2).sum() for t in g))
    for record, eta in zip(records, etas):
        a, b = A0 - eta * g[0], B0 - eta * g[1]  # w - eta g, each tensor by its own gradient, no normalisation
        assert record["loss"] == pytest.approx(SCALE_A * np.exp(a).sum() + SCALE_B * np.exp(b).sum())
        assert record["loss_at_w"] == pytest.approx(SCALE_A * np.exp(A0).sum() + SCALE_B * np.exp(B0).sum())
        moved = gradient(a, b)
        diff = np.sqrt(sum(((m - t) ** 2).sum() for m, t in zip(moved, g)))
        assert record["grad_diff"] == pytest.approx(diff)
        assert record["beta"] == pytest.approx(diff / (eta * g_norm))
        ascent = gradient(A0 + eta * g[0], B0 + eta * g[1])  # the flipped direction gives another difference
        assert np.sqrt(sum(((m - t) ** 2).sum() for m, t in zip(ascent, g))) != pytest.approx(diff, rel=1e-3)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_the_probe_measures_with_the_models_own_mode_and_restores_its_running_statistics():
    model = ScaledBatchNorm()
    model.train()  # the trainer probes its model in training mode: batch statistics
    buffers = {k: v.clone() for k, v in model.bn.state_dict().items()}
    (record,) = probe(model, bn_loss, X, T, [0.4])
    g0 = reference_gradient(1.5, "batch", model)
    w = 1.5 - 0.4 * g0
    out = F.batch_norm(w * X, None, None, training=True, eps=model.bn.eps)
    assert record["loss"] == pytest.approx(bn_loss(out, T).item())
    assert record["grad_diff"] == pytest.approx(abs(reference_gradient(w, "batch", model) - g0))
    running = F.batch_norm(w * X, model.bn.running_mean, model.bn.running_var, training=False, eps=model.bn.eps)
    assert record["loss"] != pytest.approx(bn_loss(running, T).item())
    assert all(torch.equal(v, model.bn.state_dict()[k]) for k, v in buffers.items())


# -- report 000's gradient predictiveness --------------------------------------------------------------------------


def test_course_gradient_predictiveness_steps_along_plus_g_and_sums_the_tensor_norms():
    model = TwoTensors()
    before = weights(model)
    scales = {"scale_a": 1.0, "scale_b": 0.1}  # both tensors' gradients change by a similar amount

    def loss(out, y):
        return exp_loss(out, y, **scales)

    summed, overall = gradient_change(model, loss, *DUMMY, step=STEP, statistics="running", sign=1)
    g = gradient(A0, B0, **scales)
    moved = gradient(A0 + STEP * g[0], B0 + STEP * g[1], **scales)
    norms = [np.linalg.norm(m - t) for m, t in zip(moved, g)]
    assert summed == pytest.approx(sum(norms))
    assert overall == pytest.approx(np.sqrt(sum(n**2 for n in norms)))
    assert summed > overall * 1.2  # two tensors: the sum of their norms is not the norm of both
    descent = gradient(A0 - STEP * g[0], B0 - STEP * g[1], **scales)
    assert summed != pytest.approx(sum(np.linalg.norm(m - t) for m, t in zip(descent, g)), rel=1e-3)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_course_gradient_predictiveness_uses_running_statistics_and_restores_them():
    model = ScaledBatchNorm()
    model.train()
    buffers = {k: v.clone() for k, v in model.bn.state_dict().items()}
    summed, _ = gradient_change(model, bn_loss, X, T, step=STEP, statistics="running", sign=1)
    assert summed == pytest.approx(0.0, abs=1e-12)  # linear in w with running statistics
    batch, _ = gradient_change(model, bn_loss, X, T, step=STEP, statistics="batch", sign=1)
    g0 = reference_gradient(1.5, "batch", model)
    assert batch == pytest.approx(abs(reference_gradient(1.5 + STEP * g0, "batch", model) - g0))
    assert all(torch.equal(v, model.bn.state_dict()[k]) for k, v in buffers.items())
    assert model.training  # the mode it was handed in comes back


# -- input-gradient smoothness -------------------------------------------------------------------------------------


def half_square_mean(out, y):
    """The mean over the batch of 1/2 ||out_i||^2: grad_x of it is x / B, of the summed loss x itself."""
    return 0.5 * out.square().sum() / len(out)


def test_the_two_smoothness_ratios_of_the_identity_have_their_hand_computed_values():
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    delta = 0.01 * torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    summed = input_change(nn.Identity(), half_square_mean, x, torch.zeros(8), delta, statistics="batch", summed=True)
    mean = input_change(nn.Identity(), half_square_mean, x, torch.zeros(8), delta, statistics="running", summed=False)
    assert torch.allclose(summed, delta) and torch.allclose(mean, delta / 8)
    assert paper_ratio(summed, delta) == pytest.approx(1.0)
    # report 000 divides by the mean per-image norm of the noise, not the norm of all of it
    per_image = delta.norm(dim=1).mean().item()
    assert course_ratio(mean, delta) == pytest.approx(delta.norm().item() / 8 / per_image)
    assert course_ratio(mean, delta) != pytest.approx(paper_ratio(mean, delta), rel=1e-3)


def test_course_smoothness_takes_the_input_gradient_with_running_statistics():
    bn = nn.BatchNorm1d(3, affine=False, dtype=torch.float64)
    bn.running_var.fill_(4.0)
    bn.running_mean.fill_(1.0)
    model = nn.Sequential(bn).train()
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    delta = 0.01 * torch.ones(8, 3, dtype=torch.float64)
    change = input_change(model, half_square_mean, x, torch.zeros(8), delta, statistics="running", summed=False)
    # eval mode: out = (x - 1) / sqrt(4 + eps), so grad_x of the mean loss is (x - 1) / (4 + eps) / B
    assert torch.allclose(change, delta / (4.0 + bn.eps) / 8)
    batch = input_change(model, half_square_mean, x, torch.zeros(8), delta, statistics="batch", summed=False)
    assert not torch.allclose(batch, change)  # a constant shift is normalised away by batch statistics
    assert all(torch.equal(v, bn.state_dict()[k]) for k, v in before.items()) and model.training


# -- gradient health -----------------------------------------------------------------------------------------------


def conv_bn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    model[1].running_mean.fill_(0.3)
    model[1].running_var.fill_(2.0)
    return model.double()


def test_a_conv_bias_before_batchnorm_vanishes_with_batch_statistics_only():
    """Batch statistics subtract a conv bias out, so its gradient is zero; running statistics do not."""
    model = conv_bn()
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    buffers = {k: v.clone() for k, v in model[1].state_dict().items()}
    running = parameter_gradient_health(model, F.cross_entropy, x, y, statistics="running").set_index("parameter")
    batch = parameter_gradient_health(model, F.cross_entropy, x, y, statistics="batch").set_index("parameter")
    assert running.loc["0.bias", "vanishing_frac"] == 0.0 and running.loc["0.bias", "grad_norm"] > 1e-4
    assert batch.loc["0.bias", "grad_norm"] < 1e-12 and batch.loc["0.bias", "vanishing_frac"] == 1.0
    # the weight gradient matches torch's own functional BatchNorm in each mode
    for statistics, table in (("running", running), ("batch", batch)):
        w, b = (p.detach().clone().requires_grad_(True) for p in (model[0].weight, model[0].bias))
        h = F.batch_norm(
            F.conv2d(x, w, b, padding=1),
            buffers["running_mean"].clone(),
            buffers["running_var"].clone(),
            model[1].weight,
            model[1].bias,
            training=statistics == "batch",
            eps=model[1].eps,
        )
        (g,) = torch.autograd.grad(F.cross_entropy(model[3](h.flatten(1)), y), w)
        assert table.loc["0.weight", "grad_norm"] == pytest.approx(g.norm().item())
    assert all(torch.equal(v, model[1].state_dict()[k]) for k, v in buffers.items())


def test_course_gradient_shares_are_averaged_over_tensors_unweighted_and_the_quirk_measures_the_weighting():
    rows = pd.DataFrame(
        {
            "model": "m",
            "seed": 0,
            "variant": [AS_SPECIFIED, AS_SPECIFIED, BATCH_STATISTICS, BATCH_STATISTICS],
            "parameter": ["small", "large"] * 2,
            "numel": [2, 98] * 2,
            "vanishing_frac": [0.5, 0.0, 1.0, 0.0],
            "exploding_frac": [0.0, 0.1, 0.0, 0.2],
        }
    )
    metric = METRICS["course.vanishing_gradient_pct"]
    assert metric.reduce(rows[rows["variant"] == AS_SPECIFIED]) == pytest.approx(25.0)  # (50 + 0) / 2 tensors
    name = "course.vanishing_gradient_pct"
    table = quirks({"gradient_health.course": rows}, ["m"], {name: metric}).set_index(["metric", "instead"])
    vanishing = table.loc["course.vanishing_gradient_pct"]
    assert vanishing.loc["weighted by tensor size", "instead_value"] == pytest.approx(100 * 1 / 100)  # 1 entry of 100
    assert vanishing.loc["batch statistics", "instead_value"] == pytest.approx(50.0)
    assert vanishing["value"].tolist() == pytest.approx([25.0, 25.0])


# -- report 000's activation statistics ----------------------------------------------------------------------------


def test_course_activations_hook_conv_linear_and_batchnorm2d_outputs_and_count_near_zero_entries():
    conv = nn.Conv2d(1, 1, 1, bias=False)
    bn = nn.BatchNorm2d(1)
    linear = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        bn.running_mean.fill_(1.0)
        bn.running_var.fill_(4.0 - bn.eps)  # so eval-mode BN is (h - 1) / 2
        linear.weight.fill_(1.0)
    model = nn.Sequential(conv, bn, nn.ReLU(), nn.Flatten(), linear).train()
    batches = [  # two batches of two 2x2 images
        torch.tensor([[[[0.0, 0.5], [0.002, 1.0]]], [[[0.3, 0.6], [0.001, 2.0]]]]),
        torch.tensor([[[[0.25, 0.5], [0.75, 0.004]]], [[[0.1, 0.2], [0.5, 0.4]]]]),
    ]
    stats = layer_statistics(model, batches)
    assert stats["layer"].tolist() == ["0", "1", "4"]
    assert stats["module"].tolist() == ["Conv2d", "BatchNorm2d", "Linear"]
    expected = {"0": [], "1": [], "4": []}
    for x in batches:
        h = 2.0 * x.reshape(2, 4).numpy()
        n = (h - 1.0) / 2.0
        expected["0"].append(h)
        expected["1"].append(n)
        expected["4"].append(np.maximum(n, 0).sum(axis=1))
    for layer, values in expected.items():
        row = stats.set_index("layer").loc[layer]
        assert row["mean"] == pytest.approx(np.mean([v.mean() for v in values]))
        assert row["std"] == pytest.approx(np.mean([v.std(ddof=1) for v in values]))
        assert row["dead_frac"] == pytest.approx(np.mean([(np.abs(v) < 0.01).mean() for v in values]))
    assert stats.set_index("layer").loc["0", "dead_frac"] == pytest.approx(0.5 * (3 / 8 + 1 / 8))
    assert model.training and bn.running_mean.item() == 1.0  # eval for the measurement, then as it was


# -- variants --------------------------------------------------------------------------------------------------------


def test_each_course_quirk_is_replaced_alone_by_the_papers_choice():
    found = variants(COURSE, SPECIFIED)
    assert found == {
        AS_SPECIFIED: {"statistics": "running", "normalisation": "tensor", "sign": 1},
        BATCH_STATISTICS: {"statistics": "batch", "normalisation": "tensor", "sign": 1},
        "one global norm": {"statistics": "running", "normalisation": "global", "sign": 1},
        "descent (along -g)": {"statistics": "running", "normalisation": "tensor", "sign": -1},
    }
    assert variants(PAPER, SPECIFIED) == {AS_SPECIFIED: SPECIFIED[PAPER]}
