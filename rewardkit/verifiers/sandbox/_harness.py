"""The unit-test harness that runs *inside* the sandbox, next to the untrusted solution.

Stdlib only, no rewardkit imports: the warm worker imports it once, and the cold/remote backends
ship its source as part of the program text (`harness_script`).

How results leave the sandbox. The harness reports on a channel the solution does not write to
by accident and cannot forge without the run's nonce: a dedicated pipe (local sandbox, fd 3) or
nonce-prefixed lines on stdout (remote sandboxes). Lines look like ``<nonce> <kind> <fields>``:

    C ok | C syntax_error <msg>      the solution compiled (or not)
    L ok | L error <msg>             the solution's module-level code ran (or raised)
    A <idx> pass|fail|error|untrusted [<detail>]   one execution of assertion ``idx``
    R <unit> done | R <unit> error <detail>        a test unit finished (or raised outside asserts)
    END                              the harness finished

The *parent* decides the outcome from what was reported: a test that never reported (the solution
called ``os._exit(0)``, crashed, or timed out) fails; the exit status, stdout and ``atexit`` hooks
play no part.

What the harness does against a solution that tries to fake success:
- every ``assert`` in the test code is rewritten into a call that evaluates the condition inside a
  ``try`` and reports it, so redefining ``AssertionError`` or catching it changes nothing;
- test code runs with a private copy of the builtins taken before the solution ran, and the
  modules it names are restored to their pre-solution attributes before every test unit;
- values flowing from the solution into the test code (return values of its functions, its
  globals) are deep-copied into plain built-in types (``int``, ``str``, ``list``, ``dict`` ...,
  exact types only); anything else (an object whose ``__eq__`` always says True, a subclass of
  ``int``) makes that assertion fail as ``untrusted``. Comparisons in the test code therefore only
  ever run the interpreter's own code;
- everything the harness needs after the solution ran (``os.write``, ``type``, the nonce) is
  captured in closures before the solution runs.

Limit (documented): this is an in-process harness. A solution that walks the interpreter's frames
or the garbage collector (or uses ctypes) can read the tests or the nonce. For adversarial settings
prefer stdin/stdout tests, which the parent compares itself.
"""

from __future__ import annotations

import ast
import builtins
import os
import sys
import types

ASSERT_FN = "__rk_assert__"


# -- test-code transformation (also used by the parent to count assertions) -------------------


class _AssertRewriter(ast.NodeTransformer):
    """``assert cond, msg`` -> ``__rk_assert__(lambda: cond, idx)``; numbers the asserts."""

    def __init__(self, fixed_idx: int | None = None) -> None:
        self.count = 0
        self.fixed_idx = fixed_idx

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        idx = self.fixed_idx if self.fixed_idx is not None else self.count
        self.count += 1
        call = ast.Call(
            func=ast.Name(id=ASSERT_FN, ctx=ast.Load()),
            args=[ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                                                kw_defaults=[], kwarg=None, defaults=[]),
                             body=node.test),
                  ast.Constant(idx)],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), node)


def rewrite_tests(source: str, fixed_idx: int | None = None) -> tuple[types.CodeType, int, set[str]]:
    """Compile test code with rewritten asserts. Returns (code, number of asserts, names used)."""
    tree = ast.parse(source, "<tests>", "exec")
    rw = _AssertRewriter(fixed_idx)
    tree = ast.fix_missing_locations(rw.visit(tree))
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Import | ast.ImportFrom):
            for a in n.names:
                names.add((a.name if isinstance(n, ast.Import) else (n.module or "")).split(".")[0])
    return compile(tree, "<tests>", "exec", dont_inherit=True), rw.count, names


def count_units(payload: dict) -> list[str]:
    """The test ids a payload defines, computed from the test code only (never from the run)."""
    if payload["mode"] == "asserts":
        return [f"test_{i}" for i in range(len(payload["tests"]))]
    _, n, _ = rewrite_tests(payload["test"])
    return [f"assert_{i}" for i in range(n)] if n else ["check"]


# -- the run ---------------------------------------------------------------------------------


