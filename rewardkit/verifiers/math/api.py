"""The plain function API: `extract` -> `verify` (like Math-Verify's parse -> verify), `check`
(both at once), `verify_batch`, and the `Verdict` they return.

Stages of `verify`, cheapest first; only the last one crosses a process boundary:

1. normalise both answers (`normalize`) and compare the canonical strings;
2. parse both into trees (`parse_answer`) and compare them in-process with exact rationals,
   tolerances and structure (`compare.equivalent` with ``symbolic=False``);
3. if stage 2 is undecided (free variables, relations that need solving ...), run the same walk
   with sympy in a worker process under a hard time limit (`worker.WorkerPool`).

`check` extracts the answer first. A completion longer than ``MathConfig.inline_chars`` is
extracted *and* verified in the worker process, under the same time limit: every stage that reads
a long model text is bounded by ``timeout_s``.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rewardkit.types import RewardResult, Status
from rewardkit.verifiers.math.cache import VerdictCache, cache_key
from rewardkit.verifiers.math.compare import Ctx, equivalent
from rewardkit.verifiers.math.config import MathConfig
from rewardkit.verifiers.math.extract import Extraction, extract, extract_choice
from rewardkit.verifiers.math.normalize import canonical_key, normalize
from rewardkit.verifiers.math.parse import MAX_ANSWER_CHARS, looks_like_choice, parse_answer
from rewardkit.verifiers.math.worker import CRASH, TIMEOUT, WorkerPool, get_pool

__all__ = ["Verdict", "verify", "check", "verify_batch", "check_batch", "extract_answer"]

_DEFAULT = MathConfig()


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check. ``equal`` is None unless ``status`` is ok.

    method: the stage that decided (``string``, ``numeric``, ``structure``, ``symbolic``,
    ``choice``); info: extraction details, notes, latency.
    """

    status: Status
    equal: bool | None = None
    method: str = ""
    reason: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return None if self.equal is None else float(self.equal)

    def __bool__(self) -> bool:
        return bool(self.equal)

    def to_result(self) -> RewardResult:
        info = dict(self.info)
        if self.method:
            info["method"] = self.method
        if self.status is Status.OK:
            return RewardResult(float(bool(self.equal)), Status.OK, info=info)
        return RewardResult.fail(self.status, self.reason or self.status.value, info=info)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "equal": self.equal, "method": self.method,
                "reason": self.reason, "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(Status(d["status"]), d.get("equal"), d.get("method", ""), d.get("reason", ""),
                   dict(d.get("info") or {}))


def _ok(equal: bool, method: str, **info: Any) -> Verdict:
    return Verdict(Status.OK, bool(equal), method, "", info)


def _as_text(x: Any) -> str | None:
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, float):
        return repr(x) if x == x else None
    return str(x)


# ---------------------------------------------------------------------------- stages
@lru_cache(maxsize=64)
def _cfg_from_json(items: tuple[tuple[str, Any], ...]) -> MathConfig:
    d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in items}
    return MathConfig.from_dict(d)


def _symbolic_stage(gold: str, pred: str, cfg_d: dict[str, Any]) -> dict[str, Any]:
    """Worker-side: the full comparison with sympy enabled. JSON in, JSON out."""
    cfg = _cfg_from_json(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg_d.items())))
    gt, pt = parse_answer(gold, units=cfg.units), parse_answer(pred, units=cfg.units)
    if gt is None or pt is None:
        return {"equal": False, "methods": [], "notes": ["unparseable"], "huge": False}
    ctx = Ctx(cfg, symbolic=True)
    r = equivalent(gt, pt, ctx)
    return {"equal": bool(r), "methods": sorted(ctx.methods), "notes": ctx.notes[:5], "huge": ctx.huge}


