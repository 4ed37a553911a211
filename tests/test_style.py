"""The code is formatted and linted with ruff (configured in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")


@pytest.mark.parametrize("command", [["format", "--check"], ["check"]])
def test_ruff(root, command):
    result = subprocess.run(
        [RUFF, *command, str(root)], capture_output=True, text=True, cwd=root
    )
    assert result.returncode == 0, result.stdout + result.stderr
