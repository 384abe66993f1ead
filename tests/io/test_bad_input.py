"""Bad input never kills a run (issue 16 §3): every kind below, in both ``--on-error`` modes,
through the command line. Under ``skip`` the bad record is listed with ``file:line`` and the field,
and the run goes on; under ``fail`` the run stops with one clear message -- never a traceback."""

import csv
import decimal
import errno
import json

import pytest

from rewardkit.cli import main
from rewardkit.scoring import summary_path

GOOD = {"prompt": "1+1?", "completion": "The answer is 2", "reference": "2"}


def _jsonl(path, rows):
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows))
    return path


def _nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


def csv_big_cell(tmp):
    p = tmp / "in.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "prompt", "completion", "reference"])
        w.writerow(["a", "p", "x" * 200_000 + " The answer is 2", "2"])  # a 32k-token trace is this big
        w.writerow(["b", "p", "The answer is 2", "2"])
    return p


def csv_invalid_utf8(tmp):
    p = tmp / "in.csv"
    p.write_bytes(b"id,prompt,completion,reference\na,p,The answer is 2,2\nb,p,bad \xff\xfe here,2\nc,p,The answer is 2,2\n")
    return p


def csv_unclosed_quote(tmp):
    p = tmp / "in.csv"
    p.write_bytes(b'id,prompt,completion,reference\na,p,The answer is 2,2\nb,p,"unclosed,2\nc,p,x,2\nd,p,y,2\n')
    return p


def csv_duplicate_header(tmp):
    p = tmp / "in.csv"
    p.write_bytes(b"id,prompt,completion,completion,reference\na,p,x,y,2\n")
    return p


def parquet_invalid_utf8(tmp):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    raw = pa.array([b"1+1?", b"\xff\xfe bad", b"2+2?"], pa.binary())
    prompt = pa.Array.from_buffers(pa.string(), 3, raw.buffers())  # a string column with invalid bytes
    pq.write_table(pa.table({"prompt": prompt, "completion": ["The answer is 2"] * 3, "reference": ["2"] * 3}),
                   tmp / "in.parquet")
    return tmp / "in.parquet"


def parquet_binary_and_decimal(tmp):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["p", "q"], "completion": ["The answer is 2"] * 2, "reference": ["2"] * 2,
                             "image": pa.array([b"\x89PNG\r\n", None], pa.binary()),
                             "price": pa.array([decimal.Decimal("1.23"), decimal.Decimal("-4.50")],
                                               pa.decimal128(5, 2))}), tmp / "in.parquet")
    return tmp / "in.parquet"


def parquet_deep_schema(tmp):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    t = pa.int64()
    for _ in range(260):
        t = pa.list_(t)
    pq.write_table(pa.table({"x": pa.array([_nested(260)], t), "prompt": ["p"], "completion": ["c"]}),
                   tmp / "in.parquet")
    return tmp / "in.parquet"


def _deep_line(rid, depth):
    good = json.dumps(GOOD | {"id": rid})[:-1]
    return f'{good}, "extra": {{"a": {"[" * depth}1{"]" * depth}}}}}'.encode()


def jsonl_deep_values(tmp):
    return _jsonl(tmp / "in.jsonl", [GOOD | {"id": "ok1"}, _deep_line("d300", 300), _deep_line("d1000", 1000),
                                     GOOD | {"id": "ok2"}])


def jsonl_unhashable_ids(tmp):
    return _jsonl(tmp / "in.jsonl", [GOOD | {"id": [1]}, GOOD | {"id": {"k": 1}}, GOOD | {"id": "ok"}])


def jsonl_malformed(tmp):
    return _jsonl(tmp / "in.jsonl", [GOOD | {"id": "a"}, b'{"id": "b", "prompt": "p",, "x": 1}', GOOD | {"id": "c"}])


def jsonl_missing_column(tmp):
    return _jsonl(tmp / "in.jsonl", [{"id": "a", "prompt": "p", "complet": "x"}, GOOD | {"id": "b"}])


def jsonl_invalid_utf8(tmp):
    return _jsonl(tmp / "in.jsonl", [b'{"id": "a", "prompt": "p\xff", "completion": "x"}', GOOD | {"id": "b"}])


