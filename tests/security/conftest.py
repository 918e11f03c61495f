"""A small world for the security tests: a project over a synset whose text is an XSS payload,
with a stored candidate (a real file), an annotator's live assignment, and a second project
owned by someone else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from candidates.models import Candidate, SearchQuery
from labeling.hits.scheduler import hit_next_for_worker
from labeling.projects import project_add_candidates, project_create
from labeling.roles import annotator_create
from tests.factories import CandidateFactory, SynsetFactory

XSS = "<script>alert(1)</script>"
ATTR_XSS = '"><script>alert(2)</script>'


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


@pytest.fixture
def world(db, media):
    users = get_user_model().objects
    owner = users.create_user(username="owner", password="pw-owner-123", is_staff=True)
    other_admin = users.create_user(username="stranger", password="pw-str-123", is_staff=True)
    annotator = annotator_create(username="worker", password="pw-worker-123")
    synset = SynsetFactory(lemmas=[XSS, "evil"], gloss=f"gloss {XSS} <img src=x onerror=alert(3)>")
    candidates = [
        CandidateFactory(synset=synset, title=ATTR_XSS,
                         image_url=f"https://img.example.org/{n}/{ATTR_XSS}.jpg",
                         page_url="javascript:alert(4)", attribution=XSS)
        for n in range(6)
    ]  # fmt: skip
    project = project_create(name="Evil project", wnids=[synset.wnid], owners=[owner],
                             include_subtrees=False, seed_size=0, images_per_hit=3,
                             gold_per_hit=0)  # fmt: skip
    project_add_candidates(project=project, seed=1)
    other_synset = SynsetFactory()
    CandidateFactory(synset=other_synset)
    other = project_create(name="Other project", wnids=[other_synset.wnid],
                           owners=[other_admin], include_subtrees=False, seed_size=0)  # fmt: skip
    project_add_candidates(project=other, seed=1)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    query = SearchQuery.objects.create(synset=synset, text=XSS, kind="manual")
    return {
        "owner": owner,
        "other_admin": other_admin,
        "annotator": annotator,
        "synset": synset,
        "candidate": candidates[0],
        "project": project,
        "other_project": other,
        "assignment": assignment,
        "query": query,
        # URL parameters by name (or "route.kwarg" when a name is ambiguous)
        "wnid": synset.wnid,
        "slug": project.slug,
        "candidate_id": candidates[0].pk,
        "candidates:thumbnail.pk": candidates[0].pk,
        "candidates:image.pk": candidates[0].pk,
        "candidates:query-toggle.pk": query.pk,
        "api-query-detail.pk": query.pk,
        "assignment_id": assignment.pk,
        "user_id": annotator.pk,
        "token": "not-a-real-token-0123456789",
        "Candidate": Candidate,
    }
