# Helpers of the BatchNorm analysis rules (analysis.smk); kept apart from the rules as Snakemake's linter asks.
# BN is None where the config has no `bn_analysis` section; BN_JOBS lists one job per analysis and protocol,
# from the manifest (bnlab.report.manifest.BN_ANALYSES).
BN = config.get("bn_analysis")
BN_JOBS = MANIFEST["bn"]["analyses"] if BN else []


def bn_device(wildcards, input, threads):
    """A model analysis also reads the prepared data, with the rule's threads."""
    return f"--data {input.data} --threads {threads}" if input.data else ""
