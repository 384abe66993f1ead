"""Issue 9 §1: a fill changes the reward, not what happened. The pipeline records the status before
any fill and whose fault a failure is; summaries and server metrics count statuses before fill."""

from __future__ import annotations

from rewardkit.pipeline import Pipeline
from rewardkit.scoring import score_dataset
from rewardkit.status_policy import StatusPolicy, status_before_fill
from rewardkit.types import Sample, Status

FILLED = {"rewards": [{"type": "numeric", "name": "correct", "fill": {"unparseable": 0.0}},
                      {"type": "regex", "name": "fmt", "pattern": "answer", "weight": 0.1}]}


def test_pipeline_records_the_status_before_fill():
    pipe = Pipeline(FILLED)
    ok, filled = pipe.score([Sample(prompt="", completion="the answer is 4", reference="4"),
                             Sample(prompt="", completion="no idea", reference="4")])
    assert status_before_fill(ok) == "ok" and "filled" not in ok.info
    assert filled.status is Status.OK and filled.score == 0.0
    assert filled.info["status_before_fill"] == "unparseable"
    assert filled.info["filled"] == {"correct": "unparseable"}
    assert status_before_fill(filled) == "unparseable" == status_before_fill(filled.to_dict())


def test_failed_total_says_whose_fault_it_is():
    one = Pipeline({"rewards": [{"type": "numeric"}]})
    (r,) = one.score([Sample(prompt="", completion="no idea", reference="4")])
    assert r.status is Status.UNPARSEABLE and r.info["fault"] == "sample"
    (r,) = one.score([Sample(prompt="", completion="4", reference=None)])  # bad reference: not the sample's fault
    assert r.status is Status.ERROR and r.info["fault"] == "infrastructure"
    assert StatusPolicy().resolve(r) == (0.0, False)
    two = Pipeline({"rewards": [{"type": "numeric", "name": "a"}, {"type": "numeric", "name": "b", "weight": 0.5}]})
    (r,) = two.score([Sample(prompt="", completion="no idea", reference="4")])
    assert r.info["fault"] == "sample" and r.info["failed_components"] == ["a", "b"]


def test_the_status_policy_is_part_of_the_pipeline_config():
    pipe = Pipeline({"rewards": [{"type": "numeric"}], "status_policy": {"statuses": {"unparseable": "mask"}}})
    assert pipe.config.status_policy.resolve(pipe.score([Sample(prompt="", completion="?", reference="4")])[0]) == (
        0.0, False)


def test_scoring_summary_counts_statuses_before_fill(tmp_path):
    rows = [{"id": i, "prompt": "", "completion": c, "reference": "4"}
            for i, c in enumerate(["the answer is 4", "no idea", "nothing here"])]
    summary = score_dataset(FILLED, rows, tmp_path / "out.jsonl", progress=False)
    assert summary.statuses == {"ok": 1, "unparseable": 2}  # before: {"ok": 3}


def test_server_metrics_count_statuses_before_fill():
    import pytest

    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from rewardkit.serving.app import ServerSettings, create_app

    app = create_app(FILLED, ServerSettings(workers=1))
    with TestClient(app) as client:
        r = client.post("/score", json={"samples": [{"completion": "no idea", "reference": "4"},
                                                    {"completion": "the answer is 4", "reference": "4"}]})
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == ["ok", "ok"]
        text = client.get("/metrics").text
    assert 'rewardkit_items_total{status="unparseable"} 1.0' in text
    assert 'rewardkit_items_total{status="ok"} 1.0' in text


def test_group_shaping_counts_a_missing_answer_like_a_wrong_one():
    """Regression: with group_normalize in the pipeline, unparseable results were left out of the group
    and the adapters then gave them 0 -- above the wrong answer's negative advantage."""
    pipe = Pipeline({"rewards": [{"type": "numeric"}], "shaping": [{"type": "group_normalize"}]})
    comps = ["the answer is 4", "the answer is 5", "no idea", "no idea either"]
    out = pipe.score([Sample(prompt="q", completion=c, reference="4", group_id="g") for c in comps])
    correct, wrong, none1, none2 = (r.score for r in out)
    assert all(r.status is Status.OK for r in out)
    assert none1 == none2 == wrong < 0 < correct
    assert out[2].info["status_before_fill"] == "unparseable"
    # infrastructure failures stay out of the group
    out = pipe.score([Sample(prompt="q", completion=c, reference=ref, group_id="g")
                      for c, ref in [("the answer is 4", "4"), ("the answer is 5", "4"), ("the answer is 4", None)]])
    assert out[2].status is Status.ERROR and out[0].score > 0 > out[1].score
