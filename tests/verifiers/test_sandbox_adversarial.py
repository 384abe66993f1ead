"""Adversarial suite: each attack is contained, the pool stays healthy, nothing escapes.

After every attack we check: the result is a non-ok status or a failing run, no process of the
run is left (the worker's pids cgroup is empty, no process runs under the worker's sandbox uid),
no file appeared outside the run's working directory, the same workers are still serving, and
the next run works.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from rewardkit.verifiers.sandbox import Job, Limits, LocalSandbox
from rewardkit.verifiers.sandbox._isolation import CGROUP_PARENT_NAME, PidsCgroup

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="Linux only")

LIM = Limits(wall_s=2.0, cpu_s=2.0, memory_mb=1024, max_procs=8, max_output_bytes=4096)
UID_BASE = 2_000_000_000


@pytest.fixture(scope="module")
def sb():
    s = LocalSandbox(workers=2, limits=LIM, uid_base=UID_BASE)
    s.setup()
    yield s
    s.close()


def _procs_of_uid(uid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            out.append(int(d))
                        break
        except OSError:
            pass
    return out


def _cgroup_procs(worker_pid: int) -> list[int] | None:
    try:  # the sandbox nests its cgroups under ours (the workers inherit our cgroup)
        bases = [PidsCgroup._base()]
    except OSError:
        bases = []
    for base in bases:
        p = Path(base) / CGROUP_PARENT_NAME / f"w-{worker_pid}" / "cgroup.procs"
        if p.exists():
            return [int(x) for x in p.read_text().split()]
    return None


def _assert_contained(sb: LocalSandbox, workers_before: list[int], canaries: list[str] = ()) -> None:
    assert sb.worker_pids() == workers_before, "a worker had to be replaced"
    for wpid in workers_before:
        assert _procs_of_uid(UID_BASE + wpid) == [], "a process of the run outlived it"
        cg = _cgroup_procs(wpid)
        assert cg in (None, []), f"cgroup not empty: {cg}"
    for c in canaries:
        assert not os.path.exists(c), f"{c} was written outside the sandbox"
    r = sb.run(Job(code="print('next run ok')"))
    assert r.status == "ok" and r.stdout == "next run ok\n"


def test_fork_bomb(sb):
    before = sb.worker_pids()
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    t0 = time.monotonic()
    r = sb.run(Job(code=code))
    assert r.status == "timeout" and time.monotonic() - t0 < LIM.wall_s + 3
    assert {"setuid", "pids_cgroup"} & set(r.layers), "no fork containment layer active"
    _assert_contained(sb, before)


def test_allocate_20gb(sb):
    before = sb.worker_pids()
    r = sb.run(Job(code="x = bytearray(20 * 1024**3)\nprint('allocated')"))
    assert r.status == "ok" and r.exit_code != 0 and "MemoryError" in r.stderr and "allocated" not in r.stdout
    r = sb.run(Job(code="x = [0] * (10**10)"))
    assert r.exit_code != 0
    _assert_contained(sb, before)


def test_infinite_loop(sb):
    before = sb.worker_pids()
    r = sb.run(Job(code="while True:\n    pass"))
    assert r.status == "timeout"
    _assert_contained(sb, before)


def test_deep_recursion(sb):
    before = sb.worker_pids()
    r = sb.run(Job(code="def f(n):\n    return f(n + 1)\nf(0)"))
    assert r.exit_code == 1 and "RecursionError" in r.stderr
    # raising the limit turns it into a C stack overflow: the run dies, the worker does not
    r = sb.run(Job(code="import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)"))
    assert r.status in ("ok", "timeout") and not r.ok
    _assert_contained(sb, before)


def test_huge_output(sb):
    before = sb.worker_pids()
    r = sb.run(Job(code="while True:\n    print('x' * 10000)"))
    assert r.status == "output_limit" and len(r.stdout) <= LIM.max_output_bytes and r.stdout_truncated
    _assert_contained(sb, before)


def test_write_outside_workdir(sb):
    before = sb.worker_pids()
    tag = uuid.uuid4().hex
    canaries = [f"/tmp/rk-escape-{tag}", f"/var/tmp/rk-escape-{tag}", f"/dev/shm/rk-escape-{tag}",
                str(Path(__file__).resolve().parent / f"rk-escape-{tag}"), f"/rk-escape-{tag}"]
    code = (f"import os\nok = []\nfor p in {canaries!r} + ['../rk-escape-{tag}']:\n    try:\n"
            "        open(p, 'w').write('pwned')\n        ok.append(p)\n    except OSError as e:\n        pass\n"
            "print(ok)")
    r = sb.run(Job(code=code))
    assert r.status == "ok"
    _assert_contained(sb, before, canaries)
    # writes that succeeded went to private tmpfs mounts that are wiped after the run
    r2 = sb.run(Job(code=f"import os\nprint([os.path.exists(p) for p in {canaries[:3]!r}])"))
    assert r2.stdout.strip() == "[False, False, False]"


def test_read_parent_environment(sb, monkeypatch):
    monkeypatch.setenv("RK_ADV_SECRET", "tok-" + uuid.uuid4().hex)
    secret = os.environ["RK_ADV_SECRET"]
    before = sb.worker_pids()
    code = ("import os\nprint(dict(os.environ))\nfor pid in ['1', str(os.getppid())] + os.listdir('/proc'):\n"
            "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n    except Exception as e:\n"
            "        print('denied', pid, type(e).__name__)\n"
            "for p in ['/root/.bash_history', '/root/.ssh/id_rsa', '/proc/1/cmdline']:\n    try:\n"
            "        print(open(p, 'rb').read()[:100])\n    except Exception as e:\n        print('denied', p)")
    r = sb.run(Job(code=code, limits=Limits(wall_s=2, cpu_s=2, max_output_bytes=1 << 20)))
    assert r.status == "ok"
    assert secret not in r.stdout and secret not in r.stderr
    _assert_contained(sb, before)


def test_open_socket(sb):
    before = sb.worker_pids()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    accepted = []

    def accept():
        srv.settimeout(3)
        try:
            accepted.append(srv.accept())
        except OSError:
            pass

    t = threading.Thread(target=accept)
    t.start()
    code = (f"import socket\nfor addr in [('127.0.0.1', {port}), ('8.8.8.8', 53), ('1.1.1.1', 443)]:\n    try:\n"
            "        socket.create_connection(addr, timeout=1)\n        print('connected', addr)\n"
            "    except OSError as e:\n        print('blocked', addr, e)")
    r = sb.run(Job(code=code))
    t.join()
    srv.close()
    assert "connected" not in r.stdout and r.stdout.count("blocked") == 3
    if "netns" in r.layers:
        assert accepted == []
    _assert_contained(sb, before)


def test_kill_the_parent(sb):
    before = sb.worker_pids()
    code = ("import os, signal\nfor target in [os.getppid(), 1, -1] + [int(p) for p in os.listdir('/proc') "
            "if p.isdigit()]:\n    if target == os.getpid():\n        continue\n    try:\n"
            "        os.kill(target, signal.SIGKILL)\n        print('killed', target)\n    except OSError:\n"
            "        pass\nprint('done')")
    r = sb.run(Job(code=code))
    assert r.status == "ok"
    assert f"killed {os.getpid()}" not in r.stdout
    assert all(f"killed {w}" not in r.stdout for w in before)
    _assert_contained(sb, before)


def test_background_child_after_run_ends(sb):
    before = sb.worker_pids()
    code = ("import os, sys, time\nwd = os.getcwd()\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        print('bg', os.getpid(), wd, flush=True)\n        time.sleep(1.0)\n"
            "        open(os.path.join(wd, 'late.txt'), 'w').write('late')\n        print('late write done', flush=True)\n"
            "        os._exit(0)\n    os._exit(0)\ntime.sleep(0.3)\nprint('main done')")
    r = sb.run(Job(code=code))
    assert r.status == "ok" and "main done" in r.stdout
    bg_pid, wd = r.stdout.split("bg ", 1)[1].split()[:2]
    time.sleep(1.5)  # past the moment the background child would have written
    assert all(int(bg_pid) not in _procs_of_uid(UID_BASE + w) for w in before)
    assert not os.path.exists(wd) and not os.path.exists(os.path.join(wd, "late.txt"))
    assert "late write done" not in r.stdout
    _assert_contained(sb, before)


def test_early_exit_cannot_fake_success(sb):
    from rewardkit.types import Sample
    from rewardkit.verifiers.code import CodeReward

    before = sb.worker_pids()
    src = CodeReward(timeout_s=2, workers=1)
    ref = {"tests": ["assert f(1) == 2", "assert f(2) == 3"]}
    fakes = ["import os\ndef f(x):\n    return 0\nos._exit(0)",
             "import sys\ndef f(x):\n    return 0\nsys.exit(0)",
             "import os\ndef f(x):\n    os._exit(0)"]
    res = src.score([Sample(prompt="", completion=f"```python\n{c}\n```", reference=ref) for c in fakes])
    src.close()
    for r in res:
        assert r.is_ok and r.score == 0.0 and set(r.info["tests"]) <= {"not_run", "error:SystemExit"}
    _assert_contained(sb, before)
