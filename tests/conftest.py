"""Shared fixtures: the whole test session runs with its own XMCBENCH_HOME, never the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session-wide, so module-scoped fixtures see it too; caches stay warm across tests."""
    home = tmp_path_factory.getbasetemp() / "xmcbench-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XMCBENCH_HOME", str(home))
        yield home
