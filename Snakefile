# bnlab: download -> prepare -> train -> analyse -> figures/tables -> report.
# Rules live in workflow/rules/ by stage; all logic lives in the bnlab package they call.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        TARGETS,
    default_target: True
