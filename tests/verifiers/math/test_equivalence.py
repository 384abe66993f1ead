"""Equivalence by category, true and false cases, both argument orders (symmetry)."""

from __future__ import annotations

import pytest

from rewardkit.types import Status
from rewardkit.verifiers.math import MathConfig, verify

# (gold, pred, expected) per category of the issue
CASES: dict[str, list[tuple[str, str, bool]]] = {
    "string": [
        (r"\text{Evelyn}", "Evelyn", True),
        ("odd", r"\text{odd}", True),
        (r"\text{odd}", "oddd", False),
        (r"\text{13}", "13", True),  # Math-Verify false negative
    ],
    "normalisation": [
        (r"\left( \frac{1}{3} \right)", r"\dfrac{1}{3}", True),
        ("10", r"10\text{ cm}", True),
        ("125", r"125\textnormal{ miles}", True),
        ("90", r"90^\circ", True),
        ("74", "74°", True),
        ("15000", r"\$15,\!000", True),
        ("1000", "1 000", True),
        ("12345678", r"12\,345\,678", True),
        ("32349", "32, 349", False),  # a list, not a thousands separator
        ("33", r"\boxed{033}", True),
        ("185", "185.", True),
        ("100", r"10\text{ units}", False),
    ],
    "numeric": [
        ("10/9", r"\frac{10}{9}", True),
        ("0.5", "1/2", True),
        ("1500", r"1.5 \times 10^3", True),
        ("0.001", "1e-3", True),
        ("918.5", r"918\frac{1}{2}", True),  # mixed number
        (r"\frac{1}{3}", "0.333333", True),
        ("2.6667", r"\frac{8}{3}", True),  # rounding rule: a rounded gold accepts the exact value
        (r"\frac{8}{3}", "2.6667", False),  # ... but an exact gold does not accept an approximation
        ("5", "5.001", False),
        ("12345678902", "12345678901", False),  # exact: no tolerance on integers
        ("100000000001000000000", "100000000000000000000", False),
        (r"\frac{1}{2004!}", r"\frac{1}{2006!}", False),  # Math-Verify false positive
        (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}", False),
        ("1/2004!", r"1/2004!", True),
        ("2", r"\frac{1+\sqrt{5}}{2}", False),
    ],
    "percent": [
        (r"28\%", "28 percent", True),
        ("0.335", r"33.5\%", True),
        ("10", r"10\%", True),
        ("0.005", r"\frac{1}{2}\%", True),
        ("0.3", "30 pct", True),
        ("0.3", "3%", False),
    ],
    "symbolic": [
        (r"\frac{\pi}{2}", "pi/2", True),  # Math-Verify false negative
        ("e^{16}-1", "-1+exp(16)", True),  # Math-Verify false negative
        (r"\sqrt{3} - 1", "-1 + sqrt(3)", True),
        ("2**(1/4)", r"\sqrt{\sqrt{2}}", True),
        (r"\frac{3\sqrt{5}}{7}", "(3*sqrt(5))/7", True),
        ("(r+5)^2", "(r+5)(r+5)", True),
        ("x^2+2x+1", "(x+1)^2", True),
        (r"\tan^2(y)+1", r"\sec^2(y)", True),
        ("x^3+2x+1", "x^2+2x+1", False),
        (r"\sqrt{2}", "1.4142135623730951", True),
        ("96-10\\sqrt{21}", r"\frac{6\sqrt{1789-240\sqrt{21}}+8\sqrt{1236-240\sqrt{21}}}{5}", True),
        ("(a+5)(b+2)", "(+5)(b+2)", False),
        ("3^{2025}", "2^{2025}", False),
    ],
    "tuple": [
        ("(1, 2)", r"\left(1,2\right)", True),
        ("(1,2)", "(2,1)", False),
        (r"(3, \frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)", True),
        ("(1,4.5)", r"(1,\frac{9}{2})", True),
        ("12", "(1,2)", False),
    ],
    "set": [
        (r"\{3, 2, 1\}", r"\{1,2,3\}", True),
        (r"\{1,2\}", r"\{1,3\}", False),
        ("1, 2, 3", "3, 2, 1", True),
        (r"\pm 2021", r"\{-2021, 2021\}", True),
        (r"\pm 2021", "2021", False),
        (r"1 \pm \sqrt{19}", r"1+\sqrt{19}, 1-\sqrt{19}", True),
        ("(2,1),(1,2)", "(1,2),(2,1)", True),
        ("(3,1)", r"\{1,3\}", False),
    ],
    "interval": [
        ("[0,1)", "[0,1)", True),
        ("[0,9)", "[0,1)", False),
        ("(0,9)", "[0,9)", False),
        (r"(-\infty,-8)\cup (8,\infty)", r"(8,\infty)\cup(-\infty,-8)", True),
        ("(0.6,2.6667]", r"(\frac{3}{5},\frac{8}{3}]", True),  # a rounded gold
        (r"(\frac{3}{5},\frac{8}{3}]", "(0.6,2.6667]", False),  # an approximated prediction
        ("x > 5", r"(5, \infty)", True),
        (r"-2 \le x \le 7", r"x \in [-2,7]", True),
        (r"1\leq|z|\leq \frac{3}{2}", r"z \in [-\frac{3}{2}, -1] \cup [1, \frac{3}{2}]", True),
    ],
    "inequality": [
        ("x >= 5", r"x \geq 5", True),
        (r"x \leq 5", r"5 \geq x", True),
        ("x > 5", "x < 5", False),
        ("x < 1", "-x > -1", True),
        ("x < 1", "x > -1", False),
        ("2>x", "x<2", True),
    ],
    "equation": [
        ("x = 3", "3", True),
        ("2=x", "x=2", True),
        ("y = 2", "2", True),
        ("7 = 11a+c", "11a+c", False),
        ("a +3z = 0", "0", False),
        ("2x+4y-3=0", r"y=-\frac{1}{2}x+\frac{3}{4}", True),  # a line, up to scaling
        ("34x+45y-20z+100=0", "-34x-45y+20z-100=0", True),
        ("x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4", True),
        ("x + y - z + 2 = 0", "5x - 7y + 11z + 4 = 0", False),
        ("x = 2", "y = 2", False),
        ("(p,q)=(3,2)", "(3,2)", True),
        ("a_3 = 2, a_{37} = 19", r"a_{37} = 19, \quad a_3 = 2", True),
    ],
    "matrix": [
        (r"\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}", r"\begin{bmatrix}1 & 0 \\ 0 & 1\end{bmatrix}", True),
        (r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}", r"\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}", False),
        (r"\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}",
         r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8\end{pmatrix}", True),
        (r"\begin{pmatrix}1 \\ 2\end{pmatrix}", r"\begin{pmatrix}1 & 2\end{pmatrix}", False),
    ],
    "complex": [
        ("3+2i", "2i+3", True),
        (r"\frac{3}{4}i", r"\frac34i", True),
        ("1+i", "1-i", False),
        (r"\frac{3+i\sqrt{3}}{2}", r"1.5+0.8660254037844386i", True),
    ],
    "infinity": [
        (r"\infty", r"+\infty", True),
        (r"-\infty", r"\infty", False),
        (r"(1, +\infty)", r"(1,\infty)", True),
    ],
}
FLAT = [(cat, g, p, e) for cat, rows in CASES.items() for g, p, e in rows]


