"""The sympy stage of the comparison (runs in worker processes; imports sympy on first use).

Leaves are built by `rewardkit.verifiers.math.parse.to_sympy` (LaTeX grammar, no eval, magnitude
guards). Equality of two expressions:

- constants: both evaluated to 30 significant digits (exact ones confirmed at 60 digits, so 2 and
  sqrt(4 + 10^-40) differ); equal when the relative difference is below
  1e-20 for exact expressions, or within ``rel_tol`` / the rounding rule when one side carries a
  decimal (a float);
- with variables: evaluated at 4 fixed positive rational points (polynomial identity testing);
  expressions sympy cannot evaluate numerically (undefined functions, sums with symbolic bounds)
  fall back to ``simplify(a - b) == 0``.

Equations are equal when ``lhs - rhs`` agree up to a non-zero constant factor (line equations up
to scaling); inequalities up to a positive factor, or as solution sets when they have one variable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy as sp

from rewardkit.verifiers.math.parse import Empty, Interval, Leaf, Node, Rel, Seq, Union, to_sympy

__all__ = ["leaf_eq", "relation_eq", "relation_set_eq", "matrix_leaf_eq"]

_POINTS = (sp.Rational(7, 13), sp.Rational(17, 11), sp.Rational(23, 9), sp.Rational(5, 17) + 2)
_EXACT_TOL = sp.Float("1e-20", 30)


@lru_cache(maxsize=2048)
def _sym(text: str) -> Any:
    return to_sympy(text)


def _rename(a: Any, b: Any, ctx: Any) -> tuple[Any, Any]:
    if ctx.cfg.strict_variables:
        return a, b
    try:
        ga = sorted(a.free_symbols, key=str)
        gb = sorted(b.free_symbols, key=str)
        if len(ga) == len(gb) and ga != gb:
            b = b.subs(dict(zip(gb, ga, strict=False)), simultaneous=True)
    except Exception:  # noqa: BLE001 - best effort
        pass
    return a, b


def _num(x: Any) -> complex | None:
    try:
        v = complex(sp.N(x, 30))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    if v != v or abs(v) == float("inf"):
        return None
    return v


def _close(va: complex, vb: complex, tol: float) -> bool:
    scale = max(abs(va), abs(vb))
    return abs(va - vb) <= tol * scale or abs(va - vb) <= 1e-25


_DIGITS = 60
_EXACT_REL = sp.Float("1e-50", _DIGITS)
_EXACT_ABS = sp.Float("1e-55", _DIGITS)


def _exact_close(a: Any, b: Any) -> bool | None:
    """Equality of two exact constants at 60 significant digits (None: cannot evaluate)."""
    try:
        va, vb = sp.N(a, _DIGITS), sp.N(b, _DIGITS)
        diff, scale = abs(va - vb), max(abs(va), abs(vb))
        return bool(diff <= _EXACT_REL * scale) or bool(diff <= _EXACT_ABS)
    except (TypeError, ValueError, ArithmeticError):
        return None


def _has_float(*xs: Any) -> bool:
    return any(getattr(x, "has", lambda *_: False)(sp.Float) for x in xs)


def _is_scalar(x: Any) -> bool:
    return isinstance(x, sp.Expr) and not isinstance(x, sp.MatrixBase)


def expr_eq(a: Any, b: Any, ctx: Any, text_a: str = "", text_b: str = "") -> bool:
    a, b = _rename(a, b, ctx)
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001
        pass
    if not (_is_scalar(a) and _is_scalar(b)):
        try:
            return bool(sp.simplify(a - b) == 0)
        except Exception:  # noqa: BLE001 - sets, tuples, booleans: structural equality only
            return False
    free = a.free_symbols | b.free_symbols
    tol = ctx.cfg.rel_tol if _has_float(a, b) else 1e-20
    if not free:
        va, vb = _num(a), _num(b)
        if va is not None and vb is not None:
            if not _has_float(a, b) and _close(va, vb, 1e-12):
                # exact values: decide at 60 digits (a double cannot tell 2 from sqrt(4 + 10^-40))
                close = _exact_close(a, b)
                if close is not None:
                    return close
            if _close(va, vb, tol):
                return True
            if _has_float(a, b):
                from rewardkit.verifiers.math.compare import rounding_sides, within_rounding

                sides = rounding_sides(text_a, text_b, va, vb, ctx.cfg, not ctx.flipped)
                if any(within_rounding(lit, other, ctx.cfg) for lit, other in sides):
                    return True
            return False
    else:
        syms = sorted(free, key=str)
        ok = True
        for k in range(len(_POINTS)):
            subs = {s: _POINTS[(k + i) % len(_POINTS)] + i for i, s in enumerate(syms)}
            va, vb = _num(a.xreplace(subs)), _num(b.xreplace(subs))
            if va is None or vb is None:
                ok = False
                break
            if not _close(va, vb, max(tol, 1e-12)):
                return False
        if ok:
            return True
    try:
        return bool(sp.simplify(a - b) == 0)
    except Exception:  # noqa: BLE001
        return False


def leaf_eq(a: Leaf, b: Leaf, ctx: Any) -> bool:
    try:
        sa, sb = _sym(a.text), _sym(b.text)
    except Exception as e:  # noqa: BLE001 - unparseable leaf: not equal (noted)
        ctx.notes.append(f"sympy could not parse: {type(e).__name__}")
        if type(e).__name__ == "HugeNumber":
            ctx.huge = True
        return False
    if a.pct != b.pct and ctx.cfg.percent != "strip":
        hundred = sp.Integer(100)
        cands = [(sa, sb)]
        if a.pct:
            cands.append((sa / hundred, sb))
        if b.pct:
            cands.append((sa, sb / hundred))
        if ctx.cfg.percent == "fraction":
            cands = cands[1:]
        return any(expr_eq(x, y, ctx, a.text, b.text) for x, y in cands)
    return expr_eq(sa, sb, ctx, a.text, b.text)


def _diff(r: Rel) -> Any:
    return _sym(r.parts[0].text) - _sym(r.parts[1].text)


def _proportional(dg: Any, dp: Any, positive: bool) -> bool:
    free = sorted(dg.free_symbols | dp.free_symbols, key=str)
    ratio = None
    if not free:
        return False
    for k in range(len(_POINTS)):
        subs = {s: _POINTS[(k + i) % len(_POINTS)] + i for i, s in enumerate(free)}
        vg, vp = _num(dg.xreplace(subs)), _num(dp.xreplace(subs))
        if vg is None or vp is None:
            raise ValueError("not numeric")
        if abs(vp) < 1e-25:
            if abs(vg) < 1e-25:
                continue
            return False
        r = vg / vp
        if ratio is None:
            ratio = r
            if abs(r) < 1e-25 or (positive and (abs(r.imag) > 1e-12 or r.real <= 0)):
                return False
        elif not _close(r, ratio, 1e-12):
            return False
    return ratio is not None


def relation_eq(g: Rel, p: Rel, ctx: Any) -> bool:
    if len(g.parts) == 2 and len(p.parts) == 2 and g.ops == p.ops:
        dg, dp = _diff(g), _diff(p)
        dg, dp = _rename(dg, dp, ctx)
        positive = g.ops[0] not in ("=", "\\neq")
        try:
            return _proportional(dg, dp, positive)
        except ValueError:
            try:
                if sp.simplify(dg - dp) == 0:
                    return True
                return not positive and bool(sp.simplify(dg + dp) == 0)
            except Exception:  # noqa: BLE001
                return False
    try:
        sg, sp_ = _rel_set(g), _rel_set(p)
    except Exception:  # noqa: BLE001
        return False
    return _sets_equal(sg, sp_)


_OPS = {"<": sp.StrictLessThan, ">": sp.StrictGreaterThan, "\\leq": sp.LessThan, "\\geq": sp.GreaterThan,
        "=": sp.Eq, "\\neq": sp.Ne}


def _rel_set(r: Rel) -> Any:
    exprs = [_sym(x.text) for x in r.parts]
    rels = [_OPS[o](exprs[i], exprs[i + 1]) for i, o in enumerate(r.ops)]
    free = set().union(*(e.free_symbols for e in exprs))
    if len(free) != 1:
        raise ValueError("relation set needs exactly one variable")
    (x,) = free
    x_real = sp.Symbol(x.name, real=True)
    cond = sp.And(*rels).xreplace({x: x_real})
    return cond.as_set()


def _node_set(n: Node) -> Any:
    if isinstance(n, Interval):
        return sp.Interval(_sym(n.lo.text), _sym(n.hi.text), n.lopen, n.ropen)
    if isinstance(n, Union):
        return sp.Union(*(_node_set(x) for x in n.parts))
    if isinstance(n, Empty):
        return sp.EmptySet
    if isinstance(n, Seq) and n.kind == "pair":
        a, b = n.items
        if isinstance(a, Leaf) and isinstance(b, Leaf):
            return sp.Interval.open(_sym(a.text), _sym(b.text))
    if isinstance(n, Seq) and n.kind in ("set", "list"):
        return sp.FiniteSet(*(_sym(x.text) for x in n.items if isinstance(x, Leaf)))
    if isinstance(n, Leaf):
        return sp.FiniteSet(_sym(n.text))
    raise ValueError("not a set")


def _sets_equal(a: Any, b: Any) -> bool:
    try:
        if a == b:
            return True
        d = sp.Union(sp.Complement(a, b), sp.Complement(b, a))
        return bool(d.is_empty)
    except Exception:  # noqa: BLE001
        return False


def relation_set_eq(rel: Rel, other: Node, ctx: Any) -> bool:
    try:
        return _sets_equal(_rel_set(rel), _node_set(other))
    except Exception:  # noqa: BLE001
        return False


def matrix_leaf_eq(mat: Any, leaf: Leaf, ctx: Any) -> bool:
    """A matrix given cell by cell vs a matrix expression (``A + B``, ``I \\cdot I``)."""
    try:
        m = _sym(leaf.text)
        m = m.doit() if hasattr(m, "doit") else m
        if not isinstance(m, sp.MatrixBase) or m.shape != (len(mat.rows), len(mat.rows[0])):
            return False
        cells = [[_sym(c.text) if isinstance(c, Leaf) else None for c in row] for row in mat.rows]
    except Exception:  # noqa: BLE001
        return False
    return all(c is not None and expr_eq(c, m[i, j], ctx) for i, row in enumerate(cells) for j, c in enumerate(row))
