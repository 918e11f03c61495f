"""`python manage.py collect_candidates WNID [WNID…] (--folder DIR | --urls FILE | --source NAME)
[--limit N]`: start a collection job, wait for it with a progress bar, print a summary line."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from candidates.collection import collection_job_create, collection_job_run
from candidates.models import CollectionJob
from synsets.presets import WNID_PATTERN
from synsets.selectors import synset_resolve


def summary_line(job: CollectionJob) -> str:
    """Every entry of the source accounted for: stored, duplicate, rejected after download,
    refused before it (bad list lines, unsafe archive members), a repeated list line, or naming
    no synset of the job."""
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(job.rejected_by_reason.items())) or "none"
    line = (
        f"job {job.pk} {job.status}: {job.synsets_done}/{len(job.wnids)} synsets, "
        f"stored {job.stored}, duplicates {job.duplicates}, rejected {job.rejected} "
        f"({reasons})"
    )
    report = job.source_report or {}
    if report.get("refused_count"):
        kinds = "; ".join(
            f"{why}: {n}" for why, n in sorted((report.get("refused_by_reason") or {}).items())
        )
        line += f", refused before download {report['refused_count']} ({kinds})"
    if report.get("duplicate_lines"):
        line += f", repeated list lines {report['duplicate_lines']}"
    if report.get("unmatched_count"):
        line += f", for no synset of this job {report['unmatched_count']}"
    return line


class Command(BaseCommand):
    help = "Collect candidate images for synsets from a folder, a URL list or a search source."

    def add_arguments(self, parser):
        parser.add_argument("synsets", nargs="+", help="wnids (or exact English lemmas)")
        origin = parser.add_mutually_exclusive_group(required=True)
        origin.add_argument("--folder", type=Path, help="folder or archive of images")
        origin.add_argument("--urls", type=Path, help="URL list (CSV or TXT)")
        origin.add_argument("--source", help="openverse, wikimedia, flickr or s3")
        parser.add_argument("--limit", type=int, default=None, help="stored candidates per synset")
        parser.add_argument("--bucket", help="S3 bucket (with --source s3)")
        parser.add_argument("--prefix", default="", help="S3 key prefix (with --source s3)")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="run the job in this process instead of waiting for a Celery worker",
        )
        parser.add_argument("--timeout", type=float, default=None, help="give up waiting after N s")

    def _wnids(self, specs: list[str]) -> list[str]:
        wnids = []
        for spec in specs:
            if WNID_PATTERN.match(spec):
                wnids.append(spec)
                continue
            matches = synset_resolve(spec)
            if len(matches) != 1:
                options = ", ".join(f"{s.wnid} ({s.gloss[:40]})" for s in matches[:5]) or "none"
                raise CommandError(f"{spec!r} names {len(matches)} synsets: {options}; use a wnid")
            wnids.append(matches[0].wnid)
        return wnids

    def handle(self, *args, **options):
        if options["folder"]:
            if not options["folder"].exists():
                raise CommandError(f"{options['folder']} does not exist")
            source, config = "folder", {"root": str(options["folder"].resolve())}
        elif options["urls"]:
            if not options["urls"].is_file():
                raise CommandError(f"{options['urls']} is not a file")
            source, config = "urls", {"path": str(options["urls"].resolve())}
        else:
            source, config = options["source"], {}
            if source == "s3":
                if not options["bucket"]:
                    raise CommandError("--source s3 needs --bucket")
                config = {"bucket": options["bucket"], "prefix": options["prefix"]}
        try:
            job = collection_job_create(
                wnids=self._wnids(options["synsets"]),
                source=source,
                source_config=config,
                limit_per_synset=options["limit"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["inline"]:
            job = collection_job_run(job_id=job.pk, progress=self._bar)
        else:
            job = self._wait(job, options["timeout"])
        self.stderr.write("")
        self.stdout.write(summary_line(job))
        if job.status == CollectionJob.Status.FAILED:
            raise CommandError(job.error or "job failed")

    def _wait(self, job: CollectionJob, timeout: float | None) -> CollectionJob:
        started = time.monotonic()
        while True:
            job.refresh_from_db()
            self._bar(job)
            if not job.is_active:
                return job
            if job.status == CollectionJob.Status.PENDING and time.monotonic() - started > 30:
                self.stderr.write(
                    "\nstill pending after 30 s: is a Celery worker running? "
                    "(make run starts one; or pass --inline)"
                )
                started = time.monotonic()
            if timeout and time.monotonic() - started > timeout:
                raise CommandError(f"gave up waiting after {timeout} s; job {job.pk} continues")
            time.sleep(0.5)

    def _bar(self, job: CollectionJob) -> None:
        total = max(len(job.wnids), 1)
        width = 30
        filled = int(width * job.synsets_done / total)
        bar = "#" * filled + "-" * (width - filled)
        line = (
            f"\r[{bar}] {job.synsets_done}/{total} synsets · stored {job.stored} · "
            f"dup {job.duplicates} · rejected {job.rejected} · {job.status}"
        )
        self.stderr.write(line, ending="")
        self.stderr.flush()
