"""``manage.py consensus_eval``: score the consensus methods on a votes/truth CSV pair and print
one JSON object (all logic lives in consensus.engine.evaluation)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consensus.engine.evaluation import METHODS, consensus_report


class Command(BaseCommand):
    help = "Evaluate consensus methods (ours, majority vote, Dawid–Skene) on crowd votes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--votes", required=True, help="CSV with item,worker,label header")
        parser.add_argument("--truth", required=True, help="CSV with item,label header")
        parser.add_argument("--method", default="model", choices=sorted(METHODS))
        parser.add_argument("--replay", action="store_true", help="also replay collection online")
        parser.add_argument("--threshold", type=float, default=0.99)
        parser.add_argument("--max-votes", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = consensus_report(
                options["votes"],
                options["truth"],
                method=options["method"],
                replay=options["replay"],
                threshold=options["threshold"],
                max_votes=options["max_votes"],
                seed=options["seed"],
            )
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(report))
