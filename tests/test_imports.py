"""CPU reward workers must start fast: the core and the verifiers never import torch."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate")


@pytest.mark.parametrize("stmt", [
    "import rewardkit",
    "import rewardkit; rewardkit.Pipeline; rewardkit.score_dataset",
    "import rewardkit.verifiers.numeric, rewardkit.verifiers.arithmetic, rewardkit.verifiers.format",
    "import rewardkit.cli",
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
