"""The ``numeric`` and ``exact_match`` sources: exact values compare exactly (issue 9 §4)."""

from __future__ import annotations

import pytest

from rewardkit.types import Sample, Status
from rewardkit.verifiers.numeric import ExactMatch, NumericAnswer


def _score(gold: object, completion: str, **params: object) -> tuple[Status, float | None]:
    r = NumericAnswer(**params).score([Sample(prompt="q", completion=completion, reference=gold)])[0]
    return r.status, r.score


@pytest.mark.parametrize(("gold", "pred"), [
    (1000000, "1000001"),
    ("1000000", "1000001"),
    ("123456789", "123456788"),
    ("1/3", "1/3000000"),
    ("1/3", "0.333"),
    ("2/3", "0.67"),
])
def test_different_exact_values_score_zero(gold: object, pred: str) -> None:
    assert _score(gold, f"The answer is {pred}") == (Status.OK, 0.0)


@pytest.mark.parametrize(("gold", "pred"), [
    (1000000, "1000000"),
    ("1000000", "1,000,000"),
    ("0.5", "1/2"),
    ("1/3", "0.333333333"),   # a decimal is compared within rel_tol
    ("0.1", "0.1000000001"),
    ("42", "42.0"),
])
def test_equal_values_score_one(gold: object, pred: str) -> None:
    assert _score(gold, f"The answer is {pred}") == (Status.OK, 1.0)


def test_exact_values_ignore_the_tolerance_even_when_it_is_large() -> None:
    assert _score(100, "The answer is 101", rel_tol=0.1) == (Status.OK, 0.0)
    assert _score(100, "The answer is 101.0", rel_tol=0.1) == (Status.OK, 1.0)


def test_exact_match_is_unchanged() -> None:
    r = ExactMatch().score([Sample(prompt="q", completion="The answer is Paris.", reference="paris")])[0]
    assert (r.status, r.score) == (Status.OK, 1.0)


@pytest.mark.parametrize("pred", ["1 5", "1  5", r"\boxed{1 5}"])
def test_digits_separated_by_a_space_are_not_one_number(pred: str) -> None:
    """Found by the user-level QA pass: "1 5" scored 1.0 against 15."""
    status, score = _score("15", f"The answer is {pred}")
    assert score != 1.0, status


@pytest.mark.parametrize(("gold", "pred"), [("15000", "15 000"), ("1000000", "1 000 000"), ("1000", "1\u00a0000")])
def test_spaced_thousands_are_one_number(gold: str, pred: str) -> None:
    assert _score(gold, f"The answer is {pred}") == (Status.OK, 1.0)
