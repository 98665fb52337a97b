"""The study config: validation against the schema, and expansion into one spec per training run."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

from bnlab import registry
from bnlab.errors import ConfigError

# Order of the axes in a run id; every axis is part of it, so ids are unique within an experiment.
AXES = ("model", "optimizer", "lr", "schedule", "augmentation", "loss", "width", "epochs", "batch_size", "seed")
# Experiment keys that are not grid axes but still shape every run of the experiment.
RUN_SETTINGS = ("optimizer_options", "schedule_options", "loss_options", "snapshot_epochs",
                "probe_every", "probe_step_sizes")


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
    registry.load_all()
    schema = copy.deepcopy(schema)
    defs = schema["$defs"]
    for kind, reg in (("model", registry.MODELS), ("optimizer", registry.OPTIMIZERS),
                      ("schedule", registry.SCHEDULES), ("loss", registry.LOSSES)):
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
        raise ConfigError(f"invalid config at {key_path(error)}: {_explain(error)}")
    return config


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_id(spec: dict) -> str:
    """A readable id from the run's axes, e.g. ``vgg_a_bn-sgd-lr0.02-multistep-crop+flip-ce-w1-e30-b128-s0``."""
    prefix = {"lr": "lr", "width": "w", "epochs": "e", "batch_size": "b", "seed": "s"}
    return "-".join(prefix.get(axis, "") + _format(spec[axis]) for axis in AXES)


def expand(config: dict) -> list[dict]:
    """One spec per training run of every enabled experiment, in config order."""
    specs = []
    for name, experiment in config["experiments"].items():
        if not experiment.get("enabled", True):
            continue
        dataset = config["datasets"][experiment["dataset"]]
        shared = {k: experiment[k] for k in RUN_SETTINGS if k in experiment}
        seen = set()
        for i, point in enumerate(experiment.get("grid") or [{}]):
            if "model" not in point and "model" not in experiment:
                where = f"experiments.{name}" + (f".grid[{i}]" if "grid" in experiment else "")
                raise ConfigError(f"invalid config at {where}: no model given")
            axes = {axis: _as_list(point.get(axis, experiment.get(axis))) for axis in AXES}
            for values in itertools.product(*axes.values()):
                spec = dict(zip(AXES, values))
                spec["lr"] = float(spec["lr"])
                spec["width"] = float(spec["width"])
                rid = run_id(spec)
                if rid in seen:
                    continue
                seen.add(rid)
                specs.append({"experiment": name, "run": rid, "dataset": experiment["dataset"],
                              "mean": dataset["mean"], "std": dataset["std"], **spec, **copy.deepcopy(shared)})
    return specs


def spec_json(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True)
