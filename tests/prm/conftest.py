"""One torch thread for the tiny-model tests of this folder (see tests/_one_thread.py)."""

from tests._one_thread import _one_torch_thread  # noqa: F401  (an autouse fixture)
