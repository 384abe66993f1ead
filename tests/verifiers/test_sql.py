"""SQL execution reward: extraction, read-only execution, time budget, result comparison."""

from __future__ import annotations

import sqlite3

import pytest

from rewardkit.registry import build_source
from rewardkit.types import Sample, Status
from rewardkit.verifiers.sql import SQLReward, extract_sql, gold_is_ordered, results_match

SCHEMA = """
CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT, dept TEXT, salary REAL);
INSERT INTO emp VALUES (1, 'ann', 'eng', 100.0), (2, 'bob', 'eng', 90.5), (3, 'cid', 'ops', 70.25),
                       (4, 'dee', 'ops', 80.0), (5, 'eve', 'eng', 90.5);
"""
UNORDERED = {"sql": "SELECT name FROM emp WHERE dept = 'eng'", "schema": SCHEMA}
ORDERED = {"sql": "SELECT name FROM emp ORDER BY salary DESC, name", "schema": SCHEMA}


def run(src, completion, ref=UNORDERED):
    return src.score([Sample(prompt="", completion=completion, reference=ref)])[0]


@pytest.fixture
def sql():
    s = SQLReward(weights={"syntax": 0.1, "executes": 0.2, "match": 0.7}, timeout_s=1.0)
    yield s
    s.close()


def test_extract_sql():
    assert extract_sql("```sql\nSELECT 1;\n```") == "SELECT 1"
    assert extract_sql("```python\nx\n```\n```sql\nSELECT 2\n```") == "SELECT 2"
    assert extract_sql("```\nSELECT 3\n```") == "SELECT 3"
    assert extract_sql("SELECT 4;") == "SELECT 4"
    assert extract_sql("  ") is None


def test_gold_is_ordered_ignores_strings_and_subqueries():
    assert gold_is_ordered("SELECT a FROM t ORDER BY a")
    assert not gold_is_ordered("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 3)")
    assert not gold_is_ordered("SELECT 'order by' FROM t")
    assert gold_is_ordered("SELECT a FROM (SELECT a FROM t) ORDER BY 1")


def test_results_match_rules():
    assert results_match([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not results_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert not results_match([(1,), (1,)], [(1,)], ordered=False)  # multiset, not set
    assert results_match([(0.1 + 0.2,)], [(0.3,)], ordered=False)
    assert results_match([(1, "a")], [("a", 1)], ordered=False, ignore_column_order=True)
    assert not results_match([(1, "a")], [("a", 1)], ordered=False)


def test_components_and_partial_credit(sql):
    cases = {
        "SELECT name FROM emp WHERE dept = 'eng' ORDER BY id DESC": (1, 1, 1, 1.0),  # gold unordered
        "SELECT name FROM emp": (1, 1, 0, 0.3),
        "SELECT nmae FROM emp": (1, 0, 0, 0.1),  # parses, fails on the schema
        "SELEC name FROM emp": (0, 0, 0, 0.0),
    }
    for q, (syn, ex, match, score) in cases.items():
        r = run(sql, f"```sql\n{q}\n```")
        assert r.status is Status.OK, q
        assert r.components == {"syntax": syn, "executes": ex, "match": match}, q
        assert r.score == pytest.approx(score), q


def test_order_matters_only_when_gold_orders(sql):
    assert run(sql, "SELECT name FROM emp ORDER BY salary DESC, name", ORDERED).score == 1.0
    assert run(sql, "SELECT name FROM emp ORDER BY salary ASC", ORDERED).components["match"] == 0.0


def test_read_only_and_single_statement(sql, tmp_path):
    db = tmp_path / "t.sqlite"
    con = sqlite3.connect(db)
    con.executescript(SCHEMA)
    con.close()
    ref = {"sql": "SELECT count(*) FROM emp", "db": str(db)}
    for attack in ["DELETE FROM emp", "DROP TABLE emp", "UPDATE emp SET salary = 0",
                   "SELECT 1; DELETE FROM emp", f"ATTACH DATABASE '{tmp_path}/x.db' AS x",
                   "PRAGMA query_only = OFF", "INSERT INTO emp VALUES (9, 'x', 'y', 1)"]:
        r = run(sql, attack, ref)
        assert r.status is Status.OK and r.components["executes"] == 0.0, attack
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM emp").fetchone() == (5,)
    con.close()
    assert not (tmp_path / "x.db").exists()
    assert run(sql, "SELECT count(*) FROM emp", ref).score == 1.0


def test_time_budget_and_row_limit():
    src = SQLReward(timeout_s=0.3, max_rows=100)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    assert run(src, endless).status is Status.TIMEOUT
    lenient = SQLReward(timeout_s=0.3, timeout_status=False)
    r = run(lenient, endless)
    assert r.status is Status.OK and r.components == {"syntax": 1.0, "executes": 0.0, "match": 0.0}
    many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000) SELECT x FROM c"
    r = run(src, many)
    assert r.components["executes"] == 0.0 and "rows" in r.info["error"]


def test_statuses_for_missing_parts():
    src = build_source("sql")
    r = src.score([Sample(prompt="", completion="SELECT 1", reference={"answer": 3}),
                   Sample(prompt="", completion="", reference=UNORDERED),
                   Sample(prompt="", completion="SELECT 1", reference={"sql": "SELEC x", "schema": SCHEMA}),
                   Sample(prompt="", completion="SELECT 1", reference={"sql": "SELECT 1", "db": "/nonexistent/x.db"})])
    assert [x.status for x in r] == [Status.NOT_APPLICABLE, Status.UNPARSEABLE, Status.ERROR, Status.ERROR]


def test_weights_validated():
    with pytest.raises(ValueError):
        SQLReward(weights={"exact": 1.0})
