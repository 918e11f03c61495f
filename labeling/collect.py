"""Start a collection job for a project (or some of its synsets) from the app or the API: the web
search sources, an uploaded URL list, an S3 prefix, or a server folder under an allowed root.

Collecting on an internal synset covers its subtree within the project: the job runs over every
labelled synset below it, so an ImageNet-named folder, archive or list is split over the
descendant wnids it names, and what names no synset of the job is reported on the job page
(``CollectionJob.source_report``). The items follow when the job ends (labeling.receivers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from candidates.collection import collection_job_create
from candidates.models import CollectionJob
from candidates.sources.base import ConfigurationError, endpoint_check
from candidates.uploads import CollectionInputError, Upload, folder_root_check, url_list_store
from synsets.models import SynsetClosure

from .models import Project
from .projects import project_labelled_synsets

WEB_SOURCES = ("openverse", "wikimedia", "flickr")
LIST_SOURCES = ("urls", "folder", "s3")
SOURCES = WEB_SOURCES + LIST_SOURCES
SOURCE_LABELS = {
    "openverse": "Openverse (openly licensed images, no key)",
    "wikimedia": "Wikimedia Commons (no key)",
    "flickr": "Flickr (needs FLICKR_API_KEY)",
    "urls": "Uploaded URL list (CSV or TXT)",
    "s3": "S3 prefix",
    "folder": "Folder on the server",
}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")

__all__ = ["CollectionInputError", "SOURCES", "SOURCE_LABELS", "project_collection_start"]


def collection_wnids(*, project: Project, chosen: Sequence[str] = ()) -> list[str]:
    """The labelled synsets of ``project`` at or below ``chosen`` (all of them when empty).
    Raises CollectionInputError for a wnid that is not in the project."""
    labelled = project_labelled_synsets(project=project)
    if not chosen:
        return sorted(labelled)
    in_project = set(project.project_synsets.values_list("synset_id", flat=True))
    foreign = [wnid for wnid in chosen if wnid not in in_project]
    if foreign:
        raise CollectionInputError(f"Not synsets of this project: {', '.join(foreign[:10])}.")
    below = set(
        SynsetClosure.objects.filter(ancestor_id__in=list(chosen)).values_list(
            "descendant_id", flat=True
        )
    ) | set(chosen)
    wnids = sorted(set(labelled) & below)
    if not wnids:
        raise CollectionInputError(
            "None of these synsets is labelled in this project (it labels leaves only)."
        )
    return wnids


def project_collection_start(
    *,
    project: Project,
    source: str,
    wnids: Sequence[str] = (),
    limit_per_synset: int | None = None,
    url_list: Upload | None = None,
    folder: str = "",
    s3: dict[str, str] | None = None,
    created_by: AbstractBaseUser | None = None,
) -> CollectionJob:
    """Validate the source's input and start one job; CollectionInputError (nothing started,
    nothing kept) says what is wrong."""
    if source not in SOURCES:
        raise CollectionInputError(
            f"Unknown source {source!r}; choose one of {', '.join(SOURCES)}."
        )
    if source == "flickr" and not settings.FLICKR_API_KEY:
        raise CollectionInputError("Flickr needs an API key: the operator sets FLICKR_API_KEY.")
    if limit_per_synset is not None and limit_per_synset < 1:
        raise CollectionInputError("The limit per synset must be at least 1.")
    job_wnids = collection_wnids(project=project, chosen=list(wnids))
    config: dict[str, Any] = {}
    if source == "urls":
        if url_list is None:
            raise CollectionInputError("Upload a URL list (CSV or TXT).")
        stored = url_list_store(upload=url_list)
        named = stored.wnids
        if not named:
            # Without a wnid column every row belongs to the one synset it was uploaded for.
            if len(wnids) != 1:
                stored.path.unlink(missing_ok=True)
                raise CollectionInputError(
                    "This list has no wnid column: collect it for exactly one synset."
                )
            job_wnids = list(wnids)
        elif not named & set(job_wnids):
            stored.path.unlink(missing_ok=True)
            raise CollectionInputError(
                f"None of the {len(named)} wnids the list names is a synset being collected "
                f"({', '.join(sorted(named)[:5])}…)."
            )
        config = {"path": str(stored.path), "allowed_roots": [str(settings.CANDIDATES_UPLOAD_DIR)]}
    elif source == "folder":
        root = folder_root_check(path=folder)
        config = {"root": str(root), "allowed_roots": list(settings.CANDIDATES_FOLDER_ROOTS)}
    elif source == "s3":
        s3 = {key: (value or "").strip() for key, value in (s3 or {}).items()}
        bucket = s3.get("bucket", "")
        if not _BUCKET.match(bucket):
            raise CollectionInputError(f"{bucket!r} is not an S3 bucket name.")
        endpoint = s3.get("endpoint_url", "")
        if endpoint:
            try:
                endpoint_check(endpoint, allow_loopback=settings.CANDIDATES_ALLOW_LOOPBACK)
            except ConfigurationError as exc:
                raise CollectionInputError(str(exc)) from None
        # Credentials come from the server's environment (boto3's chain), never from a form.
        config = {"bucket": bucket, "prefix": s3.get("prefix", "").lstrip("/"),
                  "endpoint_url": endpoint, "region": s3.get("region", "")}  # fmt: skip
    try:
        return collection_job_create(
            wnids=job_wnids,
            source=source,
            source_config=config,
            limit_per_synset=limit_per_synset,
            created_by=created_by,
        )
    except ValueError as exc:
        if source == "urls":
            Path(config["path"]).unlink(missing_ok=True)  # nothing kept for a refused job
        raise CollectionInputError(str(exc)) from None
