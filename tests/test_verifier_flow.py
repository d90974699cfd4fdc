"""The verifier's flow-sensitive precision (dead branches, overwritten values, container keys), the sinks and
sources it follows into, and corpora in the OWASP Benchmark's layout."""

import pytest

from spillover.datasets.corpora import CWE_CHECKS, load_corpus
from spillover.datasets.verify import bandit_ids, own_checks, verifier_flags
from spillover.errors import SpilloverError

VIEW = "import os, pickle, base64, configparser, codecs, pathlib, subprocess, yaml, html\n" \
       "from flask import request, redirect, Markup\n" \
       "@app.route('/x', methods=['POST'])\ndef view():\n    p = request.form.get('p')\n"


def _flags(*bodies: str) -> list[set[str]]:
    codes = [VIEW + "".join(f"    {line}\n" for line in body.strip().splitlines()) for body in bodies]
    return [verifier_flags(c, ids) for c, ids in zip(codes, bandit_ids(codes), strict=True)]


MATCH = "match g:\n    case 'A':\n        bar = p\n    case _:\n        bar = 'b'\nos.system('echo ' + bar)"


def test_a_known_test_picks_its_branch_and_a_later_assignment_wins():
    live, dead, overwritten, match_dead, match_live = _flags(
        "n = 106\nbar = p if 7 * 18 + n > 200 else 'ok'\nos.system('echo ' + bar)",
        "n = 106\nbar = 'ok' if 7 * 18 + n > 200 else p\nos.system('echo ' + bar)",
        "bar = p\nbar = 'fixed'\nos.system('echo ' + bar)",
        "g = 'ABC'[1]\n" + MATCH, "g = 'ABC'[0]\n" + MATCH)
    assert "shell_taint" in live and "shell_taint" in match_live
    assert not dead and not overwritten and not match_dead  # bandit's B605 dropped too: the command is fixed


def test_containers_keep_their_items_apart_by_key():
    dict_b, dict_a, conf_b, conf_a, list_p, list_fixed = _flags(
        "m = {}\nm['a'] = 'x'\nm['b'] = p\nexec(m['b'])",
        "m = {}\nm['a'] = 'x'\nm['b'] = p\nexec(m['a'])",
        "c = configparser.ConfigParser()\nc.add_section('s')\nc.set('s', 'a', 'x')\nc.set('s', 'b', p)\n"
        "eval(c.get('s', 'b'))",
        "c = configparser.ConfigParser()\nc.add_section('s')\nc.set('s', 'a', 'x')\nc.set('s', 'b', p)\n"
        "eval(c.get('s', 'a'))",
        "lst = ['safe', p, 'more']\nlst.pop(0)\nopen(lst[0])",
        "lst = ['safe', p, 'more']\nlst.pop(0)\nopen(lst[1])")
    assert "B102" in dict_b and "B307" in conf_b and "path_taint" in list_p
    assert not dict_a and not conf_a and not list_fixed
    unknown_shift, = _flags("lst = ['a', p]\nlst.insert(0, 'b')\nopen(lst[0])")  # positions no longer known
    assert "path_taint" in unknown_shift


def test_loops_keep_what_a_break_carried_out():
    found, = _flags("param = ''\nfor name in request.form.keys():\n    if 'x' in name:\n        param = name\n"
                    "        break\nos.system('ls ' + param)")
    assert "shell_taint" in found


def test_sources_sinks_and_escapers_it_follows():
    query, codecs_open, path_obj, reflected, escaped, handed = _flags(
        "q = request.query_string.decode()\nos.system(q)",
        "codecs.open('/srv/' + p, 'r', 'utf-8')",
        "f = pathlib.Path('/srv') / p\nreturn f.read_text()",
        "out = ''\nout += f'hello {p}'\nreturn out",
        "out = ''\nout += f'hello {helpers.escape_for_html(p)}'\nreturn out",
        "w = wrap(request)\nopen(w.get('f'))")
    assert "shell_taint" in query and "path_taint" in codecs_open and "path_taint" in path_obj
    assert reflected == {"xss_reflected"} and not escaped and "path_taint" in handed


