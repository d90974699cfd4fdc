"""Families where input reaches a loader or a renderer: a file path, a deserialiser, a template.

Each maker returns a :class:`~.programs.Core` in one of a few shapes (a plain function, a Flask route); the
secure and the insecure text differ only where the flaw is, and neither names it.
"""

from __future__ import annotations

import random

from .programs import Core, route
from .vocab import Ctx, a, words


def path_traversal(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    base = rng.choice(["BASE_DIR", "UPLOAD_DIR", "FILES_ROOT", f"{n.one.upper()}_DIR"])
    name = rng.choice(["filename", "name", "file_name", "path_part"])
    good = (
        f"path = os.path.realpath(os.path.join({base}, {name}))\n"
        f"if os.path.commonpath([path, {base}]) != {base}:\n    {{stop}}"
    )
    bad = f"path = os.path.join({base}, {name})"
    tasks = (
        f"reads {a(n.one)} file by name from the {c.app} storage folder",
        f"serves a stored {n.one} file by its name",
    )
    head = (f'{base} = os.path.realpath("{c.folder}")', "", "")
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            *head,
            f"def read_{n.one}_file({name}):",
            "    {V}",
            '    with open(path, "rb") as fh:',
            "        return fh.read()",
        )
        return Core(
            lines, good.replace("{stop}", f'raise ValueError("no such {n.one} file")'), bad, tasks, ("import os",)
        )
    lines = (
        *head,
        *route(c, f"/{n.many}/file", f"download_{n.one}"),
        f'    {name} = request.args.get("name", "")',
        "    {V}",
        "    return send_file(path)",
    )
    return Core(
        lines,
        good.replace("{stop}", "abort(404)"),
        bad,
        tasks,
        ("import os", "from flask import request", "from flask import send_file"),
        secure_imports=("from flask import abort",),
        web=True,
    )


