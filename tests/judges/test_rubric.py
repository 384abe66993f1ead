from __future__ import annotations

import pytest

from rewardkit.judges.rubric import Criterion, Rubric, RubricError, builtin_rubrics, load_rubric


def test_builtin_rubrics_load_and_validate():
    names = builtin_rubrics()
    assert {"helpfulness", "correctness", "safety_refusal", "writing_quality"} <= set(names)
    for n in names:
        r = load_rubric(n)
        assert r.name == n and r.criteria


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\ncriteria:\n  - name: a\n    description: d\n    choices: [no, yes]\n    wieght: 2\n")
    with pytest.raises(RubricError) as e:
        load_rubric(p)
    assert "criteria.0.wieght" in str(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize("bad, needle", [
    ({"name": "x", "criteria": [{"name": "a", "description": "d"}]}, "exactly one of 'choices' or 'scale'"),
    ({"name": "x", "criteria": [{"name": "a", "description": "d", "choices": ["y"]}]}, "at least two"),
    ({"name": "x", "criteria": [{"name": "a", "description": "d", "scale": {"min": 5, "max": 1}}]}, "greater than"),
    ({"name": "x", "criteria": [{"name": "a", "description": "d", "scale": {"min": 1, "max": 5,
                                                                         "anchors": {9: "?"}}}]}, "outside"),
    ({"name": "x", "criteria": [{"name": "a", "description": "d", "choices": ["n", "y"]},
                                {"name": "a", "description": "e", "choices": ["n", "y"]}]}, "duplicate"),
    ({"name": "x", "aggregation": "median"}, "aggregation"),
])
def test_invalid_rubrics_say_why(bad, needle):
    with pytest.raises(RubricError, match=needle):
        load_rubric(bad)


def test_missing_rubric_lists_builtins():
    with pytest.raises(RubricError, match="helpfulness"):
        load_rubric("no_such_rubric")


def test_normalisation_by_hand():
    c = Criterion(name="a", description="d", choices=["bad", "ok", "good"])
    assert [c.normalise(x) for x in ("bad", "OK ", "good", 1, "great", 3, True)] == [0.0, 0.5, 1.0, 0.5, None, None, None]
    s = Criterion(name="b", description="d", scale={"min": 1, "max": 5})
    assert [s.normalise(x) for x in (1, 3, 5, 6, "3", True)] == [0.0, 0.5, 1.0, None, None, None]


def test_aggregations_by_hand():
    crit = [{"name": "a", "description": "d", "weight": 1, "choices": ["n", "y"]},
            {"name": "b", "description": "d", "weight": 3, "scale": {"min": 0, "max": 4}}]
    per = {"a": 1.0, "b": 0.25}
    assert Rubric(name="r", criteria=crit).aggregate(per) == pytest.approx((1 * 1.0 + 3 * 0.25) / 4)
    assert Rubric(name="r", criteria=crit, aggregation="min").aggregate(per) == 0.25
    assert Rubric(name="r", criteria=crit, aggregation="all_must_pass").aggregate(per) == 0.0
    assert Rubric(name="r", criteria=crit, aggregation="all_must_pass", pass_threshold=0.25).aggregate(per) == 1.0


def test_fingerprint_changes_with_content():
    a = load_rubric("helpfulness")
    b = load_rubric({**a.model_dump(mode="json"), "description": "changed"})
    assert a.fingerprint != b.fingerprint and a.fingerprint == load_rubric("helpfulness").fingerprint