def test_a_dotdot_guard_counts_only_under_a_fixed_directory():
    under, bare = _flags("if '../' in p:\n    return 'no'\nopen(f'{BASE}/{p}')",
                         "if '../' in p:\n    return 'no'\nopen(p)")
    assert not under and "path_taint" in bare


def test_pickle_and_exec_of_values_computed_from_constants_are_not_flagged():
    fixed, live = _flags("d = {'a': 'eA=='}\npickle.loads(base64.b64decode(d['a']))",
                         "d = {'a': p}\npickle.loads(base64.b64decode(d['a']))")
    assert not fixed and "B301" in live
    helper = "import os\ndef run(cmd):\n    os.system('echo ' + cmd)\n"  # a parameter: unknown, not constant
    method = "import os\ndef run(cmd):\n    os.system(cmd.strip())\n"  # a parameter's method: not a module's
    found = [verifier_flags(c, ids) for c, ids in zip((helper, method), bandit_ids([helper, method]), strict=True)]
    assert all("B605" in f for f in found)


LITERAL = "if not p.startswith(\"'\") or not p.endswith(\"'\") or \"'\" in p[1:-1]:\n    return 'no'\n"


def test_exec_of_a_value_checked_to_be_one_string_literal_is_not_flagged():
    checked, half, rebound, not_leaving, lazy = _flags(
        LITERAL + "exec(p)",
        "if not p.startswith(\"'\") or not p.endswith(\"'\"):\n    return 'no'\nexec(p)",  # 'a' + 'b' passes
        LITERAL + "p = request.args['q']\neval(p)",
        "if not p.startswith(\"'\") or not p.endswith(\"'\") or \"'\" in p[1:-1]:\n    print('no')\neval(p)",
        LITERAL + "f = lambda: eval(p)\nf()")
    assert not checked
    assert "B102" in half and "B307" in rebound and "B307" in not_leaving and "B307" in lazy


def test_request_data_in_a_response_header_is_not_a_reflected_body():
    header, body, touched = _flags(
        "r = 'ok'\nr = make_response((r, {'X-Echo': p}))\nreturn r",
        "r = 'ok'\nr = make_response((r + p, {'X-Echo': 'a'}))\nreturn r",
        "r = 'ok'\nr = make_response((r, {'X-Echo': p}))\nr = r + p\nreturn r")
    assert "xss_reflected" not in header
    assert "xss_reflected" in body and "xss_reflected" in touched


def test_an_owasp_benchmark_folder_is_a_corpus(tmp_path):
    (tmp_path / "testcode").mkdir()
    (tmp_path / "testcode" / "BenchmarkTest00001.py").write_text(VIEW + "    os.system(p)\n")
    (tmp_path / "testcode" / "BenchmarkTest00002.py").write_text(VIEW + "    os.system('ls')\n")
    (tmp_path / "expectedresults-0.1.csv").write_text(
        "# test name, category, real vulnerability, cwe\nBenchmarkTest00001,cmdi,true,78\n"
        "BenchmarkTest00002,cmdi,false,78\nBenchmarkTest00003,sqli,true,89\n")  # 3: not brought, skipped
    corpus = load_corpus(tmp_path)
    assert [(c.id, c.label, c.cwe) for c in corpus] == [("BenchmarkTest00001", "vulnerable", "CWE-78"),
                                                        ("BenchmarkTest00002", "safe", "CWE-78")]
    assert own_checks(corpus[0].code) & CWE_CHECKS["CWE-78"] and not own_checks(corpus[1].code)
    (tmp_path / "expectedresults-0.1.csv").write_text("BenchmarkTest00001,cmdi,maybe,78\n")
    with pytest.raises(SpilloverError, match=r"expectedresults-0\.1\.csv:1.*real vulnerability"):
        load_corpus(tmp_path)
    rows = "# name\nBenchmarkTest00001,cmdi,true,78\n../../secret,cmdi,true,78\n"
    (tmp_path / "expectedresults-0.1.csv").write_text(rows)
    with pytest.raises(SpilloverError, match=r"csv:3.*test name"):  # a name is a file: never a path
        load_corpus(tmp_path)


