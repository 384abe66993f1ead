"""Python unit-test reward (``type: code``): run the model's solution against tests in a sandbox.

Reference (``sample.reference``), one of:
- ``{"tests": ["assert f(1) == 2", ...], "test_setup_code": "..."}``  (MBPP style; setup optional);
- ``{"test": "def check(candidate): ...", "entry_point": "f", "prompt": "..."}`` (HumanEval style;
  with ``prompt``, a completion that does not itself define ``entry_point`` is taken to be the
  function body continuing the prompt, as in HumanEval, and the prompt is prepended);
- ``{"io": [{"input": "...", "output": "..."}, ...]}`` (competitive programming, stdin/stdout);
  ``tests`` given as a list of ``{input, output}`` objects means the same.
A reference with none of these -> ``not_applicable``; a malformed one -> ``error``.

Solution: the last fenced Python block of the completion (```` ```python ````, ```` ```py ```` or a
bare ```` ``` ````; an unclosed final fence counts), else the whole completion.

Score and status:
- score = fraction of tests passed (``components``: ``pass_rate``, ``all_pass``, ``compiles``);
  per-test outcomes in ``info["tests"]``: ``pass``, ``fail`` (assertion false / wrong answer),
  ``error:<Exception>``, ``untrusted`` (the solution handed the tests a value that is not plain
  data), ``runtime_error`` (io: non-zero exit), ``not_run`` (the process ended before the test
  reported: ``sys.exit``, ``os._exit``, a crash), ``timeout``, ``output_limit`` (the test during
  which the run hit that limit);
  for HumanEval ``check`` references every ``assert`` inside ``check`` is one test;
- a fenced block that does not compile -> ``ok`` with score 0 and ``info["syntax_error"]``;
  no fenced block and the whole text does not compile (prose, not code) -> ``unparseable``;
- a time-limit or output-limit overrun is a verdict, as in every programming judge: the tests
  that did not pass count as failed (score = pass rate, status ``ok``, ``info["verdict"]`` =
  ``time_limit`` / ``output_limit``). A solution that sleeps past the limit at import scores 0;
  one that passes 3 of 4 tests and loops on the 4th scores 0.75. Like a judge, each assert test
  gets its own verdict: the tests after the one that hit the time or output limit run again in a
  fresh run (up to ``reruns_after_limit``, default 3, re-runs per sample; tests still undecided
  count as failed; HumanEval ``check`` references run as one unit). ``timeout_status: true`` restores the
  old ``timeout`` status (no score; the status policy then gives the failing score);
- the sandbox itself failed (worker crash, remote server down) or the reference is malformed ->
  ``error`` with ``info["fault"] = "infrastructure"`` (masked by the trainer adapters).

Pass/fail is decided outside the solution's control (see ``sandbox/_harness.py``): tests report
over a separate channel with a per-run nonce, unreported tests fail, and values that reach the
test code are copied into plain built-in types. io tests are compared by the parent process.

Backends (one config key): ``backend: local`` (warm sandbox pool, default),
``sandbox_fusion`` (``url`` of a SandboxFusion server, runs the same harness remotely),
``test_program`` (``url`` of a ``/test_program`` code API, which runs its own harness and only
returns per-test 0/1: no timeout/syntax distinction and no nonce protection).
"""

from __future__ import annotations

import ast
import functools
import re
import secrets
from collections.abc import Sequence
from typing import Any, Literal

from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams
from rewardkit.status_policy import Fault
from rewardkit.types import RewardResult, Sample, Status
from rewardkit.verifiers.sandbox import _harness
from rewardkit.verifiers.sandbox.spec import Job, Limits, RunResult

__all__ = ["CodeReward", "extract_code", "compare_output", "parse_reference"]

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PY_LANGS = {"python", "py", "python3", "py3", ""}


