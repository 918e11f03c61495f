"""`python manage.py import_wordnet`: import all WordNet 3.0 noun synsets (idempotent)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synsets.importer import wordnet_import
from synsets.models import Synset
from synsets.wordnet import WordNetUnavailable


class Command(BaseCommand):
    help = "Import the WordNet 3.0 noun hierarchy and Open Multilingual Wordnet lemmas."

    def add_arguments(self, parser):
        parser.add_argument(
            "--omw", type=Path, default=None,
            help=f"Open Multilingual Wordnet folder (<dir>/<lang>/wn-data-<lang>.tab); "
                 f"default OMW_DIR={settings.OMW_DIR}",
        )  # fmt: skip

        parser.add_argument(
            "--force", action="store_true",
            help="Compare every row even when the files and row counts match the last import "
                 "(repairs hand edits that kept the counts).",
        )  # fmt: skip
        parser.add_argument(
            "--if-empty", action="store_true",
            help="Do nothing when synsets are already imported (fast start-up for `make run`).",
        )  # fmt: skip

    def handle(self, *args, **options):
        if options["if_empty"] and Synset.objects.exists():
            self.stdout.write(f"WordNet already imported: {Synset.objects.count()} synsets.")
            return
        omw_dir = options["omw"] or settings.OMW_DIR
        try:
            summary = wordnet_import(
                nltk_data=settings.NLTK_DATA,
                system_dir=settings.WORDNET_SYSTEM_DIR,
                omw_dir=omw_dir,
                progress=lambda message: self.stderr.write(f"… {message}"),
                force=options["force"],
            )
        except WordNetUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.line())
