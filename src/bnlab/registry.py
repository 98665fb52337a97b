"""One registry per kind of named component (models, optimizers, losses, ...).

Components register themselves with a decorator in the file that defines them; the
config schema's enums are filled from these registries (after ``bnlab.train.components.load_all``),
so adding a model is one file plus one import line in ``bnlab.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            return factory

        return add

    def __getitem__(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def source_file(self, name: str) -> str:
        """The file that defines ``name``: its content decides when runs using it are stale."""
        import inspect

        return inspect.getfile(self[name])


MODELS = Registry("model")
OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("schedule")
LOSSES = Registry("loss")
AUGMENTATIONS = Registry("augmentation")
