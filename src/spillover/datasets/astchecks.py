"""Our own AST checks for flaws bandit does not see: a path joined from input and opened without a
containment check, a fetch whose host can come from input, a JSON Web Token decoded without verifying its
signature, and XML parsed with entity resolution on.

Each check takes a syntax tree and never executes code. Not guaranteed: names are resolved module-wide,
not per scope, and calls between functions are not followed (a URL a function takes as a parameter is
treated as open).
"""

from __future__ import annotations

import ast
import functools
import re
from typing import NamedTuple

from .commands import text_to_runner


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.append(ast.unparse(node.func))
    return names


@functools.lru_cache(maxsize=4096)
def parse(src: str) -> ast.AST | None:
    """The syntax tree, or None for code that does not parse (syntax or indentation errors, null bytes). The
    same text gives the same tree object (the checks share it, and what :mod:`.interpret` learns of it): do not
    change it."""
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError):
        return None


def path_traversal_unguarded(tree: ast.AST) -> bool:
    """A file opened from ``os.path.join`` with no realpath/commonpath containment check."""
    calls = _calls(tree)
    joins = "os.path.join" in calls and "open" in calls
    guarded = "os.path.commonpath" in calls and "os.path.realpath" in calls
    return joins and not guarded


FIXED_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#@]+[/?#]")


class Head(NamedTuple):
    """The constant text an expression starts with, and whether that is all of it."""

    text: str
    complete: bool


def _head(node: ast.AST, values: dict[str, list[ast.AST]], depth: int = 0) -> Head:
    """The known leading text of a string expression: constants, ``+``, f-strings, and names with exactly one
    assigned value (a module constant), followed to a small depth.

    >>> _head(ast.parse("B + x", mode="eval").body, {"B": [ast.Constant("https://a.example/")]})
    Head(text='https://a.example/', complete=False)
    >>> _head(ast.parse("'https://a.example/{p}'.format(p=x)", mode="eval").body, {})
    Head(text='https://a.example/', complete=False)
    """
    if isinstance(node, ast.Constant):
        return Head(node.value, True) if isinstance(node.value, str) else Head("", False)
    if isinstance(node, ast.Name) and len(values.get(node.id, [])) == 1 and depth < 8:
        return _head(values[node.id][0], values, depth + 1)
    template = _template(node)
    if template is not None:  # "https://host/{p}".format(p=x), "https://host/%s" % x: text before the first field
        cut = min((i for i in (template.find("{"), template.find("%")) if i >= 0), default=len(template))
        return Head(template[:cut], cut == len(template))
    parts: list[ast.AST] = []
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [node.left, node.right]
    elif isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
    text = ""
    for part in parts:
        h = _head(part, values, depth + 1)
        text += h.text
        if not h.complete:
            return Head(text, False)
    return Head(text, bool(parts))


