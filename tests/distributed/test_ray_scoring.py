"""`rewardkit score --backend ray` on a local Ray instance: the same rows as the local backend."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'rewardkit[ray]')")

from rewardkit.data.synthetic import generate  # noqa: E402
from rewardkit.scoring import score_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"rewards": [{"type": "numeric", "name": "correct", "fill": {"unparseable": 0.0}},
                      {"type": "step_arithmetic", "weight": 0.0}],
          "shaping": [{"type": "group_normalize"}]}


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    recs = generate(n_problems=500, group_size=4)  # 2,000 rows
    random.Random(3).shuffle(recs)  # groups scattered: the driver must still shape whole groups
    p = tmp_path_factory.mktemp("ray") / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return p


def test_ray_backend_writes_the_local_backends_rows(data, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    local = score_dataset(CONFIG, data, tmp_path / "local.jsonl", batch_size=64, progress=False)
    ray_sum = score_dataset(CONFIG, data, tmp_path / "ray.jsonl", batch_size=64, progress=False, backend="ray",
                            ray={"actors": 2, "local_num_cpus": 2})
    assert _rows(tmp_path / "ray.jsonl") == _rows(tmp_path / "local.jsonl")
    assert ray_sum.rows == local.rows == 2000 and ray_sum.statuses == local.statuses and ray_sum.workers == 2


@pytest.mark.slow
def test_cli_backend_ray_resumes_a_killed_run(data, tmp_path):
    """Kill the driver mid-run, resume with --backend ray: every row exactly once, same as local."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled"}
    cfg = tmp_path / "p.json"
    cfg.write_text(json.dumps({"rewards": [{"type": "tests.distributed._slow:SlowLength"}]}))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "rewardkit.cli", "score", "-c", str(cfg), "-i", str(data), "-o", str(out),
           "--backend", "ray", "--ray-actors", "2", "--batch-size", "50", "--no-progress", "--preview", "0",
           "--limit", "600"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    partial = Path(str(out) + ".partial")
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not partial.exists() or partial.stat().st_size < 2000):
        time.sleep(0.2)
    os.killpg(proc.pid, 9)
    proc.wait()
    assert not out.exists() and partial.exists()
    done = subprocess.run([*cmd, "--resume"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == 600 and len(set(ids)) == 600
    assert all(r["score"] == float(len(r["completion"])) for r in rows)


def test_a_uri_input_is_read_through_ray_data(data, tmp_path, monkeypatch):
    """``file://`` stands in for s3:// and friends: the same rows as the local reader, big ints exact."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    src = tmp_path / "big.jsonl"
    lines = data.read_text().splitlines()[:40]
    lines.append(json.dumps({"id": "big", "prompt": "p", "completion": "The answer is 1180591620717411303425",
                             "reference": {"answer": 1180591620717411303425}}))
    src.write_text("\n".join(lines) + "\n")
    local = score_dataset(CONFIG, src, tmp_path / "local.jsonl", progress=False)
    via_ray = score_dataset(CONFIG, f"file://{src}", tmp_path / "ray.jsonl", progress=False, backend="ray",
                            ray={"actors": 1, "local_num_cpus": 2})
    assert _rows(tmp_path / "ray.jsonl") == _rows(tmp_path / "local.jsonl")
    assert via_ray.rows == local.rows == 41
    big = [r for r in _rows(tmp_path / "ray.jsonl") if r["id"] == "big"][0]
    assert big["reference"]["answer"] == 1180591620717411303425 and big["components"]["correct"] == 1.0
