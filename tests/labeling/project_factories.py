"""Builders for labeling tests: a project over synthetic synsets with stored candidates.

Candidates are bulk-created without files unless ``with_files`` (the scheduler and submission
never read image bytes), so large pools stay fast.
"""

from __future__ import annotations

import hashlib
import itertools

from candidates.models import Candidate
from labeling.models import Item, Project
from labeling.projects import project_add_candidates, project_create
from labeling.quality import gold_mark
from tests.factories import CandidateFactory, SynsetFactory

_urls = itertools.count()


def candidates_make(synset, n: int, *, with_files: bool = False) -> list[Candidate]:
    if with_files:
        return [CandidateFactory(synset=synset) for _ in range(n)]
    rows = []
    for _ in range(n):
        url = f"https://img.example.org/{next(_urls)}-{synset.wnid}.jpg"
        digest = hashlib.sha256(url.encode()).hexdigest()
        rows.append(
            Candidate(
                synset=synset, status=Candidate.Status.STORED, source="test", image_url=url,
                url_hash=digest, sha256=digest, format="JPEG", width=96, height=72,
            )
        )  # fmt: skip
    return Candidate.objects.bulk_create(rows)


def project_make(
    *,
    synsets: int = 1,
    images: int = 30,
    gold: int = 0,
    with_files: bool = False,
    name: str = "Test project",
    **settings,
) -> Project:
    """A project over ``synsets`` synthetic synsets, each with ``images`` stored candidates, of
    which the first ``gold`` per synset are gold (alternating positive/negative)."""
    settings.setdefault("seed_size", 0)
    # Builders' projects take any annotator, as before projects could be invite-only.
    settings.setdefault("open_to_all_annotators", True)
    # Builders' projects take any annotator, as before projects could be invite-only.
    settings.setdefault("open_to_all_annotators", True)
    made = [SynsetFactory() for _ in range(synsets)]
    for synset in made:
        candidates_make(synset, images, with_files=with_files)
    project = project_create(
        name=name, wnids=[s.wnid for s in made], add_candidates=False, **settings
    )
    project_add_candidates(project=project, seed=1)
    if gold:
        for synset in made:
            items = Item.objects.filter(project=project, synset=synset).order_by("pk")[:gold]
            for index, item in enumerate(items):
                gold_mark(item=item, label=index % 2 == 0)
    return project
