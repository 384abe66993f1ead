"""Best-of-N curves, hand-computed over every subset of three candidates."""

import json

import pytest

from rewardkit.eval.bon import (
    aggregate_steps,
    best_of_n_curve,
    select_by_majority,
    select_by_reward,
    select_by_weighted_majority,
)


def test_aggregate_steps():
    assert aggregate_steps([0.5, None, 0.2], "min") == 0.2
    assert aggregate_steps([0.5, None, 0.2], "mean") == pytest.approx(0.35)
    assert aggregate_steps([0.5, None, 0.2], "last") == 0.2
    assert aggregate_steps([0.5, None, 0.2], "prod") == pytest.approx(0.1)
    assert aggregate_steps([None], "min") is None and aggregate_steps(None, "min") is None
    with pytest.raises(ValueError, match="unknown step aggregation"):
        aggregate_steps([1.0], "max")


def test_selection_rules():
    assert select_by_reward([0.9, 0.5, 0.9], [True, False, False]) == 0.5  # tie split
    assert select_by_reward([None, 0.1], [True, False]) == 0.0  # a non-ok candidate is not picked
    assert select_by_reward([None, None], [True, False]) is None
    assert select_by_majority(["1", "2", "2"], [True, False, False]) == 0.0
    assert select_by_majority(["1", "2"], [True, False]) == 0.5
    assert select_by_majority([None, "3"], [True, True]) == 1.0  # no answer, no vote
    assert select_by_majority([None, None], [True, True]) == 0.0


def test_weighted_majority():
    # answers 1, 2, 2 with rewards 0.9, 0.3, 0.4: "1" weighs 0.9 > 0.7, so it wins against the majority
    assert select_by_weighted_majority(["1", "2", "2"], [0.9, 0.3, 0.4], [True, False, False]) == 1.0
    assert select_by_majority(["1", "2", "2"], [True, False, False]) == 0.0
    assert select_by_weighted_majority(["1", "2"], [None, 0.0], [True, False]) == 0.5  # all weigh 0: split
    c = best_of_n_curve({"p": [[0.9, 0.3, 0.4]], "logit": [[2.0, -1.0, 0.5]]}, [[True, False, False]],
                        [["1", "2", "2"]])
    assert c["curve"][-1]["weighted_majority/p"] == 1.0
    assert c["curve"][-1]["weighted_majority/logit"] is None and c["weighted_majority_skipped"] == ["logit"]


