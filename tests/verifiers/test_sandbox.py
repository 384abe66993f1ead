"""Local sandbox: isolation layers, limits, capture, pool behaviour (real processes, no mocks)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rewardkit.verifiers.sandbox import Job, Limits, LocalSandbox

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="Linux only")

LIM = Limits(wall_s=3.0, cpu_s=2.0, memory_mb=1024, max_procs=8)


@pytest.fixture(scope="module")
def sandbox():
    sb = LocalSandbox(workers=2, limits=LIM)
    sb.setup()
    yield sb
    sb.close()


def test_info_reports_layers(sandbox):
    info = sandbox.info()
    assert info["backend"] == "local" and info["warm"] is True
    assert {"rlimits", "scrubbed_env", "fresh_workdir", "process_group"} <= set(info["layers"])
    # every layer we try is either active or explained
    for layer in ("netns", "mountns", "setuid", "pids_cgroup"):
        assert layer in info["layers"] or any(k.startswith(layer) for k in info["unavailable"]), layer
    r = sandbox.run(Job(code="print(1)"))
    assert r.layers == info["layers"]


def test_stdin_stdout_exit_code(sandbox):
    r = sandbox.run(Job(code="import sys\nx = input()\nprint(x[::-1])\nprint('err', file=sys.stderr)\nsys.exit(3)",
                        stdin="abc\n"))
    assert r.status == "ok" and r.exit_code == 3 and not r.ok
    assert r.stdout == "cba\n" and r.stderr == "err\n"
    r = sandbox.run(Job(code="raise ValueError('boom')"))
    assert r.exit_code == 1 and "ValueError: boom" in r.stderr


def test_runs_as_main_with_fresh_workdir(sandbox):
    code = ("import os, sys\nopen('f.txt', 'w').write('x')\n"
            "print(__name__, os.getcwd(), sorted(os.listdir('.')), os.getuid())")
    a = sandbox.run(Job(code=code))
    b = sandbox.run(Job(code=code))
    name, cwd_a, files, uid = a.stdout.split(" ", 3)
    assert name == "__main__" and files == "['f.txt']"
    assert cwd_a != b.stdout.split(" ")[1]  # a new directory per run
    assert not os.path.exists(cwd_a)  # removed afterwards (also outside any private mount)
    if "setuid" in a.layers:
        assert int(uid) != 0


def test_scrubbed_environment(sandbox, monkeypatch):
    monkeypatch.setenv("RK_TEST_SECRET", "s3cr3t-value")
    r = sandbox.run(Job(code="import os; print(sorted(os.environ))"))
    assert eval(r.stdout) == sorted(["HOME", "LANG", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "TMPDIR"])


def test_output_truncated(sandbox):
    r = sandbox.run(Job(code="print('x' * 100000)", limits=Limits(max_output_bytes=1000, kill_output_bytes=10**6)))
    assert r.status == "ok" and len(r.stdout) == 1000 and r.stdout_truncated


def test_cpu_and_wall_timeouts(sandbox):
    r = sandbox.run(Job(code="while True: pass", limits=Limits(wall_s=5, cpu_s=1)))
    assert r.status == "timeout" and r.timeout_kind == "cpu"
    r = sandbox.run(Job(code="import time; time.sleep(30)", limits=Limits(wall_s=1, cpu_s=1)))
    assert r.status == "timeout" and r.timeout_kind == "wall" and r.wall_s < 3


def test_max_procs_bounds_forks(sandbox):
    code = ("import os, time\nn = 0\nfor _ in range(40):\n    try:\n        pid = os.fork()\n    except OSError:\n"
            "        break\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n    n += 1\nprint(n)")
    r = sandbox.run(Job(code=code, limits=Limits(wall_s=3, cpu_s=2, max_procs=6)))
    assert r.status == "ok"
    assert int(r.stdout) <= 5  # the run itself is one of the 6


def test_random_state_differs_between_runs(sandbox):
    outs = {sandbox.run(Job(code="import random; print(random.random())")).stdout for _ in range(3)}
    assert len(outs) == 3


def test_many_runs_in_order(sandbox):
    rs = sandbox.run_many([Job(code=f"print({i} * 2)") for i in range(40)])
    assert [r.stdout for r in rs] == [f"{i * 2}\n" for i in range(40)]


def test_worker_replaced_after_crash():
    with LocalSandbox(workers=1, limits=LIM) as sb:
        (pid,) = sb.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        r = sb.run(Job(code="print('alive')"))
        assert r.stdout == "alive\n"
        assert sb.worker_pids() != [pid]


def test_workers_recycled_after_max_runs():
    with LocalSandbox(workers=1, limits=LIM, max_runs_per_worker=2) as sb:
        first = sb.worker_pids()
        for _ in range(3):
            assert sb.run(Job(code="print(1)")).stdout == "1\n"
        assert sb.worker_pids() != first


def test_cold_mode_same_isolation():
    with LocalSandbox(workers=1, warm=False, limits=LIM) as sb:
        r = sb.run(Job(code="import os, sys; print(sys.flags.isolated, os.getuid() != 0)", stdin=""))
        assert r.status == "ok", r
        assert r.stdout.split()[0] == "1"
        if "setuid" in r.layers:
            assert r.stdout.split()[1] == "True"


def test_required_layer_missing_fails_closed():
    sb = LocalSandbox(workers=1, layers=(), require=("netns",))
    with pytest.raises(RuntimeError, match="netns"):
        sb.setup()
    sb.close()


def test_minimal_layers_still_kill_daemonised_children():
    """With no namespaces, no setuid and no cgroup, the worker (a child subreaper) kills its whole
    process tree after a run, including children that left the process group."""
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        print('bg', os.getpid(), flush=True)\n        time.sleep(30)\n    os._exit(0)\n"
            "time.sleep(0.2)\nprint('main done')")
    with LocalSandbox(workers=1, limits=LIM, layers=()) as sb:
        assert not {"setuid", "pids_cgroup", "netns"} & set(sb.info()["layers"])
        r = sb.run(Job(code=code))
        assert "main done" in r.stdout
        bg = int(r.stdout.split("bg ", 1)[1].split()[0])
        time.sleep(0.2)
        state = None
        if os.path.exists(f"/proc/{bg}/stat"):
            state = open(f"/proc/{bg}/stat").read().rsplit(")", 1)[1].split()[0]
        assert state in (None, "Z", "X"), f"background process {bg} still running"
        assert sb.run(Job(code="print(2)")).stdout == "2\n"


def test_interpreter_installed_under_tmp_still_runs(tmp_path):
    """A venv under /tmp (as in CI's fresh clones) must survive the private /tmp mount: the
    Python roots under a masked directory are bound back read-only, in warm and cold mode."""
    import site
    import subprocess
    import sys
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The new venv must see *this* interpreter's packages (rewardkit, pydantic, ...). When this
    # interpreter is itself a venv, --system-site-packages would expose the base interpreter's
    # packages instead, so add our site dirs (with their .pth files: editable installs) explicitly.
    ours = [*site.getsitepackages(), site.getusersitepackages()]
    venv_site = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert venv_site != sysconfig.get_path("purelib")
    with open(os.path.join(venv_site, "_outer_site.pth"), "w") as f:
        f.write("import site; " + "; ".join(f"site.addsitedir({d!r})" for d in ours) + "\n")
    script = (
        "from rewardkit.verifiers.sandbox import LocalSandbox, Job\n"
        "import sys\n"
        "for warm in (True, False):\n"
        "    with LocalSandbox(workers=1, warm=warm) as sb:\n"
        "        r = sb.run(Job(code='import sys; print(sys.prefix)', stdin=''))\n"
        "        print(warm, r.status, r.stdout.strip(), 'private_tmp' in r.layers)\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stdout
    for line in lines:
        warm, status, prefix, private = line.split()
        assert status == "ok" and prefix == str(venv) and private == "True", line
