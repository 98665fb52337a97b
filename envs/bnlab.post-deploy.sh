#!/usr/bin/env bash
# Snakemake runs this once, inside the environment it has just created from bnlab.yaml (both files copied to
# .snakemake/conda/). The environment holds bnlab's dependencies only; this writes the `bnlab` command that the
# rules call, the same entry point pip would install, which imports bnlab from PYTHONPATH: the workflow's own src/.
set -euo pipefail
cat > "$CONDA_PREFIX/bin/bnlab" <<'LAUNCHER'
#!/usr/bin/env python
import sys

from bnlab.cli import main

sys.exit(main())
LAUNCHER
chmod +x "$CONDA_PREFIX/bin/bnlab"