@pytest.mark.parametrize(("category", "gold", "pred", "expected"), FLAT,
                         ids=[f"{c}:{g}|{p}" for c, g, p, _ in FLAT])
def test_equivalence(category: str, gold: str, pred: str, expected: bool) -> None:
    v = verify(gold, pred)
    assert v.status is Status.OK, v
    assert v.equal is expected, (category, v)


# Pairs whose verdict depends on which side is the gold (the rounding rule, MathConfig.rounding):
# tested on their own below, left out of the symmetry check
ROUNDED_GOLD = {("2.6667", r"\frac{8}{3}"), ("(0.6,2.6667]", r"(\frac{3}{5},\frac{8}{3}]")}
SYMMETRIC = [r for r in FLAT if (r[1], r[2]) not in ROUNDED_GOLD and (r[2], r[1]) not in ROUNDED_GOLD]


@pytest.mark.parametrize(("category", "gold", "pred", "expected"), SYMMETRIC,
                         ids=[f"{c}:{g}|{p}" for c, g, p, _ in SYMMETRIC])
def test_symmetric(category: str, gold: str, pred: str, expected: bool) -> None:
    assert verify(pred, gold).equal is expected


def test_the_rounding_rule_is_asymmetric_and_either_restores_symmetry() -> None:
    for gold, pred in ROUNDED_GOLD:
        assert verify(gold, pred).equal is True
        assert verify(pred, gold).equal is False
        assert verify(pred, gold, MathConfig(rounding="either")).equal is True


def test_every_category_has_true_and_false_cases() -> None:
    for cat, rows in CASES.items():
        if cat in ("string", "normalisation", "percent", "numeric", "symbolic", "tuple", "set", "interval",
                   "inequality", "equation", "matrix", "complex", "infinity"):
            assert {e for *_, e in rows} == {True, False}, cat


def test_options_change_verdicts() -> None:
    assert verify("0.3", "30%", MathConfig(percent="strip")).equal is False
    assert verify("30", "30%", MathConfig(percent="fraction")).equal is False
    assert verify("1, 2", "2, 1", MathConfig(ordered_lists=True)).equal is False
    assert verify(r"\frac{1}{3}", "0.33", MathConfig(rounding=False)).equal is False
    assert verify("x = 2", "y = 2", MathConfig(strict_labels=False)).equal is True
    assert verify("f(x)", "f(y)").equal is False
    assert verify("f(x)", "f(y)", MathConfig(strict_variables=False)).equal is True
    gold_set = r"x \in [-2,7]"
    assert verify(gold_set, r"-2 \le x \le 7").equal is True
    assert verify(gold_set, r"-2 \le x \le 7", MathConfig(set_relation="gold_relation_only")).equal is False
    assert verify(r"-2 \le x \le 7", gold_set, MathConfig(set_relation="gold_relation_only")).equal is True


def test_status_for_bad_inputs() -> None:
    assert verify("1", "").status is Status.UNPARSEABLE
    assert verify(None, "1").status is Status.ERROR
    assert verify(0.5, "1/2").equal is True  # numbers are accepted as answers
    assert verify(5, 5.0).equal is True


def test_verdict_reports_the_deciding_stage() -> None:
    assert verify("1/2", "1/2").method == "string"
    assert verify("1/2", "0.5").method == "numeric"
    assert verify("x^2+2x+1", "(x+1)^2").method == "symbolic"
