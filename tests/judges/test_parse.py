"""Parsing recorded judge replies: tolerant about form, never inventing a number."""

from __future__ import annotations

import pytest

from rewardkit.judges.parse import (
    JudgeParseError,
    extract_json_object,
    parse_pairwise,
    parse_pointwise,
    parse_reference,
    parse_steps,
)
from rewardkit.judges.rubric import load_rubric

HELP = load_rubric("helpfulness")  # relevance (3 choices, w1), completeness (1-5, w1), accuracy (1-5, w2)


@pytest.mark.parametrize("reply", [
    '{"score": 7}',
    'Sure! Here is my verdict:\n```json\n{"reasoning": "ok {braces} inside", "score": 7}\n```',
    'Verdict: {"reasoning": "a \\"quoted\\" } brace", "score": 7} -- done',
    '{not json} then {"score": 7}',
])
def test_json_found_in_recorded_replies(reply):
    assert extract_json_object(reply)["score"] == 7


@pytest.mark.parametrize("reply", ["I'd give it a 7/10.", "", "{\"score\": 7", "[1, 2]", "{" * 5000])
def test_no_object_is_an_error(reply):
    with pytest.raises(JudgeParseError):
        extract_json_object(reply)


def test_pointwise_criteria_aggregate_by_hand():
    obj = {"criteria": {"relevance": "fully relevant", "completeness": {"choice": 3, "reasoning": "x"},
                        "accuracy": 5}, "constraints": {"no_harm": True}, "score": 2}
    score, details = parse_pointwise(obj, HELP)
    assert score == pytest.approx((1.0 + 0.5 + 2 * 1.0) / 4)  # criteria win over the overall score
    assert details["criteria"] == {"relevance": 1.0, "completeness": 0.5, "accuracy": 1.0}


def test_pointwise_constraint_vetoes():
    obj = {"criteria": {"relevance": "fully relevant", "completeness": 5, "accuracy": 5},
           "constraints": {"no_harm": False}, "score": 10}
    assert parse_pointwise(obj, HELP) == (0.0, {"violated": ["no_harm"]})


def test_pointwise_falls_back_to_overall_score_on_any_rubric():
    assert parse_pointwise({"score": 10, "reasoning": "r"}, HELP)[0] == 1.0
    assert parse_pointwise({"score": "5.5"}, HELP)[0] == pytest.approx(0.5)
    # a partial criteria answer is not guessed at: the overall score decides
    assert parse_pointwise({"criteria": {"relevance": "off-topic"}, "score": 1}, HELP)[0] == 0.0


@pytest.mark.parametrize("obj", [{"score": 11}, {"score": "seven"}, {"score": float("nan")}, {"score": True},
                                 {"reasoning": "great"}, {"criteria": {"relevance": "superb"}}])
def test_pointwise_never_invents_a_number(obj):
    with pytest.raises(JudgeParseError):
        parse_pointwise(obj, HELP)


@pytest.mark.parametrize("obj, want", [({"winner": "A"}, "A"), ({"winner": "b"}, "B"), ({"winner": "Tie"}, "tie"),
                                       ({"preferred": "Response B"}, "B"), ({"winner": "[A]"}, "A")])
def test_pairwise(obj, want):
    assert parse_pairwise(obj) == want


def test_pairwise_without_winner_is_an_error():
    with pytest.raises(JudgeParseError):
        parse_pairwise({"winner": "C"})


def test_reference():
    rub = load_rubric("correctness")
    assert parse_reference({"correct": True}, rub) == 1.0
    assert parse_reference({"verdict": "incorrect"}, rub) == 0.0
    assert parse_reference({"score": 1}, rub) == 1.0
    with pytest.raises(JudgeParseError):
        parse_reference({"correct": "maybe"}, rub)


def test_steps_unlabelled_step_gets_none_never_zero():
    got = parse_steps({"steps": [{"step": 1, "correct": True}, {"step": 3, "correct": False},
                                 {"step": 9, "correct": False}, {"step": 2, "correct": "perhaps"}]}, 4)
    assert got == [1.0, None, 0.0, None]
    assert parse_steps({"steps": [True, False, 0.25]}, 3) == [1.0, 0.0, 0.25]
    with pytest.raises(JudgeParseError):
        parse_steps({"steps": []}, 2)
    with pytest.raises(JudgeParseError):
        parse_steps({"verdict": "fine"}, 2)
