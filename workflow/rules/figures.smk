# Rules of the figures stage: one rule per figure file, figure_<name>, generated from the manifest
# (bnlab.report.manifest), all drawn by `bnlab figure KIND` (the kinds: bnlab.plots.figures).
#
# A figure reads only its tables (and, for the training curves, the run folders those list), so restyling
# never recomputes an analysis and `snakemake results/figures/<name>.png` redraws only that figure. Each
# rule's code hash covers the drawing code of its kind.

for figure in MANIFEST["figures"]:

    rule:
        name:
            f"figure_{figure['name']}"
        input:
            figure["inputs"],
            figure["depends"],
        output:
            png=report(
                figure["path"],
                caption=f"../../{figure['caption']}",
                category=figure["category"],
                subcategory=figure["subcategory"],
            ),
            svg=figure["path"].removesuffix(".png") + ".svg",
        log:
            f"logs/figures/{figure['name']}.log",
        benchmark:
            f"benchmarks/figures/{figure['name']}.tsv"
        conda:
            ENV
        params:
            kind=figure["kind"],
            inputs=figure["inputs"],
            options=figure["options"],
            code=provenance.code_hash(f"figure {figure['kind']}"),
        shell:
            "bnlab figure {params.kind} --input {params.inputs} --out {output.png} {params.options} > {log} 2>&1"

    TARGETS.append(figure["path"])
