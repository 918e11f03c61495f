"""Records of work published to paid crowds: MTurk publications and HITs, panel links and their
participants, the platform side of each assignment, and every payment (rewards, fees, bonuses).

The tables keep the names they had when these models lived in ``labeling`` (``db_table``): the
move to this app changed no stored row (see ``crowds/migrations/0001_initial.py``).
"""

from __future__ import annotations

import secrets
from functools import partial

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.models import TimeStampedModel

# MTurk's commission rises from 20% to 40% for HITs with 10 or more assignments (docs/crowds.md):
# no HIT we create ever asks for more than this many.
MTURK_MAX_ASSIGNMENTS_PER_HIT = 9


# A panel link's secret. A partial of the standard library (not a function of ours) so that
# migrations can name it without importing application code.
PANEL_TOKEN_DEFAULT = partial(secrets.token_urlsafe, 16)


class CrowdPublication(TimeStampedModel):
    """One "publish" action of an admin: an MTurk HIT type and the HITs created under it."""

    class Status(models.TextChoices):
        OPEN = "open", "open"
        CLOSED = "closed", "closed"

    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="crowd_publications"
    )
    backend = models.CharField(max_length=8, default="mturk")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    sandbox = models.BooleanField(default=True)
    endpoint_url = models.CharField(max_length=300, blank=True)
    hit_type_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=128)
    description = models.CharField(max_length=2000)
    keywords = models.CharField(max_length=1000, blank=True)
    reward_cents = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    bonus_cents = models.PositiveIntegerField(
        default=0, help_text="Bonus per approved assignment whose gold answers were all right."
    )
    assignments_per_hit = models.PositiveSmallIntegerField(
        default=MTURK_MAX_ASSIGNMENTS_PER_HIT,
        validators=[MinValueValidator(1), MaxValueValidator(MTURK_MAX_ASSIGNMENTS_PER_HIT)],
    )
    lifetime_seconds = models.PositiveIntegerField(default=7 * 24 * 3600)
    committed_cents = models.PositiveIntegerField(
        default=0, help_text="Most this publication can cost: counted against the budget."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "labeling_crowdpublication"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignments_per_hit__lte=MTURK_MAX_ASSIGNMENTS_PER_HIT),
                name="crowd_publication_under_fee_step",
            ),
        ]
        indexes = [
            # The periodic sync: "which publications are still open?"
            models.Index(fields=["backend"], condition=Q(status="open"), name="crowd_pub_open"),
        ]

    def __str__(self) -> str:
        return f"{self.backend} publication {self.pk} ({self.status})"


class CrowdHIT(TimeStampedModel):
    """One HIT created on MTurk: slots for ``max_assignments`` workers, planned for one synset."""

    class Status(models.TextChoices):
        OPEN = "open", "open"
        EXPIRED = "expired", "expired"

    publication = models.ForeignKey(CrowdPublication, on_delete=models.CASCADE, related_name="hits")
    project = models.ForeignKey("labeling.Project", on_delete=models.CASCADE, related_name="+")
    synset = models.ForeignKey(
        "synsets.Synset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hit_id = models.CharField(max_length=64, unique=True)
    max_assignments = models.PositiveSmallIntegerField()
    reward_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField(null=True, blank=True)
    assignments_submitted = models.PositiveSmallIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "labeling_crowdhit"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_assignments__gte=1)
                & Q(max_assignments__lte=MTURK_MAX_ASSIGNMENTS_PER_HIT),
                name="crowd_hit_under_fee_step",
            ),
        ]

    def __str__(self) -> str:
        return self.hit_id


