"""Digests of the code a workflow script runs, for code-aware reruns.

Snakemake reruns a ``script:`` rule when its params change, but it cannot see the
library code the script imports. The Snakefile therefore gives every script rule a
``code`` param: a digest of the script and of every ``pipeline_lib`` module it imports,
directly or through other modules (the transitive closure of the import graph, read
from the source with :mod:`ast`, never from a hand-written list). A module enters the
digest through its AST without docstrings, so comments, docstrings and formatting never
trigger a rerun; any other change to a module reruns exactly the jobs whose scripts
import it.

Standard library only: the Snakefile imports this module at parse time.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path

PACKAGE = "pipeline_lib"
PACKAGE_DIR = Path(__file__).resolve().parent
DIGEST_CHARS = 16  # 64 bits of sha256: short in logs, no accidental collisions


@cache  # one Snakefile parse; tests that add modules use names not looked up before
def module_path(name: str, root: Path | None = None) -> Path | None:
    """The source file of module ``name`` (``pipeline_lib.x.y``) under ``root`` (the
    directory holding the package; default: this package's), or None if there is none."""
    base = (root or PACKAGE_DIR.parent).joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


# An import statement as plain data: (level, module, names); level -1 for "import x, y"
Imp = tuple[int, str, tuple[str, ...]]

# Content-keyed results of earlier parses (sha256 of a file's bytes -> digest and
# imports), optionally kept on disk between Snakemake runs (load_cache / save_cache):
# a file is parsed again only when its bytes change. Exact: no mtimes involved.
_KNOWN: dict[str, dict] = {}
_NEW = False
# the cache is only valid for this version of the algorithm (this file's own bytes) and
# this Python minor version: ast.dump differs between them (3.12 adds type_params), so
# digests are per Python version, which .python-version pins
_ALGORITHM = hashlib.sha256(
    Path(__file__).read_bytes() + sys.implementation.cache_tag.encode()
).hexdigest()
_USED: set[str] = set()  # entries this process looked up (the ones saved back)


def load_cache(path: str | Path) -> None:
    """Read the results of earlier runs (ignored if missing, unreadable or written by
    another version of this module)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("algorithm") == _ALGORITHM:
        _KNOWN.update(data.get("files", {}))


def save_cache(path: str | Path) -> None:
    """Write back (atomically) the entries this run used, if it parsed anything new. A
    cache that cannot be written (read-only checkout) only costs time next run."""
    global _NEW
    if not _NEW:
        return
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    files = {k: _KNOWN[k] for k in sorted(_USED) if k in _KNOWN}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"algorithm": _ALGORITHM, "files": files}))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return
    _NEW = False


@cache
def _analyse(source: bytes, filename: str) -> tuple[str, tuple[Imp, ...]]:
    """(digest, imports) of one file's content."""
    global _NEW
    key = hashlib.sha256(source).hexdigest()
    _USED.add(key)
    known = _KNOWN.get(key)
    if known is None:
        tree = _strip_docstrings(ast.parse(source, filename=filename))
        imports = []
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                imports.append([-1, "", [a.name for a in n.names]])
            elif isinstance(n, ast.ImportFrom):
                imports.append([n.level, n.module or "", [a.name for a in n.names]])
        known = {"digest": hashlib.sha256(ast.dump(tree).encode()).hexdigest(), "imports": imports}
        _KNOWN[key] = known
        _NEW = True
    return known["digest"], tuple((lv, m, tuple(ns)) for lv, m, ns in known["imports"])


def source_digest(path: Path) -> str:
    """sha256 of a Python file's AST without docstrings (no line numbers, no comments)."""
    path = Path(path)
    return _analyse(path.read_bytes(), str(path))[0]


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def direct_imports(path: Path, name: str = "", root: Path | None = None) -> frozenset[str]:
    """``pipeline_lib`` modules that the file at ``path`` (module ``name``; empty for a
    script) imports anywhere in its body, function-level imports included. Importing
    ``a.b.c`` also runs the packages ``a`` and ``a.b``, so they are included."""
    return _resolved_imports(path.read_bytes(), path, name, root)


@cache
def _resolved_imports(source: bytes, path: Path, name: str, root: Path | None) -> frozenset[str]:
    found: set[str] = set()
    package = _package_of(name, path) if name else ""
    for level, module, names in _analyse(source, str(path))[1]:
        if level < 0:  # import a.b, c
            targets = list(names)
        else:
            if level:
                if not package:
                    continue  # a relative import outside the package is none of ours
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - level + 1])
                module = f"{base}.{module}" if module else base
            # "from pkg import mod" imports the submodule when there is one
            targets = [module] + [f"{module}.{name}" for name in names]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    sub = ".".join(parts[:i])
                    if module_path(sub, root) is not None:
                        found.add(sub)
    return frozenset(found)


def imported_modules(script: str | Path, root: Path | None = None) -> list[str]:
    """The transitive closure of ``pipeline_lib`` modules a script imports, sorted."""
    seen: set[str] = set()
    todo = sorted(direct_imports(Path(script).resolve(), root=root))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(direct_imports(module_path(name, root), name, root) - seen)
    return sorted(seen)


def script_digest(script: str | Path, root: Path | None = None) -> str:
    """The code digest of a workflow script: its own AST and that of every library
    module it imports (transitively), docstrings stripped; changes only when code
    that can change the script's results changes."""
    script = Path(script).resolve()
    h = hashlib.sha256(f"script {source_digest(script)}\n".encode())
    for name in imported_modules(script, root):
        h.update(f"{name} {source_digest(module_path(name, root))}\n".encode())
    return h.hexdigest()[:DIGEST_CHARS]
