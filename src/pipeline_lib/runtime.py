"""Helpers for the thin workflow scripts: logging into the rule's log file, thread
settings that follow the rule's ``threads:``, and the job's provenance record (timed
from the start of the job, its config read off the rule's wildcards and params)."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import provenance as _provenance
from .device import assign_gpu, set_threads

if TYPE_CHECKING:  # torch is loaded by the jobs that use it (a figure job does not)
    from .resume import Resume

# Rule params that are not part of what produced an output: ``code`` (recorded as the
# provenance's ``code_digest``), the requested ``device`` (the device used is recorded as
# ``device``), the download ``cache`` folder and figure ``caption``\s.
NON_DATA_PARAMS = frozenset({"code", "device", "cache", "caption"})
# Wildcards with a type of their own; other all-digit wildcards become ints, the rest
# stay strings.
WILDCARD_TYPES: dict[str, type] = {"seed": int, "sigma": float}


def _named(obj: Any) -> dict[str, Any]:
    """Name -> value of a Snakemake Namedlist (named entries only), a mapping or a
    namespace; empty for None."""
    if obj is None:
        return {}
    if hasattr(obj, "items"):
        return dict(obj.items())
    return dict(vars(obj))


def wildcard_value(name: str, value: Any) -> Any:
    """A wildcard as its value: ``seed`` an int, ``sigma`` a float, other digit strings
    ints, everything else unchanged."""
    if name in WILDCARD_TYPES:
        return WILDCARD_TYPES[name](value)
    if isinstance(value, str) and re.fullmatch(r"\d+", value):
        return int(value)
    return value


def rule_config(params: Any = None, wildcards: Any = None) -> dict[str, Any]:
    """The provenance ``config`` of a job: its wildcards (typed, see
    :func:`wildcard_value`), then its params but :data:`NON_DATA_PARAMS`. A param that
    repeats a wildcard must have the same value."""
    config = {k: wildcard_value(k, v) for k, v in _named(wildcards).items()}
    for k, v in _named(params).items():
        if k in NON_DATA_PARAMS:
            continue
        if k in config and config[k] != v:
            raise ValueError(f"param {k}={v!r} differs from the wildcard {k}={config[k]!r}")
        config[k] = v
    return config


class RuleContext(logging.LoggerAdapter):
    """The rule's logger (``info``, ``warning``, ``exception``, ...) that also knows the
    job: ``config`` (:func:`rule_config`), ``t0`` (start time) and :meth:`provenance`."""

    def __init__(
        self, logger: logging.Logger, config: Mapping[str, Any], t0: float, smk: Any = None
    ):
        super().__init__(logger, None)
        self.config = dict(config)
        self.t0 = t0
        self._smk = smk
        self._resumes: list[Resume] = []

    def resume(self) -> Resume:
        """This job's resumable training state (:mod:`pipeline_lib.resume`): saved every
        ``checkpoint_every`` epochs of the config (0: off), keyed by the rule, all its
        params (the code digest included), wildcards and inputs, and removed when the
        job succeeds."""
        from .resume import Resume, job_key, job_path

        smk = self._smk
        wildcards = _named(smk.wildcards)
        params = _named(smk.params)
        every = int((getattr(smk, "config", None) or {}).get("checkpoint_every", 1))
        r = Resume(
            path=job_path(smk.rule, wildcards),
            key=job_key(
                smk.rule,
                {"params": params, "wildcards": wildcards},
                list(getattr(smk, "input", None) or []),
            ),
            every=every,
            log=self.info,
        )
        self._resumes.append(r)
        return r

    def wall_time(self) -> float:
        """Seconds since the job started, rounded to 0.01 s."""
        return round(time.time() - self.t0, 2)

    def provenance(
        self, device: Any = None, *, config: Mapping[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """:func:`pipeline_lib.provenance.make_provenance` of the job: the rule's config
        (plus ``config``, for what is not a wildcard or param, e.g. an input's path), the
        ``device`` used (default ``cpu``), the wall time since the job started and
        ``extra`` entries (e.g. ``data_provenance``)."""
        if device is not None:
            extra["device"] = str(device)
        extra.setdefault("wall_time_s", self.wall_time())
        return _provenance.make_provenance({**self.config, **(config or {})}, **extra)


@contextlib.contextmanager
def rule_context(smk: Any) -> Iterator[RuleContext]:
    """Send stdout, stderr and logging to the rule's log; set torch threads; time the
    job. Yields the rule's :class:`RuleContext` (a logger with ``provenance()``)."""
    log_path = smk.log[0] if len(smk.log) else None
    stream = open(log_path, "w") if log_path else sys.stderr  # noqa: SIM115
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    logger = logging.getLogger(f"pipeline.{smk.rule}")
    logger.handlers[:] = [logging.StreamHandler(stream)]
    logger.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    torch_threads = set_threads(getattr(smk, "threads", 1))
    resources = getattr(smk, "resources", {})
    gpu_slot = assign_gpu(int(resources.get("gpu", 0) or 0) > 0, Path(".snakemake") / "gpu-slots")
    t0 = time.time()
    _provenance.JOB_START = t0
    _provenance.CODE_DIGEST = getattr(smk.params, "code", None)
    logger.info(
        "rule %s, wildcards %s, threads %s, torch threads %d%s",
        smk.rule,
        dict(smk.wildcards),
        smk.threads,
        torch_threads,
        "" if gpu_slot is None else f", GPU slot {gpu_slot} (CUDA_VISIBLE_DEVICES)",
    )
    try:
        ctx = RuleContext(logger, rule_config(smk.params, smk.wildcards), t0, smk)
        yield ctx
        for r in ctx._resumes:
            r.finish()
        logger.info("done in %.1f s", time.time() - t0)
    except BaseException:
        logger.exception("failed after %.1f s", time.time() - t0)
        raise
    finally:
        stream.flush()
        sys.stdout, sys.stderr = old_out, old_err
        if log_path:
            stream.close()
