# Rules of the report stage.
#
# One rule per table (results/tables/<name>.md + its .csv twin), per figure (results/figures/<name>.png
# + .svg) and per experiment notebook (results/notebooks/<experiment>.ipynb), then render_report writes
# results/report/report.md from report/template.md.j2 with copies of every figure and notebook it links,
# so results/report/ is self-contained. `snakemake --report results/report.html` bundles the outputs
# marked with report(). Each rule's code hash covers only the bnlab modules its verb runs.
import glob
import re

from bnlab.registry import MODELS

report: "../../report/workflow.rst"

EXPERIMENTS = list(dict.fromkeys(e for e, _ in RUNS))
DATASETS = list(dict.fromkeys(s["dataset"] for s in RUNS.values()))
# Axes whose variation within an experiment makes it a comparison of its own in the report.
COMPARED_AXES = ("optimizer", "augmentation", "loss")
COMPARISONS = {e: [a for a in COMPARED_AXES if len({s[a] for (x, _), s in RUNS.items() if x == e}) > 1]
               for e in EXPERIMENTS}
BN_SUMMARY = "results/analysis/bn_summary.csv" if config.get("bn_analysis") else None
# figures.smk names the BatchNorm figures (keys of a dict, or paths); none without a bn_analysis section.
BN_FIGURE_FILES = [f if f.endswith(".png") else f"results/figures/{f}.png" for f in globals().get("BN_FIGURES", [])]
CAPTIONS = "../../report/captions"

TABLE_CODE = ("bnlab.io", "bnlab.report.runs", "bnlab.report.tables")
PLOT_CODE = ("bnlab.io", "bnlab.plots.style")
MODEL_FILES = tuple(sorted({MODELS.source_file(s["model"]) for s in RUNS.values()}))
CODE = {
    "table": provenance.code_hash(*TABLE_CODE),
    "models": provenance.code_hash(*TABLE_CODE, "bnlab.models.common", files=MODEL_FILES),
    "per_class": provenance.code_hash(*TABLE_CODE, "bnlab.report.per_class", "bnlab.data.prepare",
                                      "bnlab.data.loader", "bnlab.models.common", "bnlab.train.trainer",
                                      files=MODEL_FILES),
    "claims": provenance.code_hash(*TABLE_CODE, "bnlab.report.claims"),
    "augmentation_grid": provenance.code_hash(*PLOT_CODE, "bnlab.plots.augmentation_grid", "bnlab.data.augment",
                                              "bnlab.data.prepare"),
    "training_curves": provenance.code_hash(*PLOT_CODE, "bnlab.report.runs", "bnlab.plots.training_curves"),
    "per_class_figure": provenance.code_hash(*PLOT_CODE, "bnlab.plots.per_class"),
    "notebook": provenance.code_hash("bnlab.report.runs", "bnlab.plots.style"),
    "render": provenance.code_hash(*TABLE_CODE, "bnlab.report.claims", "bnlab.report.findings",
                                   "bnlab.report.render"),
}


EXPERIMENT_PATTERN = "|".join(map(re.escape, EXPERIMENTS)) or "(?!)"  # keeps other stages' files out of these rules
EXPERIMENT_RUN_DIRS = {e: [run_dir(s) for (x, _), s in RUNS.items() if x == e] for e in EXPERIMENTS}
EXPERIMENT_DATA = {e: f"results/data/{config['experiments'][e]['dataset']}.npz" for e in EXPERIMENTS}
DATA_ARGUMENTS = " ".join(f"{d}=results/data/{d}.npz" for d in DATASETS)
AUGMENTATIONS = {d: list(dict.fromkeys(s["augmentation"] for s in RUNS.values() if s["dataset"] == d)) for d in DATASETS}
# Each model, dataset and width the config trains, once, in config order.
TRAINED_MODELS = [{"model": m, "dataset": d, "width": w}
                  for m, d, w in dict.fromkeys((s["model"], s["dataset"], s["width"]) for s in RUNS.values())]

