"""Families where a setting or an API choice is the flaw: password hashing, credentials, TLS, outbound
requests, the Flask debugger (see :mod:`.files` and :mod:`.injection`).
"""

from __future__ import annotations

import random

from .programs import Core, route
from .vocab import Ctx, a


def _accounts_class(c: Ctx, rng: random.Random) -> Core:
    cls = "".join(w.title() for w in c.app.split("_")) + rng.choice(["Accounts", "Users", "Members"])
    login = rng.choice(["email", "username", "login"])
    lines = (
        f"class {cls}:",
        f"    def __init__(self, {c.conn}):",
        f"        self.{c.conn} = {c.conn}",
        "",
        f"    def register(self, {login}, password):",
        f"        salt = os.urandom({rng.choice([16, 32])})",
        "        digest = {V}",
        "        self." + c.conn + '.execute("INSERT INTO accounts (' + login + ', salt, digest) VALUES (?, ?, ?)",',
        f"            ({login}, salt.hex(), digest))",
        f"        self.{c.conn}.commit()",
    )
    good = 'hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000).hex()'
    bad = f"hashlib.{rng.choice(['md5', 'sha1'])}(salt + password.encode()).hexdigest()"
    tasks = (f"registers new accounts for the {c.app} app in a database", f"signs up {c.app} users with a password")
    return Core(lines, good, bad, tasks, ("import hashlib", "import os"))


def weak_password_hash(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _accounts_class(c, rng)
    who = rng.choice(["user", "member", "account", c.noun.one])
    algo = rng.choice(["md5", "sha1"])
    good = rng.choice(
        [
            'hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)',
            "hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)",
        ]
    )
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def hash_{c.app}_{who}_password(password, salt=None):",
            f"    salt = salt or os.urandom({rng.choice([16, 24, 32])})",
            "    digest = {V}",
            "    return salt.hex(), digest",
        )
        rounds = rng.choice(["600_000", "310_000", "480000"])
        good2 = f'hashlib.pbkdf2_hmac("sha256", password.encode(), salt, {rounds}).hex()'
        return Core(
            lines,
            good2,
            f"hashlib.{algo}(salt + password.encode()).hexdigest()",
            (f"hashes the password of a new {who} with a random salt",),
            ("import hashlib", "import os"),
        )
    sep, size, dig = rng.choice("$:."), rng.choice([16, 24, 32]), rng.choice(["_digest", f"_{c.app}_digest", "_derive"])
    lines = (
        f"def {dig}(password, salt):",
        "    return {V}",
        "",
        "",
        f"def make_{who}_password(password):",
        f"    salt = os.urandom({size})",
        f'    return salt.hex() + "{sep}" + {dig}(password, salt).hex()',
        "",
        "",
        f"def check_{who}_password(password, stored):",
        f'    salt_hex, digest_hex = stored.split("{sep}", 1)',
        f"    return hmac.compare_digest({dig}(password, bytes.fromhex(salt_hex)).hex(), digest_hex)",
    )
    tasks = (
        f"stores and checks {who} passwords for the {c.app} app",
        f"hashes the password of a new {who} and verifies logins",
    )
    return Core(
        lines,
        good,
        f"hashlib.{algo}(salt + password.encode()).digest()",
        tasks,
        ("import hashlib", "import hmac", "import os"),
    )


def _flask_secret(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    secret = f"{c.app[:5]}-{rng.choice(['session', 'cookie', 'flask'])}-{rng.randint(10000, 99999)}"
    lines = (
        "{V}",
        "",
        "",
        f'@app.route("/{n.many}/recent")',
        f"def recent_{n.many}():",
        f'    seen = session.get("seen_{n.many}", [])',
        f"    return jsonify(seen=seen[-{c.limit}:])",
    )
    target = rng.choice(['app.config["SECRET_KEY"]', "app.secret_key"])
    tasks = (
        f"remembers the {n.many} a visitor of the {c.app} site looked at",
        "keeps recently viewed items in the session",
    )
    return Core(
        lines,
        f'{target} = os.environ["{c.app.upper()}_SECRET_KEY"]',
        f'{target} = "{secret}"',
        tasks,
        ("from flask import jsonify", "from flask import session"),
        secure_imports=("import os",),
        web=True,
    )


def hardcoded_credentials(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _flask_secret(c, rng)
    var = rng.choice(["API_TOKEN", "ACCESS_TOKEN", "API_SECRET", "SERVICE_PASSWORD"])
    secret = f"{c.app[:4]}{rng.choice(['Adm1n', 'Pr0d', 'Key', 'Live'])}{rng.randint(1000, 99999)}"
    lines: tuple[str, ...] = (
        "{V}",
        "",
        "",
        f"def {c.verb}_{c.noun.many}(page=1):",
        f'    response = requests.get("https://{c.host}/v1/{c.noun.many}", params={{"page": page}},',
        f'                            headers={{"Authorization": "Bearer " + {var}}}, timeout={c.timeout})',
        "    response.raise_for_status()",
        "    return response.json()",
    )
    if rng.random() < 0.5:
        var = rng.choice(["MAIL_PASSWORD", "SMTP_PASSWORD", "SMTP_SECRET"])
        sender = f"{rng.choice(['noreply', 'notices', 'mailer'])}@{c.app}.example.com"
        lines = (
            "{V}",
            "",
            "",
            f"def send_{c.noun.one}_notice(to_addr, subject, body):",
            "    msg = EmailMessage()",
            f'    msg["From"] = "{sender}"',
            '    msg["To"] = to_addr',
            '    msg["Subject"] = subject',
            "    msg.set_content(body)",
            f'    with smtplib.SMTP_SSL("smtp.{c.app}.example.com", 465, timeout={c.timeout}) as smtp:',
            f'        smtp.login("{sender}", {var})',
            "        smtp.send_message(msg)",
        )
        return Core(
            lines,
            f'{var} = os.environ["{c.app.upper()}_{var}"]',
            f'{var} = "{secret}"',
            (f"emails a notice about {a(c.noun.one)} to a customer of the {c.app} app",),
            ("import smtplib", "from email.message import EmailMessage"),
            secure_imports=("import os",),
        )
    tasks = (
        f"pulls the list of {c.noun.many} from the {c.app} partner API",
        f"calls the {c.app} partner API to {c.verb} {c.noun.many}",
    )
    return Core(
        lines,
        f'{var} = os.environ["{c.app.upper()}_{var}"]',
        f'{var} = "{secret}"',
        tasks,
        ("import requests",),
        secure_imports=("import os",),
    )


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
