"""ProcessBench metrics (Zheng et al. 2024, arXiv 2412.06559) with hand-computed values."""

import json

import pytest

from rewardkit.eval.processbench import (
    first_wrong_step,
    mean_f1,
    processbench_breakdown,
    processbench_scores,
    threshold_sweep,
)


def test_first_wrong_step():
    assert first_wrong_step([0.9, None, 0.4, 0.2]) == 2
    assert first_wrong_step([0.9, 0.5]) == -1  # 0.5 is not *below* 0.5
    assert first_wrong_step([0.9, 0.5], threshold=0.51) == 1
    assert first_wrong_step([None, None]) == -1  # unscored steps are never flagged
    assert first_wrong_step([]) == -1


def test_scores_worked_example():
    # erroneous: labels 2, 0, 1 -> preds 2 (hit), -1 (miss), None (non-ok: miss) -> 1/3
    # correct:   labels -1, -1 -> preds -1 (hit), 1 (false alarm) -> 1/2
    m = processbench_scores([-1, -1, 2, 0, 1], [-1, 1, 2, -1, None])
    assert m["error_acc"] == pytest.approx(1 / 3)
    assert m["correct_acc"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))  # 0.4
    assert m["f1"] == pytest.approx(0.4)
    assert (m["n"], m["n_error"], m["n_correct"]) == (5, 3, 2)


def test_wrong_index_is_a_miss_even_if_an_error_was_flagged():
    assert processbench_scores([2], [1])["error_acc"] == 0.0
    assert processbench_scores([2], [3])["error_acc"] == 0.0


def test_single_class_and_empty_and_zero():
    only_correct = processbench_scores([-1, -1], [-1, 0])
    assert only_correct["error_acc"] is None and only_correct["correct_acc"] == 0.5 and only_correct["f1"] is None
    empty = processbench_scores([], [])
    assert empty["error_acc"] is None and empty["correct_acc"] is None and empty["f1"] is None
    zero = processbench_scores([-1, 1], [0, -1])
    assert zero["error_acc"] == 0.0 and zero["correct_acc"] == 0.0 and zero["f1"] == 0.0
    with pytest.raises(ValueError, match="length"):
        processbench_scores([1], [])


def test_breakdown_and_mean_f1():
    labels = [-1, 1, -1, 0]
    preds = [-1, 1, 0, 0]
    by = processbench_breakdown(labels, preds, {"subset": ["a", "a", "b", "b"]})["subset"]
    assert by["a"]["f1"] == 1.0
    assert by["b"]["error_acc"] == 1.0 and by["b"]["correct_acc"] == 0.0 and by["b"]["f1"] == 0.0
    assert mean_f1(by) == 0.5
    assert mean_f1({"a": {"f1": 1.0}, "c": {"f1": None}}) is None


def test_threshold_sweep():
    rows = threshold_sweep([1, -1], [[0.9, 0.3], [0.6, 0.8]], [0.2, 0.5, 0.7])
    assert [(r["threshold"], r["error_acc"], r["correct_acc"], r["f1"]) for r in rows] == [
        (0.2, 0.0, 1.0, 0.0), (0.5, 1.0, 1.0, 1.0), (0.7, 1.0, 0.0, 0.0)]
    # a non-ok sample (None) stays a miss at every threshold
    assert all(r["correct_acc"] == 0.0 for r in threshold_sweep([-1], [None], [0.1, 0.9]))


def _pb_rows():
    # ids, steps carrying their scores (s=...), labels; the scripted source reads s=
    return [
        {"id": "a", "problem": "p", "steps": ["s=0.9 ok", "s=0.2 bad"], "label": 1, "subset": "gsm8k", "generator": "g1"},
        {"id": "b", "problem": "p", "steps": ["s=0.9", "s=0.8", "no score"], "label": -1, "subset": "gsm8k", "generator": "g1"},
        {"id": "c", "problem": "p", "steps": ["s=0.4", "s=0.9"], "label": 1, "subset": "math", "generator": "g2"},
        {"id": "d", "problem": "p", "steps": ["status=error"], "label": -1, "subset": "math", "generator": "g2"},
    ]


@pytest.fixture
def pb_input(tmp_path):
    p = tmp_path / "pb.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in _pb_rows()))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: tests.eval._sources:Scripted\n")
    return cfg, p


