# Rules of the analysis stage.
#
# The BatchNorm study (Santurkar et al., 2018, beside report 000's own protocol): one rule per analysis and
# protocol, analyse_<analysis>_<protocol>, generated from the manifest (bnlab.report.manifest.BN_ANALYSES). Each reads
# finished runs of one experiment and writes one table, results/analysis/<analysis>/<protocol>/<experiment>.csv;
# figures.smk draws them. It is built only where the config has a `bn_analysis` section. A rule made in a loop
# reads its job's values at definition (params, input), never in `shell:`, which Snakemake evaluates again
# when the job runs, after the loop has moved on.
include: "bn_common.smk"


for job in BN_JOBS:

    rule:
        name:
            f"analyse_{job['name']}"
        input:
            runs=job["inputs"],
            data=job["data"] or [],
        output:
            job["path"],
        log:
            f"logs/analysis/{job['analysis']}/{job['protocol']}/{job['experiment']}.log",
        benchmark:
            f"benchmarks/analysis/{job['analysis']}/{job['protocol']}/{job['experiment']}.tsv"
        conda:
            ENV
        threads: config["threads"] if job["data"] else 1
        resources:
            gpu=1 if job["data"] else 0,
        params:
            verb=job["verb"],
            runs=job["run_dirs"],
            device=bn_device,
            options=job["options"],
            code=provenance.code_hash(job["verb"], job["models"]),
        shell:
            "bnlab {params.verb} --runs {params.runs:q} {params.device} --out {output} {params.options} > {log} 2>&1"


if BN:

    rule bn_summary:
        input:
            list(MANIFEST["bn"]["tables"].values()),
        output:
            summary=BN_SUMMARY,
            quirks=MANIFEST["bn"]["quirks"],
        log:
            "logs/analysis/bn_summary.log",
        benchmark:
            "benchmarks/analysis/bn_summary.tsv"
        conda:
            ENV
        params:
            tables=[f"{name}={path}" for name, path in MANIFEST["bn"]["tables"].items()],
            models=BN["models"],
            code=provenance.code_hash("analyse summary"),
        shell:
            "bnlab analyse summary --tables {params.tables} --models {params.models}"
            " --out {output.summary} --quirks-out {output.quirks} > {log} 2>&1"

    TARGETS.append(BN_SUMMARY)
