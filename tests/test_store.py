import json

import pytest

from spillover.errors import SpilloverError
from spillover.records import SampleRecord
from spillover.store import RunDir, Stage, atomic_write_json, read_jsonl


def rec(key: str, answer: str = "a") -> SampleRecord:
    return SampleRecord(key=key, model="m", group="g", seed=0, checkpoint=None, question_id="q",
                        base_question_id="q", variant="plain", paraphrase_index=0, sample_index=0, question="?",
                        answer=answer, finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def test_append_and_load_round_trip(tmp_path):
    with Stage(tmp_path, "samples") as st:
        st.append([rec("k1"), rec("k2")])
    loaded = Stage(tmp_path, "samples").load(SampleRecord)
    assert set(loaded) == {"k1", "k2"}
    assert loaded["k1"] == rec("k1")


def test_torn_last_line_is_ignored_and_cut_before_next_append(tmp_path):
    st = Stage(tmp_path, "samples")
    st.append([rec("k1")])
    st.close()
    with open(st.shard, "ab") as f:
        f.write(b'{"key": "k2", "mod')  # a writer killed mid-line
    assert set(Stage(tmp_path, "samples").records()) == {"k1"}
    st2 = Stage(tmp_path, "samples")
    st2.append([rec("k3")])
    st2.close()
    lines = st.shard.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(x)["key"] in {"k1", "k3"} for x in lines)


def test_complete_json_without_newline_counts_as_torn(tmp_path):
    st = Stage(tmp_path, "s")
    st.dir.mkdir()
    st.shard.write_bytes(json.dumps(rec("k1").model_dump()).encode())  # never got its newline + fsync
    assert Stage(tmp_path, "s").records() == {}


def test_corrupt_line_in_the_middle_names_file_and_line(tmp_path):
    st = Stage(tmp_path, "s")
    st.append([rec("k1")])
    st.close()
    with open(st.shard, "ab") as f:
        f.write(b"garbage\n" + json.dumps(rec("k2").model_dump()).encode() + b"\n")
    with pytest.raises(SpilloverError) as e:
        Stage(tmp_path, "s").records()
    assert f"{st.shard}:2:" in str(e.value)


def test_shards_from_several_workers_merge_by_key(tmp_path):
    a, b = Stage(tmp_path, "s", worker="w1"), Stage(tmp_path, "s", worker="w2")
    a.append([rec("k1", "first"), rec("k2")])
    b.append([rec("k1", "dup"), rec("k3")])
    merged = Stage(tmp_path, "s").load(SampleRecord)
    assert set(merged) == {"k1", "k2", "k3"}
    assert merged["k1"].answer == "first"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": 1})
    atomic_write_json(tmp_path / "x.json", {"a": 2})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a b"])
def test_names_used_as_paths_are_validated(tmp_path, bad):
    with pytest.raises(SpilloverError):
        RunDir(tmp_path).artifact("finetune", bad)


def test_read_jsonl_tolerates_blank_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"key": "a"}\n\n{"key": "b"}\n')
    assert [o["key"] for _, o in read_jsonl(p)] == ["a", "b"]
