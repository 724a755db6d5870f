"""One native stack for every end-to-end test of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import NativeStack


@pytest.fixture(scope="session")
def native_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    stack = NativeStack(tmp_path_factory.mktemp("stack"))
    stack.start()
    yield stack
    stack.stop()
