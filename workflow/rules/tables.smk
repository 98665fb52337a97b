# Rules of the report stage's tables: one rule per kind of table, results/tables/<name>.md with its .csv
# twin, for the files the manifest (bnlab.report.manifest) lists. `snakemake --report` shows those marked
# with report(). Each rule's code hash covers exactly what its `bnlab report` verb can run.


rule table_datasets:
    input:
        [data_file(d) for d in MANIFEST["datasets"]],
    output:
        table=report("results/tables/datasets.md", caption=f"../../report/captions/datasets.rst", category="Data"),
        data="results/tables/datasets.csv",
    log:
        "logs/report/table_datasets.log",
    benchmark:
        "benchmarks/report/table_datasets.tsv"
    conda:
        ENV
    params:
        data=[f"{d}={data_file(d)}" for d in MANIFEST["datasets"]],
        augmentations=json.dumps(MANIFEST["augmentations"]),
        code=provenance.code_hash("report datasets"),
    shell:
        "bnlab report datasets --data {params.data} --augmentations {params.augmentations:q}"
        " --out {output.table} > {log} 2>&1"


rule table_models:
    input:
        [data_file(d) for d in MANIFEST["datasets"]],
    output:
        table=report("results/tables/models.md", caption=f"../../report/captions/models.rst", category="Models"),
        data="results/tables/models.csv",
    log:
        "logs/report/table_models.log",
    benchmark:
        "benchmarks/report/table_models.tsv"
    conda:
        ENV
    params:
        data=[f"{d}={data_file(d)}" for d in MANIFEST["datasets"]],
        models=json.dumps(MANIFEST["trained_models"]),
        code=provenance.code_hash("report models", TRAINED_MODEL_NAMES),
    shell:
        "bnlab report models --data {params.data} --models {params.models:q} --out {output.table} > {log} 2>&1"


rule table_runs:
    input:
        lambda wc: run_files("run.json", wc.experiment) + run_files("metrics.csv", wc.experiment),
    output:
        table=report(
            "results/tables/runs_{experiment}.md",
            caption=f"../../report/captions/runs.rst",
            category="Training",
            subcategory="{experiment}",
        ),
        data="results/tables/runs_{experiment}.csv",
    log:
        "logs/report/table_runs_{experiment}.log",
    benchmark:
        "benchmarks/report/table_runs_{experiment}.tsv"
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    conda:
        ENV
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=provenance.code_hash("report runs"),
    shell:
        "bnlab report runs --runs {params.runs:q} --out {output.table} > {log} 2>&1"


rule table_comparison:
    input:
        "results/tables/runs_{experiment}.csv",
    output:
        table=report(
            "results/tables/compare_{experiment}_{axis}.md",
            caption=f"../../report/captions/comparison.rst",
            category="Comparisons",
            subcategory="{experiment}",
        ),
        data="results/tables/compare_{experiment}_{axis}.csv",
    log:
        "logs/report/table_compare_{experiment}_{axis}.log",
    benchmark:
        "benchmarks/report/table_compare_{experiment}_{axis}.tsv"
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
        axis="|".join(report_manifest.COMPARED_AXES),
    conda:
        ENV
    params:
        code=provenance.code_hash("report compare"),
    shell:
        "bnlab report compare --runs-table {input} --axis {wildcards.axis} --out {output.table} > {log} 2>&1"


rule table_per_class:
    input:
        runs=lambda wc: [f for name in ("run.json", "metrics.csv", "model.pt") for f in run_files(name, wc.experiment)],
        data=lambda wc: EXPERIMENT_DATA[wc.experiment],
    output:
        table=report(
            "results/tables/per_class_{experiment}.md",
            caption=f"../../report/captions/per_class.rst",
            category="Training",
            subcategory="{experiment}",
        ),
        data="results/tables/per_class_{experiment}.csv",
        confusion="results/tables/confusion_{experiment}.csv",
    log:
        "logs/report/table_per_class_{experiment}.log",
    benchmark:
        "benchmarks/report/table_per_class_{experiment}.tsv"
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=1,
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=lambda wc: provenance.code_hash("report per-class", EXPERIMENT_MODELS[wc.experiment]),
    shell:
        "bnlab report per-class --runs {params.runs:q} --data {input.data} --threads {threads}"
        " --out {output.table} --confusion {output.confusion} > {log} 2>&1"


rule table_bn_summary:
    input:
        "results/analysis/bn_summary.csv",
    output:
        table=report(
            "results/tables/bn_summary.md", caption=f"../../report/captions/bn_summary.rst", category="BatchNorm"
        ),
        data="results/tables/bn_summary.csv",
    log:
        "logs/report/table_bn_summary.log",
    benchmark:
        "benchmarks/report/table_bn_summary.tsv"
    conda:
        ENV
    params:
        code=provenance.code_hash("report bn-summary"),
    shell:
        "bnlab report bn-summary --summary {input} --out {output.table} > {log} 2>&1"


rule table_claims:
    input:
        claims="report/claims.yaml",
        models="results/tables/models.csv",
        runs=expand("results/tables/runs_{experiment}.csv", experiment=EXPERIMENTS),
        per_class=expand("results/tables/per_class_{experiment}.csv", experiment=EXPERIMENTS),
        bn_summary=[BN_SUMMARY] if BN_SUMMARY else [],
    output:
        table=report("results/tables/claims.md", caption=f"../../report/captions/claims.rst", category="Claims"),
        data="results/tables/claims.csv",
    log:
        "logs/report/table_claims.log",
    benchmark:
        "benchmarks/report/table_claims.tsv"
    conda:
        ENV
    params:
        budget=config["budget"],
        runs=[f"{e}=results/tables/runs_{e}.csv" for e in EXPERIMENTS],
        per_class=[f"{e}=results/tables/per_class_{e}.csv" for e in EXPERIMENTS],
        bn_summary=f"--bn-summary {BN_SUMMARY}" if BN_SUMMARY else "",
        code=provenance.code_hash("report claims"),
    shell:
        "bnlab report claims --claims {input.claims} --budget {params.budget} --models {input.models}"
        " --runs-table {params.runs:q} --per-class {params.per_class:q} {params.bn_summary}"
        " --out {output.table} > {log} 2>&1"


rule table_claim_sources:
    input:
        "report/claims.yaml",
    output:
        table=report(
            "results/tables/claim_sources.md", caption=f"../../report/captions/claim_sources.rst", category="Claims"
        ),
        data="results/tables/claim_sources.csv",
    log:
        "logs/report/table_claim_sources.log",
    benchmark:
        "benchmarks/report/table_claim_sources.tsv"
    conda:
        ENV
    params:
        code=provenance.code_hash("report claim-sources"),
    shell:
        "bnlab report claim-sources --claims {input} --out {output.table} > {log} 2>&1"


rule table_environment:
    input:
        run_files("run.json"),
    output:
        table=report(
            "results/tables/environment.md", caption=f"../../report/captions/environment.rst", category="Environment"
        ),
        data="results/tables/environment.csv",
    log:
        "logs/report/table_environment.log",
    benchmark:
        "benchmarks/report/table_environment.tsv"
    conda:
        ENV
    params:
        runs=[d for e in EXPERIMENTS for d in EXPERIMENT_RUN_DIRS[e]],
        code=provenance.code_hash("report environment"),
    shell:
        "bnlab report environment --runs {params.runs:q} --out {output.table} > {log} 2>&1"