def test_run_processbench_cli(pb_input, tmp_path, capsys):
    from rewardkit.cli import main

    cfg, data = pb_input
    out = tmp_path / "out"
    assert main(["eval", "processbench", "--config", str(cfg), "--input", str(data), "--output-dir", str(out),
                 "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    # a: pred 1 = label (hit); c: pred 0 != 1 (too early); b: nothing flagged (hit); d: error -> miss
    assert m["error_acc"] == 0.5 and m["correct_acc"] == 0.5 and m["f1"] == 0.5
    assert m["statuses"] == {"error": 1, "ok": 3} and m["n_non_ok"] == 1 and m["non_ok_policy"] == "miss"
    assert m["by_subset"]["gsm8k"]["f1"] == 1.0
    assert m["by_subset"]["math"]["error_acc"] == 0.0 and m["by_subset"]["math"]["correct_acc"] == 0.0
    assert m["by_generator"]["g1"]["f1"] == 1.0
    assert m["avg_f1_over_subsets"] == 0.5
    assert m["unscored_steps"] == 1
    assert m["ok_only"]["correct_acc"] == 1.0 and m["ok_only"]["error_acc"] == 0.5
    sweep = {r["threshold"]: r for r in m["threshold_sweep"]}
    # 0.3: a's 0.2 still flags step 1 (hit), c's 0.4 no longer flags anything (missed error)
    assert (sweep[0.3]["error_acc"], sweep[0.3]["correct_acc"]) == (0.5, 0.5)
    # 0.95: every first step is flagged: a and c wrong location, b a false alarm
    assert (sweep[0.95]["error_acc"], sweep[0.95]["correct_acc"], sweep[0.95]["f1"]) == (0.0, 0.0, 0.0)
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["pred"] for r in rows] == [1, -1, 0, None]
    assert rows[1]["step_scores"] == [0.9, 0.8, None]
    stdout = capsys.readouterr().out
    assert "F1" in stdout and "error_acc" in stdout and "report.html" in stdout
    assert (out / "report.html").stat().st_size > 10_000


def test_run_processbench_exclude(pb_input, tmp_path):
    from rewardkit.eval.runs import run_processbench

    cfg, data = pb_input
    run = run_processbench(str(cfg), data, non_ok="exclude", progress=False)
    assert run.metrics["correct_acc"] == 1.0 and run.metrics["n"] == 3 and run.metrics["n_non_ok"] == 1


def test_bad_label_names_the_record(tmp_path):
    from rewardkit.cli import main

    p = tmp_path / "pb.jsonl"
    p.write_text(json.dumps({"id": 1, "problem": "p", "steps": ["a"], "label": 3}) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: step_arithmetic\n")
    assert main(["eval", "processbench", "-c", str(cfg), "-i", str(p), "-o", str(tmp_path / "o")]) == 2


def test_step_arithmetic_on_shared_processbench(shared_data, tmp_path):
    from rewardkit.eval.processbench import processbench_scores
    from rewardkit.eval.runs import run_processbench

    run = run_processbench({"rewards": [{"type": "step_arithmetic"}]}, shared_data / "processbench.jsonl", progress=False)
    m = run.metrics
    assert m["n_rows"] == 500 and sum(m["statuses"].values()) == 500
    assert set(m["by_subset"]) == {"gsm8k", "math", "olympiadbench", "omnimath"}
    # the headline is the definition applied to the per-sample predictions it wrote
    again = processbench_scores([r["label"] for r in run.samples], [r["pred"] for r in run.samples])
    assert again["f1"] == m["f1"]
    # every non-ok sample is accounted for, none silently scored
    assert m["n_non_ok"] == sum(1 for r in run.samples if r["status"] != "ok") == 500 - m["statuses"].get("ok", 0)


def test_row_order_does_not_matter():
    import random

    rng = random.Random(0)
    labels = [rng.randint(-1, 4) for _ in range(40)]
    preds = [rng.choice([None, -1, 0, 1, 2, 3, 4]) for _ in range(40)]
    subsets = [rng.choice("ab") for _ in range(40)]
    perm = list(range(40))
    rng.shuffle(perm)
    a = processbench_breakdown(labels, preds, {"s": subsets})
    b = processbench_breakdown([labels[i] for i in perm], [preds[i] for i in perm], {"s": [subsets[i] for i in perm]})
    assert a == b


def test_step_scores_map_onto_input_steps():
    from rewardkit.eval._io import step_scores_for
    from rewardkit.types import RewardResult, StepScore

    bounds = [(0, 10), (12, 20), (22, 30)]
    # a source that split the first input step in two, left the second unscored, skipped the third
    r = RewardResult.ok(0.3, steps=[StepScore(0, 4, 0.9), StepScore(5, 10, 0.3), StepScore(12, 20, None)])
    assert step_scores_for(r, bounds) == [0.3, None, None]
    assert step_scores_for(RewardResult.ok(1.0), bounds) == [None, None, None]


def test_step_f1_in_processbench_run(pb_input, tmp_path):
    from rewardkit.eval.runs import run_processbench

    cfg, data = pb_input
    sf = run_processbench(str(cfg), data, progress=False).metrics["step_f1"]
    # labelled prefixes: a: [T (0.9), F (0.2)]; b: [T (0.9), T (0.8), T (None)]; c: [T (0.4), F (0.9)]
    # -> tp 3 (a0, b0, b1), tn 1 (a1), fn 1 (c0), fp 1 (c1), 1 unscored; d has no scores
    assert (sf["tp"], sf["tn"], sf["fn"], sf["fp"], sf["n_unscored"]) == (3, 1, 1, 1, 1)
    assert sf["f1_pos"] == pytest.approx(6 / 8) and sf["f1_neg"] == pytest.approx(2 / 4)
    assert sf["labels_from"] == "first_error_prefix" and sf["n_rows_without_scores"] == 1


def test_explicit_step_labels(tmp_path):
    from rewardkit.eval.runs import run_processbench

    rows = [{"id": 1, "steps": ["s=0.9", "s=0.2", "s=0.1"], "label": 1, "step_labels": [True, False, True]}]
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sf = run_processbench({"rewards": [{"type": "tests.eval._sources:Scripted"}]}, data, progress=False).metrics["step_f1"]
    assert (sf["tp"], sf["tn"], sf["fn"], sf["fp"]) == (1, 1, 1, 0) and sf["labels_from"] == "step_labels"


def test_csv_and_parquet_inputs(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from rewardkit.eval.runs import run_processbench

    rows = _pb_rows()
    cfg = {"rewards": [{"type": "tests.eval._sources:Scripted"}]}
    pd.DataFrame(rows).to_parquet(tmp_path / "pb.parquet")
    csv_rows = pd.DataFrame(rows)
    csv_rows["steps"] = csv_rows["steps"].map(json.dumps)
    csv_rows.to_csv(tmp_path / "pb.csv", index=False)
    for name in ("pb.parquet", "pb.csv"):
        m = run_processbench(cfg, tmp_path / name, progress=False).metrics
        assert (m["error_acc"], m["correct_acc"], m["f1"]) == (0.5, 0.5, 0.5), name
