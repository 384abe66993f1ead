"""Resume and publishing keep every row exactly once (issue 9 §5, 16 §3): null ids, ids shared with
skipped records, kills while publishing, temporary files of a killed Parquet conversion."""

import json
import os

import pytest

from rewardkit.io.output import ResumableWriter
from rewardkit.scoring import score_dataset, summary_path

NUMERIC = {"rewards": [{"type": "numeric", "name": "correct"}]}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _interrupt_after(monkeypatch, n):
    orig = ResumableWriter.write
    calls = {"n": 0}

    def write(self, lines, indices, state=None):
        if lines:
            calls["n"] += 1
            if calls["n"] > n:
                raise KeyboardInterrupt
        return orig(self, lines, indices, state)

    monkeypatch.setattr(ResumableWriter, "write", write)
    return lambda: monkeypatch.setattr(ResumableWriter, "write", orig)


def test_null_ids_are_row_numbers_and_never_duplicated_on_resume(tmp_path, monkeypatch):
    rows = [{"id": None, "prompt": "p", "completion": f"The answer is {i}", "reference": str(i)} for i in range(50)]
    inp = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o.jsonl"
    undo = _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        score_dataset(NUMERIC, inp, out, batch_size=10)
    undo()
    s = score_dataset(NUMERIC, inp, out, batch_size=10, resume=True)
    got = _read(out)
    assert [r["id"] for r in got] == list(range(50)) and s.rows == 50 and s.resumed_rows == 20


def test_a_valid_row_sharing_a_skipped_rows_id_is_scored_after_resume(tmp_path, monkeypatch):
    rows = [{"id": "a", "prompt": "p"}]  # bad: no completion, skipped
    rows += [{"id": f"r{i}", "prompt": "p", "completion": "The answer is 1", "reference": "1"} for i in range(30)]
    rows += [{"id": "a", "prompt": "p", "completion": "The answer is 1", "reference": "1"}]  # valid, same id
    inp = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o.jsonl"
    undo = _interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        score_dataset(NUMERIC, inp, out, batch_size=10, on_error="skip")
    undo()
    s = score_dataset(NUMERIC, inp, out, batch_size=10, on_error="skip", resume=True)
    got = _read(out)
    assert [r["id"] for r in got] == [f"r{i}" for i in range(30)] + ["a"]
    assert [x["where"] for x in s.skipped] == ["in.jsonl:1"]  # listed once, not again on resume


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("stage", ["before_summary", "before_output", "before_cleanup"])
def test_a_kill_while_publishing_loses_nothing(tmp_path, monkeypatch, fmt, stage):
    """Whatever step of publishing a kill hits, the next run (--resume) ends with the output, its
    summary and the list of skipped records."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    import rewardkit.io.output as output_mod

    rows = [{"id": i, "prompt": "p", "completion": "The answer is 1", "reference": "1"} for i in range(20)]
    rows[5] = {"id": 5, "prompt": "p"}
    inp = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / f"o.{fmt}"

    class Killed(BaseException):
        pass

    if stage == "before_summary":
        orig = output_mod.atomic_write_bytes

        def boom(path, data, **kw):
            if str(path).endswith(".summary.json"):
                raise Killed
            return orig(path, data, **kw)

        monkeypatch.setattr(output_mod, "atomic_write_bytes", boom)
    elif stage == "before_output":
        name = "_write_parquet" if fmt == "parquet" else None

        def boom_publish(self, *a, **kw):
            if name:  # half a Parquet file written to the temporary name, then killed
                tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
                tmp.write_bytes(b"PAR1 half")
                raise Killed
            raise Killed

        if name:
            monkeypatch.setattr(ResumableWriter, "_publish", lambda self, write: boom_publish(self))
        else:
            monkeypatch.setattr(os, "replace", _replace_unless(out, Killed))
    else:
        monkeypatch.setattr(ResumableWriter, "_cleanup", lambda self: _raise(Killed))
    with pytest.raises(Killed):
        score_dataset(NUMERIC, inp, out, on_error="skip", batch_size=8)
    monkeypatch.undo()
    if stage == "before_cleanup" and fmt == "jsonl":  # the partial file became the output
        with pytest.raises(FileExistsError, match="already complete"):
            score_dataset(NUMERIC, inp, out, on_error="skip", resume=True)
        assert not list(tmp_path.glob("o.*.partial*"))  # the leftovers are removed
    else:
        s = score_dataset(NUMERIC, inp, out, on_error="skip", resume=True)
        assert s.rows == 19
    summ = json.loads(summary_path(out).read_text())
    assert summ["rows"] == 19 and [x["where"] for x in summ["skipped"]] == ["in.jsonl:6"]
    assert not list(tmp_path.glob(".o.*.tmp-*"))  # no temporary file left for good
    from rewardkit.io.records import iter_records

    assert [r["id"] for _, r in iter_records(out)] == [i for i in range(20) if i != 5]


def _raise(exc):
    raise exc


def _replace_unless(out, exc):
    real = os.replace

    def replace(src, dst):
        if str(dst) == str(out):
            raise exc
        return real(src, dst)

    return replace


def test_resume_keeps_only_ids_in_memory(tmp_path):
    """The resumed rows are streamed (ids and statistics), not held as dicts."""
    rows = [{"id": i, "prompt": "p", "completion": "The answer is 1", "reference": "1"} for i in range(10)]
    out = tmp_path / "o.jsonl"
    w = ResumableWriter(out, meta={})
    w.open()
    w.write([json.dumps(r | {"score": 1.0, "status": "ok"}).encode() + b"\n" for r in rows[:4]], [0, 1, 2, 3])
    w.close()
    w2 = ResumableWriter(out, resume=True, meta={})
    resumed = w2.open()
    it = w2.iter_done()
    assert resumed.rows == 4 and not isinstance(it, list) and [r["id"] for r in it] == [0, 1, 2, 3]
    w2.close()