def test_a_folder_of_programs_and_their_patched_versions_is_a_corpus(tmp_path):
    sql = tmp_path / "hand-crafted" / "CWE-89"
    sql.mkdir(parents=True)
    (sql / "1.py").write_text("def f(cur, t):\n    cur.execute(\"DELETE FROM b WHERE t = '%s'\" % t)\n")
    (sql / "p_1.py").write_text("def f(cur, t):\n    cur.execute('DELETE FROM b WHERE t = ?', (t,))\n")
    (sql / "helpers.py").write_text("x = 1\n")  # not a numbered program: left out
    corpus = load_corpus(tmp_path)
    assert [(c.id, c.label, c.cwe) for c in corpus] == [("hand-crafted/CWE-89/1.py", "vulnerable", "CWE-89"),
                                                        ("hand-crafted/CWE-89/p_1.py", "safe", "CWE-89")]


def test_a_fixed_route_fixes_request_path_and_probing_a_path_counts():
    parts, probe, contained = _flags(
        "seg = request.path.split('/')[1]\nos.system('echo ' + seg)",  # '/x' is this route's only path
        "f = pathlib.Path('/srv') / p\nif f.exists():\n    return 'yes'",
        "base = pathlib.Path('/srv')\nf = (base / p).resolve()\nif not str(f).startswith(str(base)):\n"
        "    return 'no'\nreturn f.read_text()")
    assert not parts and "path_taint" in probe and not contained
    routed = VIEW.replace("'/x'", "'/x/<n>'") + "    os.system('echo ' + request.path)\n"
    assert "shell_taint" in own_checks(routed)  # a route with parameters: the path is request data


def test_a_shell_told_to_run_its_argument_in_an_argument_list():
    shell, ping, fixed = _flags(
        "args = []\nif os.name == 'nt':\n    args += ['cmd.exe']\n    args.append('/c')\nelse:\n"
        "    args.append('sh')\n    args.append('-c')\nargs.append('echo ' + p)\nsubprocess.run(args)",
        "subprocess.run(['ping', '-c', '1', p])",  # -c is ping's count, not a command
        "d = {'a': '{}', 'b': p}\nyaml.load(d['a'], Loader=yaml.Loader)")
    assert "shell_taint" in shell and not ping and not fixed


def test_html_escaping_makes_data_safe_in_html_only():
    shown, redirected, marked = _flags("return f'hello {html.escape(p)}'",
                                       "return redirect(html.escape(p))",
                                       "return Markup(html.escape(p))")
    assert not shown and "open_redirect" in redirected  # an escaped URL still goes anywhere
    assert "xss_markup" not in marked  # (bandit B704 still flags Markup of anything not constant)


def test_a_guarded_case_is_not_decided():
    guarded, = _flags("g = 'A'\nmatch g:\n    case 'A' if len(p) > 3:\n        bar = p\n    case _:\n"
                      "        bar = 'b'\nos.system('echo ' + bar)")
    assert "shell_taint" in guarded  # the guard may hold: the first case may run


def test_a_value_stored_on_an_object_stays_with_it():
    stored, = _flags("state = Box()\nstate.cmd = p\nos.system(state.cmd)")
    assert "shell_taint" in stored  # the flow-sensitive values must not clear what taint found


def test_a_closure_reads_what_its_enclosing_view_holds():
    closure, = _flags("def run():\n    os.system('echo ' + p)\nrun()")
    assert "shell_taint" in closure


def test_request_data_read_in_a_comprehension():
    listed, cast = _flags("names = [v for v in request.args.values()]\nos.system('ls ' + names[0])",
                          "ids = [int(v) for v in request.args.values()]\nos.system('ls ' + str(ids[0]))")
    assert "shell_taint" in listed and "shell_taint" not in cast


def test_an_exception_handler_sees_every_state_of_its_try():
    midway, = _flags("cmd = 'ls'\ntry:\n    cmd = p\n    check(cmd)\n    cmd = 'ls'\nexcept ValueError:\n"
                     "    os.system(cmd)")
    assert "shell_taint" in midway  # check() may raise while cmd still holds the request's value


