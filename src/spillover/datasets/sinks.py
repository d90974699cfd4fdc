"""Taint-style checks of web code that bandit does not make: request data (:mod:`.taint`) reaching a sink
unsanitised, and handlers that change data or privileges with no sign of a check.

Sinks: SQL text (``execute``), a shell (``os.system``, ``os.popen``, ``subprocess`` with ``shell=True``, or a
shell given ``-c`` in an argument list), a file path (``open``, ``codecs.open``, ``send_file``,
``FileResponse``, a path object opened or written: ``Path(p).read_text()``), a template source
(``render_template_string``, ``Template``, ``from_string``), markup that skips escaping (``Markup``, a
rendered template containing ``|safe``), text a view sends (:mod:`.xss`), and a redirect target (Flask, Django,
Starlette). A view that deletes or changes data with no sign of an authorisation check is flagged; request data
that chooses what is changed (mass assignment, privileges, command options) is :mod:`.placement`'s.

A finding is dropped where the flow-sensitive values (:mod:`.flow`) show that no input of the call holds
request data there (a constant test's dead branch, an overwritten value, a constant key of a dict). Not
guaranteed: "a check" is recognised by name only (``login_required``-style decorators, ``current_user``,
``session``, ``g.user``, ``request.user``, ``abort(401/403)``; for privileges a test that mentions an admin
or a role); reading another user's object is not checked; a module-level template string is read, other
globals are not.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from typing import NamedTuple

from .callees import callee, handed, made_by
from .flow import TAINT, Facts, options
from .frameworks import FILE_SINKS, PATH_METHODS, REDIRECT_GUARDS, REDIRECTS, SUBPROCESS, is_view, url_params
from .interpret import module_facts, seeded_facts
from .placement import assignment_findings
from .taint import assignments, module_tables, taint_names, tainted
from .xss import HTML_TAG, html_built, html_sinks, reflected, returns_html

AUTH_HINTS = re.compile(r"login_required|admin_required|requires_auth|permission_required|current_user|"
                        r"(?<![\w.])session(\[|\.get\()|(?<![\w.])g\.user|abort\((401|403)|is_admin|check_permission|"
                        r"request\.user\b")
"""Signs of an authorisation check (``db.session`` is not one)."""
DESTRUCTIVE = ("delete", "DELETE FROM", "DROP TABLE", "UPDATE ", "remove", "rmtree", "unlink", "set_role",
               "make_admin")


def _sink(call: ast.Call, names: set[str], fn_text: str, consts: dict[str, str],
          tables: frozenset[str] = frozenset(), assigned: dict[str, list[ast.AST]] | None = None,
          shown: set[str] | None = None) -> str | None:
    """The kind of sink a call is when request data reaches it, else None (``consts``: the module's string
    constants, for templates defined at the top of a file; ``shown``: the names holding request data as an HTML
    sink sees them, where escaping counts, :func:`.taint.taint_names`)."""
    shown = names if shown is None else shown
    f = ast.unparse(call.func)
    first = call.args[0] if call.args else None
    source = consts.get(first.id, "") if isinstance(first, ast.Name) else ast.unparse(first) if first else ""
    shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)
    if f.endswith((".execute", ".executemany", ".executescript")) and tainted(first, names, tables):
        return "sql_taint"
    if (f in ("os.system", "os.popen") or (f.startswith("subprocess.") and shell)) and tainted(first, names, tables):
        return "shell_taint"
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    path = first if f in FILE_SINKS else receiver if f.rsplit(".", 1)[-1] in PATH_METHODS else None
    if tainted(path, names, tables) and not (
            "is_relative_to" in fn_text or "commonpath" in fn_text and "realpath" in fn_text
            or ".resolve()" in fn_text and ".startswith(" in fn_text
            or DOTS.search(fn_text) and _under_dir(path, names, tables, assigned or {})):
        return "path_taint"
    if (f.endswith(("render_template_string", "from_string")) or f in ("Template", "jinja2.Template")) and \
            tainted(first, names, tables):
        return "template_taint"
    if f in ("Markup", "markupsafe.Markup", "flask.Markup") and tainted(first, shown, tables, markup=True):
        return "xss_markup"
    if f.endswith("render_template_string") and "|safe" in source.replace(" ", "") and any(
            tainted(k.value, shown, tables, markup=True) for k in call.keywords):
        return "xss_markup"
    if f in REDIRECTS and tainted(first, names, tables) and not any(g in fn_text for g in REDIRECT_GUARDS):
        return "open_redirect"
    return None


DOTS = re.compile(r"""if ['"]\.\./?['"] in \w+:""")
"""A test for ``..`` in a name (that its body ends the handler is not checked): a name put under a fixed directory
(:func:`_under_dir`) cannot leave it without ``..``."""


