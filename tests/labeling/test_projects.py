"""labeling/projects.py: project creation over subtrees, items from candidates, seed sets."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from labeling.models import Item, ProjectSynset
from labeling.projects import project_add_candidates, project_create
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import SynsetFactory, candidates_make


@pytest.mark.django_db
def test_project_covers_the_subtree_of_its_synsets(admin_user):
    root, child = SynsetFactory(), SynsetFactory()
    SynsetEdge.objects.create(parent=root, child=child, kind="hypernym")
    SynsetClosure.objects.create(ancestor=root, descendant=child, distance=1)

    project = project_create(name="Things", wnids=[root.wnid], owners=[admin_user])

    assert set(ProjectSynset.objects.filter(project=project).values_list("synset_id", flat=True)) \
        == {root.wnid, child.wnid}  # fmt: skip
    assert list(project.owners.all()) == [admin_user]
    assert (project.images_per_hit, project.seed_votes, project.consensus_method) == (
        24, 10, "worker_em",
    )  # fmt: skip


@pytest.mark.django_db
def test_seed_votes_below_ten_are_refused():
    with pytest.raises(ValidationError):
        project_create(name="Bad", wnids=[SynsetFactory().wnid], seed_votes=5)


@pytest.mark.django_db
def test_unknown_spec_is_refused():
    with pytest.raises(ValidationError):
        project_create(name="Bad", synset_specs=["no such lemma at all"])


@pytest.mark.django_db
def test_add_candidates_is_idempotent_and_picks_a_seed_set_per_synset():
    synsets = [SynsetFactory(), SynsetFactory()]
    for synset in synsets:
        candidates_make(synset, 20)
    project = project_create(
        name="Seeds", wnids=[s.wnid for s in synsets], seed_size=5, add_candidates=False
    )

    created = project_add_candidates(project=project, seed=7)
    again = project_add_candidates(project=project, seed=7)

    assert (created, again) == (40, 0)
    for synset in synsets:
        items = Item.objects.filter(project=project, synset=synset)
        assert items.filter(is_seed=True, votes_needed=10).count() == 5
        assert items.filter(is_seed=False, votes_needed=project.min_votes).count() == 15
