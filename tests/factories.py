"""factory_boy factories shared by the suite: synsets, candidates, users, projects and HITs.

Rows that carry the pipeline's bookkeeping come from the real services: projects and their items
from ``labeling.projects``, gold from ``labeling.quality.gold_mark``, and votes, vote counters,
leases, gold scores and flags from the vote core (``assignment_submit``) — never written here by
hand. What a factory writes itself is only structure a test chooses: which images a HIT holds
(as the scheduler would have picked them) and, for dashboards, what a recompute would decide.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from contextlib import contextmanager
from datetime import datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from candidates.models import Candidate
from labeling.models import Assignment, AssignmentItem, Item, Project, ProjectSynset, Vote
from synsets.models import Synset, SynsetClosure

_offsets = itertools.count(90_000_000)


def jpeg_bytes(
    color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (96, 72)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class SynsetFactory(factory.django.DjangoModelFactory):
    """A synthetic synset (offsets from 90000000 up, outside WordNet's range) with its self
    closure row, so subtree queries include it."""

    class Meta:
        model = Synset
        django_get_or_create = ("wnid",)
        skip_postgeneration_save = True  # the hook writes closure rows, not the synset

    wnid = factory.LazyFunction(lambda: f"n{next(_offsets):08d}")
    lemmas = factory.Sequence(lambda n: [f"thing {n}", f"object {n}"])
    gloss = "a synthetic synset used in tests"
    lexname = "noun.artifact"

    @factory.post_generation
    def closure(obj, create, extracted, **kwargs):
        if create:
            SynsetClosure.objects.get_or_create(
                ancestor=obj, descendant=obj, defaults={"distance": 0}
            )


class CandidateFactory(factory.django.DjangoModelFactory):
    """A stored candidate with a real (tiny) JPEG and thumbnail in the default storage."""

    class Meta:
        model = Candidate

    synset = factory.SubFactory(SynsetFactory)
    status = Candidate.Status.STORED
    source = "test"
    query = factory.LazyAttribute(lambda o: o.synset.lemmas[0])
    rank = factory.Sequence(int)
    image_url = factory.Sequence(lambda n: f"https://images.example.org/{n}.jpg")
    url_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.image_url.encode()).hexdigest())
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"img-{n}".encode()).hexdigest())
    phash = factory.Sequence(lambda n: n * 7919)
    width = 96
    height = 72
    format = "JPEG"
    bytes = 2048
    image = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(), name="c.jpg"))
    thumbnail = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(), name="t.jpg"))


class CandidateRowFactory(factory.django.DjangoModelFactory):
    """A stored candidate without files, for bulk creation (``build_batch`` then ``bulk_create``):
    the scheduler and submissions never read image bytes, so large pools stay fast."""

    class Meta:
        model = Candidate

    synset = factory.SubFactory(SynsetFactory)
    status = Candidate.Status.STORED
    source = "test"
    image_url = factory.Sequence(lambda n: f"https://img.example.org/{n}.jpg")
    url_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.image_url.encode()).hexdigest())
    sha256 = factory.LazyAttribute(lambda o: o.url_hash)
    format = "JPEG"
    width = 96
    height = 72


def candidates_make(synset, n: int, *, with_files: bool = False) -> list[Candidate]:
    """``n`` stored candidates of ``synset``: with real tiny JPEG files, or bulk rows without."""
    if with_files:
        return CandidateFactory.create_batch(n, synset=synset)
    return Candidate.objects.bulk_create(CandidateRowFactory.build_batch(n, synset=synset))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user-{n}")


class AnnotatorFactory(UserFactory):
    """An annotator account (``labeling.roles.annotator_create``), without a usable password
    unless one is given."""

    username = factory.Sequence(lambda n: f"annotator-{n}")

    @classmethod
    def _create(cls, model_class, *, username: str, password: str | None = None, **kwargs):
        from labeling.roles import annotator_create

        return annotator_create(username=username, password=password, **kwargs)


def workers_make(n: int, prefix: str = "w") -> list:
    """``n`` annotators named ``<prefix>0`` … ``<prefix>{n-1}``."""
    return [AnnotatorFactory(username=f"{prefix}{i}") for i in range(n)]


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project over ``synsets`` synthetic synsets, each with ``images`` stored candidates (with
    files when ``with_files``), of which the first ``gold`` per synset are gold (alternating
    positive/negative); created by ``project_create`` and ``project_add_candidates``. Other
    keyword arguments are project settings."""

    class Meta:
        model = Project

    name = "Test project"

    @classmethod
    def _create(
        cls,
        model_class,
        *,
        name: str,
        synsets: int = 1,
        images: int = 30,
        gold: int = 0,
        with_files: bool = False,
        **settings,
    ) -> Project:
        from labeling.projects import project_add_candidates, project_create
        from labeling.quality import gold_mark

        settings.setdefault("seed_size", 0)
        # Factory projects take any annotator, as before projects could be invite-only.
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


def session_signed_in(user) -> str:
    """Store a session signed in as ``user`` the way the login form leaves it (through the role
    backend) and return its key: for tests that talk to a live server over HTTP."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from labeling.roles import USER_BACKEND

    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: USER_BACKEND,
                    HASH_SESSION_KEY: user.get_session_auth_hash()})  # fmt: skip
    session.create()
    return session.session_key


def project_make(**kwargs) -> Project:
    """``ProjectFactory(**kwargs)``: the name most tests know it by."""
    return ProjectFactory(**kwargs)


class AssignmentFactory(factory.django.DjangoModelFactory):
    """A HIT leased to ``worker`` over the ``items`` given (in grid order, all of one synset), as
    the scheduler would have handed it out; ``hit_answered`` submits it through the vote core."""

    class Meta:
        model = Assignment
        skip_postgeneration_save = True  # the hook writes the HIT's rows, not the assignment

    project = factory.SubFactory(ProjectFactory)
    worker = factory.SubFactory(AnnotatorFactory)
    lease_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=10))

    @factory.post_generation
    def items(obj, create, extracted, **kwargs):
        if create and extracted:
            AssignmentItem.objects.bulk_create(
                AssignmentItem(
                    assignment=obj, worker=obj.worker, item=item, position=position,
                    is_gold=item.is_gold,
                )  # fmt: skip
                for position, item in enumerate(extracted)
            )


@contextmanager
def recompute_left_to_the_test():
    """While factories record votes, the synset's recompute is not enqueued: its
    ``needs_recompute`` flag is left set, as after a lost enqueue, and the test runs the
    recompute (or the sweep) itself. Keeps fault tests' queues free of stray tasks."""
    from consensus.tasks import recompute_on_votes_changed
    from labeling.signals import synset_votes_changed

    uid = "consensus.recompute_on_votes_changed"
    disconnected = synset_votes_changed.disconnect(dispatch_uid=uid)
    try:
        yield
    finally:
        if disconnected:
            synset_votes_changed.connect(recompute_on_votes_changed, dispatch_uid=uid)


def hit_answered(
    *,
    project: Project,
    worker,
    labels: dict[int, bool],
    duration_ms: int = 30_000,
    at: datetime | None = None,
) -> Assignment:
    """``worker`` gets a HIT over the items of ``labels`` (one synset) and submits those answers
    through ``assignment_submit``: votes, counters, leases, gold score and flags as in
    production. ``at`` back-dates the submission and its votes."""
    from labeling.hits.submission import assignment_submit

    items = list(Item.objects.filter(pk__in=list(labels)).order_by("pk"))
    assignment = AssignmentFactory(
        project=project, worker=worker, synset_id=items[0].synset_id, items=items
    )
    with recompute_left_to_the_test():
        assignment_submit(
            assignment_id=assignment.pk,
            worker=worker,
            selected=[pk for pk, label in labels.items() if label],
            unselected=[pk for pk, label in labels.items() if not label],
            duration_ms=duration_ms,
        )
    if at is not None:
        Assignment.objects.filter(pk=assignment.pk).update(
            submitted_at=at, lease_expires_at=at + timedelta(minutes=10)
        )
        Vote.objects.filter(assignment=assignment).update(created_at=at)
    ProjectSynset.objects.filter(project=project, synset_id=assignment.synset_id).update(
        needs_recompute=True
    )
    assignment.refresh_from_db()
    return assignment


def votes_cast(
    *,
    project: Project,
    workers: list,
    wnid: str,
    labels: dict[int, list[bool]],
    at=None,
    duration_ms: int = 12_000,
) -> None:
    """Worker i answers ``labels[item_id][i]`` on each item, in one HIT per worker."""
    at = at or timezone.now()
    for i, worker in enumerate(workers):
        mine = {item_id: votes[i] for item_id, votes in labels.items() if i < len(votes)}
        if mine:
            hit_answered(
                project=project, worker=worker, labels=mine, duration_ms=duration_ms, at=at
            )


def voted_project(*, synsets: int = 2, images: int = 6, with_files: bool = False, **settings):
    """Each synset: the first half of its images accepted (3 yes), the next rejected (3 no), the
    rest undecided (mixed); three annotators voted. The decisions are written as a recompute
    would write them."""
    project = ProjectFactory(synsets=synsets, images=images, with_files=with_files, **settings)
    workers = workers_make(3, prefix=f"{project.slug}-w")
    for wnid in project.project_synsets.values_list("synset_id", flat=True):
        items = list(Item.objects.filter(project=project, synset_id=wnid).order_by("pk"))
        labels: dict[int, list[bool]] = {}
        decided = {}
        for index, item in enumerate(items):
            if index < images // 2:
                labels[item.pk], decided[item.pk] = [True] * 3, (Item.State.ACCEPTED, 0.99)
            elif index < images - 1:
                labels[item.pk], decided[item.pk] = [False] * 3, (Item.State.REJECTED, 0.01)
            else:
                labels[item.pk], decided[item.pk] = [True, False, True], (Item.State.UNDECIDED, 0.6)
        votes_cast(project=project, workers=workers, wnid=wnid, labels=labels)
        # What the consensus recompute would write.
        for pk, (state, posterior) in decided.items():
            Item.objects.filter(pk=pk).update(state=state, posterior=posterior, votes_needed=0)
        ProjectSynset.objects.filter(project=project, synset_id=wnid).update(
            accepted_count=images // 2,
            rejected_count=images - 1 - images // 2,
            undecided_count=1,
            needs_recompute=False,
        )
    return project, workers


_voters = itertools.count()


def project_with_votes(
    *, images: int = 40, workers: int = 7, accuracy: float = 0.85, seed: int = 1, gold: int = 0
) -> tuple[Project, ProjectSynset]:
    """One synset, ``images`` items, every worker answering every non-gold item once in one HIT;
    each image's truth is good or bad at random and a worker is right with ``accuracy``. The
    synset is left flagged for recompute."""
    rng = random.Random(seed)
    project = ProjectFactory(images=images, gold=gold, name=f"Voted {next(_voters)}")
    project_synset = ProjectSynset.objects.get(project=project)
    items = list(Item.objects.filter(project=project, is_gold=False).order_by("pk"))
    truth = {item.pk: rng.random() < 0.5 for item in items}
    for _ in range(workers):
        user = UserFactory(username=f"voter-{next(_voters)}")
        answers = {}
        for item in items:
            correct = rng.random() < accuracy
            answers[item.pk] = truth[item.pk] if correct else not truth[item.pk]
        hit_answered(project=project, worker=user, labels=answers)
    return project, project_synset

