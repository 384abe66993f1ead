"""The command line explains itself: help and defaults for every option, config keys in
``rewardkit list``, "did you mean" for near-miss keys, the file named in config errors, and a
clear message (non-zero exit) for ``rewardkit serve`` without the ``serve`` extra."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.cli import build_parser, main
from rewardkit.config import reward_entry_keys, top_level_keys

REPO = Path(__file__).resolve().parents[1]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}
    # subcommands whose flags are only added when they are the command (serve) are built that way
    for command in (None, *build_parser(None)._subparsers._group_actions[0].choices):  # type: ignore[union-attr]
        parser = build_parser(command)
        todo = [("rewardkit", parser)]
        while todo:
            name, p = todo.pop()
            for action in p._actions:
                if isinstance(action, argparse._SubParsersAction):
                    todo.extend((f"{name} {k}", sub) for k, sub in action.choices.items())
            if name not in out or len(p._actions) > len(out[name]._actions):
                out[name] = p
    return out


def _options() -> list[tuple[str, argparse.Action]]:
    return [(f"{name} {'/'.join(a.option_strings) or a.dest}", a) for name, p in _subcommands().items()
            for a in p._actions
            if not isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction))]


def test_the_walk_finds_every_subcommand_and_their_options():
    names = set(_subcommands())
    assert {"rewardkit score", "rewardkit list", "rewardkit generate", "rewardkit serve"} <= names
    opts = {n for n, _ in _options()}
    assert "rewardkit score --batch-size" in opts and "rewardkit serve --header-timeout" in opts


@pytest.mark.parametrize("name,action", _options(), ids=[n for n, _ in _options()])
def test_every_option_has_help_that_shows_its_default(name, action):
    assert action.help and action.help != argparse.SUPPRESS, f"{name}: no help text"
    if not action.option_strings:  # a positional argument is always given: it has no default
        return
    text = action.help % {"default": action.default, "prog": "rewardkit", "choices": action.choices}
    assert "default" in text or "required" in text, f"{name}: help does not say its default: {text!r}"
    if action.default not in (None, False, True, argparse.SUPPRESS, [], ()) and "%(default)" not in action.help:
        assert str(action.default) in text, f"{name}: help states a default other than {action.default!r}"


def test_score_help_lists_column_flags_with_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--completion-col COMPLETION_COL input column holding the completion to score (default: completion)" in out
    assert "(default: 256)" in out


def test_list_shows_entry_and_top_level_keys(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert set(reward_entry_keys()) == {"type", "name", "weight", "fill", "process_weight", "gated_by", "gate_min"}
    for key in (*reward_entry_keys(), *top_level_keys()):
        assert f"\n  {key} " in out, key
    assert "steps_from" in out and "top-level keys" in out


@pytest.mark.parametrize("yaml_text,where,suggestion", [
    ("rewards:\n  - type: numeric\n    wieght: 1\n", "rewards[0].wieght", "'weight'"),
    ("rewards:\n  - type: numeric\n    proces_weight: 1\n", "rewards[0].proces_weight", "'process_weight'"),
    ("rewards:\n  - type: numeric\n    gatd_by: x\n", "rewards[0].gatd_by", "'gated_by'"),
    ("rewards:\n  - type: numeric\n    rel_tl: 0.1\n", "rewards[0].rel_tl", "'rel_tol'"),
    ("rewards:\n  - type: numeric\nshapng: []\n", "shapng", "'shaping'"),
    ("rewards:\n  - type: numeric\nstep_from: numeric\n", "step_from", "'steps_from'"),
    ("rewards:\n  - type: numeric\ngate: {component: numeric, mn: 1}\n", "gate.mn", "'min'"),
])
def test_near_miss_keys_get_did_you_mean_and_the_file_name(tmp_path, capsys, yaml_text, where, suggestion):
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(yaml_text)
    assert main(["score", "-c", str(cfg), "-o", str(tmp_path / "o.jsonl"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and f"{where}: unknown key" in err and f"did you mean {suggestion}?" in err, err


def test_unknown_source_error_names_the_file(tmp_path):
    from rewardkit.config import ConfigError
    from rewardkit.pipeline import Pipeline

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("rewards:\n  - type: nope\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: rewards\[0\]\.type"):
        Pipeline(cfg)


@pytest.mark.parametrize("missing,args", [
    ("fastapi", ["serve"]),
    ("fastapi", ["serve", "--config", "pipe.yaml", "--port", "1"]),
    ("uvicorn", ["serve", "--config", "pipe.yaml"]),
])
def test_serve_without_the_extra_names_it_and_fails(tmp_path, missing, args):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / f"{missing}.py").write_text(f"raise ImportError('No module named {missing} (simulated)')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-m", "rewardkit.cli", *args], capture_output=True, text=True,
                         env=env, timeout=60, cwd=tmp_path)
    assert out.returncode != 0
    assert "rewardkit[serve]" in out.stderr and "unrecognized" not in out.stderr
    assert "Traceback" not in out.stderr
