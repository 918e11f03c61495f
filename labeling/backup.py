"""Portable backup of the paid work: projects, their members, their synsets, candidates'
identity, items, assignments, votes and the consensus decisions, as JSON Lines — and a restore
into an empty database after which recomputing consensus gives the same posteriors and
decisions.

One JSON object per line, ``{"type": ..., ...}``, in dependency order (a restore streams it).
Rows reference each other by the backup's own ids (``id`` fields), which the restore maps to new
primary keys. Users travel by username only: password hashes never leave the database, restored
accounts get unusable passwords (reset them, or sign in through invites). Image bytes are not in
the backup: candidates keep their URL, SHA-256 and storage names, so the media store (or the
sources) is backed up separately.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_datetime

from candidates.models import Candidate
from synsets.models import Synset, SynsetClosure

from .models import (
    Assignment,
    AssignmentItem,
    Item,
    Project,
    ProjectMember,
    ProjectSynset,
    Vote,
    WorkerProfile,
)
from .projects import PROJECT_SETTINGS

FORMAT = "synsetlab-votes"
VERSION = 1

CANDIDATE_FIELDS = (
    "status", "reject_reason", "source", "query", "rank", "image_url", "url_hash", "page_url",
    "title", "license", "attribution", "sha256", "phash", "width", "height", "format", "bytes",
)  # fmt: skip
ITEM_FIELDS = (
    "is_seed", "is_gold", "gold_label", "state", "votes_needed", "active_leases", "yes_votes",
    "no_votes", "posterior",
)  # fmt: skip
PROJECT_SYNSET_FIELDS = (
    "accepted_count", "rejected_count", "undecided_count", "difficulty", "confidence_table",
    "calibration", "needs_recompute",
)  # fmt: skip
PROFILE_FIELDS = ("blocked", "blocked_reason", "gold_correct", "gold_total", "flags")


def _project_fields() -> list[str]:
    """The project's settings, including crowd settings when that module is installed."""
    names = {field.name for field in Project._meta.concrete_fields}
    extra = [f for f in ("crowd_backend", "budget_cents") if f in names]
    return [*dict.fromkeys([*PROJECT_SETTINGS, *extra])]


