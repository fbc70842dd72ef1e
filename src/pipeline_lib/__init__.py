"""Library behind the manifold-adversarial Snakemake workflow.

All logic lives here and is tested without Snakemake; the workflow's scripts
only read ``snakemake.*`` and call these functions.
"""

from importlib.metadata import version

__version__ = version("pipeline_lib")  # one value: pyproject.toml's (CITATION.cff agrees)
