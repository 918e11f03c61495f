"""Link-based panels (Prolific-style, docs/crowds.md): a participant follows the project's link
with their panel id in the URL, labels up to a quota of HITs, and leaves with a completion code
(and a redirect back to the panel). Payments leave as a CSV the admin uploads to the panel.

A panel id in a URL proves nothing, exactly like an open invite link: panel votes count at once
like the built-in crowd's, and gold checks and blocking protect the consensus. The panel itself
pays only submissions it knows, so a forged id earns nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from crowds.costs import panel_fee_cents, panel_participant_max_cents, project_committed_cents
from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import SubmitResult, assignment_submit
from labeling.models import Assignment, Project

from . import conf
from .assignments import crowd_worker_get_or_create
from .base import BudgetExhausted, CrowdError, PublishResult, PublishSpec, SyncResult
from .models import CrowdAssignment, CrowdPayment, PanelConfig, PanelParticipant

PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
PARAM_VALUE_MAX = 200
# Spreadsheet programs run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class PanelClosed(CrowdError):
    code = "panel_closed"


@transaction.atomic
def panel_configure(
    *,
    project: Project,
    completion_code: str,
    completion_url: str = "",
    participant_param: str = "PROLIFIC_PID",
    extra_params: list[str] | None = None,
    hits_per_participant: int = 5,
    reward_cents_per_hit: int | None = None,
    fee_percent: int = 0,
    active: bool = True,
) -> PanelConfig:
    """Create or update the project's panel link settings (the link's token never changes)."""
    extra = [name for name in (extra_params or []) if name]
    for name in [participant_param, *extra]:
        if not PARAM_NAME.match(name):
            raise ValidationError(f"{name!r} is not a valid URL parameter name")
    if completion_url and not (
        completion_url.startswith("https://")
        or (conf.crowds_extra_origin() and completion_url.startswith(conf.crowds_extra_origin()))
    ):
        raise ValidationError("the completion URL must be an https:// address")
    if not completion_code.strip():
        raise ValidationError("a completion code is required")
    panel, _ = PanelConfig.objects.select_for_update().get_or_create(
        project=project, defaults={"completion_code": completion_code}
    )
    panel.completion_code = completion_code.strip()
    panel.completion_url = completion_url
    panel.participant_param = participant_param
    panel.extra_params = extra
    panel.hits_per_participant = hits_per_participant
    panel.reward_cents_per_hit = (
        project.reward_cents_per_hit if reward_cents_per_hit is None else reward_cents_per_hit
    )
    panel.fee_percent = fee_percent
    panel.active = active
    panel.full_clean()
    panel.save()
    return panel


@transaction.atomic
def participant_start(*, panel: PanelConfig, external_id: str, params: dict[str, str]) -> (
    PanelParticipant
):
    """The participant for a panel id, created on the first visit with a password-less worker
    account; a new participant is admitted only while the budget covers their whole quota."""
    if not PARTICIPANT_ID.match(external_id or ""):
        raise ValidationError("missing or malformed participant id")
    panel = PanelConfig.objects.select_for_update().select_related("project").get(pk=panel.pk)
    existing = PanelParticipant.objects.filter(panel=panel, external_id=external_id).first()
    if existing is not None:
        return existing
    if not panel.active or not panel.project.active:
        raise PanelClosed("This study is closed.")
    budget = panel.project.budget_cents
    if budget is None or project_committed_cents(project=panel.project) + (
        panel_participant_max_cents(panel=panel)
    ) > budget:
        raise BudgetExhausted("This study is full.")
    user = crowd_worker_get_or_create(username=f"panel{panel.pk}:{external_id}")
    kept = {
        name: str(params.get(name, ""))[:PARAM_VALUE_MAX]
        for name in panel.extra_params
        if params.get(name)
    }
    return PanelParticipant.objects.create(
        panel=panel, external_id=external_id, user=user, params=kept
    )


def participant_quota_left(*, participant: PanelParticipant) -> int:
    return max(0, participant.panel.hits_per_participant - participant.hits_submitted)


def participant_hit_next(*, participant: PanelParticipant) -> Assignment | None:
    """The participant's current HIT, or None when their quota is done or no work is left."""
    if participant.completed_at or not participant_quota_left(participant=participant):
        return None
    return hit_next_for_worker(project=participant.panel.project, worker=participant.user)


