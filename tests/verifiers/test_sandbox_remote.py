"""Remote sandbox clients against tiny fake servers on 127.0.0.1 (never an external address).

The fake SandboxFusion server implements the documented ``/run_code`` request/response shape and
runs the (trusted, test-authored) programs with a plain subprocess; the fake code API implements
``/test_program`` and ``/test_program_stdio`` (``{program, tests, max_execution_time}`` ->
``{results: [0|1...]}``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rewardkit.types import Sample, Status
from rewardkit.verifiers.code import CodeReward
from rewardkit.verifiers.sandbox import Job, Limits, SandboxFusionClient, make_backend


def _run(code: str, stdin: str, timeout: float) -> tuple[str, dict]:
    try:
        p = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "TimeLimitExceeded", {"return_code": None, "stdout": "", "stderr": ""}
    return "Finished", {"return_code": p.returncode, "stdout": p.stdout, "stderr": p.stderr}


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def log_message(self, *a):  # quiet
        pass

    def _reply(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **req})
        if self.path == "/run_code":
            if req.get("code") == "BREAK":
                return self._reply({"status": "SandboxError", "message": "executor pod lost", "run_result": None})
            status, rr = _run(req["code"], req.get("stdin", ""), float(req.get("run_timeout", 5)))
            ok = status == "Finished" and rr["return_code"] == 0
            return self._reply({"status": "Success" if ok else "Failed", "message": "", "compile_result": None,
                                "run_result": {"status": status, "execution_time": 0.01, **rr},
                                "executor_pod_name": None, "files": {}})
        if self.path in ("/test_program", "/test_program_stdio"):
            if req["program"].strip() == "BAD":
                return self._reply({"detail": "boom"}, 500)
            results = []
            for t in req["tests"]:
                if self.path == "/test_program":
                    status, rr = _run(req["program"] + "\n" + t, "", 5)
                    results.append(int(status == "Finished" and rr["return_code"] == 0))
                else:
                    status, rr = _run(req["program"], t["input"], 5)
                    results.append(int(rr["stdout"].strip() == t["output"].strip()))
            return self._reply({"results": results, "runtimes": [0.0] * len(results)})
        self._reply({"detail": "not found"}, 404)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def test_sandbox_fusion_run_program(server):
    cli = make_backend("sandbox_fusion", url=server, limits=Limits(wall_s=2))
    assert isinstance(cli, SandboxFusionClient)
    r = cli.run(Job(code="print(input() * 2)", stdin="ab\n"))
    assert r.status == "ok" and r.exit_code == 0 and r.stdout == "abab\n"
    body = _Handler.requests[-1]
    assert body["path"] == "/run_code" and body["language"] == "python" and body["stdin"] == "ab\n"
    assert body["run_timeout"] == 2
    r = cli.run(Job(code="import time; time.sleep(5)", limits=Limits(wall_s=0.5)))
    assert r.status == "timeout"
    r = cli.run(Job(code="BREAK"))
    assert r.status == "error" and "executor pod lost" in r.error
    cli.close()


def test_code_reward_over_sandbox_fusion(server):
    src = CodeReward(backend="sandbox_fusion", url=server, timeout_s=2)
    ref = {"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]}
    samples = [
        Sample(prompt="", completion=fenced("def add(a, b):\n    return a + b"), reference=ref),
        Sample(prompt="", completion=fenced("def add(a, b):\n    return 3"), reference=ref),
        Sample(prompt="", completion=fenced("import os\ndef add(a, b):\n    return 0\nprint('PASS')\nos._exit(0)"),
               reference=ref),
        Sample(prompt="", completion=fenced("def add(a, b):\n    while True:\n        pass"), reference=ref),
        Sample(prompt="", completion=fenced("print(sum(map(int, input().split())))"),
               reference={"io": [{"input": "1 2", "output": "3"}, {"input": "2 2", "output": "5"}]}),
    ]
    res = src.score(samples)
    assert [r.status for r in res] == [Status.OK] * 5  # a time-limit overrun is a verdict (issue 9 §1)
    assert [r.score for r in res] == [1.0, 0.5, 0.0, 0.0, 0.5]
    assert res[3].info["verdict"] == "time_limit"
    assert res[0].info["sandbox"]["layers"] == ["remote:sandbox_fusion"]
    src.close()


def test_code_reward_over_test_program_api(server):
    src = CodeReward(backend="test_program", url=server + "/test_program")
    ref = {"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 5"]}
    res = src.score([
        Sample(prompt="", completion=fenced("def add(a, b):\n    return a + b"), reference=ref),
        Sample(prompt="", completion=fenced("print(int(input()) + 1)"),
               reference={"io": [{"input": "1", "output": "2"}, {"input": "5", "output": "6"}]}),
        Sample(prompt="", completion=fenced("def f(x):\n    return x"),
               reference={"test": "def check(c):\n    assert c(1) == 1", "entry_point": "f"}),
        Sample(prompt="", completion=fenced("def add(a, b)\n    return 1"), reference=ref),
    ])
    assert [r.score for r in res] == [0.5, 1.0, 1.0, 0.0]
    assert res[3].info.get("syntax_error")  # decided locally, never sent
    paths = [q["path"] for q in _Handler.requests[-3:]]
    assert sorted(paths) == ["/test_program", "/test_program", "/test_program_stdio"]
    src.close()


def test_remote_failures_are_errors(server):
    bad = CodeReward(backend="test_program", url=server)
    r = bad.score([Sample(prompt="", completion="```python\nBAD\n```", reference={"tests": ["assert 1"]})])[0]
    assert r.status is Status.ERROR and "500" in r.info["error"]
    down = CodeReward(backend="sandbox_fusion", url="http://127.0.0.1:9", timeout_s=1)
    r = down.score([Sample(prompt="", completion=fenced("x = 1"), reference={"tests": ["assert x == 1"]})])[0]
    assert r.status is Status.ERROR
    with pytest.raises(ValueError, match="url"):
        CodeReward(backend="sandbox_fusion").score([Sample(prompt="", completion="x=1", reference={"tests": ["assert 1"]})])
