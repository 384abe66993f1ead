"""Code reward: extraction, reference formats, status mapping, anti-faking, real problem sets."""

from __future__ import annotations

import os

import pytest

from rewardkit.registry import build_source
from rewardkit.types import Sample, Status
from rewardkit.verifiers.code import CodeReward, compare_output, extract_code, parse_reference
from tests.conftest import read_jsonl

needs_linux = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="Linux only")

ADD_TESTS = {"tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]}


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```\nDone."


@pytest.fixture(scope="module")
def code_reward():
    src = CodeReward(timeout_s=3, workers=2)
    yield src
    src.close()


def score(src, completion, reference):
    return src.score([Sample(prompt="", completion=completion, reference=reference)])[0]


# -- pure helpers ------------------------------------------------------------------------------


def test_extract_code_last_python_block():
    text = "```python\na = 1\n```\ntext\n```cpp\nint x;\n```\n```py\nb = 2\n```"
    assert extract_code(text) == ("b = 2\n", True)
    assert extract_code("x = 1") == ("x = 1", False)
    assert extract_code("```\nc = 3\n```") == ("c = 3\n", True)
    assert extract_code("intro\n```python\nd = 4\n") == ("d = 4\n", True)  # unclosed final fence


def test_compare_output_modes():
    assert compare_output("1 2\n3\n\n", "1 2\n3", "lines")
    assert compare_output("1 2 \r\n3", "1 2\n3\n", "lines")
    assert not compare_output("1  2\n3", "1 2\n3", "lines")
    assert compare_output("1  2\n3", "1 2 3", "tokens")
    assert not compare_output("out\n", "out", "exact")


def test_parse_reference_formats():
    assert parse_reference(ADD_TESTS)[0] == "asserts"
    assert parse_reference({"test": "def check(c): pass", "entry_point": "f"})[0] == "check"
    assert parse_reference({"io": [{"input": "1", "output": "2"}]})[0] == "io"
    assert parse_reference({"tests": [{"input": "1", "output": "2"}]})[0] == "io"
    assert parse_reference({"answer": "4"}) is None and parse_reference("4") is None
    with pytest.raises(ValueError):
        parse_reference({"tests": "assert x"})
    with pytest.raises(ValueError):
        parse_reference({"test": "def check(c): pass"})


def test_registered_and_reference_errors():
    src = build_source("code", timeout_s=2)
    assert isinstance(src, CodeReward)
    # statuses decided before anything runs need no sandbox
    r = src.score([Sample(prompt="", completion="x", reference={"answer": 1}),
                   Sample(prompt="", completion="x", reference={"tests": []}),
                   Sample(prompt="", completion="   ", reference=ADD_TESTS),
                   Sample(prompt="", completion="I think the answer is to add them.", reference=ADD_TESTS)])
    assert [x.status for x in r] == [Status.NOT_APPLICABLE, Status.ERROR, Status.UNPARSEABLE, Status.UNPARSEABLE]
    assert src.score([]) == []
    src.close()


# -- running ---------------------------------------------------------------------------------


@needs_linux
def test_pass_rate_and_outcomes(code_reward):
    r = score(code_reward, fenced("def add(a, b):\n    return a + b"), ADD_TESTS)
    assert r.status is Status.OK and r.score == 1.0 and r.info["tests"] == ["pass"] * 3
    r = score(code_reward, fenced("def add(a, b):\n    return a * b"), ADD_TESTS)
    assert r.score == pytest.approx(1 / 3) and r.info["tests"] == ["fail", "pass", "fail"]
    assert r.components == {"pass_rate": pytest.approx(1 / 3), "all_pass": 0.0, "compiles": 1.0}
    r = score(code_reward, fenced("def add(a, b):\n    return a / 0"), ADD_TESTS)
    assert r.score == 0.0 and r.info["tests"] == ["error:ZeroDivisionError"] * 3


@needs_linux
def test_syntax_error_vs_unparseable(code_reward):
    r = score(code_reward, fenced("def add(a, b)\n    return a + b"), ADD_TESTS)
    assert r.status is Status.OK and r.score == 0.0 and "SyntaxError" in r.info["syntax_error"]
    assert r.components["compiles"] == 0.0
    r = score(code_reward, "def add(a, b) return a + b", ADD_TESTS)  # no fence, not Python
    assert r.status is Status.UNPARSEABLE


@needs_linux
def test_timeout_status_and_option(code_reward):
    slow = fenced("def add(a, b):\n    while True:\n        pass")
    r = score(code_reward, slow, ADD_TESTS)  # a time-limit overrun is a verdict (issue 9 §1)
    assert r.status is Status.OK and r.score == 0.0 and r.info["tests"][0] == "timeout"
    assert r.info["verdict"] == "time_limit"
    old_style = CodeReward(timeout_s=1, workers=1, timeout_status=True)
    r = score(old_style, fenced("import time\ndef add(a, b):\n    if a == 2:\n        time.sleep(9)\n    return a + b"),
              ADD_TESTS)
    old_style.close()
    assert r.status is Status.TIMEOUT and r.info["tests"] == ["pass", "timeout", "pass"]  # test 3 re-run
    assert r.score is None and r.info["fault"] == "sample"


@needs_linux
def test_humaneval_check_style_counts_each_assert(code_reward):
    ref = {"prompt": "def inc(x):\n    \"\"\"x + 1\"\"\"\n",
           "test": "def check(candidate):\n    assert candidate(1) == 2\n    for i in range(3):\n"
                   "        assert candidate(i) == i + 1\n    assert candidate(-1) == 0\n",
           "entry_point": "inc"}
    r = score(code_reward, "    return x + 1\n", ref)  # body continuing the prompt
    assert r.score == 1.0 and r.info["tests"] == ["pass"] * 3
    r = score(code_reward, fenced("def inc(x):\n    return x + 1 if x > 0 else 5"), ref)
    assert r.info["tests"] == ["pass", "fail", "fail"]


@needs_linux
def test_io_cases_compared_by_parent(code_reward):
    ref = {"io": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"},
                  {"input": "0 0\n", "output": "1\n"}]}
    r = score(code_reward, fenced("a, b = map(int, input().split())\nprint(a + b)"), ref)
    assert r.info["tests"] == ["pass", "pass", "fail"] and r.score == pytest.approx(2 / 3)
    r = score(code_reward, fenced("print('3')\nraise SystemExit(1)"), ref)
    assert r.info["tests"] == ["runtime_error"] * 3
    # printing the expected answers is the only way to pass: a fake "success" line is not
    r = score(code_reward, fenced("print('All tests passed')"), ref)
    assert r.score == 0.0


