# The folder appears only once the download is complete and checked; $BNLAB_DATASET_MIRROR, when set, is the URL
# prefix torchvision's files come from (README, "First run").
rule download:
    output:
        directory("results/downloads/{dataset}"),
    log:
        "logs/download/{dataset}.log",
    benchmark:
        "benchmarks/download/{dataset}.tsv"
    conda:
        ENV
    params:
        torchvision=lambda wc: config["datasets"][wc.dataset]["torchvision"],
    shell:
        "bnlab download --torchvision {params.torchvision} --out {output} > {log} 2>&1"


rule prepare:
    input:
        dataset_source,
    output:
        data="results/data/{dataset}.npz",
        sha256="results/data/{dataset}.sha256",
    log:
        "logs/prepare/{dataset}.log",
    benchmark:
        "benchmarks/prepare/{dataset}.tsv"
    conda:
        ENV
    params:
        dataset=lambda wc: json.dumps(config["datasets"][wc.dataset], sort_keys=True),
        code=provenance.code_hash("prepare"),
    shell:
        "bnlab prepare --dataset {params.dataset:q} --source {input} --out {output.data} > {log} 2>&1"
