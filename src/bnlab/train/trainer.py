"""One training run: spec in, metrics.csv / steps.csv / probes.csv / model.pt / run.json out.

The whole prepared dataset lives on the device and is augmented there in batches. A checkpoint
holding every RNG stream (and the loss's and schedule's state) is written atomically after each epoch,
so a killed job resumes where it stopped and, on the CPU, ends with the same numbers as an uninterrupted run.

Each epoch is evaluated on the validation split (when the dataset has one) and the test split. The
validation split alone drives plateau schedules and picks the best epoch; the test split is only reported.
Every step also records the norm of the output layer's weight gradient (what shows a stalled training,
report 004's double softmax).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from bnlab.data import prepare
from bnlab.data.augment import build_augmentation, build_mixing
from bnlab.data.loader import DeviceDataset
from bnlab.device import device_name, pick_device, training_autocast
from bnlab.io import atomic_path, write_csv, write_text
from bnlab.models import build_model, count_parameters
from bnlab.models.common import output_weight
from bnlab.train import run_folder
from bnlab.train.evaluate import evaluate
from bnlab.train.line_search import probe
from bnlab.train.losses import build_loss, mixed_loss
from bnlab.train.optimizers import build_optimizer
from bnlab.train.schedules import build_schedule, step_schedule

METRIC_COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "seconds",
    "images_per_s",
    "status",
]
# Wall-clock columns: the only ones that differ between two runs of the same spec.
TIMING_COLUMNS = ["seconds", "images_per_s"]
STEP_COLUMNS = ["step", "epoch", "lr", "loss", "output_grad_norm"]


class Run:
    """The state of one run; everything in it goes into the checkpoint."""

    def __init__(self, spec: dict, data: dict, device: torch.device, code_version: str):
        self.spec, self.device, self.code_version = spec, device, code_version
        torch.manual_seed(spec["seed"])
        memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        mean, std = prepare.normalisation(spec, data)
        self.train_set = DeviceDataset(data["x_train"], data["y_train"], device, mean, std, memory_format)
        self.test_set = DeviceDataset(data["x_test"], data["y_test"], device, mean, std, memory_format)
        self.val_set = (
            DeviceDataset(data["x_val"], data["y_val"], device, mean, std, memory_format) if "x_val" in data else None
        )
        channels, size, _ = self.train_set.shape
        self.num_classes = len(data["classes"])
        self.model = build_model(
            spec["model"], num_classes=self.num_classes, in_channels=channels, image_size=size, width=spec["width"]
        ).to(device, memory_format=memory_format)
        self.optimizer = build_optimizer(
            spec["optimizer"], self.model.parameters(), spec["lr"], spec.get("optimizer_options", {})
        )
        self.schedule = build_schedule(
            spec["schedule"], self.optimizer, spec["epochs"], spec.get("schedule_options", {})
        )
        self.loss_fn = build_loss(spec["loss"], spec.get("loss_options", {})).to(device)
        self.loss_fn.attach(self.model)
        self.augment = build_augmentation(spec["augmentation"])
        self.mix = build_mixing(spec["augmentation"])  # CutMix, which also mixes the labels, or None
        self.generator = torch.Generator(device=device).manual_seed(spec["seed"])
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []
        self.step_losses: list[dict] = []
        self.probes: list[dict] = []
        self.snapshots: dict[int, dict] = {}
        self.status = "ok"
        self.diverged_step: int | None = None
        if 0 in spec.get("snapshot_epochs", []):
            self.snapshot()

    def snapshot(self) -> None:
        self.snapshots[self.epoch] = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    # -- checkpoint -------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "spec": self.spec,
            "code_version": self.code_version,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "loss": self.loss_fn.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "history": self.history,
            "step_losses": self.step_losses,
            "probes": self.probes,
            "snapshots": self.snapshots,
            "status": self.status,
            "diverged_step": self.diverged_step,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.loss_fn.load_state_dict(state["loss"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for key in ("epoch", "history", "step_losses", "probes", "snapshots", "status", "diverged_step"):
            setattr(self, key, state[key])

    # -- one epoch --------------------------------------------------------------------------
    def train_epoch(self) -> dict:
        spec, model = self.spec, self.model
        model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        probe_every = spec.get("probe_every", 0)
        first_step = len(self.step_losses)
        losses, grad_norms, correct, seen = [], [], [], 0
        start = time.perf_counter()
        for i, (x, y) in enumerate(
            self.train_set.batches(spec["batch_size"], augment=self.augment, generator=self.generator, shuffle=True)
        ):
            step = first_step + i
            if probe_every and step % probe_every == 0:
                sizes = [m * lr for m in spec["probe_step_sizes"]]
                self.probes += [
                    {"step": step, "epoch": self.epoch + 1, "lr": lr, **r}
                    for r in probe(model, self.loss_fn, x, y, sizes)
                ]
            if self.mix is not None:
                x, y_a, y_b, lam = self.mix(x, y, self.generator)
            with training_autocast(self.device):
                logits = model(x)
                if self.mix is None:
                    loss = self.loss_fn(logits.float(), y)
                else:
                    loss = mixed_loss(self.loss_fn, logits.float(), y_a, y_b, lam)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norms.append(output_weight(model).grad.detach().norm())
            self.optimizer.step()
            self.loss_fn.after_step()
            losses.append(loss.detach())
            predicted = logits.argmax(1)
            if self.mix is None:
                correct.append((predicted == y).sum())
            else:  # credit each image by the share of it that carries each label
                correct.append((lam * (predicted == y_a) + (1 - lam) * (predicted == y_b)).sum())
            seen += len(y)
            # The previous step's loss is checked while this step's work is queued, so the device never
            # waits on the host; a non-finite loss ends the run at the step that produced it.
            if len(losses) > 1 and not torch.isfinite(losses[-2]):
                self.diverge(first_step + i - 1)
                del losses[-1], grad_norms[-1], correct[-1]
                seen -= len(y)
                break
        if losses and self.status == "ok" and not torch.isfinite(losses[-1]):
            self.diverge(first_step + len(losses) - 1)
        losses = torch.stack(losses).float().cpu()  # one device sync per epoch, not per step
        grad_norms = torch.stack(grad_norms).float().cpu()
        train_seconds = time.perf_counter() - start
        self.step_losses += [
            {"step": first_step + i, "epoch": self.epoch + 1, "lr": lr, "loss": v, "output_grad_norm": g}
            for i, (v, g) in enumerate(zip(losses.tolist(), grad_norms.tolist()))
        ]
        val = evaluate(model, self.val_set, self.loss_fn, self.num_classes) if self.val_set else None
        test = evaluate(model, self.test_set, self.loss_fn, self.num_classes)
        self.epoch += 1
        row = {
            "epoch": self.epoch,
            "lr": lr,
            "train_loss": losses.mean().item(),
            "train_acc": 100.0 * torch.stack(correct).sum().item() / seen,
            "val_loss": val.loss if val else float("nan"),
            "val_acc": val.accuracy if val else float("nan"),
            "test_loss": test.loss,
            "test_acc": test.accuracy,
            "seconds": time.perf_counter() - start,
            "images_per_s": seen / train_seconds,
            "status": self.status,
        }
        step_schedule(self.schedule, row)
        return row

    def diverge(self, step: int) -> None:
        self.status, self.diverged_step = "diverged", step


def train(spec: dict, data_path: Path, out_dir: Path, code_version: str, log: Callable[[str], None] = print) -> dict:
    """Train (or resume) the run ``spec`` with the code ``code_version`` and write its results into ``out_dir``.

    A checkpoint resumes only the same spec trained by the same code: any other is discarded, and the
    log says why. It is loaded to the CPU first (RNG states must stay CPU tensors), then moved.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / run_folder.CHECKPOINT
    device = pick_device()
    run = Run(spec, prepare.load(Path(data_path)), device, code_version)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if state["spec"] != spec:
            log(f"{checkpoint} belongs to another spec; starting afresh")
        elif state.get("code_version") != code_version:
            log(
                f"{checkpoint} was written by code {state.get('code_version')}, this is {code_version}; starting afresh"
            )
        else:
            run.load_state(state)
            log(f"resuming {spec['run']} after epoch {run.epoch}")
    log(
        f"{spec['experiment']}/{spec['run']}: {spec['model']} ({count_parameters(run.model):,} parameters) "
        f"on {device_name(device)}, {len(run.train_set):,} train / {len(run.test_set):,} test images"
    )
    while run.epoch < spec["epochs"] and run.status == "ok":
        row = run.train_epoch()
        run.history.append(row)
        if run.epoch in spec.get("snapshot_epochs", []):
            run.snapshot()
        with atomic_path(checkpoint) as tmp:
            torch.save(run.state(), tmp)
        write_csv(pd.DataFrame(run.history, columns=METRIC_COLUMNS), out_dir / run_folder.METRICS)
        log(
            f"epoch {row['epoch']:>3}/{spec['epochs']}  lr {row['lr']:.3g}  "
            f"train loss {row['train_loss']:.4f} acc {row['train_acc']:5.1f}%  "
            f"test loss {row['test_loss']:.4f} acc {row['test_acc']:5.1f}%  "
            f"{row['seconds']:.1f}s  {row['images_per_s']:,.0f} img/s"
            + (f"  DIVERGED at step {run.diverged_step}" if run.status == "diverged" else "")
        )
    return finish(run, out_dir, checkpoint)


