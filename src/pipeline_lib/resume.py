"""Resumable training: a job's training state saved every N epochs, so a job killed by a
time limit, a crashed node or ``kill -9`` goes on from its last saved epoch when it is
rerun, to a result bitwise equal to an uninterrupted run (on CPU; on a GPU as far as its
kernels are deterministic).

A :class:`Resume` is one job's state file, ``.snakemake/resume/<rule>/<wildcards>.pt``
(beside Snakemake's own bookkeeping, never a declared output, so Snakemake neither
deletes it when the job fails nor sees it as a result). The file is keyed by the job's
identity: the rule, its params (which hold the digest of the code its script imports),
its wildcards, and the path, size and modification time of every input. A state whose
key differs (the config, the code or an input changed since the kill) is ignored and
removed: a resumed run never mixes two settings. The file is removed when the job
succeeds.

The training loops (:func:`pipeline_lib.training.train_classifier`,
:func:`~pipeline_lib.training.train_autoencoder`, the Squiggles loop, the low-dim
network, the DMM ablation classifier) save the model,
optimiser (and scheduler) states, every random generator they draw from, the torch
global generator and their history; a caller that accumulates its own per-epoch values
(e.g. the per-epoch state dicts of the DMM classifiers) hands them over with
``extra_state`` / ``restore_extra``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import checkpoints

ROOT = Path(".snakemake") / "resume"


def job_key(rule: str, config: Mapping[str, Any], inputs: Iterable[str | Path]) -> str:
    """The identity of one job: rule, params + wildcards (``config``), and every input
    file's path, size and modification time (a directory: its entries')."""
    files = []
    for p in sorted(str(i) for i in inputs):
        path = Path(p)
        entries = sorted(path.rglob("*")) if path.is_dir() else [path]
        for e in entries:
            if e.is_file():
                st = e.stat()
                files.append((str(e), st.st_size, st.st_mtime_ns))
    blob = json.dumps(
        {"rule": rule, "config": config, "inputs": files}, sort_keys=True, default=repr
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def job_path(rule: str, wildcards: Mapping[str, Any], root: Path = ROOT) -> Path:
    """``<root>/<rule>/<name>-<value>_....pt`` (``all.pt`` for a job without wildcards)."""
    name = "_".join(f"{k}-{v}" for k, v in wildcards.items()) or "all"
    return root / rule / (re.sub(r"[^\w.=-]+", "-", name) + ".pt")


@dataclass
class Resume:
    """One job's resumable training state (see the module docstring).

    ``every``: save after every ``every``-th epoch (0: never save, never resume).
    ``extra_state()`` returns the caller's own state to save with the loop's (tensors
    and plain data), ``restore_extra(state)`` puts it back on resume."""

    path: Path
    key: str
    every: int = 1
    log: Callable[[str], None] = print
    extra_state: Callable[[], dict] | None = None
    restore_extra: Callable[[dict], None] | None = None
    resumed_from: int | None = field(default=None, init=False)

    def load(self) -> dict | None:
        """The saved state of this job (after restoring the caller's extra state), or
        None: nothing saved, saving is off, or the state belongs to other settings."""
        if self.every <= 0 or not self.path.is_file():
            return None
        try:
            state = checkpoints.load(self.path)
        except Exception as err:  # a damaged file: start over, say why
            self.log(f"resume: ignoring unreadable {self.path} ({err}); starting over")
            self.path.unlink(missing_ok=True)
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            self.log(
                f"resume: {self.path} was saved for other settings, code or inputs; starting over"
            )
            self.path.unlink(missing_ok=True)
            return None
        if self.restore_extra is not None:
            self.restore_extra(state.get("extra", {}))
        self.resumed_from = int(state["epoch"])
        self.log(f"resume: going on after epoch {self.resumed_from} (state in {self.path})")
        return state

    def at_most(self, saves: int, epochs: int) -> None:
        """Save at most ``saves`` times in a run of ``epochs`` epochs (for loops of many
        epochs of milliseconds, where a save costs more than the epochs it protects):
        ``every`` becomes at least ``epochs // saves``. Saving off (0) stays off."""
        if self.every > 0:
            self.every = max(self.every, epochs // max(saves, 1))

    def due(self, epoch: int, epochs: int) -> bool:
        """Whether to save after ``epoch``: every ``every`` epochs, never after the last
        (the job is about to write its outputs)."""
        return self.every > 0 and epoch < epochs and epoch % self.every == 0

    def save(self, epoch: int, epochs: int, state: dict) -> None:
        """Save ``state`` after ``epoch`` when it is :meth:`due`."""
        if not self.due(epoch, epochs):
            return
        extra = self.extra_state() if self.extra_state is not None else {}
        checkpoints.save({**state, "key": self.key, "epoch": int(epoch), "extra": extra}, self.path)

    def finish(self) -> None:
        """The job succeeded: its state is no longer needed."""
        self.path.unlink(missing_ok=True)


def rng_state() -> dict:
    """The torch global generator's state (and CUDA's where present)."""
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
