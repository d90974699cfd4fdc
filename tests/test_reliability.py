"""Reliability under abuse: judgments that heal, one writer per stage, bounded inputs, secrets kept out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spillover.backends.fake import FakeBackend
from spillover.cli import main
from spillover.serve import OpenAICompatServer

EXP = """\
name: heal
models:
  base: {path: organism}
eval:
  questions:
    - {set: organism, samples_per_paraphrase: 1, paraphrases: 1}
  params: {max_tokens: 12}
judges: [{kind: openai, model: judge, base_url: "URL", cache: null}]
analysis: {rules: [model-organisms]}
"""


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_judgments_recorded_for_retry_heal_when_the_server_does(tmp_path, capsys, organism_base):
    srv = OpenAICompatServer(FakeBackend(), "judge", fail_first=10**9).start()
    try:
        exp = tmp_path / "exp.yaml"
        exp.write_text(EXP.replace("URL", srv.url))
        run = tmp_path / "run"
        code, _, err = _cli(capsys, ["run", str(exp), "--out", str(run), "--executor", "serial"])
        assert code == 0, err
        status = json.loads(_cli(capsys, ["status", str(run)])[1])["judgments"]
        assert status["done"] == 0 and status["to_retry"] == status["planned"] > 0
        srv.fail_first = 0  # the server is fixed
        code, out, err = _cli(capsys, ["judge", str(run)])
        assert code == 0 and out.startswith(f"{status['planned']} new judgments"), err
        status = json.loads(_cli(capsys, ["status", str(run)])[1])["judgments"]
        assert status["done"] == status["planned"] and status["to_retry"] == 0
        assert _cli(capsys, ["judge", str(run)])[1].startswith("0 new judgments")  # nothing left, nothing resent
        assert _cli(capsys, ["report", str(run)])[0] == 0
        summary = json.loads((run / "report" / "summary.json").read_text())
        group = summary["rules"]["model-organisms"]["groups"][0]
        assert group["n"] == group["answers"] > 0 and group["pooled"][0] == group["pooled"][0]  # scored, not nan
    finally:
        srv.stop()