def run(payload: dict, report_fd: int | None) -> None:
    """Execute ``payload`` (setup, solution, tests) and report on ``report_fd`` (or stdout)."""
    # Capture everything we rely on before untrusted code runs.
    _write, _type, _len, _str, _repr = os.write, type, len, str, repr
    _isinstance, _callable, _getattr, _iter = isinstance, callable, getattr, iter
    _list, _tuple, _dict, _set, _frozenset, _bool = list, tuple, dict, set, frozenset, bool
    _BaseException = BaseException
    _modules = sys.modules
    fd = 1 if report_fd is None else report_fd
    lead = "\n" if report_fd is None else ""
    nonce = payload.pop("nonce")
    pristine_builtins = _dict(builtins.__dict__)

    def report(*parts: object) -> None:
        line = lead + nonce + " " + " ".join(_str(p).replace("\n", "\\n").replace("\r", "\\r")[:400]
                                             for p in parts) + "\n"
        try:
            _write(fd, line.encode("utf-8", "replace"))
        except OSError:
            pass

    atoms = {_type(None), bool, int, float, complex, str, bytes, range}
    try:  # C types whose behaviour the solution cannot patch
        import datetime
        import decimal

        atoms |= {decimal.Decimal, datetime.date, datetime.datetime, datetime.time, datetime.timedelta}
    except ImportError:  # pragma: no cover
        pass
    from collections import OrderedDict, deque

    lazy_iter_types = {_type(x) for x in ((lambda: (yield))(), map(int, ""), filter(None, ""),
                                          zip(), enumerate(""), reversed([]), iter([]), iter(()),
                                          iter(""), iter({}), iter(set()))}
    view_types = {_type({}.keys()), _type({}.values()), _type({}.items())}

    def describe(e: BaseException) -> str:
        """``Type: message`` of an exception the solution may have defined (its __str__ may raise)."""
        try:
            return f"{_type(e).__name__}: {_str(e)[:200]}"
        except BaseException:  # noqa: BLE001
            return "UnprintableException: ?"

    class Untrusted(BaseException):  # not an Exception: test code's `except Exception` must not hide it
        pass

    def sanitize(v, depth=0):
        """A fresh copy of ``v`` made only of exact built-in types, or raise Untrusted."""
        t = _type(v)
        if depth > 200:
            raise Untrusted("nested too deeply")
        if t in atoms:
            return v
        d = depth + 1
        if t is list:
            return [sanitize(x, d) for x in v]
        if t is tuple:
            return _tuple(sanitize(x, d) for x in v)
        if t is dict or t is OrderedDict:
            out = {sanitize(k, d): sanitize(x, d) for k, x in v.items()}
            return out if t is dict else OrderedDict(out)
        if t is set:
            return {sanitize(x, d) for x in v}
        if t is frozenset:
            return _frozenset(sanitize(x, d) for x in v)
        if t is deque:
            return deque(sanitize(x, d) for x in v)
        if t in lazy_iter_types:  # generators, map objects ...: materialise (bounded)
            items = []
            for x in v:
                items.append(sanitize(x, d))
                if _len(items) > 1_000_000:
                    raise Untrusted("iterator too long")
            return _iter(items)
        if t in view_types:
            return _list(sanitize(x, d) for x in v)
        # dict subclasses from collections (Counter, defaultdict) compare like dicts
        if _isinstance(v, dict) and t.__module__ == "collections" and t.__name__ in ("Counter", "defaultdict"):
            return {sanitize(k, d): sanitize(x, d) for k, x in dict.items(v)}
        raise Untrusted(f"value of type {t.__module__}.{t.__qualname__}")

    def guard(fn):
        def guarded(*args, **kwargs):
            return sanitize(fn(*args, **kwargs))

        guarded.__name__ = _getattr(fn, "__name__", "candidate")
        guarded.__rk_guarded__ = True
        return guarded

    def rk_assert(thunk, idx):
        try:
            v = thunk()
        except Untrusted as e:
            report("A", idx, "untrusted", e)
            return
        except _BaseException as e:  # noqa: BLE001 - SystemExit from the solution is a failure too
            report("A", idx, "error", describe(e))
            return
        t = _type(v)
        if t is bool:
            ok = v
        elif t in atoms or t in (list, tuple, dict, set, frozenset):
            ok = _bool(v)
        else:
            report("A", idx, "untrusted", f"assert on a value of type {t.__qualname__}")
            return
        report("A", idx, "pass" if ok else "fail")

    # 1. compile tests (trusted) and solution
    mode = payload["mode"]
    try:
        if mode == "asserts":
            units = []
            names: set[str] = set()
            start = payload.get("start", 0)  # a re-run after a time-limit overrun skips decided tests
            for i, src in enumerate(payload["tests"]):
                if i < start:
                    continue
                try:
                    code, _, nm = rewrite_tests(src, fixed_idx=i)
                    names |= nm
                except SyntaxError as e:
                    code = e
                units.append((i, code))
        else:
            code, _, names = rewrite_tests(payload["test"])
            units = [("check", code)]
    except (SyntaxError, ValueError) as e:
        report("E", f"test code does not compile: {e}")
        report("END")
        return
    try:
        sol = compile(payload["solution"], "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as e:
        report("C", "syntax_error", describe(e))
        report("END")
        return
    report("C", "ok")

    # 2. snapshot the modules the tests name, then run setup + solution in a fresh __main__
    snap = {}
    for name in names:
        m = _modules.get(name)
        if _type(m) is types.ModuleType:
            snap[name] = (m, _dict(m.__dict__))

    def restore():
        for name, (m, d) in snap.items():
            _modules[name] = m
            md = m.__dict__
            for k in _list(md):
                if k not in d:
                    del md[k]
            for k, val in d.items():
                if md.get(k) is not val:
                    md[k] = val

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    _modules["__main__"] = main
    ns = main.__dict__
    try:
        if payload.get("setup"):
            exec(compile(payload["setup"], "<setup>", "exec", dont_inherit=True), ns)
        setup_vals = _dict(ns)
        exec(sol, ns)
    except _BaseException as e:  # noqa: BLE001
        restore()
        report("L", "error", describe(e))
        report("END")
        return
    restore()
    report("L", "ok")

    # 3. the test namespace: pristine builtins, guarded view of the solution's names
    tns = {"__builtins__": _dict(pristine_builtins), "__name__": "__rk_tests__", ASSERT_FN: rk_assert}
    for k, v in _list(ns.items()):
        if k.startswith("__"):
            continue
        t = _type(v)
        if setup_vals.get(k, tns) is v:  # defined by the (trusted) setup code and not rebound
            tns[k] = v
        elif t is types.ModuleType:
            tns[k] = v
        elif t in (types.BuiltinFunctionType, types.BuiltinMethodType):
            tns[k] = v
        elif _callable(v):
            tns[k] = guard(v)
        else:
            try:
                tns[k] = sanitize(v)
            except Untrusted:
                pass  # not visible to the tests
    del ns, setup_vals

    # 4. run the test units
    for uid, code in units:
        restore()
        tns["__builtins__"] = _dict(pristine_builtins)
        if _isinstance(code, SyntaxError):
            report("R", uid, "error", f"test does not compile: {code}")
            continue
        try:
            exec(code, tns)
            if mode == "check":
                entry = payload["entry_point"]
                if entry not in tns:
                    report("R", uid, "error", f"entry point {entry!r} is not defined")
                    continue
                cand = tns[entry]
                if not _getattr(cand, "__rk_guarded__", False):
                    cand = guard(cand)
                tns["check"](cand)
        except _BaseException as e:  # noqa: BLE001
            report("R", uid, "error", describe(e))
            continue
        report("R", uid, "done")
    report("END")


def harness_script(payload: dict, report_fd: int | None) -> str:
    """A self-contained program: this module's source + a call to `run` (cold and remote runs)."""
    with open(__file__, encoding="utf-8") as f:
        src = f.read()
    return src + f"\n\nrun({payload!r}, {report_fd!r})\nimport os as _os\n_os._exit(0)\n"
