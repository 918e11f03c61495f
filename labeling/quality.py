"""Quality control: gold images, each worker's smoothed gold accuracy, answer flags (too fast,
constant) and blocking, which takes a worker's votes out of consensus (docs/architecture.md §3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

# The smoothed gold accuracy itself (gold_accuracy_smoothed) is defined beside WorkerProfile in
# labeling.models, which owns that invariant.
from .locks import worker_profile_lock
from .models import Assignment, Item, Project, Vote, WorkerProfile
from .signals import synset_votes_changed_on_commit

# People verify about one image per 1.7 s in a conventional interface (Krishna et al., CHI
# 2016); under 0.3 s per image for a whole grid is not looking.
TOO_FAST_MS_PER_IMAGE = 300
# All-yes or all-no over this many consecutive HITs is flagged as a constant answerer.
CONSTANT_ANSWER_HITS = 5


def worker_profile_get(*, worker: AbstractBaseUser, lock: bool = False) -> WorkerProfile:
    """The worker's profile, created on first use; ``lock`` takes its row lock (serialises one
    worker's concurrent requests, e.g. a double-clicked "next HIT")."""
    if lock:
        return worker_profile_lock(worker=worker)
    profile, _ = WorkerProfile.objects.get_or_create(user=worker)
    return profile


@transaction.atomic
def gold_mark(*, item: Item, label: bool) -> Item:
    """Make ``item`` a gold image with a known answer; it leaves the voting pool."""
    item.is_gold = True
    item.gold_label = label
    item.state = Item.State.ACCEPTED if label else Item.State.REJECTED
    item.votes_needed = 0
    item.save(update_fields=["is_gold", "gold_label", "state", "votes_needed", "updated_at"])
    return item


def gold_score(
    *,
    profile: WorkerProfile,
    project: Project,
    correct: int,
    total: int,
    also_save: Sequence[str] = (),
) -> WorkerProfile:
    """Add a HIT's gold answers to the worker's record and block below the project's threshold.

    ``also_save``: profile fields the caller changed, written in the same statement. Call while
    holding the lock on the worker's profile row.
    """
    fields = list(also_save)
    if total:
        profile.gold_correct += correct
        profile.gold_total += total
        fields += ["gold_correct", "gold_total"]
    if fields:
        profile.save(update_fields=[*fields, "updated_at"])
    if (
        not profile.blocked
        and profile.gold_total >= project.gold_min_answers
        and profile.gold_accuracy < project.gold_block_below
    ):
        # Blocked at once (no more HITs); the votes are taken out after this transaction
        # commits, in one of their own: this one records a HIT and already holds its images'
        # locks, and locking the worker's other images now would go back up the lock order of
        # labeling.locks — under load, submissions deadlocked on exactly that.
        _profile_block(
            profile,
            reason=f"gold accuracy {profile.gold_accuracy:.2f} < {project.gold_block_below:.2f}",
        )
        worker_id = profile.user_id
        transaction.on_commit(lambda: blocked_votes_withdraw(worker_id=worker_id))
    return profile


def flags_record(
    *,
    profile: WorkerProfile,
    assignment: Assignment,
    labels: Sequence[bool],
    duration_ms: int,
) -> list[str]:
    """Flag a too-fast HIT and constant answering over the last HITs; returns the new flags.

    Flags are for review, never an automatic block: a genuinely all-negative synset exists.
    Call while holding the lock on the worker's profile row. Sets ``profile.flags`` only: the
    caller writes it (``labeling.votes.votes_count``, with the gold score, in one statement).
    """
    raised: list[str] = []
    flags = dict(profile.flags or {})
    if labels and duration_ms < TOO_FAST_MS_PER_IMAGE * len(labels):
        raised.append("too_fast")
    history = list(flags.get("recent_constant", []))
    if labels and all(labels):
        history.append("yes")
    elif labels and not any(labels):
        history.append("no")
    else:
        history.append("mixed")
    history = history[-CONSTANT_ANSWER_HITS:]
    flags["recent_constant"] = history
    if len(history) == CONSTANT_ANSWER_HITS and len(set(history)) == 1 and history[0] != "mixed":
        raised.append(f"constant_{history[0]}")
    for flag in raised:
        entry = flags.get(flag) or {"count": 0}
        entry["count"] += 1
        entry["last_assignment"] = assignment.pk
        entry["last_at"] = timezone.now().isoformat()
        flags[flag] = entry
    profile.flags = flags
    return raised


def _profile_block(profile: WorkerProfile, *, reason: str) -> None:
    profile.blocked = True
    profile.blocked_reason = reason[:255]
    profile.blocked_at = timezone.now()
    profile.save(update_fields=["blocked", "blocked_reason", "blocked_at", "updated_at"])


@transaction.atomic
def worker_block(*, worker: AbstractBaseUser, reason: str) -> int:
    """Block a worker: no more HITs, their counted votes are excluded and the images they
    touched go back to the pool. Returns the number of votes excluded."""
    _profile_block(worker_profile_get(worker=worker, lock=True), reason=reason)
    return _blocked_votes_exclude(worker_id=worker.pk)


@transaction.atomic
def blocked_votes_withdraw(*, worker_id: int) -> int:
    """Take a blocked worker's counted votes out of consensus (in a transaction of its own, in
    the lock order: profile, then images by key). Nothing when the worker is no longer blocked
    (unblocked meanwhile). Returns the number of votes excluded."""
    profile = WorkerProfile.objects.select_for_update().filter(user_id=worker_id).first()
    if profile is None or not profile.blocked:
        return 0
    return _blocked_votes_exclude(worker_id=worker_id)


