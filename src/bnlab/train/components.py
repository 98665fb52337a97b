"""Every module that registers a named component (models, optimizers, schedules, losses, augmentations).

The registries live at the bottom of the package (bnlab.registry); this function sits in the training layer,
the highest layer that defines components, so importing them never makes a lower layer reach up.
"""


def load_all() -> None:
    """Import every module that registers components (idempotent)."""
    import bnlab.data.augment  # noqa: F401
    import bnlab.models  # noqa: F401
    import bnlab.train.losses  # noqa: F401
    import bnlab.train.optimizers  # noqa: F401
    import bnlab.train.schedules  # noqa: F401