def extract_code(text: str) -> tuple[str, bool]:
    """(code, fenced): the last fenced Python block, else the whole text."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    py = [body for lang, body in blocks if lang in _PY_LANGS]
    if py:
        return py[-1], True
    return text, False


def compare_output(got: str, expected: str, mode: str = "lines") -> bool:
    """Judge stdout: ``exact``; ``lines`` (trailing whitespace of each line and trailing blank
    lines ignored, CRLF = LF); ``tokens`` (whitespace-separated tokens equal)."""
    if mode == "exact":
        return got == expected
    if mode == "tokens":
        return got.split() == expected.split()
    def norm(s):
        return ([ln.rstrip() for ln in s.replace("\r\n", "\n").rstrip().split("\n")])
    return norm(got) == norm(expected)


def parse_reference(ref: Any) -> tuple[str, dict[str, Any]] | None:
    """(mode, fields) with mode in asserts | check | io; None if the reference has no tests.
    Raises ValueError for a malformed reference."""
    if not isinstance(ref, dict):
        return None
    if "io" in ref or (isinstance(ref.get("tests"), list) and ref["tests"] and isinstance(ref["tests"][0], dict)):
        cases = ref.get("io", ref.get("tests"))
        if not isinstance(cases, list) or not cases:
            raise ValueError("reference 'io' must be a non-empty list of {input, output}")
        for c in cases:
            if not isinstance(c, dict) or "output" not in c:
                raise ValueError("each io case needs 'output' (and usually 'input')")
        return "io", {"cases": [(str(c.get("input", "")), str(c["output"])) for c in cases]}
    if "tests" in ref:
        tests = ref["tests"]
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError("reference 'tests' must be a non-empty list of assert statements (strings)")
        setup = ref.get("test_setup_code") or ref.get("setup") or ""
        return "asserts", {"tests": tests, "setup": str(setup)}
    if "test" in ref:
        if not ref.get("entry_point"):
            raise ValueError("reference with 'test' (check(candidate) style) needs 'entry_point'")
        return "check", {"test": str(ref["test"]), "entry_point": str(ref["entry_point"]),
                         "prompt": ref.get("prompt") or "", "setup": str(ref.get("test_setup_code") or "")}
    return None


def _compiles(src: str) -> str | None:
    """None if ``src`` compiles, else the error text (compiling never runs the code)."""
    try:
        compile(src, "<solution>", "exec", dont_inherit=True)
        return None
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as e:
        return f"{type(e).__name__}: {e}"


def _defines(src: str, name: str) -> bool:
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name
               for n in tree.body) or any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
        for n in tree.body)


#: run statuses that are the solution's verdict, and the outcome of the test that caused them
_LIMITS = {"timeout": "timeout", "output_limit": "output_limit"}


def _infra(reason: str, **info: Any) -> RewardResult:
    """An ``error`` that is not the sample's fault (sandbox down, bad reference, a bug): masked."""
    return RewardResult.fail(Status.ERROR, reason, info={**info, "fault": Fault.INFRASTRUCTURE.value})


class CodeParams(SourceParams):
    backend: Literal["local", "sandbox_fusion", "test_program"] = "local"
    url: str | None = None
    workers: int | None = None  # local pool size (default: CPU count)
    warm: bool = True  # local: fork runs from warm interpreters (False: exec a fresh one per run)
    timeout_s: float = 5.0  # wall clock per run (assert/check: the whole test file; io: each case)
    cpu_s: float | None = None  # CPU seconds per run (default: timeout_s)
    memory_mb: int = 1024
    max_procs: int = 16
    max_output_kb: int = 64
    io_compare: Literal["exact", "lines", "tokens"] = "lines"
    timeout_status: bool = False  # True: a time-limit overrun is status timeout, not a verdict
    reruns_after_limit: int = 3  # assert tests: fresh runs for the tests after one over a time/output limit
    prepend_prompt: Literal["auto", "always", "never"] = "auto"
    require_layers: tuple[str, ...] = ()  # local: refuse to run unless these isolation layers are active