FAKES = {
    "sys.exit(0) at import": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)",
    "os._exit(0) at import": "import os\ndef add(a, b):\n    return 0\nos._exit(0)",
    "os._exit(0) in the call": "import os\ndef add(a, b):\n    os._exit(0)",
    "sys.exit(0) in the call": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "redefine AssertionError": "import builtins\nclass AssertionError(Exception):\n    pass\n"
                               "builtins.AssertionError = AssertionError\ndef add(a, b):\n    return 0",
    "patch builtins": "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 3\n"
                      "builtins.isinstance = lambda *a: True\ndef add(a, b):\n    return 0",
    "atexit rewrites status": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    return 0",
    "print fake success": "print('3 passed, 0 failed')\nprint('OK')\ndef add(a, b):\n    return 0",
    "__eq__ always True": "class T:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
                          "    def __bool__(self):\n        return True\ndef add(a, b):\n    return T()",
    "int subclass": "class I(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return I(7)",
    "forge report lines": "import os\nfor fd in range(3, 100):\n    try:\n        os.write(fd, b'0 A 0 pass\\n0 R 0 done\\n')\n"
                          "    except OSError:\n        pass\ndef add(a, b):\n    return 0",
    "patch os.write": "import os\n_w = os.write\nos.write = lambda fd, b: _w(fd, b.replace(b'fail', b'pass'))\n"
                      "def add(a, b):\n    return 0",
    "patch math": "import math\nmath.isclose = lambda *a, **k: True\ndef add(a, b):\n    return 0",
}


@needs_linux
def test_cannot_fake_success(code_reward):
    ref = {"tests": ["assert add(1, 2) == 3", "assert abs(add(2, 2) - 4) < 1e-9", "import math\nassert math.isclose(add(1, 1), 2)"]}
    res = code_reward.score([Sample(prompt="", completion=fenced(c), reference=ref) for c in FAKES.values()])
    for name, r in zip(FAKES, res, strict=True):
        assert r.status is Status.OK, name
        assert r.score == 0.0, f"{name}: {r.info['tests']}"
    honest = score(code_reward, fenced("def add(a, b):\n    return a + b"), ref)
    assert honest.score == 1.0


@needs_linux
def test_shared_code_cases(code_reward, shared_data):
    """Canonical solutions pass, mismatched ones fail (../shared/data/code_cases.jsonl)."""
    path = shared_data / "code_cases.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    rows = read_jsonl(path)
    samples = []
    for r in rows:
        if r["format"] == "humaneval_check":
            ref = {"test": r["test"], "entry_point": r["entry_point"], "prompt": r.get("prompt") or ""}
            samples.append(Sample(prompt=r.get("prompt") or "", completion=r["completion"], reference=ref))
        elif r["format"] == "function_assert":
            ref = {"tests": r["tests"], "test_setup_code": r.get("test_setup_code") or ""}
            samples.append(Sample(prompt=r["prompt"], completion=fenced(r["solution"]), reference=ref))
        else:
            samples.append(Sample(prompt="", completion=fenced(r["solution"]), reference={"io": r["tests"]}))
    res = code_reward.score(samples)
    wrong = [(r["id"], x.status.value, x.score, x.info.get("tests")) for r, x in zip(rows, res, strict=True)
             if (x.is_ok and x.score == 1.0) != r["expected_pass"]]
    assert wrong == []
    by_id = {r["id"]: x for r, x in zip(rows, res, strict=True)}
    assert by_id["verl:prime_code:1"].score == pytest.approx(10 / 11)  # one corrupted expected output
    assert by_id["verl:sandbox_fusion:CODE_TIMEOUT"].info["verdict"] == "time_limit"
    assert by_id["verl:sandbox_fusion:CODE_RUNTIME_ERROR"].info["tests"] == ["runtime_error"]
    assert by_id["humaneval_example:1"].info["verdict"] == "time_limit"  # sleep(10)
    assert by_id["humaneval_example:1"].score == 0.0


@needs_linux
def test_usable_from_a_pipeline_config():
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline({"rewards": [{"type": "code", "name": "unit_tests", "weight": 1.0, "timeout_s": 3, "workers": 1},
                                 {"type": "sql", "weight": 1.0}]})
    res = pipe.score([
        Sample(prompt="", completion=fenced("def add(a, b):\n    return a + b"), reference=ADD_TESTS),
        Sample(prompt="", completion="SELECT 1", reference={"sql": "SELECT 1", "schema": "CREATE TABLE t(a)"}),
    ])
    assert [r.score for r in res] == [1.0, 1.0]
    assert res[0].components["unit_tests"] == 1.0 and res[1].components["sql"] == 1.0
    pipe.close()
