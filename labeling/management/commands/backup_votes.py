"""``manage.py backup_votes export FILE`` / ``backup_votes restore FILE``: the portable JSON Lines
backup of projects, candidates' identity, items, assignments, votes and decisions
(labeling.backup). ``-`` means stdout/stdin; a ``.gz`` name is compressed."""

from __future__ import annotations

import gzip
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.backup import BackupError, votes_export, votes_restore


def _open(path: str, mode: str):
    if path == "-":
        return sys.stdout if "w" in mode else sys.stdin
    if path.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")  # noqa: SIM115 - closed by the caller


class Command(BaseCommand):
    help = "Export votes and decisions to a portable JSON Lines file, or restore one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "restore"])
        parser.add_argument("file", help="backup file (.jsonl or .jsonl.gz; - for stdio)")
        parser.add_argument(
            "--project", action="append", default=[], help="export only this slug (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            handle = _open(path, "w" if options["action"] == "export" else "r")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from exc
        try:
            if options["action"] == "export":
                counts = votes_export(out=handle, project_slugs=options["project"])
            else:
                counts = votes_restore(lines=handle)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if handle not in (sys.stdout, sys.stdin):
                handle.close()
        self.stderr.write(json.dumps(counts, sort_keys=True))