def finish(run: Run, out_dir: Path, checkpoint: Path) -> dict:
    history = pd.DataFrame(run.history, columns=METRIC_COLUMNS)
    write_csv(history, out_dir / run_folder.METRICS)
    write_csv(pd.DataFrame(run.step_losses, columns=STEP_COLUMNS), out_dir / run_folder.STEPS)
    write_csv(
        pd.DataFrame(
            run.probes,
            columns=["step", "epoch", "lr", "step_size", "loss", "loss_at_w", "grad_norm", "grad_diff", "beta"],
        ),
        out_dir / run_folder.PROBES,
    )
    with atomic_path(out_dir / run_folder.MODEL) as tmp:
        torch.save(
            {
                "spec": run.spec,
                "state_dict": run.model.state_dict(),
                "loss": run.loss_fn.state_dict(),
                "snapshots": run.snapshots,
            },
            tmp,
        )
    # The best epoch is chosen on the validation split, never on test; without one, it is the last epoch.
    validated = history["val_acc"].notna().any()
    best = history.loc[history["val_acc"].idxmax()] if validated else history.iloc[-1]
    summary = {
        **{
            k: run.spec[k]
            for k in (
                "experiment",
                "run",
                "dataset",
                "model",
                "optimizer",
                "lr",
                "schedule",
                "augmentation",
                "loss",
                "width",
                "epochs",
                "batch_size",
                "seed",
            )
        },
        "parameters": count_parameters(run.model),
        "status": run.status,
        "diverged_step": run.diverged_step,
        "epochs_run": run.epoch,
        "final_train_acc": history["train_acc"].iloc[-1],
        "final_test_acc": history["test_acc"].iloc[-1],
        "best_epoch": int(best["epoch"]),
        "best_epoch_chosen_on": "validation" if validated else "last epoch",
        "best_val_acc": best["val_acc"],
        "test_acc_at_best_epoch": best["test_acc"],
        # The highest test accuracy of any epoch: chosen on the test set, so it is shown only beside a source
        # that chose its epoch that way.
        "best_test_acc": history["test_acc"].max(),
        "train_seconds": history["seconds"].sum(),
        "device": device_name(run.device),
        "torch": torch.__version__,
        "code_version": run.code_version,
    }
    write_text(out_dir / run_folder.SUMMARY, json.dumps(summary, indent=2, default=float) + "\n")
    checkpoint.unlink(missing_ok=True)
    return summary