def _fast(gn: str, pn: str, cfg: MathConfig) -> Verdict | tuple[Any, Any]:
    """Stages 1-2. A Verdict, or the two trees when the symbolic stage is needed."""
    if canonical_key(gn) == canonical_key(pn):
        return _ok(True, "string")
    gt = parse_answer(gn, units=cfg.units)
    if gt is None:
        return Verdict(Status.ERROR, None, "", "gold answer could not be parsed", {"gold": gn[:200]})
    pt = parse_answer(pn, units=cfg.units)
    if pt is None:
        return Verdict(Status.UNPARSEABLE, None, "", "answer could not be parsed", {"answer": pn[:200]})
    ctx = Ctx(cfg, symbolic=False)
    r = equivalent(gt, pt, ctx)
    if r is not None:
        info: dict[str, Any] = {"notes": ctx.notes[:5]} if ctx.notes else {}
        return _ok(r, "numeric" if ctx.methods == {"numeric"} else "structure", **info)
    return gt, pt


def _check_stage(gold: str, completion: str, cfg_d: dict[str, Any], extract_gold: bool,
                 problem: str | None = None) -> dict[str, Any]:
    """Worker-side: a whole `check` of a long completion (extraction, then every stage)."""
    cfg = _cfg_from_json(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg_d.items())))
    r = _check_fast(gold, completion, cfg, extract_gold, None, problem, inline=True)
    if isinstance(r, _Pending):
        v = _finish_symbolic(_symbolic_stage(r.task["gold"], r.task["pred"], r.task["config"]), cfg.timeout_s)
        v.info.update(r.info)
    else:
        v = r
    return {"verdict": v.to_dict()}


def _finish_symbolic(out: dict[str, Any] | str, timeout: float, stage: str = "symbolic") -> Verdict:
    if out == TIMEOUT:
        return Verdict(Status.TIMEOUT, None, stage, f"{stage} check exceeded {timeout:g}s")
    if out == CRASH or not isinstance(out, dict):
        return Verdict(Status.ERROR, None, stage, "worker process died (memory limit or crash)")
    if "error" in out:
        return Verdict(Status.ERROR, None, stage, str(out["error"]))
    if "verdict" in out:
        return Verdict.from_dict(out["verdict"])
    info: dict[str, Any] = {}
    if out.get("notes"):
        info["notes"] = out["notes"]
    if out.get("huge"):
        info["guard"] = "astronomically large number"
    return _ok(bool(out["equal"]), "symbolic", **info)


def _prepare(gold: Any, pred: Any) -> tuple[str, str] | Verdict:
    g, p = _as_text(gold), _as_text(pred)
    if g is None or not g.strip():
        return Verdict(Status.ERROR, None, "", "gold answer is missing")
    if p is None or not p.strip():
        return Verdict(Status.UNPARSEABLE, None, "", "empty answer")
    if len(p) > MAX_ANSWER_CHARS * 4:
        return Verdict(Status.UNPARSEABLE, None, "", f"answer longer than {MAX_ANSWER_CHARS * 4} characters")
    gn, pn = normalize(g), normalize(p)
    if not gn:
        return Verdict(Status.ERROR, None, "", "gold answer is empty after normalisation")
    if not pn:
        return Verdict(Status.UNPARSEABLE, None, "", "answer is empty after normalisation")
    return gn, pn


@dataclass
class _Pending:
    """A check whose symbolic stage is still to run (in a worker process)."""

    task: dict[str, Any]
    key: str
    t0: float
    info: dict[str, Any] = field(default_factory=dict)


