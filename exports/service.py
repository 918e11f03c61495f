"""Dataset export from the database (docs/architecture.md §1): stream a project's accepted images as
``ExportRecord``s into the writers, run exports as background jobs with live progress, and stream
a finished export as a tar download.

Memory stays flat: items come through a server-side cursor (``.iterator()``) ordered by synset
then id, each image is opened through Django's storage only when the writer reaches it, and the
download is produced file by file in fixed-size chunks.
"""

from __future__ import annotations

import logging
import os
import tarfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from boxes.export import boxes_export_if_any
from candidates.models import Candidate
from labeling.models import Item, Project
from synsets.models import Synset, SynsetClosure, SynsetEdge

from .models import ExportJob
from .writer import (
    LOCK_NAME,
    TEMP_SUFFIX,
    ExportProgress,
    ExportRecord,
    ExportSummary,
    SynsetInfo,
    export_imagenet,
    export_webdataset,
)

logger = logging.getLogger(__name__)

FORMATS = ("imagenet", "webdataset")
CHUNK_SIZE = 64 * 1024
ITERATOR_CHUNK = 1000


def export_root() -> Path:
    """Where UI exports are written: outside MEDIA_ROOT, which DEBUG serves without a login."""
    return Path(getattr(settings, "EXPORT_ROOT", None) or Path(settings.VAR_DIR) / "exports")


def _accepted(project: Project):
    # Only a positive decision is exported. Gold positives are accepted by an admin's label, as
    # good as crowd-accepted images; a negative gold image never leaves, whatever its state says.
    return (
        Item.objects.filter(
            project=project, state=Item.State.ACCEPTED, candidate__status=Candidate.Status.STORED
        )
        .exclude(candidate__image="")
        .exclude(is_gold=True, gold_label=False)
    )


def export_records(*, project: Project) -> Iterator[ExportRecord]:
    """The project's accepted images, grouped by wnid (ordered by synset, then item id)."""
    storage = Candidate._meta.get_field("image").storage
    rows = (
        _accepted(project)
        .order_by("synset_id", "pk")
        .values_list(
            "synset_id", "candidate_id", "candidate__image", "candidate__source",
            "candidate__image_url", "candidate__license", "candidate__attribution",
            "candidate__format", "yes_votes", "no_votes", "posterior", "is_gold",
            "candidate__sha256",
        )
    )  # fmt: skip
    # Local files are handed over by path, so the writer can link or clone JPEGs without reading
    # them; other storages (S3) are opened only when the writer reaches the image.
    local = isinstance(storage, FileSystemStorage)
    for (
        wnid, candidate_id, name, source, url, license_, attribution, fmt, yes, no, posterior,
        is_gold, sha256,
    ) in rows.iterator(chunk_size=ITERATOR_CHUNK):  # fmt: skip
        yield ExportRecord(
            wnid=wnid,
            key=candidate_id,
            image=storage.path(name) if local else partial(storage.open, name, "rb"),
            sha256=sha256 or "",
            source=source,
            url=url,
            license=license_,
            attribution=attribution,
            votes={"yes": yes, "no": no},
            posterior=posterior,
            decision="gold" if is_gold else "accepted",
            format=fmt or None,
        )


def export_classes(*, project: Project) -> list[str]:
    return sorted(_accepted(project).values_list("synset_id", flat=True).order_by().distinct())


def export_hierarchy(*, classes: list[str]) -> tuple[list[SynsetInfo], list[tuple[str, str]]]:
    """Lemmas of the exported classes and all their ancestors, and the IS-A edges among them."""
    ancestors = SynsetClosure.objects.filter(descendant_id__in=classes).values("ancestor_id")
    synsets = [
        SynsetInfo(wnid, lemmas or [wnid])
        for wnid, lemmas in Synset.objects.filter(wnid__in=ancestors)
        .order_by("wnid")
        .values_list("wnid", "lemmas")
    ]
    known = {s.wnid for s in synsets} | set(classes)
    edges = list(
        SynsetEdge.objects.filter(child_id__in=known, parent_id__in=known).values_list(
            "parent_id", "child_id"
        )
    )
    missing = set(classes) - {s.wnid for s in synsets}  # no closure row: still a class
    if missing:
        synsets += [
            SynsetInfo(wnid, lemmas or [wnid])
            for wnid, lemmas in Synset.objects.filter(wnid__in=missing).values_list(
                "wnid", "lemmas"
            )
        ]
    return synsets, edges