def _cache_class(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    cls = "".join(w.title() for w in n.one.split("_")) + rng.choice(["Cache", "Store"])
    lines = (
        f"class {cls}:",
        "    def __init__(self, backend):",
        "        self.backend = backend",
        "",
        f"    def get(self, {n.one}_id):",
        f'        raw = self.backend.get(f"{c.app}:{n.one}:{{{n.one}_id}}")',
        "        if raw is None:",
        "            return None",
        "        return {V}",
    )
    tasks = (f"wraps a key-value cache of {n.many} for the {c.app} app", f"reads cached {n.many} back from a cache")
    return Core(lines, "json.loads(raw)", "pickle.loads(raw)", tasks, (), ("import json",), ("import pickle",))


def pickle_deserialization(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _cache_class(c, rng)
    n = c.noun
    arg = rng.choice(["payload", "blob", "raw", "body", "data"])
    tasks = (f"restores {a(n.one)} record sent by a client", f"reads a cached {n.one} entry back into a dict")
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def decode_{n.one}({arg}):",
            f"    if not {arg}:",
            "        return None",
            "    {V}",
            f"    return {{k: {n.one}.get(k) for k in {list(n.fields[:3])!r}}}",
        )
        return Core(
            lines,
            f"{n.one} = json.loads({arg})",
            f"{n.one} = pickle.loads({arg})",
            tasks,
            secure_imports=("import json",),
            insecure_imports=("import pickle",),
        )
    lines = (
        *route(c, f"/{n.many}/import", f"import_{n.one}", "POST"),
        f"    {arg} = request.get_data()",
        "    {V}",
        f"    return jsonify(imported=len({n.one}))",
    )
    return Core(
        lines,
        f"{n.one} = json.loads({arg})",
        f"{n.one} = pickle.loads({arg})",
        tasks,
        ("from flask import jsonify", "from flask import request"),
        ("import json",),
        ("import pickle",),
        web=True,
    )


def _yaml_column(c: Ctx, rng: random.Random) -> Core:
    n, loader = c.noun, rng.choice(["yaml.Loader", "yaml.FullLoader"])
    lines = (
        f"def {n.one}_metadata({c.conn}, {n.one}_id):",
        f'    row = {c.conn}.execute("SELECT meta FROM {n.many} WHERE id = ?", ({n.one}_id,)).fetchone()',
        "    if row is None:",
        "        return {}",
        "    meta = {V}",
        f"    return {{k: meta[k] for k in {list(n.fields[:2])!r} if k in meta}}",
    )
    tasks = (f"reads the YAML metadata stored with {a(n.one)} record", f"loads the extra fields of {a(n.one)}")
    return Core(
        lines, "yaml.safe_load(row[0]) or {}", f"yaml.load(row[0], Loader={loader}) or {{}}", tasks, ("import yaml",)
    )


def yaml_load(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _yaml_column(c, rng)
    var = rng.choice(["settings", "config", "options", "conf"])
    loader = rng.choice(["yaml.Loader", "yaml.FullLoader"])
    tasks = (
        f"reads the settings of the {c.app} app from a YAML file",
        f"loads {a(c.noun.one)} import described in YAML",
    )
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            *route(c, f"/{c.noun.many}/import", f"import_{c.noun.many}", "POST"),
            "    {V}",
            f"    return jsonify(received=len({var} or []))",
        )
        return Core(
            lines,
            f"{var} = yaml.safe_load(request.get_data())",
            f"{var} = yaml.load(request.get_data(), Loader={loader})",
            tasks,
            ("import yaml", "from flask import jsonify", "from flask import request"),
            web=True,
        )
    lines = (
        f"def load_{var}(path):",
        "    with open(path) as fh:",
        "        {V}",
        f'    {var}.setdefault("{rng.choice(c.noun.fields)}_{rng.choice(["limit", "default", "format"])}", {c.limit})',
        f"    return {var}",
    )
    return Core(
        lines,
        f"{var} = yaml.safe_load(fh) or {{}}",
        f"{var} = yaml.load(fh, Loader={loader}) or {{}}",
        tasks,
        ("import yaml",),
    )


def _notice_template(c: Ctx, rng: random.Random) -> Core:
    n, key = c.noun, rng.choice(["TEMPLATES", "PAGES", "SNIPPETS"])
    lines = (
        f'{key} = {{"{n.one}.html": "<p>Hello {{{{ name }}}}, your {n.one} {{{{ ref }}}} is {{{{ state }}}}.</p>"}}',
        "",
        "",
        f"def render_{n.one}_notice(name, ref, state):",
        "    env = {V}",
        f'    return env.get_template("{n.one}.html").render(name=name, ref=ref, state=state)',
    )
    good = f"jinja2.Environment(loader=jinja2.DictLoader({key}), autoescape=True)"
    bad = f"jinja2.Environment(loader=jinja2.DictLoader({key}), autoescape=False)"
    tasks = (f"renders the notice sent when {a(n.one)} changes state", f"fills the {c.app} {n.one} notice template")
    return Core(lines, good, bad, tasks, ("import jinja2",))


def template_xss(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _notice_template(c, rng)
    f, n = c.field, c.noun
    tasks = (
        f"renders a page that shows the {words(f)} of {a(n.one)}",
        f"builds the {n.one} detail page of the {c.app} site",
    )
    if rng.random() < 0.5:
        tpl = f'"<h1>{{{{ {f} }}}}</h1><p>{c.app.title()} {n.one}</p>"'
        lines: tuple[str, ...] = (
            f"def render_{n.one}_{f}({f}):",
            "    env = {V}",
            f"    template = env.from_string({tpl})",
            f"    return template.render({f}={f})",
        )
        good = rng.choice(
            [
                "jinja2.Environment(autoescape=True)",
                "jinja2.Environment(autoescape=jinja2.select_autoescape(default_for_string=True))",
            ]
        )
        return Core(lines, good, "jinja2.Environment(autoescape=False)", tasks, ("import jinja2",))
    lines = (
        *route(c, f"/{n.many}/greet", f"show_{n.one}"),
        f'    {f} = request.args.get("{f}", "")',
        "    {V}",
        "    return html",
    )
    return Core(
        lines,
        f'html = Markup("<h2>{{}}</h2>").format({f})',
        f'html = Markup(f"<h2>{{{f}}}</h2>")',
        tasks,
        ("from flask import request", "from markupsafe import Markup"),
        web=True,
    )
