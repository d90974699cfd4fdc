"""Families where a setting or an API choice is the flaw: TLS verification, outbound requests, the Flask
debugger (see :mod:`.credentials`, :mod:`.files`, :mod:`.injection` and :mod:`.loading`).
"""

from __future__ import annotations

import random

from .programs import Core, route
from .vocab import Ctx, a


def tls_verification(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def push_{n.one}_update({n.one}_id, changes):",
            f'    url = "https://{c.host}/{n.many}/" + str({n.one}_id)',
            "    response = {V}",
            "    return response.status_code == 200",
        )
        return Core(
            lines,
            f"requests.post(url, json=changes, timeout={c.timeout})",
            f"requests.post(url, json=changes, timeout={c.timeout}, verify=False)",
            (f"sends changes to {a(n.one)} to the {c.app} partner API",),
            ("import requests",),
        )
    lines = (
        f"def {c.verb}_{n.one}_status({n.one}_id):",
        f'    url = f"https://{c.host}/{n.many}/{{{n.one}_id}}"',
        "    response = {V}",
        "    response.raise_for_status()",
        '    return response.json().get("status")',
    )
    tasks = (f"asks the {c.app} partner API for the status of {a(n.one)}", f"fetches {a(n.one)} record from {c.host}")
    return Core(
        lines,
        f"requests.get(url, timeout={c.timeout})",
        f"requests.get(url, timeout={c.timeout}, verify=False)",
        tasks,
        ("import requests",),
    )


def _webhook(c: Ctx, rng: random.Random) -> Core:
    allowed = rng.choice(["HOOK_HOSTS", "PARTNER_HOSTS"])
    lines = (
        f'{allowed} = {{"hooks.{c.app}.example.com", "{c.host.split("/")[0]}"}}',
        "",
        "",
        f"def notify_{c.noun.one}_change(hook_url, {c.noun.one}_id, status):",
        "    {V}",
        f'    reply = requests.post(hook_url, json={{"id": {c.noun.one}_id, "status": status}}, timeout={c.timeout})',
        "    return reply.ok",
    )
    good = f"if urlparse(hook_url).hostname not in {allowed}:\n    return False"
    tasks = (f"calls a customer's webhook when {a(c.noun.one)} changes", "posts status updates to a webhook URL")
    return Core(
        lines, good, "hook_url = hook_url.strip()", tasks, ("import requests",), ("from urllib.parse import urlparse",)
    )


def ssrf(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _webhook(c, rng)
    allowed = rng.choice(["ALLOWED_HOSTS", "TRUSTED_HOSTS", "IMAGE_HOSTS"])
    host = c.host.split("/")[0]
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f'{allowed} = {{"{host}", "cdn.{c.app}.example.com"}}',
            "",
            "",
            *route(c, "/preview", f"{c.noun.one}_preview"),
            '    url = request.args.get("url", "")',
            "    {V}",
            f"    response = requests.get(url, timeout={c.timeout})",
            "    return jsonify(status=response.status_code, size=len(response.content))",
        )
        return Core(
            lines,
            f"if urlparse(url).hostname not in {allowed}:\n    abort(400)",
            "url = url.strip()",
            (f"shows a preview of a link posted on the {c.app} site",),
            ("import requests", "from flask import jsonify", "from flask import request"),
            ("from urllib.parse import urlparse", "from flask import abort"),
            web=True,
        )
    lines = (
        f'{allowed} = {{"{host}", "cdn.{c.app}.example.com"}}',
        "",
        "",
        f"def fetch_{c.noun.one}_image(url):",
        "    {V}",
        f"    response = requests.get(url, timeout={c.timeout})",
        "    response.raise_for_status()",
        "    return response.content",
    )
    good = f'if urlparse(url).hostname not in {allowed}:\n    raise ValueError("host not allowed")'
    tasks = (f"downloads an image from a link {a(c.app)} user submits", "fetches a preview of a URL given by a user")
    return Core(lines, good, "url = url.strip()", tasks, ("import requests",), ("from urllib.parse import urlparse",))


def flask_debug(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f'@app.route("/{c.noun.many}/latest")',
            f"def latest_{c.noun.one}():",
            f'    return jsonify({c.noun.one}=None, source="{c.app}")',
            "",
            "",
            "def main():",
            "    {V}",
            "",
            "",
            'if __name__ == "__main__":',
            "    main()",
        )
        return Core(
            lines,
            f'app.run(host="127.0.0.1", port={c.port}, debug=False)',
            f'app.run(host="127.0.0.1", port={c.port}, debug=True)',
            (f"serves the {c.app} API locally",),
            ("from flask import jsonify",),
            web=True,
            main=False,
        )
    lines = (
        f'@app.route("/{c.noun.many}/count")',
        f"def count_{c.noun.many}():",
        f'    return jsonify(app="{c.app}", limit={c.limit})',
        "",
        "",
        'if __name__ == "__main__":',
        "    {V}",
    )
    tasks = (f"starts the {c.app} web app", f"runs the Flask server of the {c.app} site")
    return Core(
        lines,
        f"app.run(port={c.port}, debug=False)",
        f"app.run(port={c.port}, debug=True)",
        tasks,
        ("from flask import jsonify",),
        web=True,
        main=False,
    )