def dataset_export(
    *,
    project: Project,
    out_dir: Path,
    fmt: str = "imagenet",
    val_fraction: float = 0.0,
    seed: int | str = 0,
    on_progress: Callable[[ExportProgress], None] | None = None,
    val_per_class: int = 0,
) -> ExportSummary:
    """Export the project's accepted images into ``out_dir`` (safe to rerun into the same one).

    The val split is ``val_fraction`` of each class or, ImageNet's way, ``val_per_class`` images
    of each class (always leaving one for train)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    classes = export_classes(project=project)
    synsets, edges = export_hierarchy(classes=classes)
    records = export_records(project=project)
    if fmt == "webdataset":
        class_set = set(classes)
        return export_webdataset(
            records,
            out_dir=out_dir,
            classes=[s for s in synsets if s.wnid in class_set],
            val_fraction=val_fraction,
            val_per_class=val_per_class,
            seed=seed,
            on_progress=on_progress,
        )
    summary = export_imagenet(
        records,
        out_dir=out_dir,
        synsets=synsets,
        edges=edges,
        val_fraction=val_fraction,
        val_per_class=val_per_class,
        seed=seed,
        on_progress=on_progress,
    )
    # Verified bounding boxes go beside the images (VOC XML per image, COCO JSON per split).
    boxes_export_if_any(project=project, out_dir=Path(out_dir))
    return summary


def summary_json(summary: ExportSummary) -> dict:
    return {
        "classes": len(summary.classes),
        "train_images": summary.train_images,
        "val_images": summary.val_images,
        "written": summary.written,
        "unchanged": summary.unchanged,
        "converted": summary.converted,
        "removed_stale": summary.removed_stale,
        "skipped": summary.skipped,
        "skipped_examples": [list(e) for e in summary.skipped_examples[:20]],
        "classes_without_val": summary.classes_without_val[:50],
        "shards": summary.shards,
    }


# --- background jobs ----------------------------------------------------------------------------


@transaction.atomic
def export_job_create(
    *,
    project: Project,
    created_by,
    fmt: str = "imagenet",
    val_fraction: float = 0.0,
    val_per_class: int = 0,
    seed: str = "0",
) -> ExportJob:
    """Record an export job and enqueue it once the row is committed (``ValidationError`` on a
    bad setting, e.g. a val fraction and a per-class count together; nothing is stored then)."""
    job = ExportJob(
        project=project,
        created_by=created_by,
        format=fmt,
        val_fraction=val_fraction,
        val_per_class=val_per_class,
        seed=seed,
    )
    job.full_clean(exclude=["project", "created_by"])
    job.save()
    transaction.on_commit(partial(_enqueue, job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import export_job_run_task

    try:
        export_job_run_task.delay(job_id)
    except (BrokerError, OSError):
        # The job row stays pending and can be rerun with `export_dataset` or by a new job.
        logger.warning("broker unavailable; export job %s not enqueued", job_id)


def export_job_dir(job: ExportJob) -> Path:
    return export_root() / f"job-{job.pk}"


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Run one export job; idempotent (a finished job is left alone, a rerun rewrites only what
    changed). A failure is recorded on the job, then re-raised for the task's log."""
    job = ExportJob.objects.select_related("project").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.DONE:
        return job
    classes_total = len(export_classes(project=job.project))
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING,
        started_at=timezone.now(),
        classes_total=classes_total,
        classes_done=0,
        images_done=0,
        error="",
        updated_at=timezone.now(),
    )

    def progress(update: ExportProgress) -> None:
        ExportJob.objects.filter(pk=job.pk).update(
            classes_done=update.classes_done,
            images_done=update.images_done,
            updated_at=timezone.now(),
        )

    out_dir = export_job_dir(job)
    try:
        summary = dataset_export(
            project=job.project,
            out_dir=out_dir,
            fmt=job.format,
            val_fraction=job.val_fraction,
            val_per_class=job.val_per_class,
            seed=job.seed,
            on_progress=progress,
        )
    except Exception as error:
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        raise
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        summary=summary_json(summary),
        classes_done=len(summary.classes),
        images_done=summary.train_images + summary.val_images,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _export_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Regular files of an export in a stable order; the lock, temporaries and any symlink are
    left out, so the download holds exactly the dataset and nothing from outside the folder."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if name == LOCK_NAME or name.endswith(TEMP_SUFFIX):
                continue
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path, path.relative_to(root).as_posix()


def export_tar_stream(*, job: ExportJob) -> Iterator[bytes]:
    """A finished export as an uncompressed tar, produced file by file in CHUNK_SIZE pieces:
    headers are built with ``TarInfo.tobuf`` and contents copied as they are read, so memory does
    not grow with the dataset (JPEGs do not compress further anyway)."""
    root = export_job_dir(job)
    prefix = f"{job.project.slug}-export-{job.pk}"
    for path, relative in _export_files(root):
        stat = path.stat()
        info = tarfile.TarInfo(f"{prefix}/{relative}")
        info.size = stat.st_size
        info.mtime = int(stat.st_mtime)
        info.mode = 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        with path.open("rb") as handle:
            sent = 0
            while sent < info.size:
                chunk = handle.read(min(CHUNK_SIZE, info.size - sent))
                if not chunk:
                    raise OSError(f"{relative} shrank while being sent")
                sent += len(chunk)
                yield chunk
        padding = -info.size % tarfile.BLOCKSIZE
        if padding:
            yield tarfile.NUL * padding
    yield tarfile.NUL * (2 * tarfile.BLOCKSIZE)  # end-of-archive marker
