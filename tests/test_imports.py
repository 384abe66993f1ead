"""CPU reward workers must start fast: the core, the verifiers and the shaping transforms never
import torch (or the other heavy libraries)."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate")


@pytest.mark.parametrize("stmt", [
    "import rewardkit",
    "import rewardkit; rewardkit.Pipeline; rewardkit.score_dataset",
    "import rewardkit.verifiers.numeric, rewardkit.verifiers.arithmetic, rewardkit.verifiers.format",
    "import rewardkit.cli",
    "import rewardkit.verifiers.math, rewardkit.verifiers.code, rewardkit.verifiers.sql",
    "import rewardkit.shaping",
    "import rewardkit.shaping as s; s.par_reward; s.gdpo; s.group_normalize; s.clip_rewards",
    "import rewardkit.shaping.transforms",
    "from rewardkit.registry import get_transform_class as g; [g(n) for n in ('par', 'gate', 'multi_reward')]",
])
def test_no_heavy_imports(stmt):
    code = f"{stmt}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{stmt!r} imported {r.stdout.strip()}"


def test_public_api_is_listed():
    import rewardkit

    for name in rewardkit.__all__:
        assert getattr(rewardkit, name) is not None
    with pytest.raises(AttributeError):
        rewardkit.does_not_exist  # noqa: B018
