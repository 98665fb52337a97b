import io

import pytest
import torch

from bnlab.errors import ConfigError
from bnlab.registry import SCHEDULES
from bnlab.train.components import load_all
from bnlab.train.schedules import build_schedule, step_schedule

load_all()

# A test loss that improves twice, then stalls: with patience 3 the 4th epoch without improvement (epoch 6) cuts the lr.
STALLING = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]


def make(options=None, lr=1.0):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    return optimizer, build_schedule("plateau", optimizer, 30, options or {})


def lrs_over(optimizer, schedule, values, metric="val_loss"):
    """The lr each epoch trained with, stepping the schedule after each epoch with that epoch's metric."""
    lrs = []
    for value in values:
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        step_schedule(schedule, {metric: value, "unwatched": 123.0})
    return lrs


def test_plateau_cuts_the_lr_after_patience_plus_one_epochs_without_improvement():
    lrs = lrs_over(*make(), STALLING)
    # epochs 3, 4, 5, 6 do not improve on epoch 2's 0.9; the 4th (> patience 3) cuts the lr by 10 for epoch 7
    assert lrs[:6] == [1.0] * 6 and lrs[6] == pytest.approx(0.1)
    # the count restarts after a cut: four more stalled epochs (7-10) cut again for epoch 11
    assert lrs[7:10] == [pytest.approx(0.1)] * 3 and lrs[10] == pytest.approx(0.01)


def test_plateau_state_survives_a_checkpoint_mid_patience():
    uninterrupted = lrs_over(*make(), STALLING)
    optimizer, schedule = make()
    before = lrs_over(optimizer, schedule, STALLING[:4])  # epoch 2 was the best; epochs 3 and 4 did not improve
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=False)
    optimizer, schedule = make()
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    assert before + lrs_over(optimizer, schedule, STALLING[4:]) == uninterrupted


def test_plateau_watching_accuracy_waits_for_it_to_stop_rising():
    rising = [50.0, 60.0, 70.0, 75.0, 80.0, 82.0, 83.0, 84.0]
    optimizer, schedule = make({"metric": "val_acc"})
    assert lrs_over(optimizer, schedule, rising, "val_acc") == [1.0] * 8
    assert schedule.state_dict()["metric"] == "val_acc"


def test_report_000s_plateau_on_accuracy_in_min_mode_cuts_every_fourth_epoch():
    # the notebook passed rising accuracy to a mode="min" scheduler: epoch 1 sets the "best", 2-5 are all "worse"
    rising = [50.0 + epoch for epoch in range(15)]
    optimizer, schedule = make({"metric": "val_acc", "mode": "min"})
    lrs = lrs_over(optimizer, schedule, rising, "val_acc")
    assert lrs == pytest.approx([1.0] * 5 + [0.1] * 4 + [0.01] * 4 + [0.001] * 2)


def test_plateau_gamma_and_patience_are_options():
    optimizer, schedule = make({"gamma": 0.5, "patience": 1})
    lrs = lrs_over(optimizer, schedule, [1.0, 1.0, 1.0, 1.0])
    assert lrs == [1.0, 1.0, 1.0, 0.5]  # epochs 2 and 3 do not improve: more than 1, so epoch 4 trains at half


@pytest.mark.parametrize("options, key", [({"metric": "test_acc"}, "metric"), ({"mode": "up"}, "mode")])
def test_plateau_names_a_bad_option(options, key):
    with pytest.raises(ConfigError, match=f"schedule_options.{key}"):
        make(options)


def test_step_schedule_steps_epoch_schedules_without_a_metric():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = build_schedule("step", optimizer, 30, {"step_size": 2})
    lrs = lrs_over(optimizer, schedule, [0.0] * 5)
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])
    assert "plateau" in SCHEDULES.names()