class BackupError(Exception):
    """The file is not a backup this version can read, or the database is not empty."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _rows(project_ids: list[int]) -> Iterator[dict[str, Any]]:
    yield {"type": "header", "format": FORMAT, "version": VERSION}
    projects = Project.objects.filter(pk__in=project_ids).order_by("pk")
    synset_ids = set(
        ProjectSynset.objects.filter(project__in=projects).values_list("synset_id", flat=True)
    )
    synset_ids |= set(Item.objects.filter(project__in=projects).values_list("synset_id", flat=True))
    for synset in Synset.objects.filter(pk__in=synset_ids).order_by("pk"):
        yield {"type": "synset", "wnid": synset.wnid, "lemmas": synset.lemmas,
               "gloss": synset.gloss, "lexname": synset.lexname}  # fmt: skip
    user_model = get_user_model()
    worker_ids = set(
        Assignment.objects.filter(project__in=projects).values_list("worker_id", flat=True)
    )
    owner_ids = set(projects.values_list("owners", flat=True)) - {None}
    members = ProjectMember.objects.filter(project__in=projects).select_related("user")
    member_ids = set(members.values_list("user_id", flat=True))
    for user in user_model.objects.filter(pk__in=worker_ids | owner_ids | member_ids).order_by(
        "pk"
    ):
        yield {"type": "user", "username": user.get_username(), "is_staff": user.is_staff,
               "is_active": user.is_active,
               "groups": sorted(user.groups.values_list("name", flat=True))}  # fmt: skip
    for profile in WorkerProfile.objects.filter(user_id__in=worker_ids).select_related("user"):
        yield {"type": "worker_profile", "username": profile.user.get_username(),
               **{f: getattr(profile, f) for f in PROFILE_FIELDS}}  # fmt: skip
    for project in projects.prefetch_related("owners"):
        yield {"type": "project", "id": project.pk, "name": project.name, "slug": project.slug,
               "owners": sorted(u.get_username() for u in project.owners.all()),
               "settings": {f: getattr(project, f) for f in _project_fields()}}  # fmt: skip
    # Who may label which project (invited annotators): without it a restored project would
    # be closed to everyone but staff unless open to all annotators.
    for member in members.order_by("pk"):
        yield {"type": "project_member", "project": member.project_id,
               "username": member.user.get_username(), "source": member.source}  # fmt: skip
    for ps in ProjectSynset.objects.filter(project__in=projects).order_by("pk"):
        yield {"type": "project_synset", "project": ps.project_id, "wnid": ps.synset_id,
               **{f: getattr(ps, f) for f in PROJECT_SYNSET_FIELDS}}  # fmt: skip
    candidate_ids = Item.objects.filter(project__in=projects).values("candidate_id")
    for candidate in Candidate.objects.filter(pk__in=candidate_ids).order_by("pk").iterator(2000):
        yield {"type": "candidate", "id": candidate.pk, "wnid": candidate.synset_id,
               "image": candidate.image.name or "", "thumbnail": candidate.thumbnail.name or "",
               **{f: getattr(candidate, f) for f in CANDIDATE_FIELDS}}  # fmt: skip
    for item in Item.objects.filter(project__in=projects).order_by("pk").iterator(2000):
        yield {"type": "item", "id": item.pk, "project": item.project_id, "wnid": item.synset_id,
               "candidate": item.candidate_id,
               **{f: getattr(item, f) for f in ITEM_FIELDS}}  # fmt: skip
    assignments = Assignment.objects.filter(project__in=projects).select_related("worker")
    for a in assignments.order_by("pk").iterator(2000):
        yield {"type": "assignment", "id": a.pk, "project": a.project_id,
               "worker": a.worker.get_username(), "wnid": a.synset_id, "status": a.status,
               "lease_expires_at": a.lease_expires_at, "submitted_at": a.submitted_at,
               "duration_ms": a.duration_ms, "reward_cents": a.reward_cents,
               "result": a.result}  # fmt: skip
    links = AssignmentItem.objects.filter(assignment__project__in=projects).order_by("pk")
    for link in links.iterator(5000):
        yield {"type": "assignment_item", "assignment": link.assignment_id, "item": link.item_id,
               "position": link.position, "is_gold": link.is_gold}  # fmt: skip
    votes = Vote.objects.filter(item__project__in=projects).select_related("worker")
    for vote in votes.order_by("pk").iterator(5000):
        yield {"type": "vote", "item": vote.item_id, "assignment": vote.assignment_id,
               "worker": vote.worker.get_username(), "label": vote.label,
               "status": vote.status, "created_at": vote.created_at}  # fmt: skip


def votes_export(*, out: IO[str], project_slugs: Iterable[str] = ()) -> dict[str, int]:
    """Write the backup of the given projects (all when none) to ``out``; returns counts by
    row type. Read in one REPEATABLE READ transaction, so concurrent votes cannot tear it."""
    from django.db import connection

    counts: dict[str, int] = {}
    # Only an outermost transaction can choose its isolation level.
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        projects = Project.objects.all()
        slugs = list(project_slugs)
        if slugs:
            projects = projects.filter(slug__in=slugs)
            missing = set(slugs) - set(projects.values_list("slug", flat=True))
            if missing:
                raise BackupError(f"unknown projects: {', '.join(sorted(missing))}")
        for row in _rows(list(projects.values_list("pk", flat=True))):
            out.write(json.dumps(row, default=_json_default, separators=(",", ":")) + "\n")
            counts[row["type"]] = counts.get(row["type"], 0) + 1
    return counts


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


@transaction.atomic
def votes_restore(*, lines: Iterable[str]) -> dict[str, int]:
    """Restore a backup into a database without labeling data (refuses otherwise). Synsets,
    users and candidates that already exist (same wnid, username, synset + URL) are reused."""
    if Project.objects.exists() or Vote.objects.exists():
        raise BackupError("the database already holds labeling projects; restore needs none")
    user_model = get_user_model()
    users: dict[str, Any] = {}
    projects: dict[int, Project] = {}
    candidates: dict[int, int] = {}
    items: dict[int, int] = {}
    assignments: dict[int, int] = {}
    assignment_workers: dict[int, int] = {}
    links: list[AssignmentItem] = []
    votes: list[Vote] = []
    counts: dict[str, int] = {}

    def user(username: str):
        if username not in users:
            users[username], created = user_model.objects.get_or_create(
                **{user_model.USERNAME_FIELD: username}
            )
            if created:
                users[username].set_unusable_password()
                users[username].save(update_fields=["password"])
        return users[username]

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind = row["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"line {number}: not a backup row ({exc})") from exc
        counts[kind] = counts.get(kind, 0) + 1
        if number == 1 and (kind != "header" or row.get("format") != FORMAT):
            raise BackupError("not a synsetlab votes backup (missing header)")
        if kind == "header":
            if row.get("version") != VERSION:
                raise BackupError(f"backup version {row.get('version')} is not {VERSION}")
        elif kind == "synset":
            synset, created = Synset.objects.get_or_create(
                wnid=row["wnid"],
                defaults={
                    "lemmas": row["lemmas"],
                    "gloss": row["gloss"],
                    "lexname": row["lexname"],
                },  # fmt: skip
            )
            if created:
                SynsetClosure.objects.create(ancestor=synset, descendant=synset, distance=0)
        elif kind == "user":
            account = user(row["username"])
            account.is_staff, account.is_active = row["is_staff"], row["is_active"]
            account.save(update_fields=["is_staff", "is_active"])
            from django.contrib.auth.models import Group

            for name in row["groups"]:
                account.groups.add(Group.objects.get_or_create(name=name)[0])
        elif kind == "worker_profile":
            WorkerProfile.objects.update_or_create(
                user=user(row["username"]), defaults={f: row[f] for f in PROFILE_FIELDS}
            )
        elif kind == "project":
            project = Project(name=row["name"], slug=row["slug"], **row["settings"])
            project.full_clean()
            project.save()
            project.owners.set([user(name) for name in row["owners"]])
            projects[row["id"]] = project
        elif kind == "project_member":
            ProjectMember.objects.get_or_create(
                project=projects[row["project"]], user=user(row["username"]),
                defaults={"source": row["source"]},
            )  # fmt: skip
        elif kind == "project_synset":
            ProjectSynset.objects.create(
                project=projects[row["project"]], synset_id=row["wnid"],
                # A summary the next recompute rewrites: backups written before it existed
                # restore without it.
                **{f: row[f] for f in PROJECT_SYNSET_FIELDS if f in row or f != "calibration"},
            )  # fmt: skip
        elif kind == "candidate":
            fields = {f: row[f] for f in CANDIDATE_FIELDS}
            existing = Candidate.objects.filter(synset_id=row["wnid"], url_hash=row["url_hash"])
            candidate = existing.first() or Candidate.objects.create(
                synset_id=row["wnid"], image=row["image"], thumbnail=row["thumbnail"], **fields
            )
            candidates[row["id"]] = candidate.pk
        elif kind == "item":
            item = Item.objects.create(
                project=projects[row["project"]], synset_id=row["wnid"],
                candidate_id=candidates[row["candidate"]],
                **{f: row[f] for f in ITEM_FIELDS},
            )  # fmt: skip
            items[row["id"]] = item.pk
        elif kind == "assignment":
            assignment = Assignment.objects.create(
                project=projects[row["project"]], worker=user(row["worker"]),
                synset_id=row["wnid"], status=row["status"],
                lease_expires_at=_when(row["lease_expires_at"]),
                submitted_at=_when(row["submitted_at"]), duration_ms=row["duration_ms"],
                reward_cents=row["reward_cents"], result=row["result"],
            )  # fmt: skip
            assignments[row["id"]] = assignment.pk
            assignment_workers[assignment.pk] = assignment.worker_id
        elif kind == "assignment_item":
            links.append(AssignmentItem(
                assignment_id=assignments[row["assignment"]], item_id=items[row["item"]],
                worker_id=assignment_workers[assignments[row["assignment"]]],
                position=row["position"], is_gold=row["is_gold"],
            ))  # fmt: skip
        elif kind == "vote":
            votes.append(Vote(
                item_id=items[row["item"]], assignment_id=assignments[row["assignment"]],
                worker=user(row["worker"]), label=row["label"], status=row["status"],
            ))  # fmt: skip
            votes[-1]._restored_at = _when(row["created_at"])  # type: ignore[attr-defined]
        else:
            raise BackupError(f"line {number}: unknown row type {kind!r}")
    AssignmentItem.objects.bulk_create(links, batch_size=5000)
    created = Vote.objects.bulk_create(votes, batch_size=5000)
    # created_at is auto_now_add: put the original times back in one pass.
    for vote in created:
        vote.created_at = vote._restored_at  # type: ignore[attr-defined]
    Vote.objects.bulk_update(created, ["created_at"], batch_size=5000)
    return counts