def _guarded(fn: Any) -> Any:
    """A bug in the in-process stages is an ``error`` verdict for that pair (never an exception
    that takes the whole batch down, never a silent 0)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Verdict | _Pending:
        try:
            return fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - reported as an error verdict
            return Verdict(Status.ERROR, None, "", f"internal error: {type(e).__name__}: {str(e)[:200]}")

    return wrapper


@_guarded
def _verify_fast(gold: Any, pred: Any, cfg: MathConfig, cache: VerdictCache | None) -> Verdict | _Pending:
    t0 = time.perf_counter()
    prep = _prepare(gold, pred)
    if isinstance(prep, Verdict):
        return prep
    gn, pn = prep
    key = cache_key(gn, pn, cfg.fingerprint()) if cache is not None else ""
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            v = Verdict.from_dict(hit)
            return Verdict(v.status, v.equal, v.method, v.reason, {**v.info, "cached": True})
    fast = _fast(gn, pn, cfg)
    if isinstance(fast, Verdict):
        if cache is not None and fast.status is Status.OK:
            cache.put(key, fast.to_dict())
        fast.info["latency_s"] = round(time.perf_counter() - t0, 6)
        return fast
    return _Pending({"gold": gn, "pred": pn, "config": cfg.to_dict()}, key, t0)


def _run_pending(p: _Pending, cfg: MathConfig, pool: WorkerPool, cache: VerdictCache | None) -> Verdict:
    stage = "check" if p.task.get("kind") == "check" else "symbolic"
    v = _finish_symbolic(pool.run(p.task, cfg.timeout_s), cfg.timeout_s, stage)
    if cache is not None and p.key and v.status is Status.OK:
        cache.put(p.key, v.to_dict())
    v.info.update(p.info)
    v.info["latency_s"] = round(time.perf_counter() - p.t0, 6)
    return v


def verify(gold: Any, pred: Any, config: MathConfig | None = None, *, pool: WorkerPool | None = None,
           cache: VerdictCache | None = None) -> Verdict:
    """Are two *answers* equivalent? (Extract them from completions first: `extract`/`check`.)

    ``gold`` is the reference, ``pred`` the model's answer; the comparison is symmetric unless
    ``config`` enables an asymmetric option. Never raises on bad input: returns a Verdict with
    status ``unparseable`` (prediction), ``error`` (gold), or ``timeout``. Safe from any thread;
    from asyncio, call it through ``asyncio.to_thread`` to keep the loop free.
    """
    cfg = config or _DEFAULT
    r = _verify_fast(gold, pred, cfg, cache)
    return r if isinstance(r, Verdict) else _run_pending(r, cfg, pool or get_pool(), cache)


def _is_choice_gold(gold: str, cfg: MathConfig) -> str | None:
    if cfg.choices == "off":
        return None
    g = normalize(gold)
    letter = looks_like_choice(g)
    if letter is not None and g.strip("(). ").isupper() and letter in cfg.choice_letters:
        return letter
    if cfg.choices == "force":
        got = extract_choice(gold, cfg)
        return got.answer.upper() if got else None
    return None


def extract_answer(text: Any, config: MathConfig | None = None) -> Extraction | None:
    """`extract` that also accepts numbers (a gold answer given as 42 or 0.5)."""
    t = _as_text(text)
    if t is None:
        return None
    return extract(t, config)


_UNMARKED = frozenset({"last_math", "whole", "last_number"})
_RELATION = re.compile(r"=|<|>|\\[lg]eq?(?![a-zA-Z])|\\neq?(?![a-zA-Z])")


def _restates(answer: str, problem: str | None) -> bool:
    """Is ``answer`` an equation or inequality copied from the problem? A response that gives up
    ("we need to solve 3x - 6 = 0 but ...") ends with the problem's own equation."""
    if not problem or not _RELATION.search(answer):
        return False
    key = "".join(answer.split())
    return len(key) >= 3 and key in "".join(problem.split())


