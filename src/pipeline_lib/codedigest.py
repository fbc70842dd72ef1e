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
from functools import cache
from pathlib import Path

PACKAGE = "pipeline_lib"
PACKAGE_DIR = Path(__file__).resolve().parent
DIGEST_CHARS = 16  # 64 bits of sha256: short in logs, no accidental collisions


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


@cache
def _read(source: bytes, filename: str) -> tuple[str, ast.Module]:
    """(digest, tree) of one file's content, parsed once per content."""
    tree = _strip_docstrings(ast.parse(source, filename=filename))
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest(), tree


def _info(path: Path) -> tuple[str, ast.Module]:
    return _read(path.read_bytes(), str(path))


def source_digest(path: Path) -> str:
    """sha256 of a Python file's AST without docstrings (no line numbers, no comments)."""
    return _info(Path(path))[0]


@cache
def _import_nodes(source: bytes, filename: str) -> tuple[ast.Import | ast.ImportFrom, ...]:
    tree = _read(source, filename)[1]
    return tuple(n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom))


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
    for node in _import_nodes(source, str(path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                if not package:
                    continue  # a relative import outside the package is none of ours
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # "from pkg import mod" imports the submodule when there is one
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
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