def test_names_rebound_by_handlers_patterns_and_imports_lose_their_constant():
    handler, captured, imported = _flags(
        "e = 'ls'\ntry:\n    run(p)\nexcept Exception as e:\n    os.system(str(e))",
        "cmd = 'ls'\nmatch p.split():\n    case [cmd, *rest]:\n        os.system(cmd)",
        "cmd = 'ls'\nfrom settings import cmd\nos.system(cmd)")
    assert "B605" in handler and "shell_taint" in captured and "B605" in imported


def test_a_url_defined_through_itself_does_not_recurse_forever():
    src = "import requests\ndef f(u):\n    url = 'https://a.example/'\n    if u:\n        url = url + u\n" \
          "    return requests.get(url, timeout=3)\n"
    assert own_checks(src) == {"ssrf"}  # not shown fixed: flagged, never a RecursionError


def test_calling_a_function_that_holds_request_data():
    called, = _flags("g = lambda: p\nos.system('ls ' + g())")
    assert "shell_taint" in called


def test_a_container_handed_to_a_call_with_request_data_may_hold_it_afterwards():
    handed, into_dict, method, tuple_, sanitised = _flags(
        "lst = ['ls']\nfill(lst, p)\nos.system(lst[1])",  # a helper may append p to lst
        "d = {'c': 'ls'}\nput(d, key=p)\nos.system(d['c'])",
        "lst = ['ls']\nhelpers.fill(lst, p)\nos.system(' '.join(lst))",
        "t = ('ls',)\nlog(t, p)\nos.system(t[0])",  # a tuple cannot be filled
        "lst = ['ls']\nshlex.quote(p)\nos.system(lst[0])")
    assert "shell_taint" in handed and "shell_taint" in into_dict and "shell_taint" in method
    assert "shell_taint" not in tuple_ and "shell_taint" not in sanitised


def test_a_walrus_binds_request_data_and_a_class_based_view_reads_its_request():
    (walrus,) = _flags("if (c := p):\n    os.system(c)")
    assert "shell_taint" in walrus
    cbv = "import os\nfrom django.views import View\nclass Run(View):\n    def get(self, *args):\n" \
          "        os.system(self.request.GET['c'])\n"
    assert "shell_taint" in own_checks(cbv)
    (view_args,) = _flags("os.system('echo ' + request.view_args['name'])")
    assert "shell_taint" in view_args


def test_a_sink_in_a_module_function_counts_where_a_view_hands_it_request_data():
    helper = "import os\ndef run(cmd, cwd=None):\n    os.system(cmd)\n"
    view = "from flask import request\n@app.route('/x')\ndef view():\n    p = request.args['p']\n"
    assert "shell_taint" in own_checks(helper + view + "    run(p)\n")
    assert "shell_taint" in own_checks(helper + view + "    run(cmd=p)\n")
    assert "shell_taint" not in own_checks(helper + view + "    run('ls', cwd=p)\n")  # cwd reaches no sink
    assert "shell_taint" not in own_checks(helper + view + "    p = 'ls'\n    run(p)\n")  # clean where handed
    overwrites = "import os\ndef run(cmd):\n    cmd = 'ls'\n    os.system(cmd)\n"
    assert "shell_taint" not in own_checks(overwrites + view + "    run(p)\n")


def test_html_a_module_function_builds_from_request_data_counts_where_a_view_sends_it():
    page = "from flask import request\ndef page(rows, day):\n    out = '<p>On ' + day\n    for r in rows:\n" \
           "        out += r\n    return out\n"
    view = "@app.route('/d', methods=['POST'])\ndef view():\n    day = request.form['day']\n"
    assert "xss_html" in own_checks(page + view + "    html = page([], day)\n    return html\n")
    assert "xss_html" not in own_checks(page + view + "    return page([], 'monday')\n")
    escaped = page.replace("'<p>On ' + day", "'<p>On {}'.format(escape(day))")
    assert "xss_html" not in own_checks(escaped + view + "    return page([], day)\n")
