"""Shared fixtures: every test runs with its own XMCBENCH_HOME, never the user's cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = (
        tmp_path_factory.getbasetemp() / "xmcbench-home"
    )  # shared by the session: caches stay warm
    monkeypatch.setenv("XMCBENCH_HOME", str(home))
    return home
