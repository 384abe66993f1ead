"""docs/rules.md: every YAML example builds a pipeline, and every rule source/transform is documented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rewardkit.pipeline import Pipeline

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
RULES = ["tags", "regex", "single_answer", "json_schema", "code_block", "multiple_choice", "tool_call", "ifeval",
         "repetition", "language_consistency", "laser", "cosine_length", "dapo_overlong"]


def test_yaml_examples_build():
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        Pipeline(yaml.safe_load(block))


def test_every_rule_is_in_the_tables():
    text = DOC.read_text(encoding="utf-8")
    missing = [r for r in RULES if f"| `{r}`" not in text and f"`{r}`, " not in text]
    assert not missing, missing
