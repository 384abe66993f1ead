"""What is written reads back to the same values (issue 9 §5): JSONL, Parquet and CSV inputs with
mixed types, nested values, unicode, lone surrogates and integers beyond 64 bits."""

import csv
import json

import pytest

from rewardkit.io import jsonio
from rewardkit.io.records import iter_records
from rewardkit.scoring import score_dataset, summary_path

BIG = 1180591620717411303425  # 2**70 + 1: a float cannot hold it
EXACT = {"rewards": [{"type": "exact_match", "name": "em"}]}

TRICKY_VALUES = [
    BIG, -BIG, 2**63, 2**64 - 1, 0, -1, 1.5, 1e300, "2", 2, None, True, "",
    "\ud800", "a\udfffb", "😀 ünïcödé ∑", "line\nbreak", "\u2028", {"k": [1, {"x": "\ud83d"}]},
    [BIG, "5", {"answer": "5"}], {"nested": {"deep": [[[[1]]]]}},
]


@pytest.mark.parametrize("value", TRICKY_VALUES, ids=repr)
def test_json_line_round_trip_is_exact(value):
    line = jsonio.dumps_line({"v": value})
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    back = jsonio.loads(line)["v"]
    assert back == value and type(back) is type(value)
    assert json.loads(line)["v"] == value  # standard JSON that other tools read


def test_lines_python_json_writes_are_read():
    line = json.dumps({"id": 1, "s": "\ud800", "n": BIG}).encode()
    assert jsonio.loads(line) == {"id": 1, "s": "\ud800", "n": BIG}


def test_malformed_json_is_still_malformed():
    for bad in (b'{"a": NaN}', b'{"a": 1', b'{"a": "\\ud800"', b"[1, 2,]"):
        with pytest.raises(ValueError):
            jsonio.loads(bad)


def test_values_json_has_no_type_for_are_written():
    import datetime
    import decimal

    import numpy as np

    row = {"d": decimal.Decimal("3.14159265358979323846"), "b": b"\x00\xff", "t": datetime.date(2026, 1, 2),
           "n": np.int64(7), "a": np.arange(3), "nan": float("nan")}
    assert jsonio.loads(jsonio.dumps_line(row)) == {"d": "3.14159265358979323846", "b": "AP8=",
                                                     "t": "2026-01-02", "n": 7, "a": [0, 1, 2], "nan": None}


def _records(n=6):
    """Input records whose extra columns hold the tricky values."""
    return [{"id": i, "prompt": f"p{i}", "completion": f"The answer is {BIG if i % 2 else 5}",
             "reference": [str(BIG), {"answer": "5"}, "\ud800", BIG][i % 4] if i < 4 else str(BIG),
             "extra": TRICKY_VALUES[i % len(TRICKY_VALUES)], "mixed": ["2", 2, None, 2.5][i % 4]}
            for i in range(n)]


def _jsonl(path, rows):
    path.write_bytes(b"".join(jsonio.dumps_line(r) for r in rows))
    return path


def test_big_integers_stay_exact_end_to_end(tmp_path):
    rows = [{"id": 0, "prompt": "p", "completion": f"The answer is {BIG}", "reference": BIG},
            {"id": 1, "prompt": "p", "completion": f"The answer is {BIG - 1}", "reference": BIG},
            {"id": BIG, "prompt": "p", "completion": f"The answer is {BIG}", "reference": str(BIG)}]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for cfg in (EXACT, {"rewards": [{"type": "math", "name": "m"}]}):
        out = tmp_path / "o.jsonl"
        s = score_dataset(cfg, inp, out, overwrite=True)
        got = [json.loads(line) for line in out.read_text().splitlines()]
        assert [g["score"] for g in got] == [1.0, 0.0, 1.0], cfg
        assert got[0]["reference"] == BIG and got[2]["id"] == BIG  # not 1.1805916207174113e+21
        assert s.rows == 3


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_scored_output_reads_back_and_rescoring_it_gives_the_same_scores(tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    inp = _jsonl(tmp_path / "in.jsonl", _records())
    out1 = tmp_path / f"o1.{fmt}"
    score_dataset(EXACT, inp, out1)
    back = [r for _, r in iter_records(out1)]
    src = [r for _, r in iter_records(inp)]
    assert len(back) == len(src)
    for a, b in zip(src, back, strict=True):
        for k, v in a.items():
            assert b[k] == v and type(b[k]) is type(v), (fmt, k, v, b[k])
    # scoring the written file again gives the same scores (the reference column mixes types)
    out2 = tmp_path / f"o2.{fmt}"
    score_dataset(EXACT, out1, out2)
    again = [r for _, r in iter_records(out2)]
    assert [r["score"] for r in again] == [r["score"] for r in back]
    assert sum(r["score"] == 1.0 for r in back) >= 2


def test_parquet_column_mixing_str_and_int_round_trips(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"id": i, "prompt": "p", "completion": "The answer is 2", "reference": ["2", 2, {"answer": "2"}][i % 3]}
            for i in range(7)]
    out = tmp_path / "o.parquet"
    score_dataset(EXACT, rows, out)
    got = [r for _, r in iter_records(out)]
    assert [g["reference"] for g in got] == [r["reference"] for r in rows]
    assert all(g["score"] == 1.0 for g in got)
    field = pq.read_schema(out).field("reference")
    assert field.type == pa.string() and field.metadata[b"rewardkit.json"] == b"1"
    assert pq.read_schema(out).field("score").type == pa.float64()  # plain columns stay typed