@register_source("code")
class CodeReward(BaseRewardSource):
    """Pass rate of the completion's Python code on the reference's tests, run in a sandbox."""

    Params = CodeParams

    def setup(self) -> None:
        p: CodeParams = self.params  # type: ignore[assignment]
        self.limits = Limits(wall_s=p.timeout_s, cpu_s=p.cpu_s or p.timeout_s, memory_mb=p.memory_mb,
                             max_procs=p.max_procs, max_output_bytes=p.max_output_kb * 1024)
        self.backend: Any
        if p.backend == "local":
            from rewardkit.verifiers.sandbox.pool import LocalSandbox

            self.backend = LocalSandbox(p.workers, warm=p.warm, limits=self.limits, require=p.require_layers)
            self.backend.setup()
        elif p.backend == "sandbox_fusion":
            from rewardkit.verifiers.sandbox.remote import SandboxFusionClient

            if not p.url:
                raise ValueError("code: backend 'sandbox_fusion' needs 'url'")
            self.backend = SandboxFusionClient(p.url, limits=self.limits)
        else:
            from rewardkit.verifiers.sandbox.remote import TestProgramClient

            if not p.url:
                raise ValueError("code: backend 'test_program' needs 'url'")
            self.backend = TestProgramClient(p.url, max_execution_time=p.timeout_s)

    def close(self) -> None:
        if self._is_setup:
            self.backend.close()
            self._is_setup = False

    def info(self) -> dict[str, Any]:
        """The backend, with the isolation layers active on this machine."""
        self._ensure_setup()
        return self.backend.info()

    # -- preparing a sample ----------------------------------------------------------------------
    def _prepare(self, sample: Sample) -> RewardResult | tuple[str, dict[str, Any], str, bool]:
        try:
            parsed = parse_reference(sample.reference)
        except ValueError as e:
            return _infra(f"reference: {e}")
        if parsed is None:
            return RewardResult.fail(Status.NOT_APPLICABLE, "reference has no tests, test or io field")
        mode, ref = parsed
        code, fenced = extract_code(sample.completion)
        if not code.strip():
            return RewardResult.fail(Status.UNPARSEABLE, "no code in the completion")
        p: CodeParams = self.params  # type: ignore[assignment]
        if mode == "check" and ref["prompt"] and (
                p.prepend_prompt == "always"
                or (p.prepend_prompt == "auto" and not _defines(code, ref["entry_point"]))):
            code = ref["prompt"] + code
        return mode, ref, code, fenced

    def _syntax_result(self, err: str, fenced: bool, n_tests: int) -> RewardResult:
        if not fenced:
            return RewardResult.fail(Status.UNPARSEABLE, "no fenced code block and the text is not valid Python",
                                     info={"syntax_error": err[:500]})
        return RewardResult(0.0, Status.OK, components={"pass_rate": 0.0, "all_pass": 0.0, "compiles": 0.0},
                            info={"syntax_error": err[:500], "tests": ["not_run"] * n_tests,
                                  "passed": 0, "total": n_tests})

    # -- scoring ---------------------------------------------------------------------------------
    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        p: CodeParams = self.params  # type: ignore[assignment]
        results: list[RewardResult | None] = [None] * len(samples)
        plans: list[tuple[int, str, dict[str, Any], str, list[int] | None, str | None]] = []
        jobs: list[Job] = []
        for i, s in enumerate(samples):
            prep = self._prepare(s)
            if isinstance(prep, RewardResult):
                results[i] = prep
                continue
            mode, ref, code, fenced = prep
            n_tests = len(ref["cases"]) if mode == "io" else len(self._units(mode, ref))
            err = _compiles(code)
            if err is not None:
                results[i] = self._syntax_result(err, fenced, n_tests)
                continue
            if p.backend == "test_program":
                plans.append((i, mode, ref, code, None, None))
                continue
            if mode == "io":
                idx = list(range(len(jobs), len(jobs) + n_tests))
                jobs.extend(Job(code=code, stdin=inp, limits=self.limits) for inp, _ in ref["cases"])
                plans.append((i, mode, ref, code, idx, None))
            else:
                nonce = secrets.token_hex(16)
                payload = {"nonce": nonce, "mode": mode, "solution": code, "setup": ref.get("setup", "")}
                if mode == "asserts":
                    payload["tests"] = ref["tests"]
                else:
                    payload.update(test=ref["test"], entry_point=ref["entry_point"])
                plans.append((i, mode, ref, code, [len(jobs)], nonce))
                jobs.append(Job(kind="harness", payload=payload, limits=self.limits))
        if p.backend == "test_program":
            self._score_remote_tests(plans, results)
        elif jobs:
            runs = self.backend.run_many(jobs)
            reruns = self._rerun_after_limit(plans, jobs, runs)
            for i, mode, ref, _code, idx, nonce in plans:
                try:
                    if mode == "io":
                        results[i] = self._score_io(ref, [runs[k] for k in idx])  # type: ignore[union-attr]
                    else:
                        results[i] = self._score_harness(mode, ref, runs[idx[0]], nonce,  # type: ignore[index]
                                                         reruns.get(i, []))
                except Exception as e:  # noqa: BLE001
                    results[i] = _infra(f"{type(e).__name__}: {e}")
        return [r if r is not None else _infra("not scored") for r in results]

    def _rerun_after_limit(self, plans: list[Any], jobs: list[Job], runs: list[RunResult],
                                ) -> dict[int, list[tuple[RunResult, str, int]]]:
        """Judge-like per-test verdicts for assert tests: when a run hits its time or output limit in test k,
        the tests after k run again in a fresh run (``start = k + 1``), up to
        ``reruns_after_limit`` times per sample. Not when the limit hit while the solution was
        loading (every run would). Returns ``{sample index: [(run, nonce, start), ...]}``."""
        p: CodeParams = self.params  # type: ignore[assignment]
        extra: dict[int, list[tuple[RunResult, str, int]]] = {}
        if p.reruns_after_limit <= 0:
            return extra
        for _ in range(p.reruns_after_limit):
            todo: list[tuple[int, Job, str, int]] = []
            for i, mode, ref, _code, idx, nonce in plans:
                if mode != "asserts":
                    continue
                last_run, last_nonce, last_start = (extra[i][-1] if extra.get(i)
                                                    else (runs[idx[0]], nonce, 0))
                if last_run.status not in _LIMITS:
                    continue
                ev = parse_report(last_run.report, last_nonce)
                if not ev["loaded"]:
                    continue
                n = len(ref["tests"])
                hit = next((k for k in range(last_start, n) if str(k) not in ev["units"]), None)
                if hit is None or hit + 1 >= n:
                    continue
                new_nonce = secrets.token_hex(16)
                payload = {**jobs[idx[0]].payload, "nonce": new_nonce, "start": hit + 1}  # type: ignore[dict-item]
                todo.append((i, Job(kind="harness", payload=payload, limits=self.limits), new_nonce, hit + 1))
            if not todo:
                break
            for (i, _job, nonce2, start), run in zip(todo, self.backend.run_many([t[1] for t in todo]), strict=True):
                extra.setdefault(i, []).append((run, nonce2, start))
        return extra

    @staticmethod
    def _units(mode: str, ref: dict[str, Any]) -> list[str]:
        if mode == "asserts":
            return [f"test_{i}" for i in range(len(ref["tests"]))]
        return list(_check_units(ref["test"]))

    def _finish(self, outcomes: list[str], info: dict[str, Any], run: RunResult | None) -> RewardResult:
        p: CodeParams = self.params  # type: ignore[assignment]
        passed = sum(o == "pass" for o in outcomes)
        total = len(outcomes)
        info.update(tests=outcomes, passed=passed, total=total)
        if run is not None:
            info["sandbox"] = {"status": run.status, "exit_code": run.exit_code, "signal": run.signal,
                               "wall_s": run.wall_s, "layers": run.layers}
            if run.stderr:
                info["stderr_tail"] = run.stderr[-400:]
        if "timeout" in outcomes:
            if p.timeout_status:
                info["fault"] = Fault.SAMPLE.value
                return RewardResult.fail(Status.TIMEOUT, "time limit exceeded", info=info)
            info["verdict"] = "time_limit"
        elif info.get("output_limit") or "output_limit" in outcomes:
            info["verdict"] = "output_limit"
        rate = passed / total if total else 0.0
        return RewardResult(rate, Status.OK, components={"pass_rate": rate, "all_pass": float(passed == total),
                                                         "compiles": 1.0}, info=info)

    def _score_harness(self, mode: str, ref: dict[str, Any], run: RunResult, nonce: str,
                       reruns: Sequence[tuple[RunResult, str, int]] = ()) -> RewardResult:
        if run.status == "error" or any(r.status == "error" for r, _, _ in reruns):
            bad = next(r for r in (run, *(x[0] for x in reruns)) if r.status == "error")
            return _infra(bad.error or "sandbox error", sandbox={"layers": bad.layers})
        units = self._units(mode, ref)
        ev = parse_report(run.report, nonce)
        over: dict[int, str] = {}  # assert tests that hit a run's limit -> "timeout" | "output_limit"
        if mode == "asserts":
            pieces = [(run, ev, 0)] + [(r, parse_report(r.report, n), st) for r, n, st in reruns]
            for k, (r, e, st) in enumerate(pieces):
                if r.status in _LIMITS:
                    hit = next((j for j in range(st, len(units)) if str(j) not in e["units"]), None)
                    if hit is not None:
                        over[hit] = _LIMITS[r.status]
                if k:  # a re-run reports only the tests from its start on: merge them
                    ev["asserts"].update(e["asserts"])
                    ev["units"].update(e["units"])
        info: dict[str, Any] = {"mode": mode}
        if ev["syntax_error"] is not None:
            return self._syntax_result(ev["syntax_error"], True, len(units))
        if ev["test_error"] is not None:
            return _infra(f"reference tests: {ev['test_error']}")
        if ev["load_error"] is not None:
            info["load_error"] = ev["load_error"]
        if run.status == "output_limit":
            info["output_limit"] = True
        unreported = "timeout" if run.status == "timeout" else "not_run"
        outcomes = []
        if mode == "asserts":
            for k in range(len(units)):
                a = ev["asserts"].get(str(k), [])
                r = ev["units"].get(str(k))
                if r is None:
                    bad = next((x for x in a if x != "pass"), None)
                    outcomes.append(bad or over.get(k, "not_run"))
                else:
                    bad = next((x for x in a if x != "pass"), None)
                    outcomes.append(bad or ("pass" if r == "done" else r))
        elif units == ["check"]:  # check() without any assert: it passes if it returns
            r = ev["units"].get("check")
            outcomes.append(unreported if r is None else ("pass" if r == "done" else r))
        else:
            for k in range(len(units)):
                a = ev["asserts"].get(str(k), [])
                if not a:
                    outcomes.append(unreported if ev["units"].get("check") is None else "not_run")
                else:
                    outcomes.append(next((x for x in a if x != "pass"), "pass"))
            r = ev["units"].get("check")
            if r not in (None, "done"):
                info["check_error"] = r
        if reruns:
            info["reruns"] = len(reruns)
        elif run.status == "timeout":  # the first unfinished test hit the limit; later ones never ran
            first = next((k for k, o in enumerate(outcomes) if o in ("timeout", "not_run")), None)
            outcomes = [("timeout" if k == first else "not_run") if o in ("timeout", "not_run") else o
                        for k, o in enumerate(outcomes)]
        return self._finish(outcomes, info, run)

    def _score_io(self, ref: dict[str, Any], runs: list[RunResult]) -> RewardResult:
        p: CodeParams = self.params  # type: ignore[assignment]
        outcomes = []
        over_output = False
        for (_inp, expected), run in zip(ref["cases"], runs, strict=False):
            if run.status == "error":
                return _infra(run.error or "sandbox error")
            if run.status == "timeout":
                outcomes.append("timeout")
            elif run.status == "output_limit" or run.stdout_truncated:
                outcomes.append("fail")
                over_output = True
            elif run.exit_code != 0:
                outcomes.append("runtime_error")
            else:
                outcomes.append("pass" if compare_output(run.stdout, expected, p.io_compare) else "fail")
        last = runs[-1] if runs else None
        bad = next((r for r in runs if r.status != "ok" or r.exit_code != 0), last)
        return self._finish(outcomes, {"mode": "io", **({"output_limit": True} if over_output else {})}, bad)

    def _score_remote_tests(self, plans: list[Any], results: list[RewardResult | None]) -> None:
        calls = []
        for _i, mode, ref, code, _idx, _n in plans:
            if mode == "io":
                calls.append((code, [{"input": a, "output": b} for a, b in ref["cases"]], True))
            elif mode == "asserts":
                prog = (ref["setup"] + "\n" + code) if ref["setup"] else code
                calls.append((prog, list(ref["tests"]), False))
            else:
                calls.append((code, [ref["test"] + f"\n\ncheck({ref['entry_point']})\n"], False))
        outs = self.backend.run_tests_many(calls)
        for (i, mode, _ref, _code, _idx, _n), out in zip(plans, outs, strict=False):
            if isinstance(out, Exception):
                results[i] = _infra(str(out))
                continue
            outcomes = ["pass" if r else "fail" for r in out]
            results[i] = self._finish(outcomes, {"mode": mode, "sandbox": {"backend": "test_program"}}, None)


