"""Helpers shared by the tests: run the CLI in a fresh process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

THIRD_PARTY = Path(__file__).parent / "third_party_plugin"


def run_cli(
    *args: str, cwd: Path | None = None, extra_path: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    """Run `python -m xmcbench.cli ...` in a fresh process, as a user would."""
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "xmcbench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"xmcbench {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
        )
    return result
