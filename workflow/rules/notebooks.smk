# The exploration notebook, executed by papermill once per experiment into results/notebooks/<experiment>.ipynb.
# Its code hash covers the verb and the bnlab modules the notebook's cells import.


rule notebook:
    input:
        notebook="workflow/notebooks/explore.ipynb",
        runs=lambda wc: [f for name in ("run.json", "metrics.csv", "steps.csv") for f in run_files(name, wc.experiment)],
    output:
        "results/notebooks/{experiment}.ipynb",
    log:
        "logs/report/notebook_{experiment}.log",
    benchmark:
        "benchmarks/report/notebook_{experiment}.tsv"
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    conda:
        ENV
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=provenance.code_hash("report notebook"),
    shell:
        "bnlab report notebook --notebook {input.notebook} --experiment {wildcards.experiment}"
        " --runs {params.runs:q} --out {output} > {log} 2>&1"