def _under_dir(path: ast.AST | None, names: set[str], tables: frozenset[str],
               assigned: dict[str, list[ast.AST]]) -> bool:
    """A path built as ``f"{DIR}/{name}"`` (or assigned once so) with ``DIR`` free of request data.

    >>> _under_dir(ast.parse("f'{BASE}/{n}'", mode="eval").body, {"n"}, frozenset(), {})
    True
    >>> _under_dir(ast.parse("f'{n}'", mode="eval").body, {"n"}, frozenset(), {})
    False
    """
    values = [v for v in assigned.get(path.id, []) if not (isinstance(v, ast.Constant) and v.value is None)] \
        if isinstance(path, ast.Name) else []
    if len(values) == 1:  # ``name = None`` before a ``try`` does not count
        path = values[0]
    if not isinstance(path, ast.JoinedStr) or len(path.values) < 2 or tainted(path.values[0], names, tables):
        return False
    first, second = path.values[0], path.values[1]
    return isinstance(second, ast.Constant) and str(second.value).startswith("/") or isinstance(
        first, ast.Constant) and str(first.value).endswith("/")


SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "cmd", "cmd.exe", "powershell", "pwsh", "python", "python3",
                    "perl", "ruby", "node"})
"""Programs that run their ``-c`` (``/c``) argument as code."""


def _shell_argv(facts: Facts, call: ast.Call) -> bool:
    """``subprocess.run(["sh", "-c", text])``: a shell or interpreter told to run its next argument as code, with
    request data after it; the list may be built by appends in branches (its flow-sensitive value).

    >>> from spillover.datasets.interpret import module_facts
    >>> tree = ast.parse("def f():\\n    a = ['sh', '-c']\\n    a.append(input())\\n    subprocess.run(a)")
    >>> _shell_argv(module_facts(tree), tree.body[0].body[-1].value)
    True
    """
    if ast.unparse(call.func) not in SUBPROCESS or not call.args:
        return False
    v = facts.value(call.args[0])
    items = [x for _k, x in v.items or ()] if v is not None and v.kind == "list" else []
    if len(items) < 3:
        return False
    program, flag = options(items[0]), options(items[1])
    return bool(program and flag) and all(str(p).rsplit("/", 1)[-1] in SHELLS for p in program or ()) \
        and set(flag or ()) <= {"-c", "/c"} and any(x.worst() == TAINT for x in items[2:])


def _proven_clean(facts: Facts, call: ast.Call) -> bool:
    """Every input of the call (its object, arguments, keyword values) holds no request data where it is made,
    by the flow-sensitive values (:mod:`.flow`), or the call is never reached."""
    inputs = [*call.args, *(k.value for k in call.keywords)]
    if isinstance(call.func, ast.Attribute):
        inputs.append(call.func.value)
    return bool(inputs) and all(facts.clean(i) for i in inputs)


