"""Helpers for the thin workflow scripts: logging into the rule's log file and
thread settings that follow the rule's ``threads:``."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import torch

from . import provenance
from .device import set_threads


@contextlib.contextmanager
def rule_context(smk: Any) -> Iterator[logging.Logger]:
    """Send stdout, stderr and logging to the rule's log; set torch threads."""
    log_path = smk.log[0] if len(smk.log) else None
    stream = open(log_path, "w") if log_path else sys.stderr  # noqa: SIM115
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    logger = logging.getLogger(f"pipeline.{smk.rule}")
    logger.handlers[:] = [logging.StreamHandler(stream)]
    logger.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    set_threads(getattr(smk, "threads", 1))
    t0 = time.time()
    provenance.JOB_START = t0
    provenance.CODE_DIGEST = getattr(smk.params, "code", None)
    logger.info(
        "rule %s, wildcards %s, threads %s, torch threads %d",
        smk.rule,
        dict(smk.wildcards),
        smk.threads,
        torch.get_num_threads(),
    )
    try:
        yield logger
        logger.info("done in %.1f s", time.time() - t0)
    except BaseException:
        logger.exception("failed after %.1f s", time.time() - t0)
        raise
    finally:
        stream.flush()
        sys.stdout, sys.stderr = old_out, old_err
        if log_path:
            stream.close()