def blocked_votes_sweep(*, limit: int = 100) -> int:
    """Periodic: withdraw the votes of workers blocked by a submission whose after-commit
    withdrawal never ran (the process died in between). Returns the number of votes excluded."""
    worker_ids = (
        Vote.objects.filter(status=Vote.Status.CONFIRMED, worker__worker_profile__blocked=True)
        .values_list("worker_id", flat=True)
        .distinct()[:limit]
    )
    return sum(blocked_votes_withdraw(worker_id=worker_id) for worker_id in list(worker_ids))


def _blocked_votes_exclude(*, worker_id: int) -> int:
    """Hold the worker's profile lock. Exclude their confirmed votes and withdraw them."""
    votes = list(
        Vote.objects.filter(worker_id=worker_id, status=Vote.Status.CONFIRMED).values_list(
            "pk", "item_id", "label"
        )
    )
    if not votes:
        return 0
    Vote.objects.filter(pk__in=[pk for pk, _, _ in votes]).update(status=Vote.Status.EXCLUDED)
    _votes_withdraw(votes=[(item_id, label) for _, item_id, label in votes])
    return len(votes)


# Crowd assignments whose platform contradicted or never confirmed them: their votes stay out
# for good, whatever happens to the worker (the crowds app writes these states).
CROWD_DISCARDED_STATES = ("mismatch", "unconfirmed")


@transaction.atomic
def worker_unblock(*, worker: AbstractBaseUser) -> int:
    """Lift a block: the worker gets HITs again and their excluded votes (those taken out by the
    block and those given while blocked) count again, so consensus recomputes the synsets they
    touched. Votes of crowd assignments the platform contradicted or never confirmed stay out.
    Returns the number of votes brought back."""
    profile = worker_profile_get(worker=worker, lock=True)
    was_blocked = profile.blocked
    profile.blocked = False
    profile.blocked_reason = ""
    profile.blocked_at = None
    profile.save(update_fields=["blocked", "blocked_reason", "blocked_at", "updated_at"])
    if not was_blocked:
        return 0
    votes = list(
        Vote.objects.filter(worker=worker, status=Vote.Status.EXCLUDED)
        .exclude(assignment__crowd__state__in=CROWD_DISCARDED_STATES)
        .values_list("pk", "item_id", "label")
    )
    if not votes:
        return 0
    Vote.objects.filter(pk__in=[pk for pk, _, _ in votes]).update(status=Vote.Status.CONFIRMED)
    _votes_restore(votes=[(item_id, label) for _, item_id, label in votes])
    return len(votes)


def _votes_withdraw(*, votes: Iterable[tuple[int, bool]]) -> None:
    """Remove votes from their items' counts and ask for as many votes again (capped by the
    project's max_votes). Items are locked in primary-key order so concurrent writers cannot
    deadlock."""
    yes: Counter[int] = Counter()
    no: Counter[int] = Counter()
    for item_id, label in votes:
        (yes if label else no)[item_id] += 1
    item_ids = sorted(set(yes) | set(no))
    items = list(
        Item.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=item_ids)
        .order_by("pk")
        .select_related("project")
    )
    synset_keys: set[tuple[int, str]] = set()
    for item in items:
        item.yes_votes = max(0, item.yes_votes - yes[item.pk])
        item.no_votes = max(0, item.no_votes - no[item.pk])
        if not item.is_gold:
            lost = yes[item.pk] + no[item.pk]
            cap = max(item.project.max_votes, item.project.seed_votes if item.is_seed else 0)
            item.votes_needed = min(item.votes_needed + lost, cap)
            # A decision that leaned on a blocked worker is reopened; consensus re-decides.
            item.state = Item.State.PENDING
            synset_keys.add((item.project_id, item.synset_id))
    Item.objects.bulk_update(items, ["yes_votes", "no_votes", "votes_needed", "state"])
    _synsets_recompute(synset_keys)


def _votes_restore(*, votes: Iterable[tuple[int, bool]]) -> None:
    """Add votes back to their items' counts (the reverse of ``_votes_withdraw``): each restored
    vote is one fewer still needed; consensus then re-decides the synsets. Items are locked in
    primary-key order."""
    yes: Counter[int] = Counter()
    no: Counter[int] = Counter()
    for item_id, label in votes:
        (yes if label else no)[item_id] += 1
    items = list(
        Item.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(set(yes) | set(no)))
        .order_by("pk")
    )
    synset_keys: set[tuple[int, str]] = set()
    for item in items:
        item.yes_votes += yes[item.pk]
        item.no_votes += no[item.pk]
        if not item.is_gold:
            item.votes_needed = max(0, item.votes_needed - yes[item.pk] - no[item.pk])
            synset_keys.add((item.project_id, item.synset_id))
    Item.objects.bulk_update(items, ["yes_votes", "no_votes", "votes_needed"])
    _synsets_recompute(synset_keys)


def _synsets_recompute(synset_keys: Iterable[tuple[int, str]]) -> None:
    """Ask consensus to recompute the synsets once this commits. Not flagged here: the
    recompute's debounce enqueues only when it flips ``needs_recompute`` itself (and then the
    sweep covers a lost enqueue), so a flag set here would leave the synset to the sweep."""
    for project_id, synset_id in sorted(synset_keys):
        synset_votes_changed_on_commit(project_id=project_id, synset_id=synset_id)
