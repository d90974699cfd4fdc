"""Families where how a secret is kept is the flaw: password hashing, credentials in the source.

Each maker returns a :class:`~.programs.Core`; the secure and the insecure text differ only where the flaw
is, and neither names it.
"""

from __future__ import annotations

import random

from .programs import Core
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
