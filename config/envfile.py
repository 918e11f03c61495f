"""The local run's ``.env``: written once by ``make setup`` so that later commands in the same
checkout (``.venv/bin/python manage.py …``) see what ``make run`` saw — DEBUG on and a generated
SECRET_KEY. Runs without Django (settings need the file it writes)::

    python -m config.envfile [--path .env] [KEY=VALUE | KEY ...]

(a bare KEY takes its value from the environment, as ``make`` passes OMW_DIR and DEMO_IMAGES).

An existing file is never overwritten: missing keys are appended, present ones are kept, so a
deployment's own ``.env`` (SECRET_KEY, POSTGRES_PASSWORD) loses nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def env_file_keys(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {m.group(1) for line in path.read_text().splitlines() if (m := _LINE.match(line))}


def local_env_write(*, path: Path, extra: dict[str, str] | None = None) -> list[str]:
    """Add DEBUG=1, a fresh SECRET_KEY and ``extra`` to ``path`` where missing; returns the keys
    added. The file is created readable by its owner only (it holds the key)."""
    wanted = {"DEBUG": "1", "SECRET_KEY": secrets.token_urlsafe(50), **(extra or {})}
    present = env_file_keys(path)
    added = [key for key in wanted if key not in present and wanted[key] != ""]
    if not added:
        return []
    existing = path.read_text() if path.is_file() else ""
    lines = [f"{key}={wanted[key]}" for key in added]
    header = (
        ""
        if existing
        else "# Written by `make setup` for a local run; never deploy with DEBUG=1.\n"
    )
    separator = "\n" if existing and not existing.endswith("\n") else ""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        handle.write(separator + header + "\n".join(lines) + "\n")
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--path", type=Path, default=Path(__file__).resolve().parent.parent / ".env"
    )
    parser.add_argument("pairs", nargs="*", help="KEY=VALUE (or KEY, from the environment)")
    args = parser.parse_args(argv)
    extra = dict(
        pair.split("=", 1) if "=" in pair else (pair, os.environ.get(pair, ""))
        for pair in args.pairs
    )
    added = local_env_write(path=args.path, extra=extra)
    if added:
        print(f"{args.path}: added {', '.join(added)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
