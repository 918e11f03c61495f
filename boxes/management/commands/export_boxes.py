"""`python manage.py export_boxes PROJECT --out DIR [--include-incomplete]`: write PASCAL VOC XML
(ILSVRC layout) and COCO JSON for a project's verified boxes beside the ImageNet export in DIR
(written first by `export_dataset PROJECT --out DIR`)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from boxes.export import boxes_export
from labeling.models import Project


class Command(BaseCommand):
    help = "Export a project's verified bounding boxes as VOC XML and COCO JSON."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--out", required=True, type=Path, help="the ImageNet export folder")
        parser.add_argument(
            "--include-incomplete",
            action="store_true",
            help="also images whose coverage is not verified (their accepted boxes only)",
        )

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        try:
            summary = boxes_export(
                project=project,
                out_dir=options["out"],
                covered_only=not options["include_incomplete"],
            )
        except (FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from error
        for split in sorted(summary.images):
            self.stdout.write(
                f"  {split}: {summary.images[split]} images, {summary.boxes[split]} boxes"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote VOC XML and COCO JSON into {options['out']} "
                f"({summary.not_boxed} exported images without verified boxes, "
                f"{summary.size_mismatch} skipped for a size mismatch)."
            )
        )
