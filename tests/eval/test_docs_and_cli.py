"""docs/eval.md's Python example runs as written; the eval command line is light and documented."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "eval.md"


def test_python_api_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    ns: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["preds"] == [1, -1, 0]
    assert ns["m"]["error_acc"] == 0.5 and ns["m"]["correct_acc"] == 1.0
    assert ns["m"]["f1"] == pytest.approx(2 / 3)
    assert ns["f"]["f1_pos"] == pytest.approx(2 / 3) and ns["f"]["f1_neg"] == pytest.approx(2 / 3)
    assert ns["corr"]["chars"]["spearman"] == pytest.approx(0.8)
    assert ns["drift"]["mean_shift"] == pytest.approx(2.2 / 3 - 0.2)
    assert ns["drift"]["ks_statistic"] == 1.0
    assert ns["d"]["spearman"] == 1.0 and ns["d"]["starc"] == pytest.approx(0.0238, abs=1e-3)


def test_every_subcommand_takes_the_contract_flags():
    from rewardkit.cli import build_parser

    for cmd in ("processbench", "pairwise", "bon", "audit", "calibration"):
        args = build_parser("eval").parse_args(["eval", cmd, "--config", "c.yaml", "--input", "i.jsonl",
                                                "--output-dir", "out"])
        assert (args.config, args.input, args.output_dir) == ("c.yaml", "i.jsonl", "out")
    with pytest.raises(SystemExit):
        build_parser("eval").parse_args(["eval", "audit", "--input", "i.jsonl", "--output-dir", "o"])


def test_eval_help_does_not_import_heavy_libraries():
    code = ("from rewardkit.cli import build_parser; build_parser('eval'); import rewardkit.eval; import sys; "
            "print(','.join(m for m in ('matplotlib', 'sklearn', 'scipy', 'torch', 'rich') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    r = subprocess.run([sys.executable, "-m", "rewardkit.cli", "eval", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "processbench" in r.stdout and "calibration" in r.stdout


def test_missing_input_is_a_message(tmp_path, capsys):
    from rewardkit.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - type: step_arithmetic\n")
    assert main(["eval", "bon", "-c", str(cfg), "-i", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    assert main(["eval", "bon", "-c", str(cfg), "-i", str(bad), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1" in err and "candidates" in err
