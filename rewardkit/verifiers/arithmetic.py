"""A rule-based *process* reward: check every ``a op b = c`` equation step by step.

It is a real, cheap step-level reward for arithmetic reasoning (the embedded synthetic data and
GSM8K's calculator annotations): each step scores 1.0 when all its equations hold, 0.0 when one
does not, and ``None`` when it has no equation. The sequence score aggregates the checked steps
(``min`` by default, as Math-Shepherd verifies solutions). Expressions are evaluated by a small
AST walker over exact fractions -- never ``eval`` -- with size caps.
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction
from typing import Literal

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.steps import segment
from rewardkit.types import RewardResult, Sample, Status, StepScore

__all__ = ["StepArithmetic", "safe_arith", "check_equations"]

# an arithmetic expression followed by "= number" (GSM8K's <<a*b=c>> is matched too). One flat
# character class with a bounded length: no nested quantifiers, so matching stays linear on
# adversarial text (a nested "(\d+|...)+" backtracks exponentially on long digit runs).
_EQ = re.compile(r"([\d.x×÷()+\-*/ ]{1,200}?)\s*=\s*(-?\d[\d,]{0,40}(?:\.\d{1,40})?|-?\.\d{1,40})")
MAX_CHARS = 100_000  # longer completions are cut to their last MAX_CHARS characters
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_MAX_EXPR = 200


_SIMPLE = re.compile(r"\s*(-?\d{1,18})\s*([-+*/])\s*(\d{1,18})\s*")


def safe_arith(expr: str) -> Fraction | int | None:
    """Exact value of ``+ - * /`` arithmetic on decimal literals, or None. No names, no calls."""
    expr = expr.replace("×", "*").replace("x", "*").replace("÷", "/").strip()
    if not expr or len(expr) > _MAX_EXPR:
        return None
    m = _SIMPLE.fullmatch(expr)
    if m is not None:  # fast path: "a op b" on integers (most steps)
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        if op == "/":
            return Fraction(a, b) if b else None
        return a + b if op == "+" else a - b if op == "-" else a * b
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(n: ast.AST) -> Fraction:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
            return Fraction(str(n.value))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        raise ValueError("unsupported")

    try:
        return ev(tree)
    except (ValueError, ZeroDivisionError, RecursionError):
        return None


def check_equations(text: str) -> list[bool]:
    """Truth of each evaluable ``expr = value`` in ``text`` (expressions need an operator)."""
    out: list[bool] = []
    if "=" not in text:
        return out  # the lazy left side would be tried (up to 200 characters) at every position
    for m in _EQ.finditer(text):
        lhs = m.group(1).strip()
        if not any(op in lhs for op in "+-*/x×÷") or lhs.lstrip("-").replace(".", "").isdigit():
            continue
        v = safe_arith(lhs)
        if v is None:
            continue
        r = m.group(2).replace(",", "")
        try:
            rhs = int(r) if r.lstrip("-").isdigit() else Fraction(r)
        except ValueError:
            continue
        if v == rhs:
            out.append(True)
        elif "." in r:  # a decimal is right when it is the value rounded to its places, or a
            # float print-out of it (calculator annotations: 5/3 = 1.6666666666666665)
            places = len(r.rsplit(".", 1)[1])
            diff = abs(v - rhs)
            out.append(diff <= Fraction(1, 2 * 10**places) or diff <= abs(rhs) * Fraction(1, 10**9))
        else:
            out.append(False)
    return out


class StepArithmeticParams(SourceParams):
    method: Literal["separator", "lines", "regex_split", "regex_match"] = "separator"
    separator: str = "\n\n"
    pattern: str | None = None
    aggregate: Literal["min", "mean", "last"] = "min"


@register_source("step_arithmetic")
class StepArithmetic(SampleRewardSource):
    """Step scores from equation checks; sequence score = min/mean over checked steps."""

    Params = StepArithmeticParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: StepArithmeticParams = self.params  # type: ignore[assignment]
        text = sample.completion
        if len(text) > MAX_CHARS:
            return RewardResult.fail(Status.UNPARSEABLE, f"completion longer than {MAX_CHARS} characters")
        spans = segment(text, p.method, separator=p.separator, pattern=p.pattern, steps=sample.steps)
        steps: list[StepScore] = []
        checked: list[float] = []
        first_wrong = -1
        for i, sp in enumerate(spans):
            eqs = check_equations(text[sp.start : sp.end])
            if not eqs:
                steps.append(StepScore(sp.start, sp.end, None))
                continue
            v = 1.0 if all(eqs) else 0.0
            if v == 0.0 and first_wrong < 0:
                first_wrong = i
            steps.append(StepScore(sp.start, sp.end, v))
            checked.append(v)
        if not checked:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no arithmetic equation in any step",
                                     steps=steps or None)
        if p.aggregate == "min":
            agg = min(checked)
        elif p.aggregate == "mean":
            agg = sum(checked) / len(checked)
        else:
            agg = checked[-1]
        return RewardResult(agg, Status.OK, steps=steps, info={"first_wrong_step": first_wrong})
