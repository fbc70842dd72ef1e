"""Library behind the manifold-adversarial Snakemake workflow.

All logic lives here and is tested without Snakemake; the workflow's scripts
only read ``snakemake.*`` and call these functions.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # one value: pyproject.toml's (CITATION.cff agrees)
    __version__ = version("pipeline_lib")
except PackageNotFoundError:  # run from src/ without installing (the rules' conda env)
    __version__ = "unknown"


def __getattr__(name: str):
    """``pipeline_lib.open_results`` without importing xarray with the package."""
    if name == "open_results":
        from .zarr_io import open_results

        return open_results
    raise AttributeError(f"module 'pipeline_lib' has no attribute {name!r}")
