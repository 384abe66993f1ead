"""Tiny models run fastest on one thread; on a shared machine, more threads mostly wait on each other.

Imported by the conftest of each model-training test folder (prm, orm)."""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # subprocesses (the CLI tests) inherit it


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
