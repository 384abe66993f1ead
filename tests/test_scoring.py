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


# -- results do not depend on row order, batch size, workers or a resume (issue 9 §3) ----------
DEFAULT_REWARDS = [
    {"type": "numeric", "name": "correct"},
    {"type": "step_arithmetic", "name": "steps_valid", "weight": 0.0, "process_weight": 1.0},
    {"type": "regex", "name": "format", "weight": 0.0, "pattern": "(?i)(answer is|\\\\boxed\\{|####)"},
]
GROUP_TRANSFORMS = {
    "group_normalize": {"type": "group_normalize", "ddof": 0, "eps": 1e-6},
    "group_center": {"type": "group_normalize", "scale": "none"},
    "group_by_prompt": {"type": "group_normalize", "group_by": "prompt"},
    "leave_one_out": {"type": "leave_one_out"},
    "sum_then_normalize": {"type": "multi_reward", "method": "sum_then_normalize",
                           "weights": {"correct": 1.0, "format": 0.5}},
    "gdpo_group": {"type": "multi_reward", "method": "gdpo", "batch_norm": False,
                   "weights": {"correct": 1.0, "format": 0.5}},
    "weighted_sum": {"type": "multi_reward", "method": "weighted_sum", "weights": {"correct": 1.0, "format": 0.5}},
    "ensemble": {"type": "ensemble", "components": ["correct", "format"], "method": "min"},
    "gate": {"type": "gate", "component": "format"},
    "process_shaping": {"type": "process_shaping", "method": "clip_delta", "eta": 0.5, "alpha": 1.0},
    "laser_bonus": {"type": "laser_bonus", "gate": "correct", "target": 50},
    "rm_lsc": {"type": "rm_shaping", "method": "lsc"},
    # no reference rewards / lengths in the data: every ok row becomes an error, the same way each time
    "rm_centered": {"type": "rm_shaping", "method": "centered"},
    "par": {"type": "par"},
    "dapo_overlong": {"type": "dapo_overlong"},
}
STATEFUL_TRANSFORMS = {
    "running_normalize": {"type": "running_normalize"},
    "rm_meanstd": {"type": "rm_shaping", "method": "meanstd"},
    "rm_minmax": {"type": "rm_shaping", "method": "minmax"},
    "rm_clip": {"type": "rm_shaping", "method": "clip"},
    "running_after_group": {"type": "running_normalize"},  # composed with group_normalize below
}


def _cfg(name, t):
    shaping = [GROUP_TRANSFORMS["group_normalize"], t] if name == "running_after_group" else [t]
    return {"rewards": DEFAULT_REWARDS, "shaping": shaping}


@pytest.fixture(scope="module")
def grouped_input(tmp_path_factory):
    d = tmp_path_factory.mktemp("grouped")
    recs = generate(n_problems=15, group_size=4, seed=11, p_unparseable=0.1)
    for i, r in enumerate(recs):
        if i % 8 == 3:
            r.pop("group_id", None)  # these rows group by their prompt
    import random

    shuffled = list(recs)
    random.Random(0).shuffle(shuffled)
    return recs, write_jsonl(d / "ordered.jsonl", recs), write_jsonl(d / "shuffled.jsonl", shuffled)


def _by_id(path):
    return {r["id"]: r for r in read_jsonl(path)}


@pytest.mark.parametrize("name", sorted(GROUP_TRANSFORMS))
def test_shuffled_input_scores_like_ordered_input_row_for_row(tmp_path, grouped_input, name):
    recs, ordered, shuffled = grouped_input
    cfg = _cfg(name, GROUP_TRANSFORMS[name])
    score_dataset(cfg, ordered, tmp_path / "a.jsonl", batch_size=5)
    score_dataset(cfg, shuffled, tmp_path / "b.jsonl", batch_size=7)
    a, b = _by_id(tmp_path / "a.jsonl"), _by_id(tmp_path / "b.jsonl")
    assert len(a) == len(recs) and a == b  # exact, every field
    assert [r["id"] for r in read_jsonl(tmp_path / "b.jsonl")] == [r["id"] for r in json.loads(
        "[" + ",".join(shuffled.read_text().splitlines()) + "]")]  # output in the input's order


