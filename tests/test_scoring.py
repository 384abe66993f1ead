"""Offline scoring: formats, column mapping, bad records, resume after a killed run, workers."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from rewardkit.data.synthetic import generate
from rewardkit.io.records import ColumnMap, RecordError
from rewardkit.scoring import score_dataset, summary_path

NUMERIC = {"rewards": [{"type": "numeric", "name": "correct"}]}


def write_jsonl(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture
def records():
    return generate(n_problems=10, group_size=3, seed=1)


def test_jsonl_round_trip_keeps_every_input_field(tmp_path, records):
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    s = score_dataset(NUMERIC, inp, out)
    rows = read_jsonl(out)
    assert len(rows) == len(records) == s.rows
    for rec, row in zip(records, rows, strict=True):
        assert row["id"] == rec["id"] and row["prompt"] == rec["prompt"] and row["label"] == rec["label"]
        assert row["steps_input"] == rec["steps"]  # the input's own "steps" survives the output's
        expected = {True: 1.0, False: 0.0}[rec["label"]] if row["status"] == "ok" else None
        assert row["score"] == expected and row["components"] == {"correct": expected}
    summ = json.loads(summary_path(out).read_text())
    assert summ["rows"] == len(records) and sum(summ["statuses"].values()) == len(records)
    assert summ["components"]["correct"]["count"] == s.components["correct"]["count"]
    assert not list(tmp_path.glob("*.partial*"))  # side files removed once published


def test_ids_default_to_row_numbers_and_column_mapping(tmp_path):
    rows = [{"question": "1+1?", "response": "The answer is 2", "gold": "2"},
            {"question": "2+2?", "response": "The answer is 5", "gold": {"answer": "4"}}]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o.jsonl"
    cols = ColumnMap(prompt="question", completion="response", reference="gold")
    score_dataset(NUMERIC, inp, out, columns=cols)
    got = read_jsonl(out)
    assert [r["id"] for r in got] == [0, 1] and [r["score"] for r in got] == [1.0, 0.0]
    assert got[0]["question"] == "1+1?"


def test_csv_parquet_and_hf_inputs_and_parquet_output(tmp_path, records):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    small = [{k: r[k] for k in ("id", "prompt", "completion")} | {"reference": json.dumps(r["reference"])}
             for r in records]
    with open(tmp_path / "in.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(small[0]))
        w.writeheader()
        w.writerows(small)
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    expect = [1.0 if r["label"] else (None if "answer is" not in r["completion"] else 0.0) for r in records]
    for name in ("in.csv", "in.parquet"):
        out = tmp_path / f"{name}.out.parquet"
        score_dataset(NUMERIC, tmp_path / name, out)
        got = pq.read_table(out).to_pylist()
        assert [g["score"] for g in got] == expect, name
    datasets = pytest.importorskip("datasets")
    hf_rows = [{k: r[k] for k in ("id", "prompt", "completion", "reference")} for r in records]
    datasets.Dataset.from_list(hf_rows).save_to_disk(str(tmp_path / "hf"))
    out = tmp_path / "hf.jsonl"
    score_dataset(NUMERIC, tmp_path / "hf", out)
    assert [g["score"] for g in read_jsonl(out)] == expect


def test_bad_records_skip_lists_them_with_reasons(tmp_path):
    lines = [
        json.dumps({"id": "a", "prompt": "p", "completion": "The answer is 1", "reference": "1"}),
        "{not json",
        json.dumps({"id": "b", "prompt": "p", "reference": "1"}),
        json.dumps({"id": "c", "prompt": "p", "completion": 42, "reference": "1"}),
        json.dumps([1, 2]),
        json.dumps({"id": "a", "prompt": "p", "completion": "dup", "reference": "1"}),
        json.dumps({"id": "d", "prompt": "p", "completion": "The answer is 2", "reference": "1"}),
    ]
    inp = tmp_path / "bad.jsonl"
    inp.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    s = score_dataset(NUMERIC, inp, out, on_error="skip")
    assert [r["id"] for r in read_jsonl(out)] == ["a", "d"]
    reasons = {x["where"]: x["reason"] for x in s.skipped}
    assert "malformed JSON" in reasons["bad.jsonl:2"]
    assert "missing column 'completion'" in reasons["bad.jsonl:3"] and "available columns" in reasons["bad.jsonl:3"]
    assert "'completion' must be a string" in reasons["bad.jsonl:4"]
    assert "expected a JSON object" in reasons["bad.jsonl:5"]
    assert "duplicate id 'a'" in reasons["bad.jsonl:6"]
    assert json.loads(summary_path(out).read_text())["skipped"] == s.skipped


def test_bad_record_fails_the_run_naming_file_line_and_field(tmp_path):
    inp = tmp_path / "bad.jsonl"
    inp.write_text(json.dumps({"prompt": "p", "completion": "x"}) + "\n" + json.dumps({"prompt": "p"}) + "\n")
    with pytest.raises(RecordError) as e:
        score_dataset(NUMERIC, inp, tmp_path / "o.jsonl", on_error="fail")
    assert e.value.where == "bad.jsonl:2" and e.value.field == "completion"


def test_empty_file_gives_empty_output(tmp_path):
    inp = tmp_path / "empty.jsonl"
    inp.write_text("")
    s = score_dataset(NUMERIC, inp, tmp_path / "o.jsonl")
    assert s.rows == 0 and (tmp_path / "o.jsonl").read_text() == ""


def test_existing_output_is_not_clobbered(tmp_path, records):
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "o.jsonl"
    out.write_text("precious\n")
    with pytest.raises(FileExistsError, match="--overwrite"):
        score_dataset(NUMERIC, inp, out)
    assert out.read_text() == "precious\n"


def test_workers_give_identical_output(tmp_path):
    recs = generate(n_problems=60, group_size=4, seed=3)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    cfg = "rewardkit/configs/default.yaml"
    root = Path(__file__).resolve().parents[1]
    score_dataset(root / cfg, inp, tmp_path / "w1.jsonl", workers=1, batch_size=32)
    s2 = score_dataset(root / cfg, inp, tmp_path / "w2.jsonl", workers=2, batch_size=32)
    assert (tmp_path / "w1.jsonl").read_bytes() == (tmp_path / "w2.jsonl").read_bytes()
    assert s2.workers == 2 and s2.rows == len(recs)


SLOW_SOURCE = '''
import time
from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource
from rewardkit.verifiers.numeric import NumericAnswer

class SlowNumeric(NumericAnswer):
    def score_one(self, sample):
        time.sleep(0.004)
        return super().score_one(sample)
'''


def test_resume_after_killed_run_scores_every_row_once(tmp_path):
    recs = generate(n_problems=150, group_size=4, seed=5)  # 600 rows at ~4 ms -> ~2.4 s
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    (tmp_path / "slowmod.py").write_text(SLOW_SOURCE)
    cfg = tmp_path / "slow.yaml"
    cfg.write_text("rewards:\n  - type: slowmod:SlowNumeric\n    name: correct\n")
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "rewardkit.cli", "score", "-c", str(cfg), "-i", str(inp), "-o", str(out),
           "--batch-size", "16", "--no-progress", "--preview", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        if partial.exists() and partial.read_bytes().count(b"\n") >= 100:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run must not publish a final file"
    # simulate a torn write at the moment of the kill
    with open(partial, "ab") as f:
        f.write(b'{"id": "torn", "sco')
    done_before = read_jsonl_lenient(partial)
    assert 100 <= len(done_before) < len(recs)

    r = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = read_jsonl(out)
    assert [row["id"] for row in rows] == [rec["id"] for rec in recs]  # each once, in order
    assert rows[: len(done_before)] == done_before  # finished rows kept, not re-scored
    summ = json.loads(summary_path(out).read_text())
    assert summ["rows"] == len(recs) and summ["resumed_rows"] == len(done_before)
    fresh = tmp_path / "fresh.jsonl"
    score_dataset(NUMERIC, inp, fresh)
    assert [r_["score"] for r_ in read_jsonl(fresh)] == [row["score"] for row in rows]


def read_jsonl_lenient(path):
    out = []
    for line in path.read_bytes().split(b"\n"):
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            pass
    return out


def test_resume_refuses_a_different_config(tmp_path, records):
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "o.jsonl"
    from rewardkit.io.output import ResumableWriter

    w = ResumableWriter(out, meta={"config": {"a": 1}, "input": "x", "columns": {}})
    w.open()
    w.close()
    with pytest.raises(ValueError, match="config differs"):
        score_dataset(NUMERIC, inp, out, resume=True)


def test_iterable_input_and_no_output():
    s = score_dataset(NUMERIC, [{"prompt": "p", "completion": "The answer is 3", "reference": 3}], None)
    assert s.rows == 1 and s.statuses == {"ok": 1} and s.score["mean"] == 1.0


def test_batches_never_split_a_group_when_shaping_needs_groups():
    from rewardkit.scoring import _batches

    recs = [(str(i), {"group_id": i // 3}) for i in range(10)]
    sizes = [[r[1]["group_id"] for r in b] for b in _batches(recs, 4, "group_id")]
    assert sizes == [[0, 0, 0, 1, 1, 1], [2, 2, 2, 3]]
    assert [len(b) for b in _batches(recs, 4)] == [4, 4, 2]


def test_group_shaping_sees_whole_groups_across_batches(tmp_path):
    """GRPO normalisation in an offline run: every group (4 rows) is normalised as a whole even
    though the batch size (5) cuts through groups, and failed rows stay failed."""
    recs = generate(n_problems=12, group_size=4, seed=9, p_unparseable=0.1)
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    cfg = {"rewards": [{"type": "numeric", "name": "correct"}],
           "shaping": [{"type": "group_normalize", "ddof": 0, "eps": 1e-6}]}
    out = tmp_path / "o.jsonl"
    score_dataset(cfg, inp, out, batch_size=5)
    rows = read_jsonl(out)
    by_group: dict = {}
    for r in rows:
        by_group.setdefault(r["group_id"], []).append(r)
    for g, members in by_group.items():
        ok = [m for m in members if m["status"] == "ok"]
        assert len(members) == 4
        assert abs(sum(m["score"] for m in ok)) < 1e-6, g  # zero mean over the ok members
        for m in members:
            if m["status"] != "ok":
                assert m["score"] is None
            elif (m.get("info") or {}).get("resolved_before_shaping"):
                # no answer: the status policy's failing score, normalised with its group (issue 9 §1)
                assert m["components"]["correct"] is None and m["info"]["status_before_fill"] == "unparseable"
            else:
                assert m["components"]["correct"] in (0.0, 1.0)  # raw component kept
    assert any((r.get("info") or {}).get("status_before_fill") == "unparseable" for r in rows)


def test_csv_parses_json_only_where_json_is_expected(tmp_path):
    path = tmp_path / "in.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "prompt", "completion", "reference"])
        w.writerow(["a", "list the roots", "[1, 2]", '{"answer": "[1, 2]"}'])
        w.writerow(["b", '[{"role": "user", "content": "hi"}]', "The answer is 3", "3"])
    out = tmp_path / "o.jsonl"
    s = score_dataset({"rewards": [{"type": "exact_match", "last_number": False}]}, path, out,
                      on_error="skip")
    rows = read_jsonl(out)
    assert not s.skipped
    assert rows[0]["completion"] == "[1, 2]" and rows[0]["reference"] == {"answer": "[1, 2]"}
    assert rows[1]["prompt"] == [{"role": "user", "content": "hi"}] and rows[1]["score"] == 1.0


def test_resume_of_a_finished_run_says_so(tmp_path, records):
    inp = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "o.jsonl"
    score_dataset(NUMERIC, inp, out)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="already complete"):
        score_dataset(NUMERIC, inp, out, resume=True)
    assert out.read_bytes() == before
