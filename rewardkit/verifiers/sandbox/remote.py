"""Clients for remote code sandboxes, behind the same interface as `LocalSandbox`.

- `SandboxFusionClient`: ByteDance SandboxFusion ``POST /run_code``. Request
  ``{code, language: "python", run_timeout, compile_timeout, memory_limit_MB, stdin, files, fetch_files}``;
  response ``{status: "Success"|"Failed"|"SandboxError", message, compile_result,
  run_result: {status: "Finished"|"TimeLimitExceeded"|"Error", execution_time, return_code, stdout,
  stderr}, files}``. It runs programs (`Job`), so the unit-test harness works unchanged: harness jobs
  are shipped as a self-contained script that reports nonce-prefixed lines on stdout.
- `TestProgramClient`: the ``/test_program`` and ``/test_program_stdio`` code APIs (open-instruct
  style): request ``{program, tests, max_execution_time}``, response ``{results: [0|1, ...],
  runtimes: [...]}``. The server runs its own harness, so it only has per-test pass/fail; it is a
  *test* backend, not a program runner (see `CodeReward`).

Only the standard library is used (``urllib``), so no extra dependency is needed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rewardkit.verifiers.sandbox import _harness
from rewardkit.verifiers.sandbox.spec import Job, Limits, RunResult

__all__ = ["SandboxFusionClient", "TestProgramClient", "RemoteError"]


class RemoteError(RuntimeError):
    pass


def _post_json(url: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - user-configured URL
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise RemoteError(f"HTTP {e.code} from {url}: {e.read()[:300]!r}") from e
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        raise RemoteError(f"{type(e).__name__} calling {url}: {e}") from e


class SandboxFusionClient:
    """Run jobs on a SandboxFusion server (``url`` is the server root, e.g. ``http://host:8080``)."""

    name = "sandbox_fusion"

    def __init__(self, url: str, *, limits: Limits | None = None, concurrency: int = 16,
                 request_timeout_margin_s: float = 30.0, headers: dict[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.limits = limits or Limits()
        self.concurrency = concurrency
        self.margin = request_timeout_margin_s
        self.headers = headers or {}
        self._executor: ThreadPoolExecutor | None = None

    def setup(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="rk-sfusion")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "url": self.url, "layers": ["remote:sandbox_fusion"]}

    def request_body(self, job: Job) -> dict[str, Any]:
        lim = job.limits or self.limits
        code = job.code if job.kind == "program" else _harness.harness_script(dict(job.payload or {}), None)
        return {
            "code": code,
            "language": "python",
            "compile_timeout": 10,
            "run_timeout": lim.wall_s,
            "memory_limit_MB": lim.memory_mb,
            "stdin": job.stdin,
            "files": {},
            "fetch_files": [],
        }

    def run(self, job: Job) -> RunResult:
        lim = job.limits or self.limits
        try:
            resp = _post_json(f"{self.url}/run_code", self.request_body(job), lim.wall_s + self.margin,
                              self.headers)
        except RemoteError as e:
            return RunResult(status="error", error=str(e), layers=["remote:sandbox_fusion"])
        return self.parse_response(resp, job, lim)

    @staticmethod
    def parse_response(resp: Any, job: Job, lim: Limits) -> RunResult:
        layers = ["remote:sandbox_fusion"]
        if not isinstance(resp, dict):
            return RunResult(status="error", error=f"unexpected response: {str(resp)[:200]}", layers=layers)
        status = resp.get("status")
        rr = resp.get("run_result") or {}
        if status == "SandboxError" or (not rr and status != "Success"):
            return RunResult(status="error", error=f"SandboxFusion: {status}: {resp.get('message', '')}"[:500],
                             layers=layers)
        stdout, stderr = rr.get("stdout") or "", rr.get("stderr") or ""
        cap = lim.max_output_bytes
        run_status = rr.get("status")
        report = ""
        if job.kind == "harness":  # the harness reported on stdout; split its lines out
            nonce = (job.payload or {}).get("nonce", "")
            keep, rep = [], []
            for line in stdout.split("\n"):
                (rep if nonce and line.startswith(nonce + " ") else keep).append(line)
            stdout, report = "\n".join(keep), "\n".join(rep) + ("\n" if rep else "")
        out = RunResult(
            status="timeout" if run_status == "TimeLimitExceeded" else "ok",
            timeout_kind="wall" if run_status == "TimeLimitExceeded" else None,
            exit_code=rr.get("return_code"),
            stdout=stdout[:cap], stderr=stderr[:cap],
            stdout_truncated=len(stdout) > cap, stderr_truncated=len(stderr) > cap,
            report=report, wall_s=rr.get("execution_time"), layers=layers,
        )
        if run_status not in ("Finished", "TimeLimitExceeded", "Error", None):
            out.status, out.error = "error", f"SandboxFusion run status {run_status!r}"
        return out

    def run_many(self, jobs: Sequence[Job]) -> list[RunResult]:
        self.setup()
        assert self._executor is not None
        return list(self._executor.map(self.run, jobs))


class TestProgramClient:
    """Client for ``/test_program`` (assert-string tests) and ``/test_program_stdio`` (I/O tests)."""

    name = "test_program"
    __test__ = False  # not a pytest class

    def __init__(self, url: str, *, max_execution_time: float = 1.0, request_timeout_s: float = 120.0,
                 concurrency: int = 16, headers: dict[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        for suffix in ("/test_program_stdio", "/test_program"):
            if self.url.endswith(suffix):
                self.url = self.url[: -len(suffix)]
        self.max_execution_time = max_execution_time
        self.request_timeout_s = request_timeout_s
        self.concurrency = concurrency
        self.headers = headers or {}

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "url": self.url, "layers": ["remote:test_program"]}

    def run_tests(self, program: str, tests: list[Any], stdio: bool = False) -> list[int]:
        """Per-test 0/1 results; raises `RemoteError` on any transport or format problem."""
        path = "/test_program_stdio" if stdio else "/test_program"
        body = {"program": program, "tests": tests, "max_execution_time": self.max_execution_time}
        resp = _post_json(self.url + path, body, self.request_timeout_s, self.headers)
        results = resp.get("results") if isinstance(resp, dict) else None
        if not isinstance(results, list) or len(results) != len(tests):
            raise RemoteError(f"bad response from {path}: {str(resp)[:200]}")
        return [1 if r in (1, True) else 0 for r in results]

    def run_tests_many(self, calls: Sequence[tuple[str, list[Any], bool]]) -> list[list[int] | RemoteError]:
        def one(c: tuple[str, list[Any], bool]) -> list[int] | RemoteError:
            try:
                return self.run_tests(*c)
            except RemoteError as e:
                return e

        with ThreadPoolExecutor(self.concurrency) as ex:
            return list(ex.map(one, calls))

    def close(self) -> None:
        pass