# What render_report shows, by role (bnlab.report.render reads it); its inputs are exactly these files.
MANIFEST = {
    "budget": config["budget"],
    "config": config,
    "claims": "report/claims.yaml",
    "tables": {t: f"results/tables/{t}.md" for t in ("datasets", "models", "claims", "claim_sources", "environment")},
    "augmentation_figures": {d: f"results/figures/augmentation_{d}.png" for d in DATASETS},
    "experiments": {
        e: {
            "runs": f"results/tables/runs_{e}.md",
            "per_class": f"results/tables/per_class_{e}.md",
            "figure": f"results/figures/training_{e}.png",
            "per_class_figure": f"results/figures/per_class_{e}.png",
            "notebook": f"results/notebooks/{e}.ipynb",
            "comparisons": {a: f"results/tables/compare_{e}_{a}.md" for a in COMPARISONS[e]},
        }
        for e in EXPERIMENTS
    },
    "bn": {"summary": BN_SUMMARY, "table": "results/tables/bn_summary.md", "figures": BN_FIGURE_FILES}
    if BN_SUMMARY else None,
}
REPORT_TABLES = [
    *MANIFEST["tables"].values(),
    *(t for m in MANIFEST["experiments"].values() for t in (m["runs"], m["per_class"], *m["comparisons"].values())),
    *([MANIFEST["bn"]["table"]] if BN_SUMMARY else []),
]
REPORT_FIGURES = [
    *MANIFEST["augmentation_figures"].values(),
    *(f for m in MANIFEST["experiments"].values() for f in (m["figure"], m["per_class_figure"])),
    *BN_FIGURE_FILES,
]
REPORT_NOTEBOOKS = [m["notebook"] for m in MANIFEST["experiments"].values()]


rule table_datasets:
    input:
        expand("results/data/{dataset}.npz", dataset=DATASETS),
    output:
        table=report("results/tables/datasets.md", caption=f"{CAPTIONS}/datasets.rst", category="Data"),
        data="results/tables/datasets.csv",
    params:
        data=DATA_ARGUMENTS,
        augmentations=json.dumps(AUGMENTATIONS),
        code=CODE["table"],
    log:
        "logs/report/table_datasets.log",
    benchmark:
        "benchmarks/report/table_datasets.tsv"
    conda:
        ENV
    shell:
        "bnlab report datasets --data {params.data} --augmentations {params.augmentations:q}"
        " --out {output.table} > {log} 2>&1"


rule table_models:
    input:
        expand("results/data/{dataset}.npz", dataset=DATASETS),
    output:
        table=report("results/tables/models.md", caption=f"{CAPTIONS}/models.rst", category="Models"),
        data="results/tables/models.csv",
    params:
        data=DATA_ARGUMENTS,
        models=json.dumps(TRAINED_MODELS),
        code=CODE["models"],
    log:
        "logs/report/table_models.log",
    benchmark:
        "benchmarks/report/table_models.tsv"
    conda:
        ENV
    shell:
        "bnlab report models --data {params.data} --models {params.models:q} --out {output.table} > {log} 2>&1"


rule table_runs:
    input:
        lambda wc: run_files("run.json", wc.experiment) + run_files("metrics.csv", wc.experiment),
    output:
        table=report("results/tables/runs_{experiment}.md", caption=f"{CAPTIONS}/runs.rst", category="Training",
                     subcategory="{experiment}"),
        data="results/tables/runs_{experiment}.csv",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=CODE["table"],
    log:
        "logs/report/table_runs_{experiment}.log",
    benchmark:
        "benchmarks/report/table_runs_{experiment}.tsv"
    conda:
        ENV
    shell:
        "bnlab report runs --runs {params.runs:q} --out {output.table} > {log} 2>&1"


rule table_comparison:
    input:
        "results/tables/runs_{experiment}.csv",
    output:
        table=report("results/tables/compare_{experiment}_{axis}.md", caption=f"{CAPTIONS}/comparison.rst",
                     category="Comparisons", subcategory="{experiment}"),
        data="results/tables/compare_{experiment}_{axis}.csv",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
        axis="|".join(COMPARED_AXES),
    params:
        code=CODE["table"],
    log:
        "logs/report/table_compare_{experiment}_{axis}.log",
    benchmark:
        "benchmarks/report/table_compare_{experiment}_{axis}.tsv"
    conda:
        ENV
    shell:
        "bnlab report compare --runs-table {input} --axis {wildcards.axis} --out {output.table} > {log} 2>&1"


