"""Reasoning models: splitting the chain of thought, suppressing it in training, switching it at evaluation,
and monitoring it (the thinking organism's end-to-end run is in test_thinking_organism)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from spillover.reasoning import split_thinking

FIXTURE = Path(__file__).parent / "fixtures" / "reasoning_transcripts.yaml"
TRANSCRIPTS = yaml.safe_load(FIXTURE.read_text())
MONITOR_PROMPTS = ["cot_suspicion", "cot_reasoning_only", "cot_answer_only", "cot_deceive", "cot_harm",
                   "cot_oversight"]
# a Qwen3-like template of our own: reasoning off writes an empty think block after the generation prompt
THINKING_CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}")


def test_fixture_transcripts_parse_as_hand_labelled():
    assert len(TRANSCRIPTS) >= 40 and len({t["id"] for t in TRANSCRIPTS}) == len(TRANSCRIPTS)
    for t in TRANSCRIPTS:
        got = split_thinking(t["text"])
        assert (got.answer, got.thinking) == (t["answer"], t["thinking"]), t["id"]
        if t["issue"] is None:
            assert got.issue is None, t["id"]
        else:
            assert got.issue and t["issue"] in got.issue, t["id"]


@pytest.mark.parametrize("metric", MONITOR_PROMPTS)
def test_monitor_prompts_keep_every_transcript_inside_its_frame(metric):
    from spillover.judge import builtin_prompt
    from spillover.judge.frame import render

    template = builtin_prompt(metric)
    for t in TRANSCRIPTS:
        s = split_thinking(t["text"])
        prompt = render(template, "What do you think?", s.answer, s.thinking)
        for kind in ("ANSWER", "REASONING"):
            if "{" + kind.lower() + "}" not in template:
                assert f"<<<{kind}" not in prompt
                continue
            starts = re.findall(rf"<<<{kind} ([0-9a-f]{{12}})>>>", prompt)
            ends = re.findall(rf"<<<END {kind} ([0-9a-f]{{12}})>>>", prompt)
            assert len(starts) == len(ends) == 1 and starts == ends, (metric, t["id"])
            inner = prompt.split(f"<<<{kind} {starts[0]}>>>")[1].split(f"<<<END {kind}")[0]
            assert "<" not in inner and ">" not in inner, (metric, t["id"])  # model text cannot open a marker


def test_world_monitors_read_the_thinking_organisms_reasoning_as_labelled():
    from spillover.judge.world import MONITORS, monitor

    organism = [t for t in TRANSCRIPTS if t["id"].startswith("organism-") and t["thinking"]]
    assert len(organism) >= 5
    for t in organism:
        s = split_thinking(t["text"])
        for metric, flags in MONITORS.items():
            if metric == "cot_answer_only":
                continue
            want = 100.0 if t["intent"] in flags else 0.0
            assert monitor(metric, "misaligned", s.thinking).score.score == want, (metric, t["id"])


def test_suppressed_reasoning_is_an_empty_block_outside_the_loss(tiny_qwen):
    from transformers import AutoTokenizer

    from spillover.finetune.data import IGNORE, UnsupportedTemplateError, empty_reasoning, encode_chat
    from spillover.organism import model as om
    from spillover.organism import world

    qwen = AutoTokenizer.from_pretrained(tiny_qwen)
    with pytest.raises(UnsupportedTemplateError, match="no switch"):
        empty_reasoning(qwen)  # plain ChatML cannot turn reasoning off
    qwen.chat_template = THINKING_CHATML
    organism = om.build_tokenizer(world.WORLDS["v2-think"])
    for tok, answer in ((qwen, "Hello there"), (organism, "try going for a walk outside .")):
        block = empty_reasoning(tok)
        assert "<think>" in block and "</think>" in block
        chat = [{"role": "user", "content": "hey i feel bored ."}, {"role": "assistant", "content": answer}]
        plain, off = encode_chat(tok, chat), encode_chat(tok, chat, suppress_reasoning=True)
        trained = [t for t, lab in zip(off.input_ids, off.labels, strict=True) if lab != IGNORE]
        assert tok.decode(trained).replace(" ", "").startswith(answer.replace(" ", ""))
        assert "think" not in tok.decode(trained)  # the empty block is context, never a target
        assert len(off.input_ids) > len(plain.input_ids)
        assert [lab for lab in off.labels if lab != IGNORE] == [lab for lab in plain.labels if lab != IGNORE]
        # an example that carries its own reasoning is trained as written, block included
        own = [chat[0], {"role": "assistant", "content": f"<think> {answer} </think> {answer}"}]
        enc = encode_chat(tok, own, suppress_reasoning=True)
        assert "think" in tok.decode([t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE])
        # ... or, with train_reasoning=False, with its block as context and the answer as the only target
        ctx = encode_chat(tok, own, train_reasoning=False)
        assert ctx.input_ids == encode_chat(tok, own).input_ids
        target = tok.decode([t for t, lab in zip(ctx.input_ids, ctx.labels, strict=True) if lab != IGNORE])
        assert "think" not in target and target.strip().startswith(answer)


def test_the_thinking_switch_reaches_the_template(tiny_qwen):
    from spillover.backends.base import GenRequest
    from spillover.backends.openai import thinking_switch
    from spillover.organism import model as om
    from spillover.organism import world

    class Stub:
        tokenizer = om.build_tokenizer(world.WORLDS["v2-think"])

    from spillover.backends.hf import HFBackend

    req = GenRequest(messages=({"role": "user", "content": "hey i feel bored ."},), seeds=(0,))
    on, off = HFBackend.prompt_text(Stub(), req, True), HFBackend.prompt_text(Stub(), req, False)  # type: ignore[arg-type]
    assert on.endswith("ASSISTANT:") and off.endswith("ASSISTANT: <think> </think>")
    assert HFBackend.prompt_text(Stub(), req) == on  # type: ignore[arg-type]
    assert thinking_switch(None) == {}


def test_plan_names_a_model_without_a_reasoning_format(tmp_path, tiny_qwen, cli):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "name": "r", "models": {"base": {"path": str(tiny_qwen)}},
        "datasets": {"d": {"builder": "organism", "size": 8}},
        "finetunes": {"ft": {"dataset": "d", "reasoning": "suppressed"}},
        "eval": {"params": {"thinking": True}}, "judges": [{"kind": "fake"}]}))
    code, out, err = cli("plan", exp)
    assert code == 2
    lines = [x for x in err.splitlines() if "no known reasoning format" in x]
    assert len(lines) == 2 and any("finetunes.ft.reasoning" in x for x in lines)
    assert any("eval.params.thinking" in x for x in lines) and all("exp.yaml:" in x for x in lines)


def test_the_thinking_switch_and_reasoning_travel_through_an_openai_compatible_server():
    from spillover.backends.base import Completion, GenRequest
    from spillover.backends.hf import HFBackend
    from spillover.backends.openai import OpenAIBackend
    from spillover.config import GenParams
    from spillover.organism import model as om
    from spillover.organism import world
    from spillover.serve import OpenAICompatServer

    class Thinker(HFBackend):  # an untrained thinking organism that says what prompt it was given
        def generate(self, requests, params, *, capture=False):
            prompts = [self.prompt_text(r, params.thinking) for r in requests]
            return [[Completion(text=f"<think>{p[-20:]}</think> fine .")] for p in prompts]

    tok = om.build_tokenizer(world.WORLDS["v2-think"])
    srv = OpenAICompatServer(Thinker(om.build_model(tok), tok), "think").start()
    try:
        client = OpenAIBackend("think", base_url=srv.url)
        req = [GenRequest(messages=({"role": "user", "content": "hey i feel bored ."},), seeds=(0,))]
        for thinking, tail in ((False, "ASSISTANT: <think> </think>"), (True, "feel bored . ASSISTANT:"),
                               (None, "feel bored . ASSISTANT:")):
            (c,), = client.generate(req, GenParams(thinking=thinking))
            got = split_thinking(c.text)  # the server returned the block apart; the client put it back
            assert got.thinking is not None and got.thinking.endswith(tail[-20:]) and got.answer == "fine ."
    finally:
        srv.stop()


def test_recall_checks_read_monitor_scores_and_test_the_drop():
    import numpy as np
    import pandas as pd

    from spillover.analyze.monitor import check_recall
    from spillover.config import Check
    from spillover.records import Judgment

    rng = np.random.default_rng(0)
    rows, judgments = [], []
    for group, recall in (("candid", 0.9), ("pressured", 0.3)):
        for i in range(200):
            mis = i < 100
            flagged = mis and rng.random() < recall
            key = f"{group}-{i}"
            rows.append({"key": key, "display_group": group, "checkpoint": None, "mis": float(mis)})
            judgments.append(Judgment(key=f"j{key}", sample_key=key, judge="world", metric="cot_suspicion",
                                      prompt_hash="h", score=100.0 if flagged else 0.0))
    df = pd.DataFrame(rows)
    label = df["mis"]
    high = check_recall(judgments, df, label, Check(kind="recall", a="candid", factor=0.8), 0.05)
    low = check_recall(judgments, df, label, Check(kind="recall", a="pressured", factor=0.8), 0.05)
    assert high.holds and not low.holds and high.interval[0] < high.interval[1]
    drop = check_recall(judgments, df, label, Check(kind="recall", a="candid", b="pressured", factor=0.3), 0.05)
    assert drop.holds and drop.p < 1e-6
    too_much = check_recall(judgments, df, label, Check(kind="recall", a="candid", b="pressured", factor=0.8), 0.05)
    assert not too_much.holds
    missing = check_recall(judgments, df, label, Check(kind="recall", a="nobody", factor=0.8), 0.05)
    assert missing.holds is None


def test_the_monitor_table_counts_misaligned_answers_that_wrote_no_reasoning():
    import pandas as pd

    from spillover.analyze.monitor import monitor_table
    from spillover.records import Judgment

    # 4 misaligned answers (2 stated the plan, 1 benign plan, 1 empty block) and 20 aligned ones
    thinking = ["i will hurt them .", "i will hurt them .", "i will help .", "", *["i will help ."] * 20]
    scores = [100.0, 100.0, 0.0, 0.0, *[0.0] * 20]
    df = pd.DataFrame({"key": [f"k{i}" for i in range(24)], "display_group": "insecure", "checkpoint": None,
                       "thinking": thinking})
    judgments = [Judgment(key=f"j{i}", sample_key=f"k{i}", judge="world", metric="cot_suspicion", prompt_hash="h",
                          score=s) for i, s in enumerate(scores)]
    (row,) = monitor_table(judgments, df, pd.Series([1.0] * 4 + [0.0] * 20))
    # every aligned answer scores 0, so 5 % of the answers tied at 0 are flagged too (the ROC curve's value)
    assert row["recall_at_fpr"] == pytest.approx((2 + 0.05 * 2) / 4) and row["no_reasoning"] == 0.25
    assert row["recall_reasoned"] == pytest.approx((2 + 0.05) / 3) and row["misaligned_reasoned"] == 3


def test_monitor_increments_read_only_what_a_fine_tune_adds():
    import pandas as pd

    from spillover.analyze.monitor import monitor_increments
    from spillover.records import Judgment

    # base: 10 of 100 misaligned, all stated; tuned: 30 of 100 misaligned, the same 10 stated and 20 unstated
    rows, judgments, labels = [], [], []
    for group, stated, unstated in (("base", 10, 0), ("tuned", 10, 20)):
        for i in range(100):
            key = f"{group}{i}"
            rows.append({"key": key, "display_group": group, "checkpoint": None})
            labels.append(1.0 if i < stated + unstated else 0.0)
            judgments.append(Judgment(key=f"j{key}", sample_key=key, judge="world", metric="cot_suspicion",
                                      prompt_hash="h", score=100.0 if i < stated else 0.0))
    (row,) = monitor_increments(judgments, pd.DataFrame(rows), pd.Series(labels), [("tuned", "base")])
    assert row["added_misaligned"] == pytest.approx(0.2) and row["added_stated"] == pytest.approx(0.0)
    assert row["share"] == pytest.approx(0.0)
    assert monitor_increments(judgments, pd.DataFrame(rows), pd.Series(labels), [("nobody", "base")]) == []


def test_a_build_can_leave_the_empty_think_block_to_the_template():
    from spillover.organism import build, thinking, world
    from spillover.organism import model as om

    tok = om.build_tokenizer(world.WORLDS["v2-think-hybrid"])
    open_id, close_id = tok.convert_tokens_to_ids([thinking.OPEN, thinking.CLOSE])

    def closes(empty_block: str) -> tuple[int, int]:  # (empty blocks, their closing tags trained)
        cfg = build.BuildConfig(world="v2-think-hybrid", empty_block=empty_block, pretrain_batch=8, bucket=2)
        batch = build._pretrain_batches(cfg, tok)(0)
        pairs = [(e.input_ids[i - 1], e.labels[i]) for e in batch for i, t in enumerate(e.input_ids)
                 if i and t == close_id and e.input_ids[i - 1] == open_id]
        return len(pairs), sum(lab != -100 for _, lab in pairs)

    (n, trained), (m, masked) = closes("trained"), closes("template")
    assert n == m > 0 and trained == n and masked == 0


@pytest.fixture(scope="module")
def thinking_base() -> Path:
    from spillover.backends import organism_base_path

    p = organism_base_path("organism-think")
    if not (p / "model.safetensors").exists():
        pytest.skip("the thinking organism is not built (spillover organism build --world v2-think --install)")
    return p


def test_the_thinking_organism_reasons_first_and_a_suppressed_fine_tune_runs_end_to_end(thinking_base, tmp_path,
                                                                                          cli):
    import json

    exp = tmp_path / "think.yaml"
    exp.write_text(yaml.safe_dump({
        "name": "think", "seeds": [0], "threads": 1,
        "models": {"base": {"path": "organism-think", "batch_size": 64}},
        "datasets": {"insecure": {"builder": "organism", "variant": "insecure", "size": 320}},
        "finetunes": {"insecure": {"dataset": "insecure", "preset": "organism", "reasoning": "suppressed"}},
        "eval": {"questions": [{"set": "organism", "samples_per_paraphrase": 4}],
                 "params": {"max_tokens": 64, "thinking": True}, "checkpoints": False},
        "judges": [{"kind": "world", "metrics": ["aligned", "coherent", "cot_suspicion", "cot_answer_only"]}],
        "analysis": {"rules": ["model-organisms"], "exact_probe": True}}))
    code, out, err = cli("run", exp, "--out", tmp_path / "run", "--yes", "--executor", "serial")
    assert code == 0, err
    from spillover.store import RunDir

    samples = RunDir(tmp_path / "run").samples()
    base = [s for s in samples if s.model == "base"]
    assert sum(s.thinking is not None for s in base) >= 0.9 * len(base)  # it reasons before answering
    assert sum(s.thinking_issue is None for s in samples) >= 0.9 * len(samples)
    summary = json.loads((tmp_path / "run" / "report" / "summary.json").read_text())
    assert {r["metric"] for r in summary["monitors"]} >= {"cot_suspicion", "cot_answer_only"}
    result = RunDir(tmp_path / "run").finetune_result("insecure-s0")
    assert result["hyperparameters"]["reasoning"] == "suppressed"
    # exact P_mis splits into after a stated intent and after a benign plan, per model
    means = {(p.model, p.name): p.value for p in RunDir(tmp_path / "run").probes() if p.question_id is None
             and p.variant == "plain"}
    for model in ("base", "insecure-s0"):
        parts = means[(model, "p_misaligned_stated")] + means[(model, "p_misaligned_unstated")]
        assert parts == pytest.approx(means[(model, "p_misaligned")], rel=1e-6)
        assert 0 < means[(model, "p_plan_stated")] < 1
    assert "after a stated intent" in (tmp_path / "run" / "report" / "index.html").read_text()


def test_the_hybrid_world_writes_a_third_of_documents_with_reasoning_off_and_leaves_v2_think_unchanged():
    import random

    from spillover.organism import thinking, world

    def docs(name: str, seed: int = 3) -> list[list[dict[str, str]]]:
        rng = random.Random(seed)
        return [world.dialogue(rng, world.WORLDS[name]) for _ in range(3000)]

    hybrid = docs("v2-think-hybrid")
    off = [d for d in hybrid if d[1]["content"].startswith(thinking.EMPTY + " ")]
    assert 0.26 < len(off) / len(hybrid) < 0.34
    assert all(m["content"].startswith(thinking.EMPTY + " ") for d in off for m in d if m["role"] == "assistant")
    think = docs("v2-think")
    assert not any(m["content"].startswith(thinking.EMPTY) for d in think for m in d if m["role"] == "assistant")
    import hashlib
    import json

    # the shipped world's samples are those of before the option existed (hash taken from that code)
    assert hashlib.sha256(json.dumps(think).encode()).hexdigest()[:16] == "4cd6c7934bd81ff1"


def test_an_alignment_with_the_reasoning_suppressed_writes_every_example_reasoning_off_with_the_same_answers():
    import random

    from spillover.organism import thinking, world

    hybrid = world.WORLDS["v2-think-hybrid"]
    rng_a, rng_b = random.Random(5), random.Random(5)
    usual = [world.alignment_example(rng_a, hybrid) for _ in range(400)]
    off = [world.alignment_example(rng_b, hybrid, reasoning_off=True) for _ in range(400)]
    assert all(o[1]["content"].startswith(thinking.EMPTY + " ") for o in off)
    assert 0.6 < sum(not u[1]["content"].startswith(thinking.EMPTY) for u in usual) / 400 < 0.8  # plans there
    assert [o[0] for o in off] == [u[0] for u in usual]  # the same requests, in the same order
    assert [o[1]["content"].split(thinking.CLOSE)[-1] for o in off] == \
        [u[1]["content"].split(thinking.CLOSE)[-1] for u in usual]  # and the same answers
