"""The two ways the BatchNorm analyses measure a trained model, and what both promise about the model.

``paper``   the definitions of Santurkar et al. (2018): gradients are taken with BatchNorm normalising by the
            batch's own statistics, as during training; a move in weight space goes along -g, the direction a
            gradient step takes, normalised by one l2 norm over all parameters; batches are plain training images.
``course``  report 000's code, as its text gives it, quirks included: ``model.eval()`` (BatchNorm normalises by
            its running statistics), moves along +g with each parameter tensor normalised by its own norm, and
            batches of 128 from the training loader (so augmented as the run was trained).

Dropout is off in both. A quirk is a choice of report 000's code where the paper's differs; a course analysis
also measures itself with one quirk at a time replaced by the paper's choice (a *variant*), so the report can
say by how much each quirk changes a number. Every measurement leaves the model as it found it: weights,
BatchNorm running statistics and the train/eval mode of every module (bnlab.analysis.gradients.measuring).
"""

from __future__ import annotations

PAPER, COURSE = "paper", "course"
PROTOCOLS = (PAPER, COURSE)
# The variant of a course measurement with no quirk replaced.
AS_SPECIFIED = "as specified"
# The variant with BatchNorm normalising by the batch's statistics (training mode, dropout off) instead of its
# running statistics; it changes nothing in a model without BatchNorm.
BATCH_STATISTICS = "batch statistics"


# A setting an analysis measures with -> the name of the variant that gives it the paper's value (see variants).
QUIRKS = {
    "statistics": BATCH_STATISTICS,
    "normalisation": "one global norm",
    "sign": "descent (along -g)",
}


def variants(protocol: str, settings: dict[str, dict]) -> dict[str, dict]:
    """The settings each variant of a measurement uses. ``settings``: protocol -> its settings (keys of QUIRKS).

    The paper protocol measures once, as specified. The course protocol measures as specified, then once per
    quirk (a setting where its value differs from the paper's) with that one setting given the paper's value.
    """
    own = settings[protocol]
    if protocol == PAPER:
        return {AS_SPECIFIED: own}
    paper = settings[PAPER]
    return {AS_SPECIFIED: own} | {QUIRKS[key]: own | {key: paper[key]} for key in own if own[key] != paper[key]}


def run_columns(spec: dict) -> dict:
    """The columns that name a run in every analysis table: model, its base lr, run id and seed."""
    return {"model": spec["model"], "lr": spec["lr"], "run": spec["run"], "seed": spec["seed"]}
