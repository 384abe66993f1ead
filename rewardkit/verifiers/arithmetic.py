"""A rule-based *process* reward: check every ``a op b = c`` equation step by step.

Each step scores 1.0 when all its checkable equations hold, 0.0 when one is definitely false, and
``None`` (no score: `dense_rewards` places nothing there) when it has no equation the checker can
read with certainty. The sequence score aggregates the checked steps (``min`` by default, as
Math-Shepherd verifies solutions). Expressions are evaluated by a small AST walker over exact
fractions -- never ``eval`` -- with size caps; tokenizing is one linear regex pass.

What is read (see `check_equations`): ``+ - * / ^ **``, parentheses, ``x``/``×``/``\\times``/
``\\cdot`` between two numbers, ``÷``/``\\div``, unicode minus, ``\\frac{a}{b}``, ``\\boxed``,
``\\text{unit}``, thousands separators (``1,234``, ``1{,}234``), currency (``$12.50``), percentages
(``20%`` is read both as 0.2 and as 20; false only if false both ways), chained equations
(``a = 9 + 4 + 5 = 18`` checks ``9 + 4 + 5 = 18``) and GSM8K calculator annotations
``<<48/2=24>>``. An equation is *skipped* (counted neither way) when anything about it is uncertain:
a variable or unknown LaTeX command next to or glued to a number (``2x + 3 = 7``, ``f(3) = 9``,
``\\sqrt{16} = 4``), an operator word next to it (``half of 10 + 4``, ``= 5 squared``), implicit
multiplication, mixed numbers, unbalanced parentheses, neither side having an operator, or a
"running total" (``2 + 3 = 5 + 1 = 6``).

Rounding rule: a right side written with k decimals holds when it equals the exact value rounded to
k decimals (either way at a tie: ``|v - c| <= 10**-k / 2``), or is a float print-out of it (relative
error below 1e-9, as calculator annotations print ``1.6666666666666665``); an integer right side of
a non-integer value holds when it is the nearest integer, and is skipped when it is the other of
floor/ceil (``50/8 = 7 boxes`` may mean "round up").

What it certifies, and what not: a step score of 1.0 says only that the step's written arithmetic
is true -- not that it is the right computation for the problem. A policy can earn step reward by
writing true but irrelevant equations (``1 + 1 = 2`` in every step); pair it with an outcome reward,
and/or set ``require_grounded: true``, which only counts equations whose every operand appears in
the prompt or earlier in the completion (so made-up numbers earn nothing). That option is off by
default because solutions legitimately use constants not written anywhere (60 minutes, 100%, 12
months, 7 days): on GSM8K's reference solutions it ignores about half of the true equations. A
skipped equation earns nothing either way, so hiding arithmetic from the checker earns no reward;
but where step rewards are normalised across a group (a wrong step then costs), writing a wrong
equation in an unreadable form avoids that cost -- the outcome reward still has to pay for it.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.steps import segment
from rewardkit.types import RewardResult, Sample, Status, StepScore

__all__ = ["StepArithmetic", "Equation", "safe_arith", "check_equations", "find_equations"]

MAX_CHARS = 100_000  # longer completions are unparseable, not scanned
_MAX_EXPR = 200  # characters of one side
_MAX_EXP = 64  # largest exponent evaluated (bounds the size of exact powers)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

# --- LaTeX / unicode normalisation (each pattern is flat, bounded: linear on any input) ---------
_ANNOT = re.compile(r"<<([^<>=]{1,200})=([^<>=]{1,80})>>")
_TEXT_CMD = re.compile(r"\\(?:text|mathrm|textbf|textit|mbox|operatorname)\s*\{([^{}]{0,200})\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]{1,100})\}\s*\{([^{}]{1,100})\}")
_THIN_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ )(?=\d{3}(?!\d))")
_SIMPLE_SUBS = [
    (re.compile(r"\\[\[\]()]"), " "),  # display / inline math delimiters
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])"), ""),
    (re.compile(r"\\(?:times|cdot|ast)(?![A-Za-z])|[×·⋅∗]"), " * "),
    (re.compile(r"\\div(?![A-Za-z])|÷"), " / "),
    (re.compile(r"\\(?:boxed|displaystyle|mathbf|bf)(?![A-Za-z])"), " "),
    (re.compile(r"\\([%$])"), r"\1"),
    (re.compile(r"\\[,;:! ]|~"), " "),
    (re.compile("−| – "), " - "),  # unicode minus; a spaced en dash (a tight one is a range)
    (re.compile("²"), "^2"),
    (re.compile("³"), "^3"),
]

# --- tokens ------------------------------------------------------------------------------------
_TOK = re.compile(
    r"(?P<num>[$€£]?(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![.,]?\d)(?:\s?%)?)"
    r"|(?P<bad>\d[\d.,]*)"  # "16,0000", "1.2.3": not a number we can read
    r"|(?P<pow>\*\*)|(?P<op>[-+*/^])|(?P<lp>[({])|(?P<rp>[)}])|(?P<eq>=)"
    r"|(?P<nl>\s*\n\s*)|(?P<ws>[ \t\r\f\v]+)|(?P<word>\\?[A-Za-z_]+)|(?P<other>.)",
    re.S,
)
# words that bind to a neighbouring number like an operator: an expression next to one is not
# the whole expression
_OP_WORDS_LEFT = frozenset(
    "of times by twice thrice half third quarter plus minus less than per over root sqrt divided "
    "multiplied double triple product sum difference quotient power mod modulo".split())
_OP_WORDS_RIGHT = frozenset(  # after a right side ("= 5 per day" is a unit, "= 5 squared" is not)
    "of times by plus minus over squared cubed divided multiplied power percent factorial mod modulo".split())
# a false equation whose right side is followed by one of these changed unit: "$1 / 2 = 50 cents"
_SCALE_WORDS = frozenset("cent cents thousand thousands million millions billion billions hundred hundreds "
                         "dozen dozens".split())
_GLUE_LEFT = re.compile(r"[A-Za-z0-9_\\^|'!:\]]")  # a run glued to one of these on its left is a piece
_GLUE_RIGHT = re.compile(r"[A-Za-z0-9_\\^|'!(:\[]")


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, op, lp, rp, eq, nl, ws, word, other
    text: str
    start: int


@dataclass(frozen=True)
class Equation:
    """One checked equation: its text span in the (normalised) step and its verdict."""

    text: str
    holds: bool | None  # None: read but uncertain (skipped)
    operands: tuple[Fraction, ...]  # the left side's literal values, for `require_grounded`
    results: tuple[Fraction, ...]  # the right side's literal values
    start: int


def _normalise(text: str) -> str:
    text = _TEXT_CMD.sub(lambda m: f" {m.group(1)} ", text)
    for _ in range(3):  # nested fractions, innermost first
        new = _FRAC.sub(lambda m: f" (({m.group(1)})/({m.group(2)})) ", text)
        if new == text:
            break
        text = new
    text = _THIN_THOUSANDS.sub(",", text)
    for pat, rep in _SIMPLE_SUBS:
        text = pat.sub(rep, text)
    return text


def _tokens(text: str) -> list[_Tok]:
    toks = [_Tok(m.lastgroup or "other", m.group(), m.start()) for m in _TOK.finditer(text)]
    # "x" / "X" / "**" are operators only between two operands ("3 x 4", "3**2"); otherwise a
    # variable ("2x") or markdown bold ("**Step 1:**")
    solid = [t for t in toks if t.kind != "ws"]  # neighbours by index: linear, not a scan per token
    where = {id(t): k for k, t in enumerate(solid)}
    out: list[_Tok] = []
    for t in toks:
        if (t.kind == "word" and t.text in ("x", "X")) or t.kind == "pow":
            k = where[id(t)]
            prev = solid[k - 1] if k > 0 else None
            nxt = solid[k + 1] if k + 1 < len(solid) else None
            between = (prev is not None and prev.kind in ("num", "rp") and nxt is not None
                       and (nxt.kind in ("num", "lp") or (t.kind == "pow" and nxt.text == "-")))
            if between:
                t = _Tok("op", "*" if t.kind == "word" else "**", t.start)
            elif t.kind == "pow":
                t = _Tok("other", t.text, t.start)
        out.append(t)
    return out


_ARITH = ("num", "op", "lp", "rp", "ws")


def _run(toks: list[_Tok], i: int, step: int) -> tuple[list[_Tok], _Tok | None, bool, _Tok | None]:
    """The arithmetic tokens next to the ``=`` at ``i`` going ``step`` (-1 left, +1 right): the
    run, the token that ended it, whether that token is glued (no space) to the run, and the
    non-space token beyond it."""
    j = i + step
    while 0 <= j < len(toks) and toks[j].kind in ("ws", "nl"):  # a line break may sit next to "="
        j += step
    run: list[_Tok] = []
    while 0 <= j < len(toks) and toks[j].kind in _ARITH:
        run.append(toks[j])
        j += step
    if step < 0:
        run.reverse()
    while run and run[0].kind == "ws":
        run.pop(0)
    while run and run[-1].kind == "ws":
        run.pop()
    end = toks[j] if 0 <= j < len(toks) else None
    k = j + step
    while 0 <= k < len(toks) and toks[k].kind == "ws":
        k += step
    beyond = toks[k] if 0 <= k < len(toks) else None
    edge = (run[0] if step < 0 else run[-1]) if run else None
    glued = False
    if end is not None and edge is not None:
        glued = (end.start + len(end.text) == edge.start) if step < 0 else (edge.start + len(edge.text) == end.start)
    return run, end, glued, beyond


def _side_ok(run: list[_Tok], end: _Tok | None, glued: bool, beyond: _Tok | None, left: bool) -> bool:
    """Can this run be read as the *whole* side of an equation?"""
    if not run or run[-1].kind == "op":
        return False
    if left and end is not None and beyond is not None:
        head = [t for t in run if t.kind != "ws"][:3]
        if end.text == "," and beyond.kind == "num" and len(head[0].text) == 3 and head[0].text.isdigit():
            return False  # "14, 400 / 80": a thousands group split off
        if end.text == "." and beyond.kind == "op":
            return False  # ".8 + . 84 + .82": a decimal split in two
        if (end.text.lower() == "and" and beyond.kind == "num" and len(head) == 3 and head[1].text == "/"):
            return False  # "1 and 1/4 = ...": a mixed number
    if run[0].kind == "op" and not (run[0].text == "-" and (not left or end is None or end.kind in ("eq", "nl", "other"))):
        return False  # "x + 3 = 5": the run is the tail of an expression with a variable
    if end is not None:
        if glued and (_GLUE_LEFT if left else _GLUE_RIGHT).match(end.text[-1] if left else end.text[0]):
            return False  # "2x", "x2", "f(3)", "\sqrt(16)", "5!"
        if end.kind == "word":
            w = end.text.lower()
            if w in (_OP_WORDS_LEFT if left else _OP_WORDS_RIGHT) or w.startswith("\\") or (len(w) == 1 and w not in ("a", "i")):
                return False  # "half of 10 + 4", "= 5 squared", "\pi 3", "k (3+4)"
        if left and end.kind == "num":
            return False  # "1 1/2 + 3": a mixed number or a list
    depth = 0
    for t in run:
        depth += 1 if t.kind == "lp" else -1 if t.kind == "rp" else 0
        if depth < 0:
            return False
    if depth != 0:
        return False
    solid = [t for t in run if t.kind != "ws"]
    for a, b in zip(solid, solid[1:], strict=False):  # adjacent operands: "5 3", "2 (3)", "(2)(3)"
        if a.kind in ("num", "rp") and b.kind in ("num", "lp"):
            return False
    return True


def _literal(tok: str, percent_as_fraction: bool) -> Fraction:
    s = tok.lstrip("$€£").replace(",", "").replace(" ", "")
    if s.endswith("%"):
        v = Fraction(s[:-1])
        return v / 100 if percent_as_fraction else v
    return Fraction(s)


def _expr(run: list[_Tok], percent_as_fraction: bool) -> str:
    parts = []
    for t in run:
        if t.kind == "num":
            parts.append(f"({_literal(t.text, percent_as_fraction)})")
        elif t.kind == "op":
            parts.append("**" if t.text in ("^", "**") else t.text)
        elif t.kind == "lp":
            parts.append("(")
        elif t.kind == "rp":
            parts.append(")")
    return "".join(parts)


def safe_arith(expr: str) -> Fraction | None:
    """Exact value of ``+ - * / **`` arithmetic on decimal literals, or None. No names, no calls;
    powers only with integer exponents up to 64 in size."""
    expr = expr.strip()
    if not expr or len(expr) > 4 * _MAX_EXPR:
        return None
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None

    def ev(n: ast.AST) -> Fraction:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
            return Fraction(str(n.value))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow):
            base, exp = ev(n.left), ev(n.right)
            if exp.denominator != 1 or abs(exp) > _MAX_EXP or (base == 0 and exp < 0):
                raise ValueError("unsupported power")
            if max(abs(base.numerator), base.denominator).bit_length() * abs(exp) > 4096:
                raise ValueError("power too large")
            return base ** int(exp)
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        raise ValueError("unsupported")

    try:
        return ev(tree)
    except (ValueError, ZeroDivisionError, RecursionError, OverflowError):
        return None


def _compare(v: Fraction, rhs_tok: _Tok | None, c: Fraction) -> bool | None:
    """Does value ``v`` match ``c``? ``rhs_tok`` is ``c``'s literal when that side is one number
    (the rounding rule applies to it); None means uncertain."""
    if v == c:
        return True
    if rhs_tok is None:
        return False
    digits = rhs_tok.text.rstrip("% ").replace(",", "")
    places = len(digits.rsplit(".", 1)[1]) if "." in digits else 0
    if places:
        diff = abs(v - c)
        return diff <= Fraction(1, 2 * 10**places) or diff <= abs(c) * Fraction(1, 10**9)
    if v.denominator != 1:
        lo, hi = math.floor(v), math.ceil(v)
        if c in (lo, hi):
            nearest = lo if v - lo < hi - v else hi if hi - v < v - lo else c
            return True if c == nearest else None
    return False


def _verdict(lrun: list[_Tok], rrun: list[_Tok]) -> bool | None:
    nums = [t.text.lstrip("$€£") for t in lrun + rrun if t.kind == "num"]
    if any(len(n) > 1 and n[0] == "0" and n[1].isdigit() for n in nums):
        return None  # "0900 - 0130 = 0730": clock times and codes, not decimals
    verdicts: list[bool | None] = []
    has_pct = any(t.kind == "num" and t.text.endswith("%") for t in lrun + rrun)
    for pct in (True, False) if has_pct else (True,):
        lv, rv = safe_arith(_expr(lrun, pct)), safe_arith(_expr(rrun, pct))
        if lv is None or rv is None:
            return None
        if len(rrun) == 1 and rrun[0].kind == "num":
            verdicts.append(_compare(lv, rrun[0], rv))
        elif len(lrun) == 1 and lrun[0].kind == "num":
            verdicts.append(_compare(rv, lrun[0], lv))
        else:
            verdicts.append(_compare(lv, None, rv))
    if True in verdicts:
        return True
    if None in verdicts:
        return None
    if sum(t.text == "/" for t in lrun) >= 2:
        return None  # "25 / 1/3 = 75": informal "a / b/c" means a / (b/c)
    lops = [t for t in lrun if t.kind != "ws"]
    if (len(lops) == 3 and lops[1].text == "-" and lrun[1].text == "-" and lops[0].kind == lops[2].kind == "num"
            and _literal(lops[0].text, False) < _literal(lops[2].text, False)):
        return None  # "Weeks 1-2": a tight "low-high" is a range
    # a "running total": "2 + 3 = 5 + 1 = 6" means 2 + 3 = 5, then + 1
    if len(rrun) > 1 and rrun[0].kind == "num":
        lv = safe_arith(_expr(lrun, True))
        if lv is not None and _compare(lv, rrun[0], _literal(rrun[0].text, True)):
            return None
    return False


def _equations_in(text: str, offset: int) -> list[Equation]:
    toks = _tokens(text)
    out: list[Equation] = []
    for i, t in enumerate(toks):
        if t.kind != "eq":
            continue
        prev, nxt = (toks[i - 1] if i else None), (toks[i + 1] if i + 1 < len(toks) else None)
        if (prev is not None and prev.text in "<>!:=") or (nxt is not None and nxt.text in "=<>"):
            continue  # "<=", ">=", "!=", ":=", "=="
        lrun, lend, lglued, lbeyond = _run(toks, i, -1)
        rrun, rend, rglued, rbeyond = _run(toks, i, +1)
        if (lrun and lrun[0].text == "-" and len(lrun) > 1 and lrun[1].kind == "ws"
                and (lend is None or lend.kind == "nl")):
            lrun = lrun[2:]  # "- 10 = 2 * 5" at the start of a line is a list bullet
        if not (_side_ok(lrun, lend, lglued, lbeyond, True) and _side_ok(rrun, rend, rglued, rbeyond, False)):
            continue
        if len(lrun) == 1 and lend is not None and lend.kind == "word":
            continue  # "Week 2 = 35 + 35", "Remaining 10 = ...": a number after a word is a label
        if not any(x.kind == "op" for x in lrun + rrun):
            continue  # "x = 5", "25% of 80 = 20": no arithmetic to check
        span_text = text[lrun[0].start : rrun[-1].start + len(rrun[-1].text)]
        if len(span_text) > _MAX_EXPR * 2:
            continue
        operands = tuple(_literal(x.text, False) for x in lrun if x.kind == "num")
        holds = _verdict(lrun, rrun)
        if holds is False and rend is not None and rend.text.lower() in _SCALE_WORDS:
            holds = None
        results = tuple(_literal(x.text, False) for x in rrun if x.kind == "num")
        out.append(Equation(span_text, holds, operands, results, offset + lrun[0].start))
    return out


def find_equations(text: str) -> list[Equation]:
    """Every equation in ``text`` the checker could read, with its verdict (None = skipped)."""
    if "=" not in text:
        return []
    eqs: list[Equation] = []
    for m in _ANNOT.finditer(text):  # GSM8K calculator annotations are self-contained
        eqs.extend(_equations_in(_normalise(f"{m.group(1)} = {m.group(2)}"), m.start()))
    eqs.extend(_equations_in(_normalise(_ANNOT.sub("", text)), 0))
    return eqs


def check_equations(text: str) -> list[bool]:
    """Truth of each equation in ``text`` that can be read with certainty (skipped ones left out)."""
    return [e.holds for e in find_equations(text) if e.holds is not None]


def numbers_in(text: str) -> set[Fraction]:
    """Values of the number literals in ``text`` (for ``require_grounded``)."""
    out: set[Fraction] = set()
    for t in _tokens(_normalise(text)):
        if t.kind == "num":
            out.add(_literal(t.text, False))
    return out


class StepArithmeticParams(SourceParams):
    method: Literal["separator", "lines", "regex_split", "regex_match"] = "separator"
    separator: str = "\n\n"
    pattern: str | None = None
    aggregate: Literal["min", "mean", "last"] = "min"
    require_grounded: bool = False  # count only equations whose operands appear in the prompt or earlier


@register_source("step_arithmetic")
class StepArithmetic(SampleRewardSource):
    """Step scores from equation checks; sequence score = min/mean/last over checked steps."""

    Params = StepArithmeticParams

    def score_one(self, sample: Sample) -> RewardResult:
        p: StepArithmeticParams = self.params  # type: ignore[assignment]
        text = sample.completion
        if len(text) > MAX_CHARS:
            return RewardResult.fail(Status.UNPARSEABLE, f"completion longer than {MAX_CHARS} characters")
        spans = segment(text, p.method, separator=p.separator, pattern=p.pattern, steps=sample.steps)
        seen = numbers_in(sample.prompt if isinstance(sample.prompt, str) else str(sample.prompt)) if p.require_grounded else set()
        steps: list[StepScore] = []
        checked: list[float] = []
        first_wrong = -1
        n_eq = n_skipped = n_ungrounded = 0
        for i, sp in enumerate(spans):
            step_text = text[sp.start : sp.end]
            eqs = find_equations(step_text)
            verdicts = []
            for e in eqs:
                if e.holds is None:
                    n_skipped += 1
                    continue
                if p.require_grounded:
                    if not all(o in seen for o in e.operands):
                        n_ungrounded += 1
                        continue
                    seen.update(e.results)  # a grounded result may be used later
                verdicts.append(e.holds)
            n_eq += len(verdicts)
            if not verdicts:
                steps.append(StepScore(sp.start, sp.end, None))
                continue
            v = 1.0 if all(verdicts) else 0.0
            if v == 0.0 and first_wrong < 0:
                first_wrong = i
            steps.append(StepScore(sp.start, sp.end, v))
            checked.append(v)
        info = {"equations_checked": n_eq, "equations_skipped": n_skipped}
        if p.require_grounded:
            info["equations_ungrounded"] = n_ungrounded
        if not checked:
            return RewardResult.fail(Status.NOT_APPLICABLE, "no checkable arithmetic equation in any step",
                                     steps=steps or None, info=info)
        if p.aggregate == "min":
            agg = min(checked)
        elif p.aggregate == "mean":
            agg = sum(checked) / len(checked)
        else:
            agg = checked[-1]
        return RewardResult(agg, Status.OK, steps=steps, info={"first_wrong_step": first_wrong, **info})