def _problem_text(prompt: Any) -> str | None:
    """The text of a prompt: a string, or the contents of chat messages."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(_content(m) for m in prompt)
    return str(prompt)


def _content(message: Any) -> str:
    content = message.get("content", "") if isinstance(message, Mapping) else getattr(message, "content", message)
    if isinstance(content, list):  # multimodal parts: keep the text ones
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


@_guarded
def _check_fast(gold: Any, completion: Any, cfg: MathConfig, extract_gold: bool,
                cache: VerdictCache | None, problem: str | None = None, *,
                inline: bool = False) -> Verdict | _Pending:
    t0 = time.perf_counter()
    g = _as_text(gold)
    if g is None or not g.strip():
        return Verdict(Status.ERROR, None, "", "gold answer is missing")
    c = _as_text(completion) or ""
    if not inline and len(c) > cfg.inline_chars:
        # a long model text is read only inside a worker process, under the time limit
        return _Pending({"kind": "check", "gold": g, "completion": c, "config": cfg.to_dict(),
                         "extract_gold": extract_gold, "problem": problem}, "", t0)
    letter = _is_choice_gold(g, cfg)
    if letter is not None:
        got = extract_choice(c, cfg)
        if got is None:
            return Verdict(Status.UNPARSEABLE, None, "", "no choice letter found")
        return _ok(got.answer.upper() == letter, "choice", **got.to_info())
    g_ans = g
    if extract_gold:
        ge = extract(g, cfg)
        if ge is not None:
            g_ans = ge.answer
    pe = extract(c, cfg)
    if pe is None:
        return Verdict(Status.UNPARSEABLE, None, "", "no final answer found")
    if pe.source in _UNMARKED and _restates(pe.answer, problem):
        return Verdict(Status.UNPARSEABLE, None, "", "no final answer: the last math restates the problem's "
                       "equation (no answer marker)", pe.to_info())
    r = _verify_fast(g_ans, pe.answer, cfg, cache)
    r.info.update(pe.to_info())
    return r


def check(gold: Any, completion: Any, config: MathConfig | None = None, *, extract_gold: bool = True,
          problem: Any = None, pool: WorkerPool | None = None, cache: VerdictCache | None = None) -> Verdict:
    """Extract the final answer of ``completion`` (and of ``gold`` when it is wrapped in text or
    ``\\boxed{}``) and `verify` it. Nothing extractable -> status unparseable (never a 0).

    ``problem`` (the prompt: text or chat messages), when given, guards against a restatement: an
    equation copied from the problem and found without an answer marker (the last math span of a
    response that gives up) is not a final answer -> unparseable."""
    cfg = config or _DEFAULT
    r = _check_fast(gold, completion, cfg, extract_gold, cache, _problem_text(problem))
    return r if isinstance(r, Verdict) else _run_pending(r, cfg, pool or get_pool(), cache)


def verify_batch(golds: list[Any], preds: list[Any], config: MathConfig | None = None, *,
                 workers: int | None = None, pool: WorkerPool | None = None,
                 cache: VerdictCache | None = None) -> list[Verdict]:
    """`verify` for many pairs: the fast stages in this process, the symbolic ones in parallel
    across ``workers`` worker processes. Results are in input order."""
    cfg = config or _DEFAULT
    if len(golds) != len(preds):
        raise ValueError(f"{len(golds)} gold answers for {len(preds)} predictions")
    return _finish_batch([_verify_fast(g, p, cfg, cache) for g, p in zip(golds, preds, strict=False)], cfg, workers, pool, cache)


def check_batch(golds: list[Any], completions: list[Any], config: MathConfig | None = None, *,
                extract_gold: bool = True, problems: list[Any] | None = None, workers: int | None = None,
                pool: WorkerPool | None = None, cache: VerdictCache | None = None) -> list[Verdict]:
    """`check` for many pairs (extraction + verification), in parallel like `verify_batch`."""
    cfg = config or _DEFAULT
    if len(golds) != len(completions):
        raise ValueError(f"{len(golds)} gold answers for {len(completions)} completions")
    if problems is not None and len(problems) != len(golds):
        raise ValueError(f"{len(problems)} problems for {len(golds)} gold answers")
    probs = [_problem_text(p) for p in problems] if problems is not None else [None] * len(golds)
    firsts = [_check_fast(g, c, cfg, extract_gold, cache, q) for g, c, q in zip(golds, completions, probs, strict=True)]
    return _finish_batch(firsts, cfg, workers, pool, cache)


def _finish_batch(firsts: list[Verdict | _Pending], cfg: MathConfig, workers: int | None,
                  pool: WorkerPool | None, cache: VerdictCache | None) -> list[Verdict]:
    todo = [i for i, r in enumerate(firsts) if isinstance(r, _Pending)]
    if not todo:
        return firsts  # type: ignore[return-value]
    real = pool or get_pool(workers)
    n = max(1, min(real.size, len(todo)))
    real.warm(n)
    out = list(firsts)
    if n == 1:
        for i in todo:
            out[i] = _run_pending(firsts[i], cfg, real, cache)  # type: ignore[arg-type]
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="rewardkit-math") as ex:
            for i, v in zip(todo, ex.map(lambda i: _run_pending(firsts[i], cfg, real, cache), todo), strict=False):  # type: ignore[arg-type]
                out[i] = v
    return out  # type: ignore[return-value]
