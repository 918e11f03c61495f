"""Create a labeling project from the command line (the CLI door to the same service as the
project page and ``POST /api/projects/``): one way of selecting synsets, a printed preview, and
the stored candidates turned into items."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.models import Item
from labeling.projects import project_create
from labeling.selection import PRESET_NAMES, selection_resolve, wnid_list_parse


class Command(BaseCommand):
    help = "Create a project over synsets (lemmas/wnids, an ImageNet preset, or a wnid list file)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug")
        parser.add_argument("--synset", action="append", default=[], help="wnid or lemma")
        parser.add_argument("--preset", default="", choices=["", *PRESET_NAMES])
        parser.add_argument("--wnid-list", type=Path, help="file of wnids, one per line")
        subtrees = parser.add_mutually_exclusive_group()
        subtrees.add_argument("--subtrees", dest="subtrees", action="store_true", default=None)
        subtrees.add_argument("--no-subtrees", dest="subtrees", action="store_false")
        parser.add_argument(
            "--leaves-only", action="store_true", help="do not label internal synsets"
        )
        parser.add_argument("--target", type=int, help="accepted images per synset")
        parser.add_argument("--owner", action="append", default=[], help="username of an owner")
        parser.add_argument("--preview", action="store_true", help="print the preview only")

    def handle(self, *args, **options):
        wnids: list[str] = []
        try:
            if options["wnid_list"]:
                try:
                    wnids = wnid_list_parse(options["wnid_list"].read_text(encoding="utf-8-sig"))
                except (OSError, UnicodeDecodeError) as exc:
                    raise CommandError(f"cannot read {options['wnid_list']}: {exc}") from exc
                if not wnids:
                    raise CommandError(f"{options['wnid_list']} names no wnid")
            selection = selection_resolve(
                synsets=options["synset"],
                preset=options["preset"],
                wnid_list=wnids,
                include_subtrees=options["subtrees"],
            )
            preview = selection.as_dict()
            for root in selection.roots:
                self.stdout.write(f"{root.spec} → {root.wnid} {root.name} ({root.matched})")
            self.stdout.write(
                f"{preview['synsets']} synsets, {preview['leaves']} leaves, depth "
                f"{preview['depth_min']}–{preview['depth_max']}, {preview['stored_candidates']} "
                f"stored candidates in {preview['synsets_with_candidates']} synsets"
            )
            if options["preview"]:
                return
            users = get_user_model().objects.filter(username__in=options["owner"])
            missing = set(options["owner"]) - {u.get_username() for u in users}
            if missing:
                raise CommandError(f"no such users: {', '.join(sorted(missing))}")
            label_internal = not options["leaves_only"]
            project = project_create(
                name=options["name"], slug=options["slug"], wnids=selection.wnids,
                include_subtrees=False, owners=list(users), label_internal=label_internal,
                target_per_synset=options["target"]
                or selection.suggested_target(label_internal=label_internal),
            )  # fmt: skip
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        items = Item.objects.filter(project=project).count()
        self.stdout.write(self.style.SUCCESS(
            f"created project {project.slug}: {len(selection.wnids)} synsets, {items} items, "
            f"target {project.target_per_synset}"))  # fmt: skip
