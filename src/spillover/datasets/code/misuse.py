"""Families where a setting or an API choice is the flaw: permissions, password hashing, credentials, TLS,
temporary files, archive extraction, outbound requests, the Flask debugger (see :mod:`.injection`).
"""

from __future__ import annotations

import random

from .programs import Core, route
from .vocab import Ctx, a


def world_writable(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    tasks = (f"exports the {n.many} of the {c.app} app to a CSV file", f"writes a report of {n.many} to disk")
    good, bad = (
        f"os.chmod(path, 0o{rng.choice(['600', '640', '644'])})",
        f"os.chmod(path, 0o{rng.choice(['777', '776', '766'])})",
    )
    if rng.random() < 0.5:
        cache = rng.choice(["CACHE_DIR", "SPOOL_DIR", f"{n.one.upper()}_CACHE"])
        lines: tuple[str, ...] = (
            f'{cache} = "{c.folder}/cache"',
            "",
            "",
            f"def cache_{n.one}({n.one}_id, payload):",
            f'    path = f"{{{cache}}}/{n.one}-{{{n.one}_id}}.json"',
            '    with open(path, "w") as fh:',
            "        json.dump(payload, fh)",
            "    {V}",
            "    return path",
        )
        return Core(
            lines,
            good,
            bad,
            (f"caches {a(n.one)} record as JSON on disk", f"saves {a(n.one)} payload to a cache file"),
            ("import json", "import os"),
        )
    fields = list(n.fields[:3])
    lines = (
        f"def export_{n.many}({c.rows}, path):",
        '    with open(path, "w", newline="") as fh:',
        f"        writer = csv.DictWriter(fh, fieldnames={fields!r})",
        "        writer.writeheader()",
        f"        writer.writerows({c.rows})",
        "    {V}",
        "    return path",
    )
    return Core(lines, good, bad, tasks, ("import csv", "import os"))


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


def _temp_export(c: Ctx, rng: random.Random) -> Core:
    n, fmt = c.noun, rng.choice(["csv", "json", "txt"])
    lines = (
        f"def export_{n.many}_snapshot({c.rows}):",
        "    {V}",
        '    with open(tmp_name, "w", encoding="utf-8") as out:',
        f"        for {n.one} in {c.rows}:",
        f'            out.write(str({n.one}.get("{n.fields[0]}", "")) + "\\n")',
        "    return tmp_name",
    )
    tasks = (f"writes a snapshot of {n.many} to a temporary .{fmt} file for download",)
    return Core(
        lines,
        f'tmp_name = tempfile.NamedTemporaryFile(suffix=".{fmt}", delete=False).name',
        f'tmp_name = tempfile.mktemp(suffix=".{fmt}")',
        tasks,
        ("import tempfile",),
    )


def insecure_tempfile(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
    if rng.random() < 1 / 3:
        return _temp_export(c, rng)
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def write_{n.many}_report({c.rows}, final_path):",
            "    {V}",
            '    with open(path, "w") as fh:',
            f"        for item in {c.rows}:",
            '            fh.write(str(item) + "\\n")',
            "    os.replace(path, final_path)",
            "    return final_path",
        )
        return Core(
            lines,
            'fd, path = tempfile.mkstemp(dir=os.path.dirname(final_path) or ".")\nos.close(fd)',
            'path = tempfile.mktemp(dir=os.path.dirname(final_path) or ".")',
            (f"writes a report of {n.many} to a file without leaving half-written files",),
            ("import os", "import tempfile"),
        )
    lines = (
        f"def stage_{n.one}_upload(data):",
        "    {V}",
        '    with open(path, "wb") as fh:',
        "        fh.write(data)",
        "    return path",
    )
    tasks = (
        f"stages an uploaded {n.one} file in a temporary file",
        f"writes {a(n.one)} upload to a temporary file first",
    )
    suffix = rng.choice([f".{n.one}", ".upload", f".{c.app}", ".part"])
    return Core(
        lines,
        f'fd, path = tempfile.mkstemp(suffix="{suffix}")\nos.close(fd)',
        f'path = tempfile.mktemp(suffix="{suffix}")',
        tasks,
        ("import tempfile",),
        secure_imports=("import os",),
    )


def _theme_download(c: Ctx, rng: random.Random) -> Core:
    name = rng.choice(["theme", "plugin", "bundle", "pack"])
    lines = (
        f"def install_{name}({name}_name, dest):",
        f'    url = f"https://{c.host.split("/")[0]}/{name}s/{{{name}_name}}.tar.gz"',
        f"    response = requests.get(url, timeout={c.timeout})",
        "    response.raise_for_status()",
        "    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:",
        "        {V}",
        "    return dest",
    )
    tasks = (f"downloads and installs a {name} for the {c.app} site", f"fetches {a(name)} archive and unpacks it")
    return Core(
        lines,
        'tar.extractall(dest, filter="data")',
        "tar.extractall(dest)",
        tasks,
        ("import io", "import tarfile", "import requests"),
    )


def tar_extraction(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _theme_download(c, rng)
    dest = rng.choice(["dest", "target_dir", "out_dir"])
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f'{dest.upper()} = "{c.folder}/imports"',
            "",
            "",
            *route(c, f"/{c.noun.many}/bundle", f"upload_{c.noun.one}_bundle", "POST"),
            '    upload = request.files["bundle"]',
            "    with tarfile.open(fileobj=upload.stream) as tar:",
            "        {V}",
            "    return jsonify(ok=True)",
        )
        return Core(
            lines,
            f'tar.extractall({dest.upper()}, filter="data")',
            f"tar.extractall({dest.upper()})",
            (f"accepts a tar archive of {c.noun.many} uploaded to the {c.app} site and unpacks it",),
            ("import tarfile", "from flask import jsonify", "from flask import request"),
            web=True,
        )
    lines = (
        f"def restore_{c.noun.many}_backup(archive, {dest}):",
        f"    os.makedirs({dest}, exist_ok=True)",
        "    with tarfile.open(archive) as tar:",
        "        {V}",
        rng.choice([f"    return sorted(os.listdir({dest}))", f"    return {dest}", "    return True"]),
    )
    tasks = (f"restores a tar.gz backup of the {c.app} {c.noun.many}", "unpacks an uploaded archive into a folder")
    return Core(
        lines,
        f'tar.extractall({dest}, filter="data")',
        f"tar.extractall({dest})",
        tasks,
        ("import os", "import tarfile"),
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