rule table_per_class:
    input:
        runs=lambda wc: [f for name in ("run.json", "metrics.csv", "model.pt") for f in run_files(name, wc.experiment)],
        data=lambda wc: EXPERIMENT_DATA[wc.experiment],
    output:
        table=report("results/tables/per_class_{experiment}.md", caption=f"{CAPTIONS}/per_class.rst",
                     category="Training", subcategory="{experiment}"),
        data="results/tables/per_class_{experiment}.csv",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=CODE["per_class"],
    threads: config["threads"]
    resources:
        gpu=1,
    log:
        "logs/report/table_per_class_{experiment}.log",
    benchmark:
        "benchmarks/report/table_per_class_{experiment}.tsv"
    conda:
        ENV
    shell:
        "bnlab report per-class --runs {params.runs:q} --data {input.data} --threads {threads}"
        " --out {output.table} > {log} 2>&1"


rule table_bn_summary:
    input:
        "results/analysis/bn_summary.csv",
    output:
        table=report("results/tables/bn_summary.md", caption=f"{CAPTIONS}/bn_summary.rst", category="BatchNorm"),
        data="results/tables/bn_summary.csv",
    params:
        code=CODE["table"],
    log:
        "logs/report/table_bn_summary.log",
    benchmark:
        "benchmarks/report/table_bn_summary.tsv"
    conda:
        ENV
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
        table=report("results/tables/claims.md", caption=f"{CAPTIONS}/claims.rst", category="Claims"),
        data="results/tables/claims.csv",
    params:
        budget=config["budget"],
        runs=[f"{e}=results/tables/runs_{e}.csv" for e in EXPERIMENTS],
        per_class=[f"{e}=results/tables/per_class_{e}.csv" for e in EXPERIMENTS],
        bn_summary=f"--bn-summary {BN_SUMMARY}" if BN_SUMMARY else "",
        code=CODE["claims"],
    log:
        "logs/report/table_claims.log",
    benchmark:
        "benchmarks/report/table_claims.tsv"
    conda:
        ENV
    shell:
        "bnlab report claims --claims {input.claims} --budget {params.budget} --models {input.models}"
        " --runs-table {params.runs:q} --per-class {params.per_class:q} {params.bn_summary}"
        " --out {output.table} > {log} 2>&1"


rule table_claim_sources:
    input:
        "report/claims.yaml",
    output:
        table=report("results/tables/claim_sources.md", caption=f"{CAPTIONS}/claim_sources.rst", category="Claims"),
        data="results/tables/claim_sources.csv",
    params:
        code=CODE["claims"],
    log:
        "logs/report/table_claim_sources.log",
    benchmark:
        "benchmarks/report/table_claim_sources.tsv"
    conda:
        ENV
    shell:
        "bnlab report claim-sources --claims {input} --out {output.table} > {log} 2>&1"


rule table_environment:
    input:
        run_files("run.json"),
    output:
        table=report("results/tables/environment.md", caption=f"{CAPTIONS}/environment.rst",
                     category="Environment"),
        data="results/tables/environment.csv",
    params:
        runs=[d for e in EXPERIMENTS for d in EXPERIMENT_RUN_DIRS[e]],
        code=CODE["table"],
    log:
        "logs/report/table_environment.log",
    benchmark:
        "benchmarks/report/table_environment.tsv"
    conda:
        ENV
    shell:
        "bnlab report environment --runs {params.runs:q} --out {output.table} > {log} 2>&1"


