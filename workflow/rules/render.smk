# The rendered report: results/report/report.md from report/template.md.j2, with copies of every figure and
# notebook it shows, so results/report/ is self-contained. What it shows is the manifest (bnlab.report.manifest).
import glob


report: "../../report/workflow.rst"


# Every figure the report shows, each experiment's and dataset's and the BatchNorm study's.
REPORT_FIGURES = [f["path"] for f in MANIFEST["figures"]]


rule render_report:
    input:
        template="report/template.md.j2",
        partials=sorted(glob.glob("report/sections/*.j2")),
        claims=MANIFEST["claims"],
        tables=MANIFEST["all_tables"] + [t.removesuffix(".md") + ".csv" for t in MANIFEST["all_tables"]],
        figures=REPORT_FIGURES,
        notebooks=MANIFEST["notebooks"],
        bn_summary=[BN_SUMMARY] if BN_SUMMARY else [],
    output:
        report=report("results/report/report.md", caption="../../report/captions/report.rst", category="Report"),
        figures=[f"results/report/figures/{Path(f).name}" for f in REPORT_FIGURES],
        notebooks=[f"results/report/notebooks/{Path(n).name}" for n in MANIFEST["notebooks"]],
    log:
        "logs/report/render_report.log",
    benchmark:
        "benchmarks/report/render_report.tsv"
    conda:
        ENV
    params:
        manifest=json.dumps(MANIFEST),
        code=provenance.code_hash("report render"),
    shell:
        "bnlab report render --template {input.template} --manifest {params.manifest:q} --out {output.report}"
        " > {log} 2>&1"


TARGETS += ["results/report/report.md"]
