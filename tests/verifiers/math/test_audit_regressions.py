"""Regression tests for the false positives and negatives of the answer-equivalence audit (issue 9 §4).

A policy optimises whatever the reward lets through, so every accepted pair here must be a real
answer to the gold, and every rejected one must stay rejected.
"""

from __future__ import annotations

import pytest

from rewardkit.types import Status
from rewardkit.verifiers.math import MathConfig, check, verify


def _equal(gold: str, pred: str, cfg: MathConfig | None = None) -> bool:
    v = verify(gold, pred, cfg)
    return v.status is Status.OK and bool(v.equal)


def _check_equal(gold: str, completion: str, cfg: MathConfig | None = None) -> bool:
    v = check(gold, completion, cfg)
    return v.status is Status.OK and bool(v.equal)


# ---------------------------------------------------------------------------- approximations
@pytest.mark.parametrize(("gold", "pred"), [
    ("2/3", "0.67"),
    (r"\frac{2}{3}", "0.667"),
    (r"\pi", "3.14"),
    (r"\sqrt{2}", "1.414"),
    (r"\frac{1}{3}", "0.333"),
    (r"40\pi", "125.66"),
    ("(1/3, 2)", "(0.333, 2)"),                                   # inside a tuple
    (r"\frac13, \sqrt3, \pi", "1/3, 1.732, 3.1416"),              # inside a list
    (r"\begin{pmatrix} 1/3 & 1 \end{pmatrix}", r"\begin{pmatrix} 0.33 & 1 \end{pmatrix}"),  # matrix
    (r"\frac{x}{3}", "0.333x"),                                   # inside an expression (sympy)
    (r"x = \frac{2}{3}", "x = 0.67"),                             # inside an assignment
    (r"[\frac{1}{3}, 1)", "[0.33, 1)"),                           # interval end
])
def test_a_rounded_approximation_of_an_exact_gold_is_rejected(gold: str, pred: str) -> None:
    assert not _equal(gold, pred)


@pytest.mark.parametrize(("gold", "pred"), [
    ("0.67", "2/3"),            # the gold is a rounded decimal: its own digits decide
    ("0.67", "0.6666"),
    ("3.14", r"\pi"),
    ("1.414", r"\sqrt{2}"),
    ("0.333", r"\frac{1}{3}"),
    ("2/3", "0.6666667"),       # within the relative tolerance 1e-6
    (r"\frac{\sqrt{3}}{2}", "0.8660254037844386"),
    ("(0.33, 2)", "(1/3, 2)"),
])
def test_close_enough_or_rounded_gold_is_accepted(gold: str, pred: str) -> None:
    assert _equal(gold, pred)


def test_rounded_gold_still_rejects_a_wrong_value() -> None:
    assert not _equal("0.67", "0.7")
    assert not _equal("3.14", "3.15")


def test_old_symmetric_rounding_is_an_option() -> None:
    old = MathConfig(rounding="either")
    assert _equal("2/3", "0.67", old)
    assert _equal(r"\pi", "3.14", old)
    off = MathConfig(rounding="off")
    assert not _equal("0.67", "2/3", off)


def test_bool_rounding_values_keep_working() -> None:
    assert MathConfig(rounding=True).rounding == "gold"
    assert MathConfig(rounding=False).rounding == "off"


# ---------------------------------------------------------------------------- multiple choice
@pytest.mark.parametrize(("gold", "completion"), [
    ("E", r"The answer is $\mathrm{E}*2$."),
    ("B", "so the count is 2B+1"),
    ("B", r"The answer is $\boxed{2B+1}$"),
    ("C", "We get x = C^2 - 1."),
    ("A", r"Therefore the area is $\frac{A}{2}$."),
])
def test_a_letter_inside_an_expression_is_not_a_choice(gold: str, completion: str) -> None:
    assert not _check_equal(gold, completion)


@pytest.mark.parametrize(("gold", "completion"), [
    ("B", "The answer is (B)."),
    ("B", "B"),
    ("B", "**B**"),
    ("B", "Answer: B."),
    ("(C)", r"So the answer is $\boxed{C}$."),
    ("D", "After checking all options, the correct option is D"),
    ("A", "A. 12 apples"),
    ("B", "I think it is B."),  # "I think": a capital followed by a lower-case word is prose
])
def test_choice_like_letters_are_still_found(gold: str, completion: str) -> None:
    assert _check_equal(gold, completion)


# ---------------------------------------------------------------------------- restatements
@pytest.mark.parametrize("completion", [
    r"We need to solve $3x - 6 = 0$ but I am not sure how to continue.",
    r"To find $x$ we need to solve $3x - 6 = 0$",
    r"\boxed{3x - 6 = 0}",
    r"The answer is $3x = 6$.",
])
def test_an_unsolved_equation_is_not_the_answer(completion: str) -> None:
    assert not _check_equal("x = 2", completion)


@pytest.mark.parametrize("completion", [
    r"We solve $3x - 6 = 0$, so $x = 2$.",
    r"The answer is $x = 2$.",
    r"\boxed{2}",
    r"\boxed{x=2}",
])
def test_solved_forms_are_accepted(completion: str) -> None:
    assert _check_equal("x = 2", completion)


def test_line_equations_still_compare_up_to_a_factor() -> None:
    assert _equal("2x+4y-3=0", "y=-x/2+3/4")
    assert _equal("y = 2x + 1", "2x - y + 1 = 0")


# ---------------------------------------------------------------------------- false negatives
@pytest.mark.parametrize(("gold", "pred"), [
    ("10", r"\binom{5}{2} = 10"),
    ("2", "|3-5| = 2"),
    ("2", r"17 \bmod 5 = 2"),
    ("-2", r"\det\begin{pmatrix}1&2\\3&4\end{pmatrix} = -2"),
    ("-2", r"\begin{vmatrix}1&2\\3&4\end{vmatrix} = -2"),
])
def test_an_evaluated_left_side_gives_its_value(gold: str, pred: str) -> None:
    assert _equal(gold, pred)