def test_group_transform_shapes_a_group_split_across_the_file(tmp_path):
    """A group's rows at the start and the end of the file: normalised as one group."""
    rows = [{"id": i, "group_id": "g" if i in (0, 9) else f"s{i}", "prompt": "p",
             "completion": f"The answer is {i % 2}", "reference": "1"} for i in range(10)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    cfg = {"rewards": [{"type": "numeric"}], "shaping": [{"type": "group_normalize", "ddof": 0}]}
    score_dataset(cfg, inp, tmp_path / "o.jsonl", batch_size=2)
    got = read_jsonl(tmp_path / "o.jsonl")
    assert [r["id"] for r in got] == list(range(10))
    assert got[0]["score"] == pytest.approx(-1.0, abs=1e-5) and got[9]["score"] == pytest.approx(1.0, abs=1e-5)
    assert all(r["score"] == 0.0 for r in got[1:9])  # one-member groups


def _kill_after(monkeypatch, n_commits):
    """Make the run die (KeyboardInterrupt) after ``n_commits`` batches were committed."""
    from rewardkit.io.output import ResumableWriter

    orig = ResumableWriter.write
    calls = {"n": 0}

    def write(self, lines, indices, state=None):
        if lines:
            calls["n"] += 1
            if calls["n"] > n_commits:
                raise KeyboardInterrupt
        return orig(self, lines, indices, state)

    monkeypatch.setattr(ResumableWriter, "write", write)
    return lambda: monkeypatch.setattr(ResumableWriter, "write", orig)


@pytest.mark.parametrize("name", sorted(STATEFUL_TRANSFORMS) + sorted(GROUP_TRANSFORMS))
def test_clean_equals_resumed_equals_other_batch_size(tmp_path, grouped_input, monkeypatch, name):
    """Killed after two commits, resumed with another batch size: byte-identical to a clean run
    (for running statistics too: their state is restored from the last commit)."""
    _, ordered, shuffled = grouped_input
    t = STATEFUL_TRANSFORMS.get(name) or GROUP_TRANSFORMS[name]
    cfg = _cfg(name, t)
    for inp in (ordered, shuffled) if name in STATEFUL_TRANSFORMS else (shuffled,):
        clean = tmp_path / f"{inp.stem}.clean.jsonl"
        score_dataset(cfg, inp, clean, batch_size=8)
        other = tmp_path / f"{inp.stem}.bs.jsonl"
        score_dataset(cfg, inp, other, batch_size=13)
        assert other.read_bytes() == clean.read_bytes()
        out = tmp_path / f"{inp.stem}.resumed.jsonl"
        undo = _kill_after(monkeypatch, 2)
        with pytest.raises(KeyboardInterrupt):
            score_dataset(cfg, inp, out, batch_size=8)
        undo()
        with open(out.with_name(out.name + ".partial"), "ab") as f:
            f.write(b'{"id": "torn", "sco')  # a torn write past the last commit
        s = score_dataset(cfg, inp, out, batch_size=5, resume=True)
        assert s.resumed_rows > 0 and s.scored_this_run > 0
        assert out.read_bytes() == clean.read_bytes()


def test_workers_equal_one_process_with_transforms(tmp_path, grouped_input):
    _, _, shuffled = grouped_input
    cfg = _cfg("running_after_group", STATEFUL_TRANSFORMS["running_after_group"])  # group + running state
    score_dataset(cfg, shuffled, tmp_path / "w1.jsonl", batch_size=6)
    score_dataset(cfg, shuffled, tmp_path / "w2.jsonl", batch_size=6, workers=2)
    assert (tmp_path / "w1.jsonl").read_bytes() == (tmp_path / "w2.jsonl").read_bytes()


@pytest.mark.parametrize("t", [{"type": "batch_normalize"}, {"type": "group_normalize", "scale": "batch"},
                               {"type": "leave_one_out", "group_by": "batch"},
                               {"type": "multi_reward", "weights": {"correct": 1.0}}])
def test_batch_statistics_are_refused_offline(tmp_path, t):
    from rewardkit.config import ConfigError

    with pytest.raises(ConfigError, match="training batch"):
        score_dataset({"rewards": DEFAULT_REWARDS, "shaping": [t]}, None, None)


# -- no process left behind (issue 16 §2) --------------------------------------------------------
def _descendants(pid):
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _start_workers_run(tmp_path, **popen):
    recs = generate(n_problems=400, group_size=4, seed=5)  # 1600 rows at ~4 ms: far longer than the test
    inp = write_jsonl(tmp_path / "in.jsonl", recs)
    (tmp_path / "slowmod.py").write_text(SLOW_SOURCE)
    cfg = tmp_path / "slow.yaml"
    cfg.write_text("rewards:\n  - type: slowmod:SlowNumeric\n    name: correct\n")
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "rewardkit.cli", "score", "-c", str(cfg), "-i", str(inp), "-o", str(out),
           "--batch-size", "8", "--workers", "2", "--no-progress", "--preview", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.time() + 60
    while time.time() < deadline and not (partial.exists() and partial.read_bytes().count(b"\n") >= 40):
        time.sleep(0.05)
    kids = _descendants(proc.pid)
    assert len(kids) >= 2, "the workers should be running"
    return proc, kids


def _assert_all_gone(pids, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if _alive(p)]
    for p in left:  # do not leave them behind even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_workers_run_leaves_no_process(tmp_path, sig):
    proc, kids = _start_workers_run(tmp_path)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    _assert_all_gone(kids)  # first: a worker left alive would hold stderr open
    err = proc.stderr.read().decode()
    if sig == signal.SIGTERM:  # stops like Ctrl-C: committed rows kept, told how to resume
        assert "--resume" in err and "Traceback" not in err, err
    partial = tmp_path / "out.jsonl.partial"
    assert partial.read_bytes().count(b"\n") >= 40


def test_ctrl_c_of_a_workers_run_prints_no_worker_traceback(tmp_path):
    proc, kids = _start_workers_run(tmp_path, start_new_session=True)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    proc.wait(timeout=30)
    _assert_all_gone(kids)
    err = proc.stderr.read().decode()
    assert proc.returncode == 130 and "--resume" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
