import json
import subprocess
import sys

import pytest

from rewardkit.cli import main


def test_default_run_scores_embedded_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "component" in out and "correct" in out and "status: ok=" in out and "steps=[" in out
    rows = [json.loads(x) for x in (tmp_path / "rewardkit_out" / "scored.jsonl").read_text().splitlines()]
    assert len(rows) == 400
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["score"] == (1.0 if r["label"] else 0.0) for r in ok)
    assert any(r["status"] == "unparseable" and r["score"] is None for r in rows)
    # a wrong solution's step scores flag its first wrong step
    wrong = next(r for r in rows if r["first_wrong_step"] >= 0)
    assert wrong["steps"][wrong["first_wrong_step"]]["score"] == 0.0
    # running it again works (the default run replaces its own output)
    assert main(["score", "--no-progress", "--preview", "0"]) == 0


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: nope\n")
    assert main(["score", "-c", str(cfg), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "rewards[0].type" in err and "unknown reward source 'nope'" in err
    assert main(["score", "-i", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "input not found" in capsys.readouterr().err


def test_list_and_generate(tmp_path, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("numeric", "exact_match", "step_arithmetic", "regex"):
        assert name in out
    assert "rel_tol=1e-06" in out
    assert main(["generate", "-o", str(tmp_path / "d.jsonl"), "--problems", "3", "--group-size", "2"]) == 0
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 6


@pytest.mark.parametrize("flag", ["--help"])
def test_console_entry_point(flag):
    r = subprocess.run([sys.executable, "-m", "rewardkit.cli", flag], capture_output=True, text=True)
    assert r.returncode == 0 and "score" in r.stdout
