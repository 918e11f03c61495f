"""Time the full WordNet 3.0 import into an empty PostgreSQL database, then the idempotent re-run.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \
    benchmarks/wordnet_import.py [--omw ../shared/data/omw]
Creates and drops a scratch database ``synsetlab_bench``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--omw", default=str(ROOT.parent / "shared" / "data" / "omw"))
    args = parser.parse_args()
    admin = "postgres://postgres@127.0.0.1:5432/postgres"
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/synsetlab_bench",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only"),
    }
    subprocess.run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS synsetlab_bench"], check=True)
    subprocess.run(["psql", admin, "-qc", "CREATE DATABASE synsetlab_bench"], check=True)
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        for label in ("first import (empty database)", "second import (idempotent re-run)"):
            started = time.perf_counter()
            out = subprocess.run(
                [*manage, "import_wordnet", "--omw", args.omw],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            print(f"{label}: {time.perf_counter() - started:.1f} s wall (process start included)")
            print(f"  {out}")
    finally:
        subprocess.run(
            ["psql", admin, "-qc", "DROP DATABASE IF EXISTS synsetlab_bench"], check=True
        )


if __name__ == "__main__":
    main()
