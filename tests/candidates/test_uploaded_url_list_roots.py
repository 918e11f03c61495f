"""A URL list uploaded through the web pages is read from the server's upload folder, however
the operator's folder roots are set, and only from there (found by issue 12's walk: uploaded
lists failed with "no folder is allowed" once folder jobs were confined to
CANDIDATES_FOLDER_ROOTS)."""

from __future__ import annotations

import pytest

from candidates.collection import source_for_job
from candidates.models import CollectionJob
from candidates.sources.base import ConfigurationError
from tests.factories import SynsetFactory

pytestmark = pytest.mark.django_db


def test_an_uploaded_list_is_read_from_the_upload_folder_only(settings, tmp_path):
    uploads, elsewhere = tmp_path / "uploads", tmp_path / "elsewhere"
    uploads.mkdir()
    elsewhere.mkdir()
    settings.CANDIDATES_UPLOAD_DIR = uploads
    settings.CANDIDATES_FOLDER_ROOTS = []
    synset = SynsetFactory()
    listed = uploads / "list.csv"
    listed.write_text(f"url,wnid\nhttps://example.org/a.jpg,{synset.wnid}\n")
    job = CollectionJob.objects.create(
        source="urls", wnids=[synset.wnid],
        source_config={"path": str(listed), "allowed_roots": [str(uploads)]},
    )  # fmt: skip

    source_for_job(job)  # no "no folder is allowed" although no folder root is set

    smuggled = elsewhere / "list.csv"
    smuggled.write_text(listed.read_text())
    forged = CollectionJob.objects.create(
        source="urls", wnids=[synset.wnid],
        source_config={"path": str(smuggled), "allowed_roots": [str(elsewhere)]},
    )  # fmt: skip
    with pytest.raises(ConfigurationError):
        source_for_job(forged)
