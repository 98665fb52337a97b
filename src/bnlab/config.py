"""The study config: its checks, and its expansion into one spec per training run.

A config is checked twice before any job runs, and both checks raise ConfigError with one line,
``invalid config at <key.path>: <fault>``:

- ``validate``: against workflow/schemas/config.schema.yaml, whose enums of models, optimizers, schedules,
  losses, augmentations and datasets are filled in here; it also fills in defaults.
- ``check``: what a job would otherwise trip over later and the schema cannot see: experiment and dataset
  names that cannot be file names and wildcards; lr milestones, lr steps and snapshots outside a run's epochs;
  options the optimizer, schedule or loss rejects; datasets that cannot be obtained; models that cannot take
  their dataset's images (each is built on torch's meta device and given one meta batch: shapes only, no
  memory, no arithmetic); and BatchNorm analyses that name runs not producing what they read.

A dataset's images are ``image_size`` pixels square with ``channels`` channels, in ``classes`` (or ``num_classes``)
classes; where the config leaves these unset they are its torchvision dataset's own (TORCHVISION_DATASETS), so only
a dataset whose torchvision download has no single image size (Imagenette) must give its image_size.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import torch
import yaml
from torch import nn

from bnlab import registry
from bnlab.data.augment import build_mixing
from bnlab.data.sources import DATA_ROOT_ENV
from bnlab.errors import ConfigError
from bnlab.models import build_model
from bnlab.train.components import load_all
from bnlab.train.losses import build_loss
from bnlab.train.optimizers import build_optimizer
from bnlab.train.schedules import build_schedule

# Order of the axes in a run id; every axis is part of it, so ids are unique within an experiment.
AXES = ("model", "optimizer", "lr", "schedule", "augmentation", "loss", "width", "epochs", "batch_size", "seed")
# Experiment keys that are not grid axes but still shape every run of the experiment.
RUN_SETTINGS = (
    "optimizer_options",
    "schedule_options",
    "loss_options",
    "snapshot_epochs",
    "probe_every",
    "probe_step_sizes",
)
# Experiment and dataset names become file names and Snakemake wildcards (workflow/rules/common.smk).
NAME_PATTERN = "[A-Za-z0-9_]+"
# What bnlab.data.sources.download fetches, with its images' side, channels and classes. Imagenette comes
# with the short side at 160 px and the long side free, so a config must give its image_size.
TORCHVISION_DATASETS = {
    "CIFAR10": {"image_size": 32, "channels": 3, "classes": 10},
    "FashionMNIST": {"image_size": 28, "channels": 1, "classes": 10},
    "MNIST": {"image_size": 28, "channels": 1, "classes": 10},
    "Imagenette": {"image_size": None, "channels": 3, "classes": 10},
}
# Images in the meta batch a model is checked with: BatchNorm cannot train on one.
CHECK_BATCH = 2


def invalid(path: str, fault: str) -> ConfigError:
    """The one-line error for the config key at ``path`` (dots between keys, [i] for list items)."""
    return ConfigError(" ".join(f"invalid config at {path}: {fault}".split("\n")))


def _with_defaults(validator_class):
    """A validator that also fills in schema defaults (the jsonschema FAQ recipe, as Snakemake's own)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def key_path(error: jsonschema.ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            return f"{path}.{extra[0]}" if path else extra[0]
    return path or "<top level>"


def _explain(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return "unknown key"
    return error.message


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # For "one value or a list of values" the useful error is the one inside the branch
    # whose type matches the value (the list branch for a list), not "is not valid under any".
    while error.context:
        matching = [e for e in error.context if e.validator != "type"]
        error = jsonschema.exceptions.best_match(matching or error.context)
    return error


def schema_with_registries(schema: dict, dataset_names: Iterable[str]) -> dict:
    load_all()
    schema = copy.deepcopy(schema)
    defs = schema["$defs"]
    for kind, reg in (
        ("model", registry.MODELS),
        ("optimizer", registry.OPTIMIZERS),
        ("schedule", registry.SCHEDULES),
        ("loss", registry.LOSSES),
    ):
        defs[kind]["enum"] = reg.names()
    augment = "|".join(re.escape(n) for n in registry.AUGMENTATIONS.names() if n != "none")
    defs["augmentation"]["pattern"] = rf"^(none|({augment})(\+({augment}))*)$"
    defs["dataset_name"]["enum"] = sorted(dataset_names)
    return schema


def validate(config: dict, schema_file: str | Path) -> dict:
    """Validate ``config`` in place (filling defaults); raise ConfigError naming the offending key path."""
    schema = yaml.safe_load(Path(schema_file).read_text())
    datasets = config.get("datasets") if isinstance(config.get("datasets"), dict) else {}
    schema = schema_with_registries(schema, datasets)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        error = _deepest(error)
        raise invalid(key_path(error), _explain(error))
    return config


class Geometry(NamedTuple):
    """What a model is built for: square images of ``image_size`` pixels with ``channels`` channels, ``classes``."""

    image_size: int
    channels: int
    classes: int


def dataset_geometry(name: str, dataset: dict) -> Geometry:
    """The geometry of dataset ``name``: its image_size, channels and classes, else its torchvision dataset's own."""
    native = TORCHVISION_DATASETS[dataset["torchvision"]]
    size = dataset.get("image_size") or native["image_size"]
    if size is None:
        raise invalid(
            f"datasets.{name}.image_size",
            f"unset, and torchvision's {dataset['torchvision']} images have no single size; set the side they are "
            "cropped and resized to",
        )
    classes = len(dataset["classes"]) if dataset.get("classes") else dataset.get("num_classes")
    return Geometry(size, dataset.get("channels") or native["channels"], classes or native["classes"])


def train_images(dataset: dict, geometry: Geometry) -> int | None:
    """Training images after preparation, where the config fixes them (train_per_class); None where it does not."""
    return dataset["train_per_class"] * geometry.classes if dataset.get("train_per_class") else None


class MetaForward(NamedTuple):
    """A model's forward pass on a meta batch: why it failed (None: it did not), and its nn.ReLU modules."""

    fault: str | None
    relus: int  # nn.ReLU modules, what the activations analysis observes
    relu_feature_maps: int  # their outputs that are feature maps (N, C, H, W), what the feature-map analysis shows


def meta_forward(model: str, width: float, geometry: Geometry, batch: int = CHECK_BATCH) -> MetaForward:
    """Build ``model`` on the meta device and run it on a meta batch shaped like ``geometry``'s images."""
    shape = (batch, geometry.channels, geometry.image_size, geometry.image_size)
    outputs: list[torch.Tensor] = []
    # A layer of size zero warns when initialised, before the forward pass fails on it.
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            net = build_model(
                model,
                num_classes=geometry.classes,
                in_channels=geometry.channels,
                image_size=geometry.image_size,
                width=width,
            )
            relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
            for relu in relus:
                relu.register_forward_hook(lambda _module, _inputs, output: outputs.append(output))
            logits = net(torch.empty(shape))
        except (RuntimeError, ValueError, TypeError) as e:
            return MetaForward(str(e).strip().split("\n")[0], 0, 0)
    if tuple(logits.shape) != (batch, geometry.classes):
        return MetaForward(f"its logits have shape {tuple(logits.shape)}, not {(batch, geometry.classes)}", 0, 0)
    return MetaForward(None, len(relus), sum(output.dim() == 4 for output in outputs))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_id(spec: dict) -> str:
    """A readable id from the run's axes, e.g. ``vgg_a_bn-sgd-lr0.02-multistep-crop+flip-ce-w1-e30-b128-s0``."""
    prefix = {"lr": "lr", "width": "w", "epochs": "e", "batch_size": "b", "seed": "s"}
    return "-".join(prefix.get(axis, "") + _format(spec[axis]) for axis in AXES)


def experiment_specs(config: dict, name: str) -> list[dict]:
    """One spec per training run of experiment ``name``, enabled or not."""
    experiment = config["experiments"][name]
    dataset = config["datasets"][experiment["dataset"]]
    shared = {k: experiment[k] for k in RUN_SETTINGS if k in experiment}
    specs_by_id = {}
    for i, point in enumerate(experiment.get("grid") or [{}]):
        where = f"experiments.{name}" + (f".grid[{i}]" if "grid" in experiment else "")
        if "model" not in point and "model" not in experiment:
            raise invalid(where, "no model given")
        settings = {**shared, **{k: point[k] for k in RUN_SETTINGS if k in point}}
        axes = {axis: _as_list(point.get(axis, experiment.get(axis))) for axis in AXES}
        for values in itertools.product(*axes.values()):
            spec = dict(zip(AXES, values, strict=True))
            spec["lr"] = float(spec["lr"])
            spec["width"] = float(spec["width"])
            rid = run_id(spec)
            full = {
                "experiment": name,
                "run": rid,
                "dataset": experiment["dataset"],
                "mean": experiment.get("mean", dataset["mean"]),
                "std": experiment.get("std", dataset["std"]),
                **spec,
                **copy.deepcopy(settings),
            }
            if rid in specs_by_id:
                if specs_by_id[rid] != full:  # the same run id would name two different runs
                    raise invalid(where, f"run {rid} appears twice with different settings")
                continue
            specs_by_id[rid] = full
    return list(specs_by_id.values())


def expand(config: dict) -> list[dict]:
    """One spec per training run of every enabled experiment, in config order."""
    return [
        spec
        for name, experiment in config["experiments"].items()
        if experiment.get("enabled", True)
        for spec in experiment_specs(config, name)
    ]


def spec_json(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True)


def select(specs: list[dict], experiment: str, models: list[str], where: str) -> list[dict]:
    """The specs of ``experiment`` whose model is one of ``models``; ConfigError at ``where`` if any is missing."""
    if not any(s["experiment"] == experiment for s in specs):
        raise invalid(where, f"no enabled experiment {experiment!r}")
    runs = [s for s in specs if s["experiment"] == experiment and s["model"] in models]
    missing = sorted(set(models) - {s["model"] for s in runs})
    if missing:
        raise invalid(where, f"experiment {experiment!r} has no run of {', '.join(missing)}")
    return runs


def check(config: dict, data_root: Path | None) -> None:
    """Raise ConfigError naming the key path of the first fault a job would meet later; ``config`` has passed
    ``validate``, and ``data_root`` holds the local copies of the datasets (None: torchvision downloads them)."""
    for kind in ("datasets", "experiments"):
        for name in config[kind]:
            if not re.fullmatch(NAME_PATTERN, name):
                raise invalid(f"{kind}.{name}", f"the name must match {NAME_PATTERN}: it names files and wildcards")
    geometries = {name: dataset_geometry(name, dataset) for name, dataset in config["datasets"].items()}
    for name, dataset in config["datasets"].items():
        _check_dataset(name, dataset, geometries[name])
    forward = functools.cache(meta_forward)
    enabled = []
    for name, experiment in config["experiments"].items():
        specs = experiment_specs(config, name)
        _check_epochs(name, experiment, specs)
        _check_runs(config, name, specs, geometries, forward)
        if experiment.get("enabled", True):
            enabled += specs
    for name in dict.fromkeys(spec["dataset"] for spec in enabled):
        _check_source(name, config["datasets"][name], data_root)
    if config.get("bn_analysis"):
        _check_bn_analysis(config, enabled, geometries, forward)


def _check_dataset(name: str, dataset: dict, geometry: Geometry) -> None:
    """Normalisation constants fit the channels, and a split of a pooled source leaves train and test images."""
    for key in ("mean", "std"):
        if dataset[key] is not None and len(dataset[key]) not in (1, geometry.channels):
            raise invalid(
                f"datasets.{name}.{key}",
                f"{len(dataset[key])} values for images of {geometry.channels} channel(s); "
                "give one per channel, or one for all",
            )
    train, _, test = dataset["split"]
    if not (train > 0 and test > 0):
        raise invalid(f"datasets.{name}.split", f"{dataset['split']} leaves no train or no test images")


def has_validation(dataset: dict) -> bool:
    """Whether prepare makes a validation split: one held out per class, or the 3:1:1 split of a pooled source."""
    return bool(dataset.get("validation_per_class")) or (
        dataset["torchvision"] == "Imagenette" and dataset["split"][1] > 0
    )


def _check_source(name: str, dataset: dict, data_root: Path | None) -> None:
    """The dataset can be obtained: a local copy under the data root, else (as the schema ensures) a download."""
    if data_root is not None:
        path = data_root / dataset["local"]
        if not path.exists():
            raise invalid(
                f"datasets.{name}.local",
                f"{path} does not exist (the data root comes from ${DATA_ROOT_ENV}, else the config's data_root)",
            )


def _reads(schedule: str, option: str) -> bool:
    """Whether the schedule takes ``option`` (the others ignore it)."""
    return option in inspect.signature(registry.SCHEDULES[schedule]).parameters


def _model_path(name: str, experiment: dict, model: str) -> str:
    """Where the config names ``model`` for experiment ``name``: a grid point's model, else the experiment's."""
    for i, point in enumerate(experiment.get("grid") or []):
        if "model" in point and model in _as_list(point["model"]):
            return f"experiments.{name}.grid[{i}].model"
    return f"experiments.{name}.model"


def _check_runs(config: dict, name: str, specs: list[dict], geometries: dict[str, Geometry], forward) -> None:
    """Every run's model takes its dataset's images, and its optimizer, schedule and loss take their options."""
    experiment = config["experiments"][name]
    where = f"experiments.{name}"
    geometry = geometries[experiment["dataset"]]
    train = train_images(config["datasets"][experiment["dataset"]], geometry)
    for spec in specs:
        fault = forward(spec["model"], spec["width"], geometry).fault
        if fault:
            raise invalid(
                _model_path(name, experiment, spec["model"]),
                f"{spec['model']} at width {spec['width']:g} cannot take {geometry.image_size}x"
                f"{geometry.image_size} images of {geometry.channels} channel(s): {fault}",
            )
        if train is not None and train % spec["batch_size"] == 1:
            fault = forward(spec["model"], spec["width"], geometry, 1).fault
            if fault:
                raise invalid(
                    f"{where}.batch_size",
                    f"{train} training images in batches of {spec['batch_size']} leave a last batch of one, "
                    f"which {spec['model']} cannot train on: {fault}",
                )
        # The trainer's own builders, on one stand-in parameter: they reject what the run would.
        try:
            optimizer = build_optimizer(
                spec["optimizer"], [nn.Parameter(torch.zeros(1))], spec["lr"], spec.get("optimizer_options", {})
            )
        except (ValueError, TypeError) as e:
            raise invalid(f"{where}.optimizer_options", f"{spec['optimizer']} rejects them: {e}") from None
        try:
            schedule = build_schedule(spec["schedule"], optimizer, spec["epochs"], spec.get("schedule_options", {}))
        except (ValueError, TypeError) as e:
            raise invalid(f"{where}.schedule_options", f"{spec['schedule']} rejects them: {e}") from None
        watched = getattr(schedule, "metric", "")
        if watched.startswith("val_") and not has_validation(config["datasets"][experiment["dataset"]]):
            raise invalid(
                f"{where}.schedule",
                f"{spec['schedule']} watches {watched}, but dataset {experiment['dataset']} has no validation "
                f"split: set datasets.{experiment['dataset']}.validation_per_class",
            )
        try:
            build_mixing(spec["augmentation"])
        except ConfigError as e:
            raise invalid(f"{where}.augmentation", str(e)) from None
        try:
            build_loss(spec["loss"], spec.get("loss_options", {}))
        except (ValueError, TypeError) as e:
            raise invalid(f"{where}.loss_options", f"{spec['loss']} rejects them: {e}") from None


def _check_epochs(name: str, experiment: dict, specs: list[dict]) -> None:
    """Schedule steps and snapshots fall within the shortest run that uses them."""
    where = f"experiments.{name}"
    options = experiment.get("schedule_options", {})
    milestones = options.get("milestones") or []
    scheduled = [s["epochs"] for s in specs if _reads(s["schedule"], "milestones")]
    for i, milestone in enumerate(milestones if scheduled else []):
        if milestone > min(scheduled):
            raise invalid(
                f"{where}.schedule_options.milestones[{i}]",
                f"{milestone} is past the last epoch of a {min(scheduled)}-epoch run",
            )
        if i and milestone <= milestones[i - 1]:
            raise invalid(
                f"{where}.schedule_options.milestones[{i}]",
                f"{milestone} does not follow {milestones[i - 1]}: milestones must increase",
            )
    stepped = [s["epochs"] for s in specs if _reads(s["schedule"], "step_size")]
    if "step_size" in options and stepped and options["step_size"] > min(stepped):
        raise invalid(
            f"{where}.schedule_options.step_size",
            f"{options['step_size']} epochs is longer than a {min(stepped)}-epoch run",
        )
    for i, epoch in enumerate(experiment.get("snapshot_epochs", [])):
        shortest = min(s["epochs"] for s in specs)
        if epoch > shortest:
            raise invalid(f"{where}.snapshot_epochs[{i}]", f"{epoch} is past the last epoch of a {shortest}-epoch run")


def _check_bn_analysis(config: dict, specs: list[dict], geometries: dict[str, Geometry], forward) -> None:
    """The experiments the BatchNorm analyses name have runs of every compared model producing what they read."""
    bn = config["bn_analysis"]
    where = "bn_analysis.experiments"
    runs = {group: select(specs, name, bn["models"], f"{where}.{group}") for group, name in bn["experiments"].items()}
    for model in bn["models"]:
        if len({s["lr"] for s in runs["landscape"] if s["model"] == model}) < 2:
            raise invalid(
                f"{where}.landscape",
                f"experiment {bn['experiments']['landscape']!r} trains {model} at one learning rate; "
                "the loss landscape is the spread over several",
            )
    if not all(s["probe_every"] for s in runs["line_search"]):
        raise invalid(
            f"{where}.line_search",
            f"experiment {bn['experiments']['line_search']!r} does not probe "
            "(probe_every is 0); the line-search analyses read its probes",
        )
    if not all(s["snapshot_epochs"] for s in runs["trained"]):
        raise invalid(
            f"{where}.trained",
            f"experiment {bn['experiments']['trained']!r} keeps no snapshot_epochs; "
            "the gradient-health analysis reads them",
        )
    dataset_name = config["experiments"][bn["experiments"]["trained"]]["dataset"]
    geometry = geometries[dataset_name]
    layers = bn["feature_maps"]["layers"]
    for spec in runs["trained"]:
        shape = forward(spec["model"], spec["width"], geometry)
        if not shape.relus:
            raise invalid(
                f"bn_analysis.models[{bn['models'].index(spec['model'])}]",
                f"{spec['model']} has no nn.ReLU for the activation analysis to observe",
            )
        if shape.relu_feature_maps < layers:
            raise invalid(
                "bn_analysis.feature_maps.layers",
                f"{layers} asked for, but {spec['model']} has {shape.relu_feature_maps} ReLU feature maps",
            )
    if bn["feature_maps"]["images"] > geometry.classes:
        raise invalid(
            "bn_analysis.feature_maps.images",
            f"{bn['feature_maps']['images']} images, one per class, "
            f"but dataset {dataset_name!r} has {geometry.classes} classes",
        )
    train = train_images(config["datasets"][dataset_name], geometry)
    if train is not None and bn["batches"] * bn["batch_size"] > train:
        raise invalid(
            "bn_analysis.batches",
            f"{bn['batches']} batches of {bn['batch_size']} need "
            f"{bn['batches'] * bn['batch_size']} training images, but dataset "
            f"{dataset_name!r} has {train}",
        )


def load_files(config_files: list[str | Path], schema: str | Path = "workflow/schemas/config.schema.yaml") -> dict:
    """The config of ``config_files`` deep-merged in order, as Snakemake merges several ``configfile`` entries or a
    profile's list (its own ``update_config``), then validated (defaults filled in)."""
    from snakemake.utils import update_config

    merged: dict = {}
    for path in config_files:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            update_config(merged, yaml.safe_load(Path(path).read_text()) or {})
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    return validate(merged, schema)
