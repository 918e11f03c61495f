"""`python manage.py simulate_crowd --project SLUG`: simulated workers label a project through the
real HTTP API of a running server (see labeling/simulation.py)."""

from __future__ import annotations

import random

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from labeling.simulation import (
    crowd_accounts_create,
    crowd_make,
    crowd_run,
    report_format,
    truth_load,
)


class Command(BaseCommand):
    help = (
        "Simulated annotators (honest, spammers, adversarial) label a project through the HTTP "
        "API of a running server; prints HITs, votes and each worker's accuracy vs the truth."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--workers", type=int, default=10)
        parser.add_argument("--hits-per-worker", type=int, default=20)
        parser.add_argument("--spammers", type=float, default=0.1, help="fraction of workers")
        parser.add_argument("--adversarial", type=float, default=0.0, help="fraction of workers")
        parser.add_argument(
            "--truth",
            help="CSV with candidate_id,label or image_url,wnid (default: wnids in file names)",
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--prefix", default="sim", help="usernames are <prefix>-<project>-NNN")
        parser.add_argument(
            "--think-seconds", type=float, default=0.0,
            help="mean pause per HIT, to spread the load over time (default: none)",
        )  # fmt: skip

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        if options["workers"] < 1 or options["hits_per_worker"] < 1:
            raise CommandError("--workers and --hits-per-worker must be at least 1")
        # A seeded RNG makes runs repeatable; it only simulates behaviour.
        rng = random.Random(options["seed"])  # noqa: S311
        try:
            crowd = crowd_make(
                workers=options["workers"],
                spammers=options["spammers"],
                adversarial=options["adversarial"],
                rng=rng,
            )
            truth = truth_load(project=project, truth_file=options["truth"])
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        prefix = f"{options['prefix']}-{project.slug}"[:140]
        credentials = crowd_accounts_create(crowd=crowd, prefix=prefix, projects=[project])
        self.stdout.write(
            f"{len(crowd)} simulated workers on {options['base_url']} "
            f"({truth.known}/{len(truth.labels)} images with known truth)"
        )
        report = crowd_run(
            project=project,
            crowd=crowd,
            credentials=credentials,
            truth=truth,
            base_url=options["base_url"],
            hits_per_worker=options["hits_per_worker"],
            seed=options["seed"],
            prefix=prefix,
            think_seconds=options["think_seconds"],
        )
        self.stdout.write(report_format(report))
        stopped = {w.stopped for w in report.workers if w.stopped.startswith(("login", "too"))}
        if stopped and report.hits == 0:
            raise CommandError("no HIT was submitted: " + "; ".join(sorted(stopped)))
