"""Names shared by the DMM ablations' registry, experiment code and plots (plain Python:
no numerical import, so the compute scripts' code digests do not include the registry
or the plots)."""

from __future__ import annotations


def setting_name(k: int, epochs: int, at: str) -> str:
    """The metrics' name of one manifold setting: ``k<k>-e<epochs>-<at>``."""
    return f"k{k}-e{epochs}-{at}"
