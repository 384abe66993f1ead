"""Issue 9 §1: a time-limit or output-limit overrun is a verdict, as in programming judges.

The tests that did not pass count as failed: score = pass rate, status ok, and ``info["verdict"]``
says ``time_limit`` / ``output_limit``. ``timeout`` stays for when the verifier could not decide.
Before the fix a looping solution got status ``timeout`` and no score -- which a trainer adapter
then masked, so looping forever escaped the penalty a wrong answer gets.
"""

from __future__ import annotations

import os

import pytest

from rewardkit.status_policy import StatusPolicy
from rewardkit.types import Sample, Status
from rewardkit.verifiers.code import CodeReward

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="Linux only")

FOUR = {"tests": ["assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3", "assert f(4) == 4"]}


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.fixture(scope="module")
def judge():
    src = CodeReward(timeout_s=1, workers=2)
    yield src
    src.close()


def test_sleeping_at_import_scores_zero(judge):
    r = judge.score([Sample(prompt="", completion=fenced("import time\ntime.sleep(30)\ndef f(x):\n    return x"),
                            reference=FOUR)])[0]
    assert r.status is Status.OK and r.score == 0.0
    assert r.info["verdict"] == "time_limit"
    assert StatusPolicy().resolve(r) == (0.0, True)


def test_three_of_four_then_a_loop_scores_three_quarters(judge):
    code = "def f(x):\n    while x == 4:\n        pass\n    return x"
    r = judge.score([Sample(prompt="", completion=fenced(code), reference=FOUR)])[0]
    assert r.status is Status.OK and r.score == pytest.approx(0.75)
    assert r.info["tests"] == ["pass", "pass", "pass", "timeout"]
    assert r.info["verdict"] == "time_limit" and r.components["all_pass"] == 0.0


def test_io_time_limit_is_a_verdict(judge):
    io = {"io": [{"input": "1\n", "output": "1"}, {"input": "2\n", "output": "2"}]}
    code = "x = int(input())\nwhile x == 2:\n    pass\nprint(x)"
    r = judge.score([Sample(prompt="", completion=fenced(code), reference=io)])[0]
    assert r.status is Status.OK and r.score == pytest.approx(0.5)
    assert r.info["verdict"] == "time_limit"


def test_output_limit_is_a_verdict(judge):
    code = "import sys\ndef f(x):\n    if x == 2:\n        while True:\n            sys.stdout.write('x' * 65536)\n    return x"
    r = judge.score([Sample(prompt="", completion=fenced(code), reference=FOUR)])[0]
    assert r.status is Status.OK and r.score == pytest.approx(0.75)  # tests 3 and 4 re-run
    assert r.info["tests"] == ["pass", "output_limit", "pass", "pass"]
    assert r.info["verdict"] == "output_limit"


def test_sandbox_failure_is_the_infrastructures_fault(judge):
    from rewardkit.verifiers.sandbox.spec import RunResult

    r = judge._score_harness("asserts", {"tests": ["assert 1"]}, RunResult(status="error", error="pool gone"), "n")
    assert r.status is Status.ERROR and r.info["fault"] == "infrastructure"
    assert StatusPolicy().resolve(r) == (0.0, False)


def test_each_assert_test_gets_its_own_verdict_like_a_judge(judge):
    """A loop in test 2 of 4 does not sink tests 3 and 4: they run again in a fresh run."""
    code = "def f(x):\n    while x == 2:\n        pass\n    return x"
    r = judge.score([Sample(prompt="", completion=fenced(code), reference=FOUR)])[0]
    assert r.status is Status.OK and r.score == pytest.approx(0.75)
    assert r.info["tests"] == ["pass", "timeout", "pass", "pass"] and r.info["reruns"] == 1
    capped = CodeReward(timeout_s=1, workers=1, reruns_after_limit=0)
    try:
        r = capped.score([Sample(prompt="", completion=fenced(code), reference=FOUR)])[0]
    finally:
        capped.close()
    assert r.score == pytest.approx(0.25) and r.info["tests"] == ["pass", "timeout", "not_run", "not_run"]


def test_a_solution_that_loads_too_slowly_is_not_rerun(judge):
    r = judge.score([Sample(prompt="", completion=fenced("while True:\n    pass\ndef f(x):\n    return x"),
                            reference=FOUR)])[0]
    assert r.score == 0.0 and "reruns" not in r.info
    assert r.info["tests"] == ["timeout", "not_run", "not_run", "not_run"]