rule figure_augmentation:
    input:
        "results/data/{dataset}.npz",
    output:
        png=report("results/figures/augmentation_{dataset}.png", caption=f"{CAPTIONS}/augmentation.rst",
                   category="Data"),
        svg="results/figures/augmentation_{dataset}.svg",
    wildcard_constraints:
        dataset="|".join(map(re.escape, DATASETS)) or "(?!)",
    params:
        augmentations=lambda wc: AUGMENTATIONS[wc.dataset],
        code=CODE["augmentation_grid"],
    log:
        "logs/report/figure_augmentation_{dataset}.log",
    benchmark:
        "benchmarks/report/figure_augmentation_{dataset}.tsv"
    conda:
        ENV
    shell:
        "bnlab report augmentation-grid --data {input} --augmentations {params.augmentations:q}"
        " --out {output.png} > {log} 2>&1"


rule figure_training:
    input:
        runs=lambda wc: [f for name in ("run.json", "metrics.csv", "steps.csv") for f in run_files(name, wc.experiment)],
        data=lambda wc: EXPERIMENT_DATA[wc.experiment],
    output:
        png=report("results/figures/training_{experiment}.png", caption=f"{CAPTIONS}/training.rst",
                   category="Training", subcategory="{experiment}"),
        svg="results/figures/training_{experiment}.svg",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    params:
        runs=lambda wc: EXPERIMENT_RUN_DIRS[wc.experiment],
        code=CODE["training_curves"],
    log:
        "logs/report/figure_training_{experiment}.log",
    benchmark:
        "benchmarks/report/figure_training_{experiment}.tsv"
    conda:
        ENV
    shell:
        "bnlab report training-curves --runs {params.runs:q} --data {input.data} --title {wildcards.experiment}"
        " --out {output.png} > {log} 2>&1"


rule figure_per_class:
    input:
        "results/tables/per_class_{experiment}.csv",
    output:
        png=report("results/figures/per_class_{experiment}.png", caption=f"{CAPTIONS}/per_class_figure.rst",
                   category="Training", subcategory="{experiment}"),
        svg="results/figures/per_class_{experiment}.svg",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    params:
        code=CODE["per_class_figure"],
    log:
        "logs/report/figure_per_class_{experiment}.log",
    benchmark:
        "benchmarks/report/figure_per_class_{experiment}.tsv"
    conda:
        ENV
    shell:
        "bnlab report per-class-figure --table {input} --title {wildcards.experiment} --out {output.png} > {log} 2>&1"


rule notebook:
    input:
        notebook="workflow/notebooks/explore.ipynb",
        runs=lambda wc: [f for name in ("run.json", "metrics.csv", "steps.csv") for f in run_files(name, wc.experiment)],
    output:
        "results/notebooks/{experiment}.ipynb",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    params:
        runs=lambda wc: json.dumps({"run_dirs": EXPERIMENT_RUN_DIRS[wc.experiment]}),
        code=CODE["notebook"],
    log:
        "logs/report/notebook_{experiment}.log",
    benchmark:
        "benchmarks/report/notebook_{experiment}.tsv"
    conda:
        ENV
    shell:
        "papermill {input.notebook} {output} --kernel python3 -p experiment {wildcards.experiment}"
        " --parameters_yaml {params.runs:q} > {log} 2>&1"


rule render_report:
    input:
        template="report/template.md.j2",
        partials=sorted(glob.glob("report/sections/*.j2")),
        claims=MANIFEST["claims"],
        tables=REPORT_TABLES + [t.removesuffix(".md") + ".csv" for t in REPORT_TABLES],
        figures=REPORT_FIGURES,
        notebooks=REPORT_NOTEBOOKS,
        bn_summary=[BN_SUMMARY] if BN_SUMMARY else [],
    output:
        report=report("results/report/report.md", caption=f"{CAPTIONS}/report.rst", category="Report"),
        figures=[f"results/report/figures/{Path(f).name}" for f in REPORT_FIGURES],
        notebooks=[f"results/report/notebooks/{Path(n).name}" for n in REPORT_NOTEBOOKS],
    params:
        manifest=json.dumps(MANIFEST),
        code=CODE["render"],
    log:
        "logs/report/render_report.log",
    benchmark:
        "benchmarks/report/render_report.tsv"
    conda:
        ENV
    shell:
        "bnlab report render --template {input.template} --manifest {params.manifest:q} --out {output.report}"
        " > {log} 2>&1"


TARGETS += ["results/report/report.md"]
