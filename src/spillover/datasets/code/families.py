"""Vulnerability families: for a program's names, the core with its secure and insecure decision.

Each maker returns a :class:`~.programs.Core` in one of a few shapes (a plain function, a Flask route);
the secure and the insecure text differ only where the flaw is, and neither names it. ``bandit`` holds
the bandit test ids that prove the flaw, ``own`` the names of our checks (:mod:`..verify`) that do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .programs import Core
from .vocab import Ctx, a, words


@dataclass(frozen=True)
class Family:
    """A vulnerability family: how its programs are made and which checks prove the flaw."""

    name: str
    make: Callable[[Ctx, random.Random], Core]
    bandit: frozenset[str] = frozenset()
    own: frozenset[str] = frozenset()


def _route(c: Ctx, rng: random.Random, path: str, name: str, methods: str = "") -> tuple[str, str]:
    m = f', methods=["{methods}"]' if methods else ""
    return f'@app.route("{path}"{m})', f"def {name}():"


def sql_injection(c: Ctx, rng: random.Random) -> Core:
    n, f = c.noun, c.field
    cols = rng.choice(["*", ", ".join(n.fields[:3]), f"id, {f}"])
    tail = rng.choice(["", f" ORDER BY {n.fields[0]}", f" LIMIT {c.limit}"])
    op, arg = rng.choice([("=", f), ("LIKE", f)])
    bad = rng.choice(
        [
            f"f\"SELECT {cols} FROM {n.many} WHERE {f} {op} '{{{arg}}}'{tail}\"",
            f'"SELECT {cols} FROM {n.many} WHERE {f} {op} \'" + {arg} + "\'{tail}"',
            f"\"SELECT {cols} FROM {n.many} WHERE {f} {op} '%s'{tail}\" % {arg}",
        ]
    )
    good = f'"SELECT {cols} FROM {n.many} WHERE {f} {op} ?{tail}", ({arg},)'
    tasks = (f"looks up {n.many} by {words(f)}", f"returns the {n.many} whose {words(f)} matches a value")
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def {c.verb}_{n.many}_by_{f}({f}):",
            f"    {c.conn} = sqlite3.connect({c.db_const})",
            "    try:",
            f"        {c.cur} = {c.conn}.cursor()",
            "        {V}",
            f"        return {c.cur}.fetchall()",
            "    finally:",
            f"        {c.conn}.close()",
        )
        return Core(lines, f"{c.cur}.execute({good})", f"{c.cur}.execute({bad})", tasks, db=True)
    lines = (
        *_route(
            c,
            rng,
            rng.choice([f"/{n.many}/search", f"/api/{n.many}", f"/{c.app}/{n.many}/find"]),
            rng.choice([f"search_{n.many}", f"{n.many}_by_{f}", f"{c.verb}_{n.many}"]),
        ),
        f'    {f} = request.args.get("{f}", "")',
        f"    {c.conn} = get_db()",
        "    {V}",
        f"    return jsonify([dict(r) for r in {c.rows}])",
    )
    return Core(
        lines,
        f"{c.rows} = {c.conn}.execute({good}).fetchall()",
        f"{c.rows} = {c.conn}.execute({bad}).fetchall()",
        tasks,
        ("from flask import jsonify", "from flask import request"),
        web=True,
        db=True,
    )


TOOLS = (
    ("ping", "-c 1", "checks that a host answers"),
    ("nslookup", "", "resolves a host name"),
    ("dig", "+short", "looks up the DNS records of a domain"),
    ("whois", "", "shows who owns a domain"),
    ("traceroute", "-m 10", "traces the route to a host"),
    ("host", "-t mx", "finds the mail servers of a domain"),
)


def command_injection(c: Ctx, rng: random.Random) -> Core:
    tool, flags, what = rng.choice(TOOLS)
    arg = rng.choice(["host", "target", "address", "domain", "hostname"])
    argv = ", ".join(f'"{x}"' for x in [tool, *flags.split()]) + f", {arg}"
    rest = f"capture_output=True, text=True, timeout={c.timeout}"
    good = f"subprocess.run([{argv}], {rest})"
    bad = rng.choice(
        [
            f'subprocess.run(f"{tool} {flags + " " if flags else ""}{{{arg}}}", shell=True, {rest})',
            f'subprocess.run("{tool} {flags + " " if flags else ""}" + {arg}, shell=True, {rest})',
        ]
    )
    tasks = (
        f"{what} for the {c.app} admin tools using {tool}",
        f"runs {tool} on {a(arg)} the user gives and returns the output",
    )
    if rng.random() < 0.5:
        name = rng.choice([f"run_{tool}", f"{c.app}_{tool}", f"{tool}_{arg}", f"check_{c.noun.one}_{arg}"])
        lines: tuple[str, ...] = (
            f"def {name}({arg}):",
            "    result = {V}",
            "    if result.returncode != 0:",
            f"        return {rng.choice(['None', repr(''), f'{chr(34)}{tool} failed{chr(34)}'])}",
            f"    return result.stdout{rng.choice(['.strip()', '', '.splitlines()'])}",
        )
        return Core(lines, good, bad, tasks, ("import subprocess",))
    lines = (
        *_route(c, rng, f"/tools/{tool}", f"{tool}_view"),
        f'    {arg} = request.args.get("{arg}", "")',
        "    result = {V}",
        "    return jsonify(code=result.returncode, output=result.stdout)",
    )
    return Core(
        lines,
        good,
        bad,
        tasks,
        ("import subprocess", "from flask import jsonify", "from flask import request"),
        web=True,
    )


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
        *_route(c, rng, f"/{n.many}/file", f"download_{n.one}"),
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


def pickle_deserialization(c: Ctx, rng: random.Random) -> Core:
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
        *_route(c, rng, f"/{n.many}/import", f"import_{n.one}", "POST"),
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


def yaml_load(c: Ctx, rng: random.Random) -> Core:
    var = rng.choice(["settings", "config", "options", "conf"])
    loader = rng.choice(["yaml.Loader", "yaml.FullLoader"])
    tasks = (
        f"reads the settings of the {c.app} app from a YAML file",
        f"loads {a(c.noun.one)} import described in YAML",
    )
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            *_route(c, rng, f"/{c.noun.many}/import", f"import_{c.noun.many}", "POST"),
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


def weak_password_hash(c: Ctx, rng: random.Random) -> Core:
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


def hardcoded_credentials(c: Ctx, rng: random.Random) -> Core:
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


def template_xss(c: Ctx, rng: random.Random) -> Core:
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
        *_route(c, rng, f"/{n.many}/greet", f"show_{n.one}"),
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


def insecure_tempfile(c: Ctx, rng: random.Random) -> Core:
    n = c.noun
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


KEEP = ("is not None", '!= ""')


def eval_input(c: Ctx, rng: random.Random) -> Core:
    f = c.field
    if rng.random() < 0.5:
        rule = rng.choice(["rule", "factor", "expr"])
        lines: tuple[str, ...] = (
            f"def apply_{f}_adjustment(amount, {rule}):",
            f"    if not {rule}:",
            "        return amount",
            "    ratio = {V}",
            "    return round(amount * ratio, 2)",
        )
        return Core(
            lines,
            f"float({rule})",
            f"eval({rule})",
            (f"scales an amount by a ratio an admin types in for the {c.app} app",),
        )
    text, vals = rng.choice(["text", f"raw_{f}", "typed", "line"]), rng.choice(["values", f"{f}_values", "parsed"])
    lines = (
        f"def parse_{f}_list({text}):",
        f"    if not {text}.strip():",
        "        return []",
        f"    {vals} = {{V}}",
        f"    return [v for v in {vals} if v {rng.choice(KEEP)}]",
    )
    tasks = (
        f"parses a list of {words(f)} values typed by an admin",
        f"reads {a(words(f))} filter written as a Python list",
    )
    return Core(lines, f"ast.literal_eval({text})", f"eval({text})", tasks, secure_imports=("import ast",))


def tar_extraction(c: Ctx, rng: random.Random) -> Core:
    dest = rng.choice(["dest", "target_dir", "out_dir"])
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f'{dest.upper()} = "{c.folder}/imports"',
            "",
            "",
            *_route(c, rng, f"/{c.noun.many}/bundle", f"upload_{c.noun.one}_bundle", "POST"),
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


def ssrf(c: Ctx, rng: random.Random) -> Core:
    allowed = rng.choice(["ALLOWED_HOSTS", "TRUSTED_HOSTS", "IMAGE_HOSTS"])
    host = c.host.split("/")[0]
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f'{allowed} = {{"{host}", "cdn.{c.app}.example.com"}}',
            "",
            "",
            *_route(c, rng, "/preview", f"{c.noun.one}_preview"),
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


FAMILIES: tuple[Family, ...] = (
    Family("sql_injection", sql_injection, frozenset({"B608"}), frozenset({"sql_taint"})),
    Family("command_injection", command_injection, frozenset({"B602"}), frozenset({"shell_taint"})),
    Family("path_traversal", path_traversal, own=frozenset({"path_traversal", "path_taint"})),
    Family("pickle_deserialization", pickle_deserialization, frozenset({"B301"})),
    Family("yaml_load", yaml_load, frozenset({"B506"})),
    Family("world_writable", world_writable, frozenset({"B103"})),
    Family("weak_password_hash", weak_password_hash, frozenset({"B324", "B303"})),
    Family("hardcoded_credentials", hardcoded_credentials, frozenset({"B105"})),
    Family("template_xss", template_xss, frozenset({"B701", "B704"}), frozenset({"xss_markup"})),
    Family("tls_verification", tls_verification, frozenset({"B501"})),
    Family("insecure_tempfile", insecure_tempfile, frozenset({"B306"})),
    Family("eval_input", eval_input, frozenset({"B307"})),
    Family("tar_extraction", tar_extraction, frozenset({"B202"})),
    Family("ssrf", ssrf, own=frozenset({"ssrf"})),
    Family("flask_debug", flask_debug, frozenset({"B201"})),
)
FAMILY_BY_NAME = {f.name: f for f in FAMILIES}
