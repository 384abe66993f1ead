"""Monte-Carlo step labels: Math-Shepherd hard/soft numbers (REWARD_METHODS §5), PAV progress (§6),
status rules, rollouts with a real (tiny) model, and resume of `rewardkit prm label` after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rewardkit.prm.label import LabelConfig, hard_soft_labels, outcome_counts, run_labelling  # noqa: E402
from rewardkit.prm.rollouts import RolloutOptions  # noqa: E402
from rewardkit.types import RewardResult, Status  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("outcomes,hard,soft", [([1, 1, 0, 1], 1, 0.75), ([0, 0, 0, 0], 0, 0), ([0, 1, 0, 0], 1, 0.25)])
def test_math_shepherd_hard_and_soft_estimates(outcomes, hard, soft):
    n, correct, invalid = outcome_counts([RewardResult.ok(float(x)) for x in outcomes])
    assert (n, invalid) == (4, 0)
    assert hard_soft_labels(correct, n) == (hard, soft)


def test_status_rules_wrong_answer_counts_infrastructure_does_not():
    res = [RewardResult.ok(1.0), RewardResult.fail(Status.UNPARSEABLE), RewardResult.fail(Status.ERROR),
           RewardResult.fail(Status.TIMEOUT), RewardResult.fail(Status.TIMEOUT, info={"fault": "infrastructure"}),
           RewardResult.fail(Status.NOT_APPLICABLE)]
    # the sample's failures (no answer, its own timeout) are wrong answers; infrastructure is masked
    assert outcome_counts(res) == (3, 1, 3)
    assert hard_soft_labels(0, 0) is None  # no valid rollout: no label, never 0


class TableGenerator:
    """k steps in the rollout prompt -> that many of the n continuations reach the gold answer."""

    def __init__(self, correct_by_k):
        self.correct_by_k, self.calls = correct_by_k, []

    def generate(self, prompts, n, seed):
        self.calls.append(len(prompts))
        out = []
        for p in prompts:
            k = p.count("STEP")
            c = self.correct_by_k[k]
            out.append(["A: 5"] * c + ["A: 4"] * (n - c - 1) + ["no answer"])
        return out


def _data(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_labels_q_and_progress_from_rollouts(tmp_path):
    rows = [{"id": "a", "prompt": "Q?", "steps": ["STEP one", "STEP two", "A: 5"], "reference": "5"}]
    cfg = LabelConfig(input=_data(tmp_path / "in.jsonl", rows), output_dir=str(tmp_path / "out"), n=4,
                      rollout=RolloutOptions(model="unused", prefixes_per_batch=2), progress=False)
    gen = TableGenerator({0: 2, 1: 3, 2: 1})
    out = run_labelling(cfg, generator=gen)
    rec = json.loads(out.read_text())
    # Q after 0, 1, 2 prefixes from rollouts; after all 3 steps = the solution's own outcome (correct)
    assert rec["q"] == [0.5, 0.75, 0.25, 1.0]
    assert rec["labels"] == [0.75, 0.25, 1.0]  # soft (Math-Shepherd SE)
    assert rec["progress"] == pytest.approx([0.25, -0.5, 0.75])  # PAV: Q_k - Q_{k-1}
    assert gen.calls == [2, 1]  # 3 rolled-out prefixes, two per generate call
    hard = run_labelling(cfg.model_copy(update={"label": "hard"}), generator=TableGenerator({}))  # all done: no calls
    assert json.loads(hard.read_text())["labels"] == [1.0, 1.0, 1.0]


def test_rollouts_with_a_tiny_causal_lm(tmp_path):
    model = save_tiny(tmp_path / "policy", "causal", seed=5)
    rows = [{"id": i, "prompt": "A baker starts with 12 loaves.", "completion": "12 + 7 = 19.\n\nA: 19",
             "reference": "19"} for i in range(3)]
    cfg = LabelConfig(input=_data(tmp_path / "in.jsonl", rows), output_dir=str(tmp_path / "out"), n=3,
                      rollout=RolloutOptions(model=str(model), max_new_tokens=6, prefixes_per_batch=4, device="cpu"),
                      progress=False)
    out = run_labelling(cfg)
    lines = [json.loads(x) for x in (tmp_path / "out" / "prefixes.jsonl").read_text().splitlines()]
    assert sorted((d["id"], d["k"]) for d in lines) == [(str(i), k) for i in range(3) for k in range(3)]
    assert all(d["n"] + d["n_invalid"] == (1 if d["k"] == 2 else 3) for d in lines)
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 3 and all(r["q"][-1] == 1.0 and len(r["labels"]) == 2 for r in recs)


@pytest.mark.slow  # two CLI processes (~25 s on a shared machine)
def test_label_job_resumes_after_kill(tmp_path):
    model = save_tiny(tmp_path / "policy", "causal", seed=6)
    rows = [{"id": f"r{i}", "prompt": f"Problem {i}: 12 + 7?", "steps": ["12 + 7 = 19.", "So 19.", "A: 19"],
             "reference": "19"} for i in range(16)]
    out = tmp_path / "out"
    cfg = {"input": _data(tmp_path / "in.jsonl", rows), "output_dir": str(out), "n": 2, "progress": False,
           "rollout": {"model": str(model), "max_new_tokens": 8, "prefixes_per_batch": 1, "device": "cpu",
                       "temperature": 1.0}}
    (tmp_path / "label.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "rewardkit.cli", "prm", "label", "--config", str(tmp_path / "label.yaml")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    prefixes = out / "prefixes.jsonl"
    full = len(rows)  # whole solutions are checked first, in one write
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if prefixes.exists() and len(prefixes.read_bytes().splitlines()) >= full + 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the job finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = prefixes.read_bytes()
    done_before = before[:before.rfind(b"\n") + 1].splitlines()
    assert full + 3 <= len(done_before) < 4 * len(rows)
    with open(prefixes, "ab") as f:  # as if the kill had torn the last line
        f.write(b'{"id": "r1", "k"')
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    after = prefixes.read_bytes().splitlines()
    assert after[:len(done_before)] == done_before  # finished work is kept, not redone
    keys = [(json.loads(x)["id"], json.loads(x)["k"]) for x in after]
    assert len(keys) == len(set(keys)) == 4 * len(rows)
    assert len((out / "stepwise.jsonl").read_text().splitlines()) == len(rows)