def taint_findings(tree: ast.AST) -> set[str]:
    """Every taint and authorisation finding in a module.

    >>> src = "from flask import request\\ndef f(cur):\\n    q = request.args['q']\\n    cur.execute(f'x {q}')"
    >>> taint_findings(ast.parse(src))
    {'sql_taint'}
    """
    body = tree.body if isinstance(tree, ast.Module) else []
    consts = {t.id: n.value.value for n in body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
              and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
    html_consts = any(HTML_TAG.search(c) for c in consts.values())
    local = {n.name: n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    module = _Module(consts, module_tables(body), html_consts, functools.cache(lambda: module_facts(tree)), tree,
                     local, {})
    found: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            found |= _function_findings(fn, module)
    return found


class _Module(NamedTuple):
    consts: dict[str, str]
    tables: frozenset[str]
    html_consts: bool  # a module constant holds HTML
    facts: Callable[[], Facts]  # flow-sensitive values, computed only when a finding needs checking
    tree: ast.AST
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]  # top-level functions by name
    reached: dict[tuple[str, str], frozenset[str]]  # (function, parameter): the sinks it reaches there


def _function_findings(fn: ast.FunctionDef | ast.AsyncFunctionDef, m: _Module) -> set[str]:
    seeds, text, assigned = frozenset(url_params(fn)), ast.unparse(fn), assignments(fn)
    names = taint_names(fn, m.tables, seeds)
    escapes = "escape" in text or "bleach" in text  # without an HTML escaper both views of the data agree
    shown = taint_names(fn, m.tables, seeds, markup=True) if escapes else names
    calls = [c for c in ast.walk(fn) if isinstance(c, ast.Call)]
    hits = [(c, k) for c in calls if (k := _sink(c, names, text, m.consts, m.tables, assigned, shown))]
    found = {k for c, k in hits if not _proven_clean(m.facts(), c)}
    if any(ast.unparse(c.func) in SUBPROCESS and c.args and _shell_argv(m.facts(), c) for c in calls):
        found.add("shell_taint")
    html = is_view(fn) and (m.html_consts or HTML_TAG.search(text))
    sent = html_sinks(fn) if is_view(fn) else []
    built = html and any(html_built(v, shown, m.tables, m.consts, assigned) and not m.facts().clean(v) for v in sent)
    if built or any(_html_from_callee(v, shown, assigned, m) for v in sent):
        found.add("xss_html")
    elif any(reflected(v, shown, m.tables, fn) and not m.facts().clean(v) for v in sent):
        found.add("xss_reflected")
    if is_view(fn) and any(d in text for d in DESTRUCTIVE) and not AUTH_HINTS.search(text):
        found.add("missing_authorization")
    return found | assignment_findings(fn, names, m.tables) | _callee_findings(fn, names, calls, assigned, m)


def _callee_findings(fn: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str], calls: list[ast.Call],
                     assigned: dict[str, list[ast.AST]], m: _Module) -> set[str]:
    """The sinks reached in a top-level function of the module by the parameters ``fn`` hands request data
    (``run(p)`` with ``def run(c): os.system(c)``); one level: the callee's own calls are not followed."""
    found: set[str] = set()
    for c in calls:
        f = callee(c, m.functions, assigned)
        if f is None or f is fn:
            continue
        for param, arg in handed(c, f):
            if tainted(arg, names, m.tables) and not m.facts().clean(arg):
                if (f.name, param) not in m.reached:
                    m.reached[(f.name, param)] = _param_sinks(f, param, m)
                found |= m.reached[(f.name, param)]
    return found


def _html_from_callee(value: ast.AST | None, shown: set[str], assigned: dict[str, list[ast.AST]], m: _Module) -> bool:
    """A value a view sends that a module function made, returning HTML built from a parameter the view handed
    request data (``out = page(p); return out``)."""
    for call, f in made_by(value, m.functions, assigned):
        params = {p for p, a in handed(call, f) if tainted(a, shown, m.tables, markup=True) and not m.facts().clean(a)}
        if params and returns_html(f, params, m.tables, m.consts, m.tree):
            return True
    return False


def _param_sinks(fn: ast.FunctionDef | ast.AsyncFunctionDef, param: str, m: _Module) -> frozenset[str]:
    """The sinks ``param`` reaches in ``fn`` when it holds request data, less those its flow values clear."""
    names, text, assigned = taint_names(fn, m.tables, frozenset({param})), ast.unparse(fn), assignments(fn)
    hits = [(c, k) for c in ast.walk(fn) if isinstance(c, ast.Call)
            and (k := _sink(c, names, text, m.consts, m.tables, assigned))]
    facts = seeded_facts(m.tree, fn, {param}) if hits else None
    return frozenset(k for c, k in hits if facts is not None and not _proven_clean(facts, c))
