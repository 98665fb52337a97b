# Rules of the analysis stage.
#
# The BatchNorm study (Santurkar et al., 2018): each analysis reads finished runs of one experiment and
# writes one table, results/analysis/<analysis>/<experiment>.csv; figures.smk draws them. It is built
# only where the config has a `bn_analysis` section naming the experiments that feed it.
include: "bn_common.smk"


if BN:

    rule analyse_loss_landscape:
        input:
            bn_run_files("steps.csv"),
        output:
            "results/analysis/loss_landscape/{experiment}.csv",
        log:
            "logs/analysis/loss_landscape/{experiment}.log",
        benchmark:
            "benchmarks/analysis/loss_landscape/{experiment}.tsv"
        conda:
            ENV
        params:
            runs=bn_run_dirs,
            code=provenance.code_hash("analyse loss-landscape"),
        shell:
            "bnlab analyse loss-landscape --runs {params.runs:q} --out {output} > {log} 2>&1"

    rule analyse_line_search:
        input:
            bn_run_files("probes.csv"),
        output:
            "results/analysis/line_search/{experiment}.csv",
        log:
            "logs/analysis/line_search/{experiment}.log",
        benchmark:
            "benchmarks/analysis/line_search/{experiment}.tsv"
        conda:
            ENV
        params:
            runs=bn_run_dirs,
            code=provenance.code_hash("analyse line-search"),
        shell:
            "bnlab analyse line-search --runs {params.runs:q} --out {output} > {log} 2>&1"

    rule analyse_training_curves:
        input:
            bn_run_files("metrics.csv"),
        output:
            "results/analysis/training_curves/{experiment}.csv",
        log:
            "logs/analysis/training_curves/{experiment}.log",
        benchmark:
            "benchmarks/analysis/training_curves/{experiment}.tsv"
        conda:
            ENV
        params:
            runs=bn_run_dirs,
            code=provenance.code_hash("analyse training-curves"),
        shell:
            "bnlab analyse training-curves --runs {params.runs:q} --out {output} > {log} 2>&1"

    rule analyse_grad_distance:
        input:
            models=bn_run_files("model.pt"),
            data=bn_data,
        output:
            "results/analysis/grad_distance/{experiment}.csv",
        log:
            "logs/analysis/grad_distance/{experiment}.log",
        benchmark:
            "benchmarks/analysis/grad_distance/{experiment}.tsv"
        conda:
            ENV
        threads: config["threads"]
        resources:
            gpu=1,
        params:
            runs=bn_run_dirs,
            d_max=BN["grad_distance"]["d_max"],
            points=BN["grad_distance"]["points"],
            batches=BN["batches"],
            batch_size=BN["batch_size"],
            seed=BN["seed"],
            code=provenance.code_hash("analyse grad-distance", BN["models"]),
        shell:
            "bnlab analyse grad-distance --runs {params.runs:q} --data {input.data} --out {output}"
            " --d-max {params.d_max} --points {params.points} --batches {params.batches}"
            " --batch-size {params.batch_size} --seed {params.seed} --threads {threads} > {log} 2>&1"

    rule analyse_input_smoothness:
        input:
            models=bn_run_files("model.pt"),
            data=bn_data,
        output:
            "results/analysis/input_smoothness/{experiment}.csv",
        log:
            "logs/analysis/input_smoothness/{experiment}.log",
        benchmark:
            "benchmarks/analysis/input_smoothness/{experiment}.tsv"
        conda:
            ENV
        threads: config["threads"]
        resources:
            gpu=1,
        params:
            runs=bn_run_dirs,
            noise_std=BN["input_smoothness"]["noise_std"],
            batches=BN["batches"],
            batch_size=BN["batch_size"],
            seed=BN["seed"],
            code=provenance.code_hash("analyse input-smoothness", BN["models"]),
        shell:
            "bnlab analyse input-smoothness --runs {params.runs:q} --data {input.data} --out {output}"
            " --noise-std {params.noise_std} --batches {params.batches} --batch-size {params.batch_size}"
            " --seed {params.seed} --threads {threads} > {log} 2>&1"

    rule analyse_activations:
        input:
            models=bn_run_files("model.pt"),
            data=bn_data,
        output:
            "results/analysis/activations/{experiment}.csv",
        log:
            "logs/analysis/activations/{experiment}.log",
        benchmark:
            "benchmarks/analysis/activations/{experiment}.tsv"
        conda:
            ENV
        threads: config["threads"]
        resources:
            gpu=1,
        params:
            runs=bn_run_dirs,
            threshold=BN["activations"]["dead_threshold"],
            code=provenance.code_hash("analyse activations", BN["models"]),
        shell:
            "bnlab analyse activations --runs {params.runs:q} --data {input.data} --out {output}"
            " --threshold {params.threshold} --threads {threads} > {log} 2>&1"

    rule analyse_gradient_health:
        input:
            models=bn_run_files("model.pt"),
            data=bn_data,
        output:
            "results/analysis/gradient_health/{experiment}.csv",
        log:
            "logs/analysis/gradient_health/{experiment}.log",
        benchmark:
            "benchmarks/analysis/gradient_health/{experiment}.tsv"
        conda:
            ENV
        threads: config["threads"]
        resources:
            gpu=1,
        params:
            runs=bn_run_dirs,
            batches=BN["batches"],
            batch_size=BN["batch_size"],
            seed=BN["seed"],
            code=provenance.code_hash("analyse gradient-health", BN["models"]),
        shell:
            "bnlab analyse gradient-health --runs {params.runs:q} --data {input.data} --out {output}"
            " --batches {params.batches} --batch-size {params.batch_size} --seed {params.seed}"
            " --threads {threads} > {log} 2>&1"

    rule analyse_feature_maps:
        input:
            models=bn_run_files("model.pt"),
            data=bn_data,
        output:
            "results/analysis/feature_maps/{experiment}.npz",
        log:
            "logs/analysis/feature_maps/{experiment}.log",
        benchmark:
            "benchmarks/analysis/feature_maps/{experiment}.tsv"
        conda:
            ENV
        threads: config["threads"]
        resources:
            gpu=1,
        params:
            runs=bn_run_dirs,
            images=BN["feature_maps"]["images"],
            layers=BN["feature_maps"]["layers"],
            code=provenance.code_hash("analyse feature-maps", BN["models"]),
        shell:
            "bnlab analyse feature-maps --runs {params.runs:q} --data {input.data} --out {output}"
            " --images {params.images} --layers {params.layers} --threads {threads} > {log} 2>&1"

    rule bn_summary:
        input:
            loss_landscape=bn_table(config, "loss_landscape", "landscape"),
            line_search=bn_table(config, "line_search", "line_search"),
            grad_distance=bn_table(config, "grad_distance", "trained"),
            input_smoothness=bn_table(config, "input_smoothness", "trained"),
            activations=bn_table(config, "activations", "trained"),
            gradient_health=bn_table(config, "gradient_health", "trained"),
            training_curves=bn_table(config, "training_curves", "trained"),
        output:
            BN_SUMMARY,
        log:
            "logs/analysis/bn_summary.log",
        benchmark:
            "benchmarks/analysis/bn_summary.tsv"
        conda:
            ENV
        params:
            models=BN["models"],
            code=provenance.code_hash("analyse summary"),
        shell:
            "bnlab analyse summary --tables loss_landscape={input.loss_landscape} line_search={input.line_search}"
            " grad_distance={input.grad_distance} input_smoothness={input.input_smoothness}"
            " activations={input.activations} gradient_health={input.gradient_health}"
            " training_curves={input.training_curves} --models {params.models} --out {output} > {log} 2>&1"

    TARGETS.append(BN_SUMMARY)
