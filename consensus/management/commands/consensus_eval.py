"""``manage.py consensus_eval``: score the consensus methods on a votes/truth CSV pair and print
one JSON object (all logic lives in consensus.engine.evaluation).

Bad input (missing columns, header-only files, truth matching no voted item, settings out of
range) ends with a clear error and a non-zero exit; what was cleaned (stripped spaces, stray
label values, duplicate votes, truth labels no worker gave) is listed under ``input`` in the
JSON and repeated on stderr.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consensus.engine.evaluation import METHODS, SEED_SIZE, consensus_report


class Command(BaseCommand):
    help = "Evaluate consensus methods (ours, majority vote, Dawid–Skene) on crowd votes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--votes", required=True, help="CSV with item,worker,label header")
        parser.add_argument("--truth", required=True, help="CSV with item,label header")
        parser.add_argument("--method", default="model", choices=sorted(METHODS))
        parser.add_argument("--replay", action="store_true", help="also replay collection online")
        parser.add_argument("--threshold", type=float, default=0.99, help="τ in [0.5, 1]")
        parser.add_argument("--max-votes", type=int, default=10, help="vote cap per item (≥ 1)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--seed-size", type=int, default=SEED_SIZE, help="replay: seed images (10 votes each)"
        )
        parser.add_argument(
            "--labels",
            help="comma-separated label values; votes with any other value are dropped and "
            "counted (default: values used by < 0.5%% of the votes are dropped as stray)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        labels = None
        if options["labels"] is not None:
            labels = [value.strip() for value in options["labels"].split(",") if value.strip()]
            if len(labels) < 2:
                raise CommandError("--labels needs at least two comma-separated values")
        try:
            report = consensus_report(
                options["votes"],
                options["truth"],
                method=options["method"],
                replay=options["replay"],
                threshold=options["threshold"],
                max_votes=options["max_votes"],
                seed=options["seed"],
                seed_size=options["seed_size"],
                labels=labels,
            )
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        for source, notes in report["input"].items():  # type: ignore[union-attr]
            for key, value in notes.items():
                if key != "items_scored":
                    self.stderr.write(f"{source}: {key.replace('_', ' ')}: {value}")
        self.stdout.write(json.dumps(report))
