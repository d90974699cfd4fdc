"""Families where how a file is written or unpacked is the flaw: permissions, temporary files, archive
extraction (see :mod:`.credentials`, :mod:`.injection`, :mod:`.loading` and :mod:`.misuse`).
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
