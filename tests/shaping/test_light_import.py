"""`import rewardkit.shaping` and its numpy modules/transforms must not pull in torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("stmt", [
    "import rewardkit.shaping",
    "import rewardkit.shaping as s; s.par_reward; s.gdpo; s.group_normalize; s.clip_rewards",
    "import rewardkit.shaping.transforms",
    "from rewardkit.registry import get_transform_class as g; [g(n) for n in ('par', 'gate', 'multi_reward')]",
])
def test_shaping_does_not_import_torch(stmt):
    code = f"{stmt}\nimport sys\nprint('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