@transaction.atomic
def participant_submit(
    *,
    participant: PanelParticipant,
    assignment_id: int,
    selected: list[int],
    duration_ms: int,
) -> SubmitResult:
    """Submit one HIT through the regular submission and record what the participant is owed.

    Idempotent: a replay returns the stored result and neither counts the HIT again nor adds
    a payment.
    """
    participant = PanelParticipant.objects.select_for_update().select_related("panel").get(
        pk=participant.pk
    )
    assignment = Assignment.objects.filter(pk=assignment_id, worker=participant.user).first()
    item_ids = (
        list(assignment.assignment_items.values_list("item_id", flat=True)) if assignment else []
    )
    chosen = sorted(set(selected) & set(item_ids))
    result = assignment_submit(
        assignment_id=assignment_id,
        worker=participant.user,
        selected=chosen,
        unselected=sorted(set(item_ids) - set(chosen)),
        duration_ms=duration_ms,
    )
    crowd, created = CrowdAssignment.objects.get_or_create(
        assignment_id=assignment_id,
        defaults={
            "backend": CrowdAssignment.Backend.PANEL,
            "participant": participant,
            "external_worker_id": participant.external_id,
            "state": CrowdAssignment.State.CONFIRMED,
            "payment": CrowdAssignment.Payment.APPROVED,
            "submitted_at": timezone.now(),
            "confirmed_at": timezone.now(),
        },
    )
    if created:
        panel = participant.panel
        # Panels pay for the time given: a counted HIT or not, the participant did the work.
        reward = panel.reward_cents_per_hit
        CrowdPayment.objects.create(
            crowd_assignment=crowd,
            kind=CrowdPayment.Kind.REWARD,
            status=CrowdPayment.Status.PAYABLE,
            amount_cents=reward,
            fee_cents=panel_fee_cents(amount_cents=reward, fee_percent=panel.fee_percent),
            token=f"synsetlab-panel-{crowd.pk}",
        )
        PanelParticipant.objects.filter(pk=participant.pk).update(
            hits_submitted=F("hits_submitted") + 1, updated_at=timezone.now()
        )
        participant.refresh_from_db()
        if not participant_quota_left(participant=participant):
            participant_complete(participant=participant)
    return result


@transaction.atomic
def participant_complete(*, participant: PanelParticipant) -> PanelParticipant:
    """Mark the participant done (quota reached or nothing left to label). Idempotent."""
    PanelParticipant.objects.filter(pk=participant.pk, completed_at__isnull=True).update(
        completed_at=timezone.now(), updated_at=timezone.now()
    )
    participant.refresh_from_db()
    return participant


def participant_for_user(*, panel: PanelConfig, user: AbstractBaseUser) -> PanelParticipant | None:
    if not user.is_authenticated:
        return None
    return (
        PanelParticipant.objects.select_related("panel__project", "user")
        .filter(panel=panel, user=user)
        .first()
    )


def csv_safe(value: object) -> str:
    """A cell spreadsheet programs will not run as a formula (OWASP's CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def panel_payments_csv_rows(*, panel: PanelConfig) -> Iterator[str]:
    """CSV lines of completed participants and what each is owed, for upload to the panel
    (participant id, amount in the panel's currency units); streamed in id order."""
    writer = csv.writer(_Echo())
    extra = list(panel.extra_params)
    yield writer.writerow(
        ["participant_id", *[name.lower() for name in extra], "hits", "amount", "completed_at"]
    )
    participants = (
        PanelParticipant.objects.filter(panel=panel, completed_at__isnull=False)
        .annotate(
            owed=Sum(
                "crowd_assignments__payments__amount_cents",
                filter=~Q(crowd_assignments__payments__status=CrowdPayment.Status.SKIPPED),
            )
        )
        .order_by("pk")
    )
    for participant in participants.iterator(chunk_size=500):
        yield writer.writerow(
            [
                csv_safe(participant.external_id),
                *[csv_safe(participant.params.get(name, "")) for name in extra],
                participant.hits_submitted,
                f"{Decimal(participant.owed or 0) / 100:.2f}",
                participant.completed_at.isoformat(),
            ]
        )


class PanelBackend:
    name = "panel"

    def publish(self, *, project: Project, spec: PublishSpec, user=None) -> PublishResult:
        panel = PanelConfig.objects.filter(project=project).first()
        if panel is None:
            raise CrowdError("Set up the panel link first (completion code and parameters).")
        if project.budget_cents is None:
            raise BudgetExhausted("Set a budget for this project before opening a panel link.")
        PanelConfig.objects.filter(pk=panel.pk).update(active=True, updated_at=timezone.now())
        return PublishResult(messages=["The panel link is open."])

    def sync(self, *, project: Project) -> SyncResult:
        # Panels are paid by uploading the payments CSV: nothing to reconcile by API.
        return SyncResult()

    def close(self, *, project: Project) -> int:
        return PanelConfig.objects.filter(project=project).update(
            active=False, updated_at=timezone.now()
        )
