"""The estimator examples in docs/shaping.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "shaping.md"


def test_estimator_examples_run():
    if not DOC.exists():
        pytest.skip(f"{DOC} not found")
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Advantage estimators", 1)[1].split("### Using them", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 6
    ns: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["adv"].shape == (1, 4)
