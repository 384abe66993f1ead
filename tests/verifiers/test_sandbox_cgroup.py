"""The sandbox's pids cgroups nest under the caller's cgroup, so an operator's limit bounds them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.verifiers.sandbox._isolation import CGROUP_PARENT_NAME, PidsCgroup

_CHILD = """
from rewardkit.verifiers.sandbox import Job, LocalSandbox
with LocalSandbox(workers=1) as sb:
    r = sb.run(Job(code="print(open('/proc/self/cgroup').read())", stdin=""))
    print("LAYERS", " ".join(r.layers))
    print(r.stdout)
"""


def _outer_cgroup() -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a cgroup")
    try:
        base = Path(PidsCgroup._base())
    except OSError as e:
        pytest.skip(f"no usable pids cgroup hierarchy: {e}")
    outer = base / f"rk-test-outer-{os.getpid()}"
    try:
        outer.mkdir()
    except OSError as e:
        pytest.skip(f"cannot create a cgroup under {base}: {e}")
    return outer


def _rmdir_tree(p: Path) -> None:
    for child in sorted((c for c in p.rglob("*") if c.is_dir()), key=lambda c: -len(c.parts)):
        try:
            child.rmdir()
        except OSError:
            pass
    try:
        p.rmdir()
    except OSError:
        pass


def test_sandbox_cgroup_nests_under_the_callers_cgroup():
    outer = _outer_cgroup()
    try:
        if (outer / "cgroup.subtree_control").exists():  # cgroup v2: delegate pids to children
            (outer / "cgroup.subtree_control").write_text("+pids")
        (outer / "pids.max").write_text("200")
        procs = str(outer / "cgroup.procs")

        def enter() -> None:  # runs in the child before exec: it starts inside `outer`
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120,
                             preexec_fn=enter)
        assert out.returncode == 0, out.stderr
        layers = next(ln for ln in out.stdout.splitlines() if ln.startswith("LAYERS")).split()[1:]
        if "pids_cgroup" not in layers:
            pytest.skip(f"the sandbox could not use a pids cgroup here: {out.stdout}")
        rel_outer = "/" + outer.name
        pids_lines = [ln for ln in out.stdout.splitlines() if ln.count(":") >= 2
                      and ("pids" in ln.split(":")[1].split(",") or ln.startswith("0::"))]
        assert pids_lines, out.stdout
        rel = pids_lines[0].split(":", 2)[2]
        # the run's cgroup is <caller's cgroup>/rewardkit-sandbox/w-<worker pid>, not at the root
        assert f"{rel_outer}/{CGROUP_PARENT_NAME}/w-" in rel, rel
    finally:
        _rmdir_tree(outer)
