"""labeling's side of the signals of earlier pipeline stages (connected in
``LabelingConfig.ready``): when a collection job ends, the candidates it stored become items of
every project over its synsets — at once, in the worker that ran the job, bulk and idempotent
(see candidates.signals for why a signal rather than a project id on the job)."""

from __future__ import annotations

import logging

from .models import Project, ProjectSynset
from .projects import project_add_candidates

logger = logging.getLogger(__name__)


def collection_job_finished_receiver(sender, *, job_id: int, wnids: list[str], **kwargs) -> None:
    project_ids = sorted(
        set(ProjectSynset.objects.filter(synset_id__in=wnids).values_list("project_id", flat=True))
    )
    for project in Project.objects.filter(pk__in=project_ids).order_by("pk"):
        created = project_add_candidates(project=project)
        logger.info("collection job %s: %s new items in project %s", job_id, created, project.slug)
