import pytest

from rewardkit.types import RewardResult, Sample, Status, StepScore, completion_text


def test_non_ok_result_has_no_score():
    with pytest.raises(ValueError, match="score=None"):
        RewardResult(score=0.0, status=Status.UNPARSEABLE)
    r = RewardResult.fail("timeout", "took too long")
    assert r.score is None and r.status is Status.TIMEOUT and r.info["error"] == "took too long"
    assert r.score_or(-1.0) == -1.0


def test_ok_result_needs_a_real_score():
    with pytest.raises(ValueError):
        RewardResult(score=None, status=Status.OK)
    with pytest.raises(ValueError, match="NaN"):
        RewardResult(score=float("nan"))
    assert RewardResult.ok(1).score == 1.0 and isinstance(RewardResult.ok(1).score, float)


def test_round_trip_dict():
    r = RewardResult(0.5, components={"a": 1.0, "b": None}, steps=[StepScore(0, 3, 1.0), StepScore(5, 9, None)],
                     token_scores=[0.1, 0.2], token_spans=[(0, 2), (2, 3)], info={"x": 1})
    d = r.to_dict()
    assert d["status"] == "ok" and d["steps"][1] == {"start": 5, "end": 9, "score": None}
    back = RewardResult.from_dict(d)
    assert back == r


def test_token_spans_must_match_scores():
    with pytest.raises(ValueError):
        RewardResult(1.0, token_scores=[1.0], token_spans=[(0, 1), (1, 2)])


def test_status_severity_order():
    order = sorted(Status, key=lambda s: s.severity)
    assert order == [Status.OK, Status.NOT_APPLICABLE, Status.UNPARSEABLE, Status.TIMEOUT, Status.ERROR]
    assert str(Status.OK) == "ok"


def test_chat_completion_becomes_text():
    msgs = [{"role": "assistant", "content": "hello"}, {"role": "tool", "content": "x"},
            {"role": "assistant", "content": [{"type": "text", "text": "world"}]}]
    assert completion_text(msgs) == "hello\nworld"
    s = Sample(prompt=[{"role": "user", "content": "hi"}], completion=msgs)
    assert s.completion == "hello\nworld"
    assert s.prompt_text == "user: hi"
