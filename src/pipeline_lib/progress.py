"""Progress bars for long loops (training epochs, attack batches, dataset generation).

tqdm writes to stderr, which :func:`pipeline_lib.runtime.rule_context` sends to the
rule's log, so ``tail -f logs/<rule>/<job>.log`` shows how far a job is. ASCII bars,
refreshed at most every ``mininterval`` seconds, so logs stay short."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def bar(iterable: Iterable, total: int | None = None, desc: str = "", mininterval: float = 5.0):
    return tqdm(
        iterable, total=total, desc=desc, file=sys.stderr, mininterval=mininterval, ascii=True
    )