def test_curve_worked_example():
    # scores [0.9, 0.5, 0.9], correct [T, F, F], answers [1, 2, 2]
    c = best_of_n_curve({"score": [[0.9, 0.5, 0.9]]}, [[True, False, False]], [["1", "2", "2"]])
    assert c["exact"] is True
    r1, r2, r3 = c["curve"]
    assert r1["reward/score"] == pytest.approx(1 / 3) and r1["oracle"] == pytest.approx(1 / 3)
    assert r1["majority"] == pytest.approx(1 / 3)
    # N=2: {0,1} -> 1, {0,2} -> tie 0.5, {1,2} -> 0
    assert r2["reward/score"] == pytest.approx(0.5)
    assert r2["oracle"] == pytest.approx(2 / 3)
    assert r2["majority"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert r3["reward/score"] == 0.5 and r3["oracle"] == 1.0 and r3["majority"] == 0.0


def test_curve_non_ok_and_uneven_questions():
    c = best_of_n_curve({"score": [[None, 0.1], [0.2, 0.3, 0.1]]}, [[True, False], [False, True, False]], ns=[1, 3])
    r1, r3 = c["curve"]
    assert r1["no_score/score"] == 1  # the single-candidate subset {None}
    assert r1["reward/score"] == pytest.approx((0.0 + 1 / 3) / 2)
    assert r3["n_questions"] == 1 and r3["reward/score"] == 1.0  # question 0 has only two candidates
    assert r1["majority"] is None  # no answers given


def test_random_subsets_are_seeded():
    scores = {"score": [[float(i) for i in range(10)]]}
    correct = [[i % 3 == 0 for i in range(10)]]
    a = best_of_n_curve(scores, correct, ns=[5], max_subsets=10, seed=1)
    b = best_of_n_curve(scores, correct, ns=[5], max_subsets=10, seed=1)
    assert a["exact"] is False and a == b
    with pytest.raises(ValueError, match="one value per candidate"):
        best_of_n_curve({"score": [[1.0]]}, [[True, False]])


def test_run_bon_candidates_list(tmp_path):
    from rewardkit.cli import main

    rows = [{"id": "q1", "question": "?", "candidates": [
        {"completion": "score=0.9 answer 1", "correct": True, "answer": "1"},
        {"completion": "score=0.5 answer 2", "correct": False, "answer": "2"},
        {"completion": "score=0.9 answer 2", "correct": False, "answer": "2"}]}]
    data = tmp_path / "bon.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: tests.eval._sources:Scripted\n")
    out = tmp_path / "o"
    assert main(["eval", "bon", "-c", str(cfg), "-i", str(data), "-o", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["reward/score"] for r in m["curve"]] == pytest.approx([1 / 3, 0.5, 0.5])
    assert m["at_max_n"]["majority"] == 0.0 and m["at_max_n"]["oracle"] == 1.0
    assert m["pass_at_1"] == pytest.approx(1 / 3)


def test_run_bon_on_gsm8k_solutions(shared_data):
    from rewardkit.eval.runs import run_bon

    run = run_bon({"rewards": [{"type": "step_arithmetic", "method": "lines"}]},
                  shared_data / "gsm8k" / "example_model_solutions.jsonl", limit=150, progress=False)
    m = run.metrics
    assert m["n_questions"] == 150 and m["n_candidates"] == 600
    assert [r["n"] for r in m["curve"]] == [1, 2, 3, 4]
    oracle = [r["oracle"] for r in m["curve"]]
    assert oracle == sorted(oracle)  # pass@N never falls with N
    # pass@1 is the mean correctness of all candidates
    assert m["pass_at_1"] == pytest.approx(sum(r["correct"] for r in run.samples) / 600)
    for r in m["curve"]:
        assert r["reward/score"] <= r["oracle"] + 1e-12 and r["majority"] <= r["oracle"] + 1e-12
    assert {"steps_min", "steps_prod"} <= set(m["aggregations"])
    # majority voting beats a random pick on GSM8K (answers extracted from "A: <n>")
    assert m["at_max_n"]["majority"] > m["pass_at_1"]


def test_default_ns():
    from rewardkit.eval.bon import default_ns

    assert default_ns(4) == [1, 2, 3, 4]
    assert default_ns(16) == list(range(1, 17))
    assert default_ns(64) == [1, 2, 4, 8, 16, 32, 64]
    assert default_ns(40) == [1, 2, 4, 8, 16, 32, 40]


def test_single_class_questions():
    all_right = best_of_n_curve({"score": [[0.3, 0.9, 0.1]]}, [[True, True, True]], [["1", "1", "2"]])
    all_wrong = best_of_n_curve({"score": [[0.3, 0.9, 0.1]]}, [[False, False, False]], [["1", "1", "2"]])
    for r in all_right["curve"]:
        assert r["reward/score"] == r["majority"] == r["oracle"] == 1.0
    for r in all_wrong["curve"]:
        assert r["reward/score"] == r["majority"] == r["oracle"] == 0.0


def test_candidate_order_does_not_matter():
    import random

    rng = random.Random(3)
    for _ in range(20):
        k = rng.randint(2, 6)
        sc = [rng.choice([None, 0.1, 0.5, 0.5, 0.9]) for _ in range(k)]
        lab = [rng.random() < 0.5 for _ in range(k)]
        ans = [rng.choice(["1", "2", None]) for _ in range(k)]
        perm = list(range(k))
        rng.shuffle(perm)
        a = best_of_n_curve({"s": [sc]}, [lab], [ans])
        b = best_of_n_curve({"s": [[sc[i] for i in perm]]}, [[lab[i] for i in perm]], [[ans[i] for i in perm]])
        for ra, rb in zip(a["curve"], b["curve"], strict=True):
            for key in ("reward/s", "majority", "oracle", "no_score/s"):
                assert ra[key] == pytest.approx(rb[key])


def _naive_curve(scores, correct, answers, ns):
    """A plain loop over every subset with the reference selection rules."""
    import itertools

    out = []
    for n in ns:
        qs = [qi for qi, lab in enumerate(correct) if len(lab) >= n]
        rew = maj = orc = wmaj = 0.0
        for qi in qs:
            subs = list(itertools.combinations(range(len(correct[qi])), n))
            rew += sum(select_by_reward([scores[qi][i] for i in s], [correct[qi][i] for i in s]) or 0.0
                       for s in subs) / len(subs)
            maj += sum(select_by_majority([answers[qi][i] for i in s], [correct[qi][i] for i in s])
                       for s in subs) / len(subs)
            orc += sum(any(correct[qi][i] for i in s) for s in subs) / len(subs)
            wmaj += sum(select_by_weighted_majority([answers[qi][i] for i in s], [scores[qi][i] for i in s],
                                                    [correct[qi][i] for i in s]) for s in subs) / len(subs)
        out.append((rew / len(qs), maj / len(qs), orc / len(qs), wmaj / len(qs)))
    return out


def test_vectorised_curve_equals_naive_loop():
    import random

    rng = random.Random(7)
    for _ in range(15):
        q = rng.randint(1, 5)
        ks = [rng.randint(1, 7) for _ in range(q)]
        sc = [[rng.choice([None, 0.0, 0.5, 0.5, 1.0, rng.random()]) for _ in range(k)] for k in ks]
        lab = [[rng.random() < 0.5 for _ in range(k)] for k in ks]
        ans = [[rng.choice([None, "1", "2", "3"]) for _ in range(k)] for k in ks]
        ns = list(range(1, min(ks) + 1))
        fast = best_of_n_curve({"r": sc}, lab, ans, ns=ns)["curve"]
        for row, (rew, maj, orc, wmaj) in zip(fast, _naive_curve(sc, lab, ans, ns), strict=True):
            assert row["reward/r"] == pytest.approx(rew) and row["majority"] == pytest.approx(maj)
            assert row["weighted_majority/r"] == pytest.approx(wmaj)
            assert row["oracle"] == pytest.approx(orc)


def test_random_subsets_estimate_the_exact_value():
    import random

    rng = random.Random(1)
    sc = [[rng.random() for _ in range(12)] for _ in range(30)]
    lab = [[rng.random() < 0.3 for _ in range(12)] for _ in range(30)]
    exact = best_of_n_curve({"r": sc}, lab, ns=[4], max_subsets=10_000)
    approx = best_of_n_curve({"r": sc}, lab, ns=[4], max_subsets=400, seed=3)
    assert exact["exact"] and not approx["exact"]
    assert approx["curve"][0]["reward/r"] == pytest.approx(exact["curve"][0]["reward/r"], abs=0.03)
    assert approx["curve"][0]["oracle"] == pytest.approx(exact["curve"][0]["oracle"], abs=0.03)
