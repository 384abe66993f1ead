"""Equivalence of two parsed answers, cheapest stage first.

`equivalent(gold, pred, ctx)` walks the two trees of `rewardkit.verifiers.math.parse`:

- structured answers: ordered tuples/points, unordered sets and bare lists (as multisets),
  intervals (open/closed ends must agree), unions, inequalities vs intervals, equations
  (``x=3`` vs ``3``; ``2x+4y-3=0`` vs ``y=-x/2+3/4``, i.e. up to a non-zero factor), matrices,
  ``\\pm``, text and multiple-choice letters;
- leaves: normalised-string match, then exact rational comparison (`Fraction`; integers and
  fractions written exactly are never compared with a tolerance, so ``10^{20}+10^9`` differs from
  ``10^{20}`` and ``1/2004!`` from ``1/2006!``), then a relative tolerance (``rel_tol``, default
  1e-6) when one side is written as a decimal or is irrational, and the rounding rule (a *gold*
  written as a decimal with k >= 2 places equals a value that rounds to it: datasets store rounded
  golds; an approximation of an exact gold -- 0.67 for 2/3 -- is not accepted, see
  ``MathConfig.rounding``), then -- only when ``ctx.symbolic`` -- sympy
  (`rewardkit.verifiers.math.symbolic`).

Three-valued: True / False / None ("needs the symbolic stage"). The in-process fast path runs
with ``symbolic=False``; a None sends the pair to a worker process that runs the same walk with
``symbolic=True``. Symmetric unless an asymmetric option says otherwise (``set_relation``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from rewardkit.verifiers.math.config import MathConfig
from rewardkit.verifiers.math.normalize import canonical_key
from rewardkit.verifiers.math.parse import (
    Assign,
    Choice,
    Empty,
    HugeNumber,
    Interval,
    Leaf,
    Matrix,
    Node,
    NotNumeric,
    PlusMinus,
    Rel,
    Seq,
    Text,
    Union,
    _label_key,
    evaluate,
)

__all__ = ["Ctx", "equivalent", "leaf_value"]

Tri = bool | None
MAX_ITEMS = 256
_DECIMAL = re.compile(r"^-?\d*\.(\d+)$")
_VARIABLE = re.compile(r"^(?:[A-Za-z]|\\[a-zA-Z]+)(?:_\{?[A-Za-z0-9]+\}?)?(?:\([A-Za-z]\))?$")


@dataclass
class Ctx:
    cfg: MathConfig
    symbolic: bool = False
    notes: list[str] = field(default_factory=list)
    huge: bool = False
    methods: set[str] = field(default_factory=set)
    #: True while the walk compares the prediction's side first (a relation turned into a set,
    #: an interval or a matrix against the gold): the rounding rule must still read the gold.
    flipped: bool = False


def _swapped(ctx: Ctx, fn: Any, *args: Any) -> Tri:
    """``fn(*args)`` with the roles of the first two arguments swapped (pred first, gold second)."""
    ctx.flipped = not ctx.flipped
    try:
        return fn(*args)
    finally:
        ctx.flipped = not ctx.flipped


# ---------------------------------------------------------------------------- leaves
_VALUE_CACHE: dict[tuple[str, bool], Any] = {}


def leaf_value(text: str, mixed: bool = True) -> Any:
    """('num', value) | ('huge', reason) | ('sym', None); memoised (small, bounded)."""
    key = (text, mixed)
    hit = _VALUE_CACHE.get(key)
    if hit is not None:
        return hit
    try:
        r: Any = ("num", evaluate(text, mixed_numbers=mixed))
    except HugeNumber as e:
        r = ("huge", str(e))
    except (NotNumeric, ValueError, ArithmeticError, RecursionError, IndexError):
        r = ("sym", None)
    if len(_VALUE_CACHE) > 50_000:
        _VALUE_CACHE.clear()
    _VALUE_CACHE[key] = r
    return r


def _decimals(text: str) -> int | None:
    m = _DECIMAL.match(text.strip())
    return len(m.group(1)) if m else None


def _abs(v: Any) -> float:
    try:
        return abs(complex(v)) if not isinstance(v, Fraction) else float(abs(v))
    except OverflowError:
        return math.inf


def within_rounding(gold_text: str, other: Any, cfg: MathConfig) -> bool:
    """The rounding rule: a gold written as a decimal with k >= ``rounding_min_decimals`` places
    (datasets store rounded golds) accepts any value that rounds to it (``0.67`` ~ ``2/3``)."""
    k = _decimals(gold_text)
    if k is None or k < cfg.rounding_min_decimals:
        return False
    try:
        return abs(complex(other) - complex(Fraction(gold_text.strip()))) <= 0.5 * 10.0 ** (-k) * (1 + 1e-9)
    except (OverflowError, ValueError, ZeroDivisionError):
        return False


def rounding_sides(xt: str, yt: str, x: Any, y: Any, cfg: MathConfig, gold_first: bool) -> tuple[tuple[str, Any], ...]:
    """(written decimal, other value) pairs the rounding rule may use: the gold's side only by
    default (an approximation of an exact gold is not its answer), both with ``rounding="either"``."""
    if cfg.rounding == "off":
        return ()
    if cfg.rounding == "either":
        return ((xt, y), (yt, x))
    return ((xt, y),) if gold_first else ((yt, x),)


def numbers_equal(x: Any, y: Any, xt: str, yt: str, cfg: MathConfig, gold_first: bool = True) -> bool | None:
    """Equality of two numbers ``x`` (written ``xt``) and ``y`` (``yt``); ``gold_first`` says
    that ``x`` is the gold's. Exact values written exactly compare exactly; a written decimal
    within ``rel_tol``/``abs_tol`` or the rounding rule (`rounding_sides`)."""
    if isinstance(x, Fraction) and isinstance(y, Fraction):
        if x == y:
            return True
        if "." not in xt and "." not in yt:
            return False  # exact values written exactly: no tolerance (huge integers!)
    try:
        xf = complex(x) if not isinstance(x, Fraction) else None
        yf = complex(y) if not isinstance(y, Fraction) else None
    except OverflowError:
        return False
    # infinities
    for a, b in ((xf, y), (yf, x)):
        if a is not None and (math.isinf(a.real) or math.isinf(a.imag)):
            try:
                bb = complex(b)
            except OverflowError:
                return False
            return bb == a
    if isinstance(x, Fraction) and isinstance(y, Fraction):
        # exact rationals: compare in rationals (floats overflow on 2,000-digit literals)
        d, sc = abs(x - y), max(abs(x), abs(y))
        if d <= Fraction(cfg.rel_tol) * sc * Fraction(1_000_000_001, 1_000_000_000) or d <= Fraction(cfg.abs_tol):
            return True
        return any(within_rounding(lit, other, cfg) for lit, other in rounding_sides(xt, yt, x, y, cfg, gold_first))
    try:
        diff = abs(complex(x) - complex(y))
        scale = max(_abs(x), _abs(y))
    except OverflowError:
        return False
    if "." not in xt and "." not in yt:
        # both exact (e.g. e^{16}-1 vs e^{16}, sqrt 8 vs 2 sqrt 2) but evaluated in floating point:
        # no tolerance; too close for floats to tell -> undecided, sympy decides at 30 digits
        return None if diff <= 1e-9 * scale else False  # type: ignore[return-value]
    if diff <= cfg.rel_tol * scale * (1 + 1e-9) or diff <= cfg.abs_tol:
        return True
    return any(within_rounding(lit, other, cfg) for lit, other in rounding_sides(xt, yt, x, y, cfg, gold_first))


def _percent_text(text: str) -> str:
    """How a percentage reads as a fraction of one: ``33.3`` -> ``0.333`` (a rounded gold keeps its
    digits for the rounding rule); an integer percentage is exact but compared like a decimal."""
    if _decimals(text) is None:
        return "0.0"
    try:
        return format(Decimal(text.strip()) / 100, "f")
    except (InvalidOperation, ValueError):
        return "0.0"


def _pct_candidates(v: Any, pct: bool, rule: str) -> list[Any]:
    if not pct:
        return [v]
    scaled = v / 100 if isinstance(v, Fraction) else v / 100.0
    if rule == "fraction":
        return [scaled]
    if rule == "strip":
        return [v]
    return [v, scaled]


def leaf_eq(a: Leaf, b: Leaf, ctx: Ctx) -> Tri:
    ka, kb = canonical_key(a.text), canonical_key(b.text)
    if ka == kb and (a.pct == b.pct or ctx.cfg.percent != "fraction"):
        return True
    mixed = ctx.cfg.mixed_numbers
    va, vb = leaf_value(a.text, mixed), leaf_value(b.text, mixed)
    if va[0] == "num" and vb[0] == "num":
        ctx.methods.add("numeric")
        gold_first = not ctx.flipped
        if a.pct and b.pct:
            r = numbers_equal(va[1], vb[1], a.text, b.text, ctx.cfg, gold_first)
        else:
            r = False
            for x in _pct_candidates(va[1], a.pct, ctx.cfg.percent):
                for y in _pct_candidates(vb[1], b.pct, ctx.cfg.percent):
                    xt = a.text if x is va[1] else _percent_text(a.text)
                    yt = b.text if y is vb[1] else _percent_text(b.text)
                    got = numbers_equal(x, y, xt, yt, ctx.cfg, gold_first)
                    if got:
                        return True
                    if got is None:
                        r = None
        if r is None:
            if not ctx.symbolic:
                return None
            from rewardkit.verifiers.math import symbolic

            ctx.methods.add("symbolic")
            return symbolic.leaf_eq(a, b, ctx)
        return r
    if va[0] == "huge" or vb[0] == "huge":
        ctx.huge = True
        ctx.notes.append("astronomically large number: compared structurally only")
        other = vb if va[0] == "huge" else va
        if other[0] == "num":
            return False  # a finite, representable number never equals a tower like 2^{2^{2^49}}
        return False if ctx.symbolic else None
    if not ctx.symbolic:
        return None
    from rewardkit.verifiers.math import symbolic

    ctx.methods.add("symbolic")
    return symbolic.leaf_eq(a, b, ctx)


# ---------------------------------------------------------------------------- combinators
def _all(results: Any) -> Tri:
    undecided = False
    for r in results:
        if r is False:
            return False
        if r is None:
            undecided = True
    return None if undecided else True


def _ordered(gs: tuple[Node, ...], ps: tuple[Node, ...], ctx: Ctx) -> Tri:
    if len(gs) != len(ps):
        return False
    return _all(equivalent(g, p, ctx) for g, p in zip(gs, ps, strict=False))


def _unordered(gs: tuple[Node, ...], ps: tuple[Node, ...], ctx: Ctx) -> Tri:
    """Multiset equality: a perfect matching on True edges (None edges make it undecided)."""
    n = len(gs)
    if n != len(ps):
        return False
    if n > MAX_ITEMS:
        return False
    m = [[equivalent(g, p, ctx) for p in ps] for g in gs]
    if _perfect_matching(m, lambda r: r is True):
        return True
    if any(r is None for row in m for r in row) and _perfect_matching(m, lambda r: r is not False):
        return None
    return False


def _perfect_matching(m: list[list[Tri]], ok: Any) -> bool:
    n = len(m)
    match_p = [-1] * n

    def try_g(i: int, seen: list[bool]) -> bool:
        for j in range(n):
            if ok(m[i][j]) and not seen[j]:
                seen[j] = True
                if match_p[j] < 0 or try_g(match_p[j], seen):
                    match_p[j] = i
                    return True
        return False

    return all(try_g(i, [False] * n) for i in range(n))


# ---------------------------------------------------------------------------- relations
_FLIP = {"<": ">", ">": "<", "\\leq": "\\geq", "\\geq": "\\leq", "=": "=", "\\neq": "\\neq"}


def canonical_rel(r: Rel) -> Rel:
    """Write ``>``/``\\geq`` chains as ``<``/``\\leq`` chains (reversed)."""
    if any(o in (">", "\\geq") for o in r.ops) and all(o in (">", "\\geq") for o in r.ops):
        return Rel(tuple(reversed(r.parts)), tuple(_FLIP[o] for o in reversed(r.ops)))
    return r


def rel_to_interval(r: Rel, ctx: Ctx) -> Node | None:
    """``a < x \\leq b`` / ``x > a`` with numeric bounds and one variable -> Interval (no sympy)."""
    r = canonical_rel(r)
    if not all(o in ("<", "\\leq") for o in r.ops) or len(r.parts) not in (2, 3):
        return None
    var_idx = [i for i, p in enumerate(r.parts) if leaf_value(p.text)[0] != "num"]
    if len(var_idx) != 1:
        return None
    i = var_idx[0]
    if not _VARIABLE.match(r.parts[i].text.strip()):
        return None
    inf, ninf = Leaf("\\infty"), Leaf("-\\infty")
    if len(r.parts) == 3:
        if i != 1:
            return None
        return Interval(r.parts[0], r.parts[2], r.ops[0] == "<", r.ops[1] == "<")
    if i == 0:  # x < b
        return Interval(ninf, r.parts[1], True, r.ops[0] == "<")
    return Interval(r.parts[0], inf, r.ops[0] == "<", True)  # a < x


def rel_eq(g: Rel, p: Rel, ctx: Ctx) -> Tri:
    g, p = canonical_rel(g), canonical_rel(p)
    if g.ops == p.ops and len(g.parts) == len(p.parts):
        if all(canonical_key(a.text) == canonical_key(b.text) for a, b in zip(g.parts, p.parts, strict=False)):
            return True
        if g.ops in (("=",), ("\\neq",)):
            if all(canonical_key(a.text) == canonical_key(b.text) for a, b in zip(g.parts, reversed(p.parts), strict=False)):
                return True
    gi, pi = rel_to_interval(g, ctx), rel_to_interval(p, ctx)
    if gi is not None and pi is not None:
        return equivalent(gi, pi, ctx)
    is_eq = {o == "=" for o in g.ops} | {o == "=" for o in p.ops}
    if is_eq == {True} or is_eq == {False}:
        if not ctx.symbolic:
            return None
        from rewardkit.verifiers.math import symbolic

        ctx.methods.add("symbolic")
        return symbolic.relation_eq(g, p, ctx)
    return False  # an equation never equals an inequality


def rel_vs_set(rel: Rel, other: Node, ctx: Ctx) -> Tri:
    iv = rel_to_interval(rel, ctx)
    if iv is not None:
        return equivalent(iv, other, ctx)
    if any(o == "=" for o in rel.ops):
        return False
    if not ctx.symbolic:
        return None
    from rewardkit.verifiers.math import symbolic

    ctx.methods.add("symbolic")
    return symbolic.relation_set_eq(rel, other, ctx)


# ---------------------------------------------------------------------------- the walk
def _as_set(pm: PlusMinus) -> Seq:
    c = pm.center.text if pm.center is not None else ""
    d = pm.delta.text
    if c:
        return Seq("set", (Leaf(f"{c}-({d})"), Leaf(f"{c}+({d})")))
    return Seq("set", (Leaf(f"-({d})"), Leaf(d)))


def _unwrap1(n: Node) -> Node:
    while isinstance(n, Seq) and len(n.items) == 1 and n.kind in ("list", "tuple"):
        n = n.items[0]
    return n


_SETLIKE = (Interval, Union, Empty)


def equivalent(g: Node, p: Node, ctx: Ctx) -> Tri:
    """Three-valued equivalence of two answer trees (see the module docstring)."""
    g, p = _unwrap1(g), _unwrap1(p)
    if isinstance(g, PlusMinus):
        g = _as_set(g)
    if isinstance(p, PlusMinus):
        p = _as_set(p)
    cfg = ctx.cfg
    # assignments: x = 3 vs 3, (p,q) = (3,2) vs (3,2); labels must agree when both have one
    if isinstance(g, Assign) and isinstance(p, Assign):
        if _label_key(g.label) != _label_key(p.label):
            if cfg.strict_labels:
                return False
            ctx.notes.append("different labels ignored (strict_labels=False)")
        return equivalent(g.value, p.value, ctx)
    if isinstance(g, Assign) or isinstance(p, Assign):
        a, other = (g, p) if isinstance(g, Assign) else (p, g)
        if isinstance(other, Rel):
            if isinstance(a.value, Leaf) and all(o == "=" for o in other.ops):
                if a is g and _VARIABLE.match(a.label.strip()) and leaf_value(a.value.text)[0] == "num":
                    # the gold is a solved value (x = 2): an equation still to be solved
                    # (3x - 6 = 0, 2x = 4; often the problem restated) is not that answer
                    return False
                as_rel = Rel((Leaf(a.label), a.value), ("=",))
                return rel_eq(as_rel, other, ctx) if a is g else rel_eq(other, as_rel, ctx)
            if isinstance(a.value, _SETLIKE):  # x \in [0,1) vs 0 \leq x < 1
                if a is g and cfg.set_relation == "gold_relation_only":
                    return False
                if a is g:  # the relation is the prediction's
                    return _swapped(ctx, rel_vs_set, other, a.value, ctx)
                return rel_vs_set(other, a.value, ctx)
            return False
        return equivalent(a.value, other, ctx) if a is g else equivalent(other, a.value, ctx)
    if isinstance(g, Rel) and isinstance(p, Rel):
        return rel_eq(g, p, ctx)
    if isinstance(g, Rel) or isinstance(p, Rel):
        rel, other = (g, p) if isinstance(g, Rel) else (p, g)
        if isinstance(other, (*_SETLIKE, Seq)) and not all(o == "=" for o in rel.ops):
            if rel is p and cfg.set_relation == "gold_relation_only" and isinstance(other, _SETLIKE):
                return False  # Math-Verify's allow_set_relation_comp=False: gold set vs pred relation
            if isinstance(other, Seq) and other.kind != "pair":
                return False
            return _swapped(ctx, rel_vs_set, rel, other, ctx) if rel is p else rel_vs_set(rel, other, ctx)
        return False
    if isinstance(g, Choice) or isinstance(p, Choice):
        gl = g.letter if isinstance(g, Choice) else _letter(g)
        pl = p.letter if isinstance(p, Choice) else _letter(p)
        return gl is not None and gl == pl
    if isinstance(g, Text) or isinstance(p, Text):
        gt = g.text if isinstance(g, Text) else _text_of(g)
        pt = p.text if isinstance(p, Text) else _text_of(p)
        return gt is not None and pt is not None and _text_key(gt) == _text_key(pt)
    if isinstance(g, Leaf) and isinstance(p, Leaf):
        return leaf_eq(g, p, ctx)
    if isinstance(g, Empty) or isinstance(p, Empty):
        return isinstance(g, Empty) and isinstance(p, Empty) or _empty_seq(g) and _empty_seq(p)
    if isinstance(g, Seq) and isinstance(p, Seq):
        return _seq_eq(g, p, ctx)
    if isinstance(g, Seq) and isinstance(p, Leaf):
        return leaf_eq(g.decimal_alt, p, ctx) if g.decimal_alt is not None else False
    if isinstance(p, Seq) and isinstance(g, Leaf):
        return leaf_eq(g, p.decimal_alt, ctx) if p.decimal_alt is not None else False
    if isinstance(g, Interval) and isinstance(p, Interval):
        if g.lopen != p.lopen or g.ropen != p.ropen:
            return False
        return _all((leaf_eq(g.lo, p.lo, ctx), leaf_eq(g.hi, p.hi, ctx)))
    if isinstance(g, Interval) or isinstance(p, Interval):
        if isinstance(p, Interval) and not isinstance(g, Interval):
            return _swapped(ctx, equivalent, p, g, ctx)
        iv, other = g, p
        if isinstance(other, Seq) and other.kind == "pair" and iv.lopen and iv.ropen:
            return _ordered((iv.lo, iv.hi), other.items, ctx)
        if isinstance(other, Union):
            return _union_eq(Union((iv,)), other, ctx)
        return False
    if isinstance(g, Union) and isinstance(p, Union):
        return _union_eq(g, p, ctx)
    if isinstance(g, Matrix) and isinstance(p, Matrix):
        if len(g.rows) != len(p.rows) or len(g.rows[0]) != len(p.rows[0]):
            return False
        return _all(equivalent(a, b, ctx) for ra, rb in zip(g.rows, p.rows, strict=False) for a, b in zip(ra, rb, strict=False))
    if isinstance(g, Matrix) or isinstance(p, Matrix):
        if isinstance(p, Matrix) and not isinstance(g, Matrix):
            return _swapped(ctx, equivalent, p, g, ctx)
        mat, other = g, p
        if isinstance(other, Leaf) and "\\begin" in other.text:  # matrix arithmetic: A + B
            if not ctx.symbolic:
                return None
            from rewardkit.verifiers.math import symbolic

            ctx.methods.add("symbolic")
            return symbolic.matrix_leaf_eq(mat, other, ctx)
        if isinstance(other, Seq) and other.kind in ("tuple", "pair"):
            flat = tuple(x for row in mat.rows for x in row)
            if len(mat.rows) == 1 or len(mat.rows[0]) == 1:
                return _ordered(flat, other.items, ctx)
        return False
    return False


def _seq_eq(g: Seq, p: Seq, ctx: Ctx) -> Tri:
    ordered_kinds = {"tuple", "pair"}
    if g.kind == "set" or p.kind == "set":
        if g.kind in ordered_kinds or p.kind in ordered_kinds:
            if not ctx.cfg.tuple_vs_set:
                return False
        return _unordered(g.items, p.items, ctx)
    if g.kind in ordered_kinds or p.kind in ordered_kinds:
        return _ordered(g.items, p.items, ctx)
    if ctx.cfg.ordered_lists:
        return _ordered(g.items, p.items, ctx)
    return _same_set(g.items, p.items, ctx)


def _same_set(gs: tuple[Node, ...], ps: tuple[Node, ...], ctx: Ctx) -> Tri:
    """Set equality (duplicates ignored): every item on each side equals one on the other."""
    if len(gs) == len(ps):
        return _unordered(gs, ps, ctx)
    if len(gs) > MAX_ITEMS or len(ps) > MAX_ITEMS:
        return False
    m = [[equivalent(g, p, ctx) for p in ps] for g in gs]
    rank = {True: 2, None: 1, False: 0}
    rows = [max(rank[r] for r in row) for row in m]
    cols = [max(rank[m[i][j]] for i in range(len(gs))) for j in range(len(ps))]
    worst = min(rows + cols)
    return True if worst == 2 else (None if worst == 1 else False)


def _union_eq(g: Union, p: Union, ctx: Ctx) -> Tri:
    return _unordered(g.parts, p.parts, ctx)


def _empty_seq(n: Node) -> bool:
    return isinstance(n, Empty) or (isinstance(n, Seq) and not n.items)


def _letter(n: Node) -> str | None:
    if isinstance(n, Leaf) and len(n.text) == 1 and n.text.isalpha():
        return n.text.upper()
    if isinstance(n, Text) and len(n.text) == 1:
        return n.text.upper()
    return None


def _text_of(n: Node) -> str | None:
    if isinstance(n, Leaf):
        return n.text
    return None


def _text_key(s: str) -> str:
    return "".join(s.replace("\\text", "").replace("{", "").replace("}", "").split()).casefold()