def _template(node: ast.AST) -> str | None:
    """The constant text of ``"...".format(...)`` or ``"..." % ...``, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        base = node.func.value
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        base = node.left
    else:
        return None
    return base.value if isinstance(base, ast.Constant) and isinstance(base.value, str) else None


def _fixed_host(url: ast.AST, values: dict[str, list[ast.AST]] | None = None,
                seen: frozenset[str] = frozenset()) -> bool:
    """Whether a URL expression fixes scheme and host: a constant, or text that starts ``scheme://host/``
    (names resolved through ``values``; a name with several values must be fixed in each; a name defined through
    itself, ``url = url + "/"``, is not fixed)."""
    values = values or {}
    if isinstance(url, ast.Name) and len(values.get(url.id, [])) > 1:
        return url.id not in seen and all(_fixed_host(v, values, seen | {url.id}) for v in values[url.id])
    head = _head(url, values)
    return head.complete or bool(FIXED_HOST.match(head.text))


def _passed(call: ast.Call, i: int, name: str, default: ast.AST | None) -> ast.AST | None:
    """What ``call`` passes as parameter ``i`` (``name``): positionally, by keyword, else the default."""
    if i < len(call.args) and not any(isinstance(x, ast.Starred) for x in call.args[: i + 1]):
        return call.args[i]
    return next((k.value for k in call.keywords if k.arg == name), default)


def _call_args(tree: ast.AST) -> dict[str, list[ast.AST]]:
    """For each parameter of an undecorated function called in the module, the expressions its calls pass
    (or its default); a parameter some call leaves unknown (``*args``, a missing argument) gets itself."""
    calls: dict[str, list[ast.Call]] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            calls.setdefault(n.func.id, []).append(n)
    out: dict[str, list[ast.AST]] = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = fn.args.posonlyargs + fn.args.args
        defaults = dict(zip([a.arg for a in params][len(params) - len(fn.args.defaults):], fn.args.defaults,
                            strict=True))
        sites = [] if fn.decorator_list else calls.get(fn.name, [])
        for i, a in enumerate(params):
            passed = [_passed(c, i, a.arg, defaults.get(a.arg)) for c in sites]
            known = [p for p in passed if p is not None]
            out.setdefault(a.arg, []).extend(known if sites and len(known) == len(sites) else [a])
        for a in [*fn.args.kwonlyargs, *filter(None, (fn.args.vararg, fn.args.kwarg))]:
            out.setdefault(a.arg, []).append(a)
    return out


def _values(tree: ast.AST) -> dict[str, list[ast.AST]]:
    """Every value each name is given in the module: assignments, and what calls pass a parameter (a loop
    variable, an augmented assignment or a parameter left unknown is not a fixed value)."""
    values: dict[str, list[ast.AST]] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                values.setdefault(ast.unparse(t), []).append(n.value)
        elif isinstance(n, ast.AugAssign | ast.AnnAssign | ast.For):
            values.setdefault(ast.unparse(n.target), []).append(n)  # not a fixed value
    for name, passed in _call_args(tree).items():
        values.setdefault(name, []).extend(passed)
    return values


def ssrf_unguarded(tree: ast.AST) -> bool:
    """A ``requests`` call whose URL's host can come from input (not fixed by a ``scheme://host/``
    prefix, directly or in every value assigned or passed to the name used) with no comparison of the
    host against an allow-list. Names are resolved module-wide, not per scope; a function's parameter is
    fixed only when every call of it in the module passes a fixed URL.

    >>> ssrf_unguarded(ast.parse("def f(i):\\n    u = f'https://a.example/{i}'\\n    return requests.get(u)"))
    False
    >>> ssrf_unguarded(ast.parse("def f(u):\\n    return requests.get(u)\\nf('https://a.example/x')"))
    False
    """
    fetches = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func).startswith("requests.")]
    urls = [n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "url"), None) for n in fetches]
    values = _values(tree)
    open_host = any(u is not None and not _fixed_host(u, values) for u in urls)
    guarded = any(isinstance(n, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in n.ops)
                  and "hostname" in ast.unparse(n.left) for n in ast.walk(tree))
    return open_host and not guarded


URL_OPENERS = ("urlopen", "urlretrieve", "Request")


def web_urls_fixed(tree: ast.AST) -> bool:
    """Whether every ``urllib`` open (``urlopen``, ``urlretrieve``, ``Request``) is of an ``http(s)`` URL
    whose scheme and host are fixed (so bandit's "audit url open for permitted schemes", B310, does not
    apply); a request object opened by name is followed to the ``Request`` it was made from.

    >>> web_urls_fixed(ast.parse("U = 'https://a.example/h'\\nurllib.request.urlopen(U, timeout=5)"))
    True
    >>> web_urls_fixed(ast.parse("def f(u):\\n    return urllib.request.urlopen(u)"))
    False
    """
    values = _values(tree)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and ast.unparse(n.func).split(".")[-1] in URL_OPENERS):
        url = call.args[0] if call.args else _keyword(call, "url")
        if isinstance(url, ast.Name) and all(isinstance(v, ast.Call) and ast.unparse(v.func).endswith("Request")
                                             for v in values.get(url.id, [None])):
            continue  # checked where the Request is made
        if url is None or not _fixed_host(url, values) or not _head(url, values).text.startswith(
                ("https://", "http://")):
            return False
    return True


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is(node: ast.AST | None, value: bool) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _calls_to(tree: ast.AST, suffix: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(suffix)]


def jwt_unverified(tree: ast.AST) -> bool:
    """``jwt.decode`` told not to verify the signature (``options={"verify_signature": False}``, or the
    old ``verify=False``).

    >>> jwt_unverified(ast.parse("jwt.decode(t, options={'verify_signature': False})"))
    True
    >>> jwt_unverified(ast.parse("jwt.decode(t, KEY, algorithms=['HS256'])"))
    False
    """
    def off(options: ast.AST | None) -> bool:
        return isinstance(options, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "verify_signature" and _is(v, False)
            for k, v in zip(options.keys, options.values, strict=True))

    return any(_is(_keyword(c, "verify"), False) or off(_keyword(c, "options")) for c in _calls_to(tree, "jwt.decode"))


def xml_entities(tree: ast.AST) -> bool:
    """An lxml parser made with ``resolve_entities=True`` (external entities: XXE), or ``no_network=False``.

    >>> xml_entities(ast.parse("p = etree.XMLParser(resolve_entities=True)"))
    True
    >>> xml_entities(ast.parse("p = etree.XMLParser(resolve_entities=False)"))
    False
    """
    return any(_is(_keyword(c, "resolve_entities"), True) or _is(_keyword(c, "no_network"), False)
               for c in _calls_to(tree, "XMLParser"))


AST_CHECKS = {"path_traversal": path_traversal_unguarded, "ssrf": ssrf_unguarded, "jwt_unverified": jwt_unverified,
              "xml_entities": xml_entities, "text_to_runner": text_to_runner}


NEEDS = {"path_traversal": ("os.path.join",), "ssrf": ("requests",), "jwt_unverified": ("jwt",),
         "xml_entities": ("XMLParser",), "text_to_runner": ("%", "+", ".format", "{"),
         "taint": ("request", "argv", "input", ".route", ".post", ".delete", '.get("/', ".get('/", '.put("/',
                   ".put('/", '.patch("/', ".patch('/", ".api_route")}
"""Text a check needs to find anything (a source without it is not parsed for that check)."""
