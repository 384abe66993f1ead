"""Verifier audit: confusion matrix with non-ok verdicts, hand-computed."""

import json

import pytest

from rewardkit.eval.audit import audit_metrics, confusion


def test_audit_worked_example():
    expected = [True, True, False, False, True]
    scores = [1.0, 0.0, 1.0, None, None]
    statuses = ["ok", "ok", "ok", "unparseable", "error"]
    m = audit_metrics(expected, scores, statuses)
    # accepted = [T, F, T, F, F]: tp 1 (0), fn 2 (1, 4), fp 1 (2), tn 1 (3)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 1, 2)
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["precision"] == 0.5 and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(0.4)
    assert m["false_positive_rate"] == 0.5 and m["false_negative_rate"] == pytest.approx(2 / 3)
    assert m["unparseable_rate"] == pytest.approx(1 / 5) and m["non_ok"] == 2
    assert m["statuses"] == {"error": 1, "ok": 3, "unparseable": 1}
    assert (m["ok_only"]["tp"], m["ok_only"]["fp"], m["ok_only"]["fn"], m["ok_only"]["tn"]) == (1, 1, 1, 0)


def test_threshold_is_inclusive():
    assert audit_metrics([True], [0.5], ["ok"], threshold=0.5)["tp"] == 1
    assert audit_metrics([True], [0.49], ["ok"], threshold=0.5)["fn"] == 1


def test_single_class_and_empty():
    only_pos = confusion([True, True], [True, False])
    assert only_pos["false_positive_rate"] is None and only_pos["recall"] == 0.5 and only_pos["precision"] == 1.0
    none_accepted = confusion([False, False], [False, False])
    assert none_accepted["precision"] is None and none_accepted["f1"] is None and none_accepted["accuracy"] == 1.0
    empty = confusion([], [])
    assert empty["accuracy"] is None and empty["n"] == 0
    with pytest.raises(ValueError):
        confusion([True], [])


def test_run_audit_lists_false_positives_first(tmp_path):
    from rewardkit.eval.runs import run_audit

    rows = [{"pred": "score=1", "gold": "x", "expected": False, "suite": "a"},
            {"completion": "score=0", "reference": "x", "expected": True, "suite": "a"},
            {"pred": "no number here", "gold": 3, "expected": True, "suite": "b"},
            {"pred": 7, "gold": "y", "expected": "true", "suite": "b"}]
    data = tmp_path / "a.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_audit({"rewards": [{"type": "tests.eval._sources:Scripted"}]}, data, progress=False)
    m = run.metrics
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (0, 1, 3, 0)
    assert m["statuses"] == {"ok": 2, "unparseable": 2} and m["unparseable_rate"] == 0.5
    assert m["by_group"]["a"]["fp"] == 1 and m["by_group"]["b"]["non_ok"] == 2
    html = run.report.render()
    assert html.index("False positives") < html.index("False negatives") < html.index("Non-ok verdicts")


def test_audit_math_verifier_on_math_equiv(shared_data):
    from rewardkit.eval.runs import run_audit

    run = run_audit({"rewards": [{"type": "math"}]}, shared_data / "math_equiv.jsonl", limit=120, progress=False)
    m = run.metrics
    assert m["n"] == 120 and m["tp"] + m["fp"] + m["fn"] + m["tn"] == 120
    assert m["accuracy"] > 0.8  # the math verifier agrees with the suites' labels on most pairs
    assert sum(m["statuses"].values()) == 120 and m["non_ok"] == 120 - m["statuses"]["ok"]
    assert set(m["by_group"]) >= {"math_verify"}


def test_fill_does_not_hide_unparseable():
    from rewardkit.eval._io import fill_counts, status_before_fill
    from rewardkit.types import RewardResult

    filled = RewardResult.ok(0.0, info={"status_before_fill": "unparseable"})
    assert status_before_fill(filled) == "unparseable"
    assert fill_counts([filled, RewardResult.ok(1.0)]) == {"ok": 1, "unparseable": 1}
    assert fill_counts([RewardResult.ok(1.0)]) is None


def test_audit_with_a_fill_reports_the_hidden_unparseable(tmp_path):
    from rewardkit.eval.runs import run_audit

    data = tmp_path / "a.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in [
        {"pred": "no number", "gold": "1", "expected": True}, {"pred": "score=1", "gold": "1", "expected": True}]))
    cfg = {"rewards": [{"type": "tests.eval._sources:Scripted", "fill": {"unparseable": 0.0}},
                       {"type": "regex", "pattern": "x", "weight": 0.0}]}
    run = run_audit(cfg, data, progress=False)
    if run.metrics["statuses_before_fill"] is None:
        pytest.skip("this pipeline does not record info['status_before_fill'] yet (it comes with branch correctness)")
    m = run.metrics
    assert m["statuses"] == {"ok": 2} and m["statuses_before_fill"] == {"ok": 1, "unparseable": 1}
    assert m["unparseable_rate"] == 0.0 and m["unparseable_rate_before_fill"] == 0.5
    assert m["fn"] == 1  # the filled 0 is a rejection
