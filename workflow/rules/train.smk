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


# The learning-rate range test of an experiment's models (its `lr_range_test` key), each set up as its run trains.
rule lr_range_test:
    input:
        data=lambda wc: EXPERIMENT_DATA[wc.experiment],
    output:
        "results/analysis/lr_range/{experiment}.csv",
    log:
        "logs/lr_range/{experiment}.log",
    benchmark:
        "benchmarks/lr_range/{experiment}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=1,
    params:
        specs=lr_range_specs,
        test=lambda wc: config["experiments"][wc.experiment]["lr_range_test"],
        code=lambda wc: provenance.code_hash(
            "lr-range", config["experiments"][wc.experiment]["lr_range_test"]["models"]
        ),
    shell:
        "bnlab lr-range --spec {params.specs:q} --data {input.data} --lr-min {params.test[lr_min]}"
        " --lr-max {params.test[lr_max]} --steps {params.test[steps]} --threads {threads} --out {output} > {log} 2>&1"
