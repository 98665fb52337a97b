rule train:
    input:
        data=lambda wc: f"results/data/{run_spec(wc)['dataset']}.npz",
    output:
        metrics="results/runs/{experiment}/{run}/metrics.csv",
        steps="results/runs/{experiment}/{run}/steps.csv",
        probes="results/runs/{experiment}/{run}/probes.csv",
        model="results/runs/{experiment}/{run}/model.pt",
        summary="results/runs/{experiment}/{run}/run.json",
    log:
        "logs/train/{experiment}/{run}.log",
    benchmark:
        "benchmarks/train/{experiment}/{run}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=1,
    params:
        spec=lambda wc: study.spec_json(run_spec(wc)),
        code=lambda wc: provenance.code_hash("train", [run_spec(wc)["model"]]),
    shell:
        "bnlab train --spec {params.spec:q} --data {input.data} --out $(dirname {output.summary})"
        " --threads {threads} --code-version {params.code} > {log} 2>&1"