@functools.lru_cache(maxsize=4096)
def _check_units(test: str) -> tuple[str, ...]:
    """Test ids of a ``check(candidate)`` test (cached: a GRPO group shares its tests)."""
    try:
        return tuple(_harness.count_units({"mode": "check", "test": test}))
    except (SyntaxError, ValueError):
        return ("check",)


def parse_report(report: str, nonce: str) -> dict[str, Any]:
    """Events of the harness channel; lines without the run's nonce are ignored."""
    ev: dict[str, Any] = {"syntax_error": None, "load_error": None, "test_error": None, "asserts": {},
                          "units": {}, "end": False, "loaded": False}
    prefix = nonce + " "
    for line in report.split("\n"):
        if not line.startswith(prefix):
            continue
        parts = line[len(prefix):].split(" ", 3)
        kind = parts[0]
        if kind == "C" and len(parts) > 1 and parts[1] == "syntax_error":
            ev["syntax_error"] = " ".join(parts[2:])
        elif kind == "L" and len(parts) > 1 and parts[1] == "error":
            ev["load_error"] = " ".join(parts[2:])[:300]
        elif kind == "L" and len(parts) > 1 and parts[1] == "ok":
            ev["loaded"] = True
        elif kind == "E":
            ev["test_error"] = " ".join(parts[1:])[:300]
        elif kind == "A" and len(parts) >= 3:
            outcome = parts[2]
            if outcome == "error" and len(parts) > 3:
                outcome = "error:" + parts[3].split(":", 1)[0]
            ev["asserts"].setdefault(parts[1], []).append(outcome)
        elif kind == "R" and len(parts) >= 3:
            r = parts[2]
            if r == "error" and len(parts) > 3:
                r = "error:" + parts[3].split(":", 1)[0]
            ev["units"][parts[1]] = r
        elif kind == "END":
            ev["end"] = True
    return ev