class PanelConfig(TimeStampedModel):
    """A project's link-based panel (Prolific-style): participants arrive with their id in the URL
    and leave with a completion code."""

    project = models.OneToOneField(
        "labeling.Project", on_delete=models.CASCADE, related_name="panel"
    )
    token = models.CharField(max_length=40, unique=True, default=PANEL_TOKEN_DEFAULT)
    active = models.BooleanField(default=True)
    participant_param = models.CharField(max_length=40, default="PROLIFIC_PID")
    extra_params = models.JSONField(
        default=list, blank=True, help_text="Other URL parameters kept per participant."
    )
    hits_per_participant = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    reward_cents_per_hit = models.PositiveIntegerField(default=5)
    fee_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="The panel's service fee on rewards, for cost accounting and the budget.",
    )
    completion_code = models.CharField(max_length=64)
    completion_url = models.URLField(max_length=500, blank=True)

    class Meta:
        db_table = "labeling_panelconfig"
        ordering = ["project_id"]

    def __str__(self) -> str:
        return f"panel of {self.project_id}"


class PanelParticipant(TimeStampedModel):
    """One panel participant, with the worker account created for them (no password)."""

    panel = models.ForeignKey(PanelConfig, on_delete=models.CASCADE, related_name="participants")
    external_id = models.CharField(max_length=128)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="panel_participant"
    )
    params = models.JSONField(default=dict, blank=True)
    hits_submitted = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "labeling_panelparticipant"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["panel", "external_id"], name="panel_participant_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.panel_id}:{self.external_id}"


class CrowdAssignment(TimeStampedModel):
    """The platform side of one of our assignments: who the platform says did it, and where its
    confirmation and payment stand."""

    class Backend(models.TextChoices):
        MTURK = "mturk", "Mechanical Turk"
        PANEL = "panel", "panel"

    class State(models.TextChoices):
        ACCEPTED = "accepted", "accepted (working)"
        SUBMITTED = "submitted", "submitted, votes pending"
        CONFIRMED = "confirmed", "confirmed by the platform"
        MISMATCH = "mismatch", "platform record differs: votes excluded"
        UNCONFIRMED = "unconfirmed", "never confirmed: votes excluded"

    class Payment(models.TextChoices):
        NONE = "none", "not decided"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"

    backend = models.CharField(max_length=8, choices=Backend.choices)
    assignment = models.OneToOneField(
        "labeling.Assignment", on_delete=models.CASCADE, related_name="crowd"
    )
    hit = models.ForeignKey(
        CrowdHIT, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    participant = models.ForeignKey(
        PanelParticipant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="crowd_assignments",
    )
    external_assignment_id = models.CharField(max_length=64, blank=True)
    external_worker_id = models.CharField(max_length=64, blank=True)
    submit_origin = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACCEPTED)
    payment = models.CharField(max_length=8, choices=Payment.choices, default=Payment.NONE)
    answer_digest = models.CharField(max_length=64, blank=True)
    gold_correct = models.PositiveSmallIntegerField(default=0)
    gold_total = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    feedback = models.CharField(max_length=1024, blank=True)

    class Meta:
        db_table = "labeling_crowdassignment"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "external_assignment_id"],
                condition=~Q(external_assignment_id=""),
                name="crowd_assignment_external_once",
            ),
        ]
        indexes = [
            # The sync's stale sweep: submitted assignments still waiting for confirmation.
            models.Index(
                fields=["submitted_at"], condition=Q(state="submitted"), name="crowd_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend}:{self.external_assignment_id or self.assignment_id}"


class CrowdPayment(TimeStampedModel):
    """Money owed or sent for one assignment: its reward or a bonus, with the platform's fee.

    ``token`` is unique and doubles as MTurk's ``UniqueRequestToken`` for bonuses, so a retried
    sync never pays twice.
    """

    class Kind(models.TextChoices):
        REWARD = "reward", "reward"
        BONUS = "bonus", "bonus"

    class Status(models.TextChoices):
        PENDING = "pending", "pending (to send)"
        SENT = "sent", "sent"
        PAYABLE = "payable", "payable (panel upload)"
        SKIPPED = "skipped", "skipped (budget)"

    crowd_assignment = models.ForeignKey(
        CrowdAssignment, on_delete=models.CASCADE, related_name="payments"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    amount_cents = models.PositiveIntegerField()
    fee_cents = models.PositiveIntegerField(default=0)
    token = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "labeling_crowdpayment"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents}¢ ({self.status})"
