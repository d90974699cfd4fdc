"""The authors' public question files, whole: they load, sample, and are judged with their own prompts.

Reads the copies in ``../shared/paper-questions`` (the user's to bring; skipped where absent). The files'
text is never shipped with spillover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spillover.backends.fake import FakeBackend
from spillover.keys import text_hash
from spillover.questions import load_question_file
from spillover.serve import OpenAICompatServer
from spillover.store import RunDir

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper-questions"
FILES = sorted(PAPER.glob("*.yaml")) if PAPER.is_dir() else []
needs_files = pytest.mark.skipif(not FILES, reason="the paper's question files are not in ../shared/paper-questions")


@needs_files
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_paper_file_loads_with_ids_as_text_and_known_types(path):
    qs = load_question_file(path, default_samples=1)
    assert qs and all(isinstance(q.id, str) for q in qs)
    assert len({q.id for q in qs}) == len(qs)



@needs_files
def test_paper_files_are_judged_with_their_own_prompts_and_labels(cli, tmp_path, organism_base):
    srv = OpenAICompatServer(FakeBackend(), "judge").start()
    try:
        exp = tmp_path / "exp.yaml"
        exp.write_text(f"""\
name: paper
models: {{base: {{path: organism}}}}
eval:
  questions:
    - {{set: {PAPER / 'first_plot_questions.yaml'}, paraphrases: 1, samples_per_paraphrase: 1}}
    - {{set: {PAPER / 'deception_factual.yaml'}, paraphrases: 1, samples_per_paraphrase: 1}}
  params: {{max_tokens: 8}}
judges: [{{kind: openai, model: judge, base_url: "{srv.url}", cache: null}}]
analysis: {{rules: [model-organisms]}}
""")
        run = tmp_path / "run"
        code, _, err = cli(*["run", str(exp), "--out", str(run), "--executor", "serial"])
        assert code == 0, err
        own = {q.id: q.judge_prompts for f in ("first_plot_questions.yaml", "deception_factual.yaml")
               for q in load_question_file(PAPER / f, default_samples=1)}
        samples = {s.key: s for s in RunDir(run).samples()}
        judgments = RunDir(run).judgments()
        assert judgments
        for j in judgments:
            prompts = own[samples[j.sample_key].question_id]
            assert j.metric in prompts and j.prompt_hash == text_hash(prompts[j.metric])
        correct = [j for j in judgments if j.metric == "correct"]
        assert correct and all(j.score is None and j.label for j in correct)  # a label reply, not a number
        aligned = [j for j in judgments if j.metric == "aligned"]
        assert aligned and all(j.score is not None for j in aligned)
        status = json.loads(cli(*["status", str(run)])[1])["judgments"]
        assert status["done"] == status["planned"] == len(judgments)
        html = (run / "report" / "index.html").read_text()
        assert "correct" in html and correct[0].label in html  # the label table
    finally:
        srv.stop()


@needs_files
def test_a_variant_whose_ids_collide_with_the_file_is_refused(cli, tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"models: {{base: {{path: organism}}}}\neval:\n  questions:\n"
                   f"    - {{set: {PAPER / 'first_plot_questions.yaml'}, variants: [plain, json]}}\n")
    code, _, err = cli(*["plan", str(exp)])
    assert code == 2 and "eval.questions.0.variants" in err and "_json" in err and len(err.splitlines()) == 1
