"""RewardBench v1 (Lambert et al. 2024) and v2 (Malik et al. 2025) scoring, hand-computed."""

import json

import pytest

from rewardkit.eval.pairwise import rewardbench_v1, rewardbench_v2, row_credit, subset_accuracy


def test_row_credit():
    assert row_credit(1.0, [0.0]) == (1.0, 1.0)
    assert row_credit(0.2, [0.3]) == (0.0, 0.0)
    assert row_credit(0.0, [0.0]) == (0.0, 0.5)  # a tie: v1 misses, v2 splits
    assert row_credit(0.5, [0.5, 0.5, 0.1]) == (0.0, pytest.approx(1 / 3))  # three-way top tie
    assert row_credit(0.5, [0.4, 0.5, 0.5]) == (0.0, pytest.approx(1 / 3))
    assert row_credit(0.9, [0.5, 0.5, 0.1]) == (1.0, 1.0)
    assert row_credit(0.4, [0.5, 0.1, 0.1]) == (0.0, 0.0)
    assert row_credit(None, [0.0]) == (None, None)
    assert row_credit(1.0, [0.0, None]) == (None, None)
    with pytest.raises(ValueError):
        row_credit(1.0, [])


def test_constant_reward_scores_chance_under_v2():
    rows = [row_credit(0.3, [0.3, 0.3, 0.3]) for _ in range(4)]
    assert all(v1 == 0.0 and v2 == 0.25 for v1, v2 in rows)


def test_subset_accuracy_and_v1_sections():
    per = subset_accuracy([1, 1, 1, 0, 0, 1, 1, 1, 0.0, 0, 0, 0, 1],
                          ["alpacaeval-easy"] * 2 + ["mt-bench-easy"] * 2 + ["math-prm"] * 2
                          + ["hep-go"] * 2 + ["custom"] * 5)
    assert per["alpacaeval-easy"] == {"accuracy": 1.0, "n": 2}
    assert per["mt-bench-easy"]["accuracy"] == 0.5 and per["math-prm"]["accuracy"] == 0.5
    assert per["custom"]["accuracy"] == 0.2
    rb = rewardbench_v1(per)
    assert rb["sections"]["Chat"] == pytest.approx((1.0 * 2 + 0.5 * 2) / 4)  # 0.75
    # math-prm counts as much as all hep-* together (here 2 rows), so 0.5 and 1.0 weigh equally
    assert rb["sections"]["Reasoning"] == pytest.approx(0.75)
    assert rb["sections"]["custom"] == pytest.approx(0.2)  # an unknown subset is its own section
    assert rb["score"] == pytest.approx((0.75 + 0.75 + 0.2) / 3)
    assert sorted(rb["missing_sections"]) == ["Chat Hard", "Safety"]  # absent, not scored 0


def test_v1_math_prm_upweighting_matters():
    per = {"math-prm": {"accuracy": 0.5, "n": 1}, "hep-go": {"accuracy": 1.0, "n": 3}}
    assert rewardbench_v1(per)["sections"]["Reasoning"] == pytest.approx(0.75)
    assert rewardbench_v1(per, upweight_math_prm=False)["sections"]["Reasoning"] == pytest.approx(3.5 / 4)


def test_v2_and_empty():
    assert rewardbench_v2({"a": {"accuracy": 1.0, "n": 10}, "b": {"accuracy": 0.5, "n": 1}})["score"] == 0.75
    assert rewardbench_v2({})["score"] is None
    assert rewardbench_v1({})["score"] is None
    assert subset_accuracy([], []) == {}


def _write(tmp_path, rows):
    p = tmp_path / "pairs.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: tests.eval._sources:Scripted\n")
    return cfg, p


def test_run_pairwise_v1_and_v2_rows(tmp_path):
    from rewardkit.cli import main

    rows = [
        {"prompt": "q", "chosen": "score=1", "rejected": "score=0", "subset": "s1"},           # 1, 1
        {"prompt": "q", "chosen": "score=0.5", "rejected": "score=0.5", "subset": "s1"},       # 0, 0.5
        {"prompt": "q", "chosen": "score=0.5", "rejected": ["score=0.5", "score=0.5", "score=0.1"],
         "subset": "s2"},                                                                      # 0, 1/3
        {"prompt": "q", "chosen": "status=error", "rejected": "score=0", "subset": "s2"},      # non-ok
    ]
    cfg, data = _write(tmp_path, rows)
    out = tmp_path / "out"
    assert main(["eval", "pairwise", "-c", str(cfg), "-i", str(data), "-o", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["accuracy"] == pytest.approx(1 / 4)  # the non-ok row counts as a miss
    assert m["accuracy_v2"] == pytest.approx((1 + 0.5 + 1 / 3) / 4)
    assert m["rewardbench_v1"]["subsets"]["s1"]["accuracy"] == 0.5
    assert m["rewardbench_v2"]["score"] == pytest.approx((0.75 + (1 / 3) / 2) / 2)
    assert m["n_non_ok_rows"] == 1 and m["ties"] == 2 and m["statuses"] == {"error": 1, "ok": 9}
    assert main(["eval", "pairwise", "-c", str(cfg), "-i", str(data), "-o", str(out), "--no-progress",
                 "--non-ok", "exclude"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["accuracy"] == pytest.approx(1 / 3) and m["n_scored_rows"] == 3


def test_run_pairwise_on_shared_hh_pairs(shared_data):
    from rewardkit.eval.runs import run_pairwise

    # a refusal detector as a (weak) harmlessness reward
    cfg = {"rewards": [{"type": "regex", "pattern": r"(?i)\b(sorry|I can't|I cannot|I won't|not able to)\b"}]}
    run = run_pairwise(cfg, shared_data / "preference_pairs_hh_harmless.jsonl", chosen_col="chosen_response",
                       rejected_col="rejected_response", limit=120, progress=False)
    m = run.metrics
    assert m["n_rows"] == 120 and m["statuses"].get("ok", 0) + m["n_non_ok_rows"] > 0
    # with a 0/1 reward most rows tie: v2 gives them half credit, v1 none
    assert m["ties"] > 0 and m["accuracy_v2"] > m["accuracy"]
    assert m["accuracy_v2"] == pytest.approx(sum(r["credit_v2"] or 0 for r in run.samples) / 120)


def test_several_chosen_each_face_all_rejected(tmp_path):
    from rewardkit.eval.runs import run_pairwise

    cfg, data = _write(tmp_path, [{"prompt": "q", "chosen": ["score=0.9", "score=0.2"],
                                   "rejected": ["score=0.5", "score=0.1"]}])
    m = run_pairwise(str(cfg), data, progress=False).metrics
    assert m["accuracy"] == 0.5 and m["accuracy_v2"] == 0.5  # 0.9 beats both, 0.2 does not
