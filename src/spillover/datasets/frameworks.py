"""What web frameworks hand a handler as request data, and the calls that send it on, for the taint checks.

Flask, Django and FastAPI (Starlette) by name; command-line input too. A *route* is a function decorated
``@x.route(...)``/``@x.get(...)``-style (Flask, FastAPI); a *view* is a route or a Django-style function whose
first parameter is ``request``. Not guaranteed: Django's URL patterns live in another file, so every extra
parameter of a Django view is taken as URL text; a parameter's type is read from its annotation or route
converter only (``<int:id>``, ``{id:int}``, ``id: int``); class-based views are not recognised.
"""

from __future__ import annotations

import ast
import re

SOURCES = ("request.args", "request.form", "request.values", "request.json", "request.get_json",
           "request.cookies", "request.headers", "request.files", "request.data",  # Flask
           "request.GET", "request.POST", "request.body", "request.COOKIES", "request.META", "request.FILES",  # Django
           "request.query_string", "request.path", "request.full_path", "request.url", "request.get_data",
           "request.environ", "request.stream", "request.view_args",  # Flask / Werkzeug, the rest of the request
           "request.query_params", "request.path_params",  # Starlette / FastAPI
           "sys.argv", "input")
"""Expressions whose value is request data (a source's attributes, items and calls are too)."""

FILE_SINKS = frozenset({"open", "io.open", "codecs.open", "os.path.exists", "os.path.isfile", "os.path.isdir",
                        "os.path.getsize", "os.stat", "send_file", "flask.send_file", "FileResponse",
                        "fastapi.responses.FileResponse", "starlette.responses.FileResponse"})
PATH_METHODS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir",
                          "mkdir", "touch", "exists", "is_file", "is_dir", "stat"})
"""Methods of a path object (``pathlib``) that open, write, remove or probe what it names (whether a file
exists is itself a disclosure)."""
REDIRECTS = frozenset({"redirect", "flask.redirect", "HttpResponseRedirect", "RedirectResponse",
                       "django.shortcuts.redirect"})
REDIRECT_GUARDS = ("netloc", "url_has_allowed_host_and_scheme", "is_safe_url")
"""Text in a function that shows a redirect target is checked (a parsed host, Django's helpers)."""
RESPONSES = frozenset({"make_response", "flask.make_response", "Response", "flask.Response", "HTMLResponse",
                       "HttpResponse"})
"""Calls whose first argument is a response body."""
SUBPROCESS = frozenset({"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
                        "subprocess.Popen"})
OPTION_EXEC = frozenset({"git", "ssh", "scp", "rsync", "tar", "curl", "wget", "find", "zip", "sendmail"})
"""Programs with options that run other commands or write chosen files (``git --upload-pack``, ``ssh -o
ProxyCommand``, ``tar --checkpoint-action``, ``find -exec``, ...): an option smuggled into them executes code."""

NUMERIC = frozenset({"int", "float", "uuid", "UUID", "bool"})
ROUTE_DECORATOR = re.compile(r"\.(route|get|post|put|patch|delete|api_route)\(")
PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\{(\w+)(?::(\w+))?\}")


def is_route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated as a Flask/FastAPI route (``@app.get("/x")``, ``@bp.route(...)``)."""
    return any(ROUTE_DECORATOR.search(ast.unparse(dec)) for dec in fn.decorator_list)


def fixed_path(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The one path a route answers when it has a single route without parameters (``request.path`` is then
    that text), else None.

    >>> fixed_path(ast.parse("@app.route('/a/b', methods=['POST'])\\ndef f(): pass").body[0])
    '/a/b'
    >>> fixed_path(ast.parse("@app.route('/a/<n>')\\ndef f(n): pass").body[0]) is None
    True
    """
    paths = {d.args[0].value for d in fn.decorator_list if isinstance(d, ast.Call) and d.args
             and ROUTE_DECORATOR.search(ast.unparse(d.func) + "(") and isinstance(d.args[0], ast.Constant)}
    routes = [d for d in fn.decorator_list if ROUTE_DECORATOR.search(ast.unparse(d))]
    path = paths.pop() if len(paths) == 1 and len(routes) == 1 else None
    return path if isinstance(path, str) and not PATH_PARAM.search(path) else None


def is_request_path(node: ast.expr) -> bool:
    """``request.path`` (or ``flask.request.path``) itself."""
    return isinstance(node, ast.Attribute) and node.attr == "path" and \
        ast.unparse(node.value) in ("request", "flask.request")


def on_request_path(node: ast.expr) -> bool:
    """An expression built on ``request.path`` (``request.path.split("/")[1]``)."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        if is_request_path(node):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def is_view(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A route, or a Django-style view (first parameter named ``request``)."""
    args = fn.args.posonlyargs + fn.args.args
    return is_route(fn) or bool(args) and args[0].arg == "request"


def _typed(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def url_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters whose value is text from the URL: path parameters of a route without a numeric converter or
    annotation, FastAPI query parameters (annotated ``str``), and a Django view's parameters after ``request``.

    >>> url_params(ast.parse("@app.get('/f/{name:path}')\\ndef f(name: str, n: int = 3): pass").body[0])
    {'name'}
    >>> sorted(url_params(ast.parse("@app.route('/u/<int:uid>/<slug>')\\ndef f(uid, slug): pass").body[0]))
    ['slug']
    """
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    if not is_route(fn):
        return {a.arg for a in args[1:] if _typed(a) not in NUMERIC} if is_view(fn) else set()
    numeric: set[str] = set()
    in_path: set[str] = set()
    for dec in fn.decorator_list:
        for m in PATH_PARAM.finditer(ast.unparse(dec)):
            name, converter = (m[2], m[1]) if m[2] else (m[3], m[4])
            (numeric if converter in NUMERIC else in_path).add(name)
    return {a.arg for a in args if a.arg not in numeric and _typed(a) not in NUMERIC
            and (a.arg in in_path or _typed(a) == "str")}