# name -> (make input, output suffix, skipped (where, field) under skip, rows written, fail message)
CASES = {
    "csv_big_cell": (csv_big_cell, "jsonl", [], 2, None),
    "csv_invalid_utf8": (csv_invalid_utf8, "jsonl", [("in.csv:3", "completion")], 2, "invalid UTF-8"),
    "csv_unclosed_quote": (csv_unclosed_quote, "jsonl", [("in.csv:3", None)], 1, "unclosed quote"),
    "csv_duplicate_header": (csv_duplicate_header, "jsonl", None, 0, "duplicate column"),
    "parquet_invalid_utf8": (parquet_invalid_utf8, "jsonl", [("in.parquet:record 1", "prompt")], 2, "invalid UTF-8"),
    "parquet_binary_decimal": (parquet_binary_and_decimal, "parquet", [], 2, None),
    "parquet_deep_schema": (parquet_deep_schema, "jsonl", None, 0, "nested"),
    "jsonl_deep_values": (jsonl_deep_values, "jsonl", [("in.jsonl:2", "extra"), ("in.jsonl:3", "extra")], 2, "nested deeper"),
    "jsonl_deep_values_parquet": (jsonl_deep_values, "parquet", [("in.jsonl:2", "extra"), ("in.jsonl:3", "extra")], 2, "nested deeper"),
    "jsonl_unhashable_ids": (jsonl_unhashable_ids, "jsonl", [("in.jsonl:1", "id"), ("in.jsonl:2", "id")], 1, "must be a string or an integer"),
    "jsonl_malformed": (jsonl_malformed, "jsonl", [("in.jsonl:2", None)], 2, "malformed JSON at column 27"),
    "jsonl_missing_column": (jsonl_missing_column, "jsonl", [("in.jsonl:1", "completion")], 1, "--completion-col"),
    "jsonl_invalid_utf8": (jsonl_invalid_utf8, "jsonl", [("in.jsonl:1", None)], 1, "in.jsonl:1"),
}


@pytest.mark.parametrize("mode", ["skip", "fail"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(tmp_path, capsys, name, mode):
    make, fmt, skipped, n_rows, fail_msg = CASES[name]
    inp = make(tmp_path)
    out = tmp_path / f"out.{fmt}"
    rc = main(["score", "-c", "rewardkit/configs/default.yaml", "-i", str(inp), "-o", str(out),
               "--on-error", mode, "--no-progress", "--preview", "3"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if skipped is None:  # the file as a whole is unreadable: one clear message in both modes
        assert rc == 2 and fail_msg in err and err.count("\n") <= 3, err
        assert not list(tmp_path.glob("out.*")), "no stale partial file: the next run starts clean"
        return
    if mode == "fail" and skipped:
        assert rc == 2 and fail_msg in err, err
        assert skipped[0][0] in err  # file:line
        return
    assert rc == 0, err
    summ = json.loads(summary_path(out).read_text())
    assert [(s["where"], s["field"]) for s in summ["skipped"]] == skipped
    assert summ["rows"] == n_rows


def test_missing_column_suggests_the_flag_and_close_matches(tmp_path, capsys):
    inp = jsonl_missing_column(tmp_path)
    rc = main(["score", "-i", str(inp), "-o", str(tmp_path / "o.jsonl"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "close matches: 'complet'" in err and "--completion-col NAME" in err
    assert "in.jsonl:1" in err and "rerun with --on-error skip" in err  # how to go on
    assert not list(tmp_path.glob("o.jsonl*"))  # nothing scored yet: no partial file to trip the rerun


def test_full_disk_says_free_space_then_resume(tmp_path, capsys, monkeypatch):
    from rewardkit.io.output import ResumableWriter

    class FullDisk:
        closed = False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def fileno(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            self.closed = True

    orig_open = ResumableWriter.open

    def open_full(self):
        r = orig_open(self)
        self._f.close()
        self._f = FullDisk()
        return r

    monkeypatch.setattr(ResumableWriter, "open", open_full)
    inp = _jsonl(tmp_path / "in.jsonl", [GOOD | {"id": i} for i in range(5)])
    for mode in ("skip", "fail"):
        rc = main(["score", "-i", str(inp), "-o", str(tmp_path / "o.jsonl"), "--on-error", mode,
                   "--no-progress", "--overwrite"])
        err = capsys.readouterr().err
        assert rc == 2 and "free space, then run the same command with --resume" in err, err
        assert "Traceback" not in err


def test_rerun_after_fail_continues_with_skip(tmp_path, capsys):
    """Stopped by --on-error fail at a bad record: the rerun with --resume --on-error skip keeps the
    rows already scored and lists the bad record; a plain rerun says which flags to pass."""
    rows = [GOOD | {"id": i} for i in range(600)]
    rows[300] = {"id": 300, "prompt": "p"}
    inp = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o.jsonl"
    base = ["score", "-i", str(inp), "-o", str(out), "--no-progress", "--batch-size", "100", "--preview", "0"]
    assert main(base) == 2
    capsys.readouterr()
    assert main(base + ["--on-error", "skip"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(base + ["--on-error", "skip", "--resume"]) == 0
    summ = json.loads(summary_path(out).read_text())
    assert summ["resumed_rows"] == 300 and summ["rows"] == 599
    assert [s["where"] for s in summ["skipped"]] == ["in.jsonl:301"]
