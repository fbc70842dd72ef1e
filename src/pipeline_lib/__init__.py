"""Library behind the manifold-adversarial Snakemake workflow.

All logic lives here and is tested without Snakemake; the workflow's scripts
only read ``snakemake.*`` and call these functions.
"""

__version__ = "0.1.0"
