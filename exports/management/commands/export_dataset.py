"""`python manage.py export_dataset PROJECT --out DIR [--val-fraction F | --val-per-class N]
[--seed S] [--format imagenet|webdataset]`: write a project's accepted images in the ImageNet
layout (loadable by torchvision's ``ImageFolder`` and ``datasets.ImageNet`` as is) or as WebDataset
shards."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exports.service import FORMATS, dataset_export
from exports.writer import ExportProgress
from labeling.models import Project


class Command(BaseCommand):
    help = "Export a project's accepted images (ImageNet folders or WebDataset shards)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--out", required=True, type=Path, help="output folder")
        val = parser.add_mutually_exclusive_group()
        val.add_argument("--val-fraction", type=float, default=0.0, help="share of each class")
        val.add_argument(
            "--val-per-class",
            type=int,
            default=0,
            help="images of each class for val/ (ImageNet used 50); one always stays in train",
        )
        parser.add_argument("--seed", default="0", help="seed of the train/val split")
        parser.add_argument("--format", choices=FORMATS, default="imagenet")

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        if not 0 <= options["val_fraction"] < 1:
            raise CommandError("--val-fraction must lie in [0, 1)")
        if options["val_per_class"] < 0:
            raise CommandError("--val-per-class must be 0 or more")
        verbosity = options["verbosity"]

        def progress(update: ExportProgress) -> None:
            if verbosity >= 1:
                self.stdout.write(
                    f"  {update.wnid}: {update.classes_done} classes, {update.images_done} images"
                )

        try:
            summary = dataset_export(
                project=project,
                out_dir=options["out"],
                fmt=options["format"],
                val_fraction=options["val_fraction"],
                val_per_class=options["val_per_class"],
                seed=options["seed"],
                on_progress=progress,
            )
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {len(summary.classes)} classes: {summary.train_images} train, "
                f"{summary.val_images} val images into {options['out']} "
                f"({summary.written} written, {summary.unchanged} unchanged, "
                f"{summary.skipped} unreadable skipped)."
            )
        )
        for wnid, key, error in summary.skipped_examples[:10]:
            self.stderr.write(f"  skipped {wnid}_{key}: {error}")
