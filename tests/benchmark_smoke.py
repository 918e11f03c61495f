"""Running a benchmark script the way the smoke tests do: the tiny size given, from the
repository root, with this interpreter; it must exit 0 and print the machine header. Figures are
returned for the caller to look for lines in, never to compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "machine: " in result.stdout and " cores (" in result.stdout
    return result.stdout
