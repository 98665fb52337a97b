# Rules of the figures stage.
#
# One rule per figure, figure_<name>: it draws results/figures/<name>.png (+ .svg) from one analysis
# table, so restyling never recomputes an analysis and `snakemake results/figures/<name>.png` redraws
# only that figure. Each rule's code hash covers only the plotting modules it runs (bnlab.plots.bn.*).

if BN:
    BN_SMOOTH = f"--smooth {BN['figures']['smooth_steps']}"
    # name -> `bnlab figure` verb, analysis table, bn_analysis.experiments key, plotting modules, subcategory, options
    BN_FIGURES = {
        "bn_loss_landscape": ("loss-landscape", "loss_landscape", "landscape", ("common", "landscape"),
                              "Loss landscape", BN_SMOOTH),
        "bn_probe_loss": ("probe-loss", "line_search", "line_search", ("common", "line_search"),
                          "Loss landscape", BN_SMOOTH),
        "bn_gradient_predictiveness": ("gradient-predictiveness", "line_search", "line_search",
                                       ("common", "line_search"), "Smoothness", BN_SMOOTH),
        "bn_beta_smoothness": ("beta-smoothness", "line_search", "line_search", ("common", "line_search"),
                               "Smoothness", BN_SMOOTH),
        "bn_max_grad_diff": ("max-grad-diff", "grad_distance", "trained", ("common", "grad_distance"),
                             "Smoothness", ""),
        "bn_input_smoothness": ("input-smoothness", "input_smoothness", "trained", ("common", "input_smoothness"),
                                "Smoothness", ""),
        "bn_activations": ("activations", "activations", "trained", ("common", "activations"), "Activations", ""),
        "bn_gradient_health": ("gradient-health", "gradient_health", "trained", ("gradient_health",),
                               "Gradients", ""),
        "bn_feature_maps": ("feature-maps", "feature_maps", "trained", ("feature_maps",), "Activations",
                            f"--channels {BN['feature_maps']['channels']}"),
        "bn_training_curves": ("training-curves", "training_curves", "trained", ("common", "training_curves"),
                               "Training", ""),
    }

    # Loop variables are module globals shared with the other rule files, hence the bn_ prefix.
    for bn_figure, (bn_verb, bn_source, bn_group, bn_modules, bn_subcategory, bn_options) in BN_FIGURES.items():

        rule:
            name:
                f"figure_{bn_figure}"
            input:
                bn_table(bn_source, bn_group, "npz" if bn_source == "feature_maps" else "csv"),
            output:
                png=report(
                    f"results/figures/{bn_figure}.png",
                    caption=f"../../report/captions/{bn_figure}.rst",
                    category="BatchNorm",
                    subcategory=bn_subcategory,
                ),
                svg=f"results/figures/{bn_figure}.svg",
            params:
                verb=bn_verb,
                options=bn_options,
                code=provenance.code_hash("bnlab.plots.style", *(f"bnlab.plots.bn.{m}" for m in bn_modules)),
            log:
                f"logs/figures/{bn_figure}.log",
            benchmark:
                f"benchmarks/figures/{bn_figure}.tsv"
            conda:
                ENV
            shell:
                "bnlab figure {params.verb} --input {input} --out {output.png} {params.options} > {log} 2>&1"

        TARGETS.append(f"results/figures/{bn_figure}.png")
