"""The CUDA path is right before it is fast: measurements in exact fp32, one evaluation behind every accuracy.

The tests marked ``gpu`` run where CUDA is present and skip elsewhere; the logic they rest on is checked on the CPU
too. (Resuming a killed CUDA run is in tests/test_trainer.py.)"""

import pandas as pd
import pytest
import torch

from bnlab.data.prepare import load
from bnlab.device import exact_numerics
from bnlab.models import build_model
from bnlab.report.per_class import per_class_table
from bnlab.train.line_search import probe
from bnlab.train.trainer import train
from test_trainer import CODE, data, make_spec  # noqa: F401 (data is a fixture)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_exact_numerics_turns_tf32_off_and_determinism_on_and_restores_them():
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        with exact_numerics():
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False


@pytest.mark.gpu
@cuda
def test_the_line_search_probe_on_cuda_is_fp32_exact_and_repeatable():
    """A gradient difference at a small step is a measurement, not TF32 or bf16 rounding: the probe on CUDA gives
    the CPU's numbers to fp32 accuracy, and the same numbers twice."""
    torch.manual_seed(0)
    model = build_model("vgg_a_bn", num_classes=10, in_channels=3, image_size=32, width=0.25)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    loss_fn = torch.nn.CrossEntropyLoss()
    sizes = [1e-4, 1e-3, 1e-2]
    on_cpu = pd.DataFrame(probe(model, loss_fn, x, y, sizes))
    model.cuda()
    first = pd.DataFrame(probe(model, loss_fn, x.cuda(), y.cuda(), sizes))
    again = pd.DataFrame(probe(model, loss_fn, x.cuda(), y.cuda(), sizes))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, on_cpu, rtol=1e-4, atol=1e-6)


@pytest.mark.gpu
@cuda
def test_the_per_class_table_of_a_cuda_run_averages_to_its_reported_test_accuracy(tmp_path, data):  # noqa: F811
    """Same weights, same precision (bf16 autocast), same evaluation: equal to the last digit, not approximately."""
    summary = train(make_spec(epochs=1), data, tmp_path, CODE, log=lambda s: None)
    runs = pd.DataFrame([{"label": "run", "model": summary["model"], "run": summary["run"], "run_dir": tmp_path}])
    frame, _, confusion = per_class_table(runs, load(data), torch.device("cuda"))
    correct = confusion.loc[confusion["true"] == confusion["predicted"], "images"].sum()
    assert 100.0 * correct / confusion["images"].sum() == summary["final_test_acc"]
    assert frame["accuracy"].mean() == pytest.approx(summary["final_test_acc"], abs=1e-9)