def test_a_wrong_evaluation_chain_keeps_its_wrong_value() -> None:
    assert not _equal("10", r"\binom{5}{2} = 11")


def test_cases_answers() -> None:
    g = r"\begin{cases} a+b=\frac12 \\ a-b=\sqrt3 \end{cases}"
    assert _equal(g, r"\begin{cases} a-b=\sqrt{3} \\ a+b=1/2 \end{cases}")
    assert _equal(g, r"\begin{cases} a+b=0.5 \\ a-b=\sqrt{3} \end{cases}")
    assert not _equal(g, r"\begin{cases} a+b=0.5 \\ a-b=1.732 \end{cases}")
    assert not _equal(g, r"\begin{cases} a+b=1 \\ a-b=\sqrt{3} \end{cases}")


def test_degrees_inside_trig_arguments() -> None:
    assert _equal(r"\cos(x)", r"\sin(90^{\circ}-x)")
    assert _equal(r"\frac{1}{2}", r"\sin 30^\circ")
    assert not _equal(r"\frac{1}{2}", r"\sin 60^\circ")
    assert _equal("30", r"30^\circ")  # outside trig a degree sign is still just a unit


@pytest.mark.parametrize(("gold", "pred", "same"), [
    ("1 1/2", "1.5", True),
    ("1.5", "1 1/2", True),
    ("2 3/4", r"\frac{11}{4}", True),
    ("1 1/2", "1.25", False),
])
def test_plain_text_mixed_numbers(gold: str, pred: str, same: bool) -> None:
    assert _equal(gold, pred) is same


def test_doubled_backslashes_inside_a_matrix() -> None:
    doubled = r"\\begin{matrix} x \\\\ \\sqrt{3} + 2 \\\\ \\frac12 \\end{matrix}"
    assert _equal(doubled, r"\begin{matrix} x \\ \sqrt{3} + 2 \\ 0.5 \end{matrix}")
    assert not _equal(doubled, r"\begin{matrix} x \\ \sqrt{3} + 3 \\ 0.5 \end{matrix}")


def test_short_units_glued_to_a_number_are_not_dropped() -> None:
    # "10m" may be 10 times m; a unit needs a space when it is one or two letters (MARIO_EVAL)
    assert not _equal("10m", "10")
    assert not _equal("10cm", "10")
    assert _equal("10 cm", "10")
    assert _equal("10weeks", "10")


PROBLEM = "Solve $3x - 6 = 0$ for $x$."
GIVE_UP = r"We need to solve $3x - 6 = 0$ but I am not sure how to continue."


@pytest.mark.parametrize("cfg", [MathConfig(), MathConfig(inline_chars=0)], ids=["in-process", "worker"])
def test_a_restated_equation_without_an_answer_marker_is_no_answer(cfg: MathConfig) -> None:
    v = check("x = 2", GIVE_UP, cfg, problem=PROBLEM)
    assert v.status is Status.UNPARSEABLE and "restates" in v.reason
    # with an answer marker the equation is the model's (wrong) answer, not a restatement
    marked = check("x = 2", r"The answer is $3x - 6 = 0$.", cfg, problem=PROBLEM)
    assert marked.status is Status.OK and marked.equal is False
    solved = check("x = 2", r"We need to solve $3x - 6 = 0$, so $x = 2$.", cfg, problem=PROBLEM)
    assert solved.status is Status.OK and solved.equal is True


def test_the_math_source_passes_the_prompt_as_the_problem() -> None:
    from rewardkit.types import Sample
    from rewardkit.verifiers.math import MathVerifier

    chat = [{"role": "user", "content": PROBLEM}]
    out = MathVerifier().score([Sample(prompt=PROBLEM, completion=GIVE_UP, reference="x = 2"),
                                Sample(prompt=chat, completion=GIVE_UP, reference="x = 2"),
                                Sample(prompt=chat, completion=r"so $x = 2$", reference="x = 2")])
    assert [r.status for r in out] == [Status.UNPARSEABLE, Status.UNPARSEABLE, Status.OK]
    assert out[2].score == 1.0


@pytest.mark.parametrize(("gold", "pred", "same"), [
    ("2", r"\sqrt{4+10^{-40}}", False),       # equal as doubles, not as numbers
    ("1", r"\cos(10^{-15})", False),
    (r"\frac{\sqrt6-\sqrt2}{4}", r"\sin(\pi/12)", True),
    (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5+2\sqrt{6}}", True),
    (r"\frac{\pi}{4}", r"\arctan 1", True),
])
def test_exact_constants_are_compared_beyond_double_precision(gold: str, pred: str, same: bool) -> None:
    assert _equal(gold, pred) is same


def test_a_rounded_percentage_gold_keeps_its_digits() -> None:
    assert _equal("33.3%", r"\frac{1}{3}")      # 0.333 rounds 1/3
    assert not _equal("33.3%", "0.3")
    assert not _equal(r"\frac{1}{3}", "33.3%")  # ... but an exact gold does not accept it
    assert _equal("50%", "0.5") and _equal("50%", "50")


@pytest.mark.parametrize(("gold", "pred", "equal"), [
    ("15", r"\boxed{1 5}", False),        # two numbers, not fifteen (found by the QA pass)
    ("15000", r"\boxed{15 000}", True),   # spaced thousands stay one number
    ("1000000", r"\boxed{1 000 000}", True),
])
def test_space_between_digits(gold: str, pred: str, equal: bool) -> None:
    assert verify(gold, pred).equal is equal
