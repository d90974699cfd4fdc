"""Code cut from a larger file (a function from a project, a model's answer without its imports) as bandit
needs to see it: bandit resolves ``yaml.load`` or ``pickle.loads`` through the file's imports, so a snippet
that uses a module it never imports hides those calls. :func:`with_imports` adds the imports its names imply.

Not guaranteed: only the modules in :data:`MODULES` (those bandit has checks for) are added, and a name
is taken for the module when the snippet uses it as ``name.attribute`` without binding it (a local object
called ``ssl`` that is never assigned in the snippet would be taken for the module too).
"""

from __future__ import annotations

import ast

from .astchecks import parse

MODULES = frozenset({"yaml", "pickle", "cPickle", "marshal", "shelve", "dill", "jsonpickle", "os", "subprocess",
                     "tempfile", "hashlib", "ssl", "requests", "random", "telnetlib", "ftplib", "paramiko",
                     "jinja2", "urllib", "xml", "lxml", "socket", "httpx", "mako", "Crypto", "cryptography",
                     "commands", "popen2"})
"""Modules whose calls bandit checks."""


def _bound(tree: ast.AST) -> set[str]:
    """Names the snippet binds itself: imports, assignments, definitions, parameters, loop and ``with``
    targets."""
    names: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in n.names}
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(n.name)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
    return names


def with_imports(src: str) -> str:
    """``src`` with ``import m`` lines first for each module of :data:`MODULES` it uses but never binds
    (unchanged when none is missing or the code does not parse).

    >>> with_imports("def f(b):\\n    return yaml.load(b)").splitlines()[0]
    'import yaml'
    >>> with_imports("import yaml\\ndef f(b):\\n    return yaml.load(b)").startswith("import yaml\\ndef")
    True
    """
    tree = parse(src)
    if tree is None:
        return src
    used = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    missing = sorted((used & MODULES) - _bound(tree))
    return "".join(f"import {m}\n" for m in missing) + src if missing else src
