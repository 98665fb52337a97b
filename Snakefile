# bnlab: download -> prepare -> train -> analyse -> figures/tables -> report.
# Rules live in workflow/rules/ by stage; all logic lives in the bnlab package they call.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"


rule all:
    input:
        all_targets(),
    default_target: True