def test_parquet_output_is_written_in_row_groups(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from rewardkit.io import output

    monkeypatch.setattr(output, "_PARQUET_MAX_ROWS", 10)
    rows = [{"id": i, "prompt": "p", "completion": "The answer is 1", "reference": "1" if i < 15 else 1}
            for i in range(35)]
    out = tmp_path / "o.parquet"
    score_dataset(EXACT, rows, out)
    assert pq.ParquetFile(out).metadata.num_row_groups == 4
    assert [r["reference"] for _, r in iter_records(out)] == [r["reference"] for r in rows]


def test_csv_round_trip_with_unicode_json_cells_and_a_bom(tmp_path):
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as f:  # Excel's "CSV UTF-8"
        w = csv.writer(f)
        w.writerow(["id", "prompt", "completion", "reference"])
        w.writerow(["x1", "ünï 😀", "The answer is 5\nwith a newline", json.dumps({"answer": "5"})])
        w.writerow(["x2", "p", "The answer is 7", "7"])
    out = tmp_path / "o.jsonl"
    score_dataset(EXACT, path, out)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["x1", "x2"]  # not row numbers, no "\ufeffid"
    assert got[0]["prompt"] == "ünï 😀" and got[0]["completion"].endswith("with a newline")
    assert got[0]["reference"] == {"answer": "5"} and [g["score"] for g in got] == [1.0, 1.0]


def test_each_output_has_its_own_summary(tmp_path):
    pytest.importorskip("pyarrow")
    rows = [{"prompt": "p", "completion": "The answer is 1", "reference": "1"}]
    score_dataset(EXACT, rows, tmp_path / "scored.jsonl")
    score_dataset(EXACT, rows + rows, tmp_path / "scored.parquet")
    a = json.loads(summary_path(tmp_path / "scored.jsonl").read_text())
    b = json.loads(summary_path(tmp_path / "scored.parquet").read_text())
    assert summary_path(tmp_path / "scored.jsonl") != summary_path(tmp_path / "scored.parquet")
    assert (a["rows"], b["rows"]) == (1, 2)


def test_preview_prints_parquet_outputs(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    from rewardkit.cli import main

    rc = main(["score", "-o", str(tmp_path / "o.parquet"), "--no-progress", "--preview", "3"])
    out = capsys.readouterr().out
    assert rc == 0
    head = out.split("\n\n")[0]
    assert "status" in head and len([ln for ln in head.splitlines() if ln.startswith("p0")]) == 3


def test_parquet_output_without_pyarrow_fails_before_scoring(tmp_path, capsys, monkeypatch):
    import sys

    from rewardkit.cli import main

    for mod in ("pyarrow", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, mod, None)  # as in a core-only install
    rc = main(["score", "-o", str(tmp_path / "o.parquet"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "pip install 'rewardkit[data]'" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing scored, nothing written


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_rows_finished_out_of_order_are_published_in_input_order(tmp_path, fmt):
    """Group shaping finishes a group when its last row is scored: rows reach the partial file out
    of order, and the published output puts them back."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    rows = [{"id": f"r{i}", "group_id": i % 5, "prompt": "p", "completion": f"The answer is {i % 3}",
             "reference": "1"} for i in range(40)]
    cfg = {"rewards": [{"type": "numeric"}], "shaping": [{"type": "group_normalize"}]}
    out = tmp_path / f"o.{fmt}"
    score_dataset(cfg, rows, out, batch_size=3)
    got = [r for _, r in iter_records(out)]
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    for k in range(5):
        assert abs(sum(g["score"] for g in got if g["group_id"] == k)) < 1e-9
