"""The conformance checks of ``tests/test_conformance.py`` for the ``remote`` source: it needs a
running server, so it lives here and runs against a real one serving the ``numeric`` source."""

from __future__ import annotations

import pytest

from rewardkit.registry import build_source
from tests.serving.conftest import NUMERIC
from tests.test_conformance import CASES, check_conformance


@pytest.fixture(scope="module")
def url(server_factory):
    return server_factory(NUMERIC).url


def test_remote_conformance(url):
    _, cases = CASES["numeric"]
    check_conformance(build_source("remote", url=url, max_batch=3), cases)  # several requests per batch
