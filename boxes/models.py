"""Bounding boxes for accepted images, collected the way ImageNet's detection data was (Su, Deng
and Fei-Fei 2012): one worker draws one box per task, other workers verify the box's quality, and
others verify the image's coverage; the loop repeats until every instance is boxed.

An accepted labeling ``Item`` gets one ``BoxImage``; each ``BoxImage`` has at most one open
(non-gold) ``BoxTask`` at a time, which is what the scheduler hands out under a lease.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from config.models import TimeStampedModel
from labeling.models import Item, LeasedAssignment, Project
from synsets.models import Synset


class TaskKind(models.TextChoices):
    DRAW = "draw", "draw one box"
    QUALITY = "quality", "quality verification"
    COVERAGE = "coverage", "coverage verification"


class BoxProject(TimeStampedModel):
    """A project's box settings: the stopping rules of both verifications, caps and pay."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="box_settings")
    # A box narrower or lower than this (image pixels) is refused: a slip, not an instance.
    min_box_px = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    # Draw rounds per image before it is given up as "incomplete" (lazy or confused crowds).
    max_draw_rounds = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1)]
    )
    verify_per_grid = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    gold_per_grid = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(20)])
    quality_min_votes = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    quality_max_votes = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1)]
    )
    quality_threshold = models.FloatField(
        default=0.9, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)]
    )
    coverage_min_votes = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    coverage_max_votes = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1)]
    )
    coverage_threshold = models.FloatField(
        default=0.9, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)]
    )
    lease_seconds = models.PositiveIntegerField(default=600, validators=[MinValueValidator(30)])
    draw_reward_cents = models.PositiveIntegerField(default=3)
    quality_reward_cents = models.PositiveIntegerField(default=2, help_text="Per grid.")
    coverage_reward_cents = models.PositiveIntegerField(default=2, help_text="Per grid.")

    class Meta:
        ordering = ["project_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quality_max_votes__gte=F("quality_min_votes")),
                name="box_project_quality_votes",
            ),
            models.CheckConstraint(
                condition=Q(coverage_max_votes__gte=F("coverage_min_votes")),
                name="box_project_coverage_votes",
            ),
        ]

    def __str__(self) -> str:
        return f"box settings of {self.project_id}"

    def reward_cents(self, kind: str) -> int:
        return {
            TaskKind.DRAW: self.draw_reward_cents,
            TaskKind.QUALITY: self.quality_reward_cents,
            TaskKind.COVERAGE: self.coverage_reward_cents,
        }[TaskKind(kind)]


class BoxImage(TimeStampedModel):
    """An accepted image in the box loop; ``state`` says which task it waits for."""

    class State(models.TextChoices):
        DRAWING = "drawing", "waiting for a box"
        QUALITY = "quality", "box under quality verification"
        COVERAGE = "coverage", "under coverage verification"
        COVERED = "covered", "every instance boxed (verified)"
        INCOMPLETE = "incomplete", "given up (draw rounds exhausted)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="box_images")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="box_image")
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+")
    width = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    height = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAWING)
    draw_rounds = models.PositiveSmallIntegerField(default=0)
    # Gold images carry known boxes only (for gold quality tasks); they never enter the loop.
    is_gold = models.BooleanField(default=False)

    class Meta:
        ordering = ["project_id", "synset_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(width__gt=0, height__gt=0), name="box_image_size"),
        ]
        indexes = [
            models.Index(fields=["project", "synset", "state"], name="box_image_progress"),
        ]

    def __str__(self) -> str:
        return f"box image {self.pk} ({self.state})"


class Box(TimeStampedModel):
    """One axis-aligned box in image pixels: ``x, y`` is the top-left corner, ``w, h`` its size."""

    class State(models.TextChoices):
        PENDING = "pending", "waiting for quality verification"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"

    image = models.ForeignKey(BoxImage, on_delete=models.CASCADE, related_name="boxes")
    drawer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    x = models.PositiveIntegerField()
    y = models.PositiveIntegerField()
    w = models.PositiveIntegerField()
    h = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    posterior = models.FloatField(
        null=True, blank=True, help_text="P(box is tight on one instance)."
    )
    is_gold = models.BooleanField(default=False)

    class Meta:
        ordering = ["image_id", "id"]
        verbose_name_plural = "boxes"
        constraints = [
            models.CheckConstraint(condition=Q(w__gt=0, h__gt=0), name="box_not_empty"),
        ]
        indexes = [
            models.Index(fields=["image"], condition=Q(state="accepted"), name="box_accepted"),
        ]

    def __str__(self) -> str:
        return f"box {self.pk} [{self.x},{self.y},{self.w},{self.h}] {self.state}"


class BoxTask(TimeStampedModel):
    """One unit of box work: draw a box on an image, verify one box, or verify an image's
    coverage. Verification tasks collect votes until their consensus stops them."""

    class State(models.TextChoices):
        OPEN = "open", "open"
        DONE = "done", "done"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="box_tasks")
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+")
    image = models.ForeignKey(BoxImage, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=8, choices=TaskKind.choices)
    box = models.ForeignKey(
        Box, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    state = models.CharField(max_length=4, choices=State.choices, default=State.OPEN)
    answers_needed = models.PositiveSmallIntegerField(default=1)
    active_leases = models.PositiveSmallIntegerField(default=0)
    # Coverage: the accepted boxes the verifiers were shown (the question is about this set).
    boxes_shown = models.JSONField(default=list, blank=True)
    decision = models.CharField(max_length=16, blank=True)
    posterior = models.FloatField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_label = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="quality", box__isnull=False)
                | (~Q(kind="quality") & Q(box__isnull=True)),
                name="box_task_quality_has_box",
            ),
            models.CheckConstraint(
                condition=Q(is_gold=False)
                | Q(kind__in=["quality", "coverage"], gold_label__isnull=False),
                name="box_task_gold_is_labelled_verification",
            ),
            # The loop's invariant: an image waits for one task at a time.
            models.UniqueConstraint(
                fields=["image"],
                condition=Q(state="open", is_gold=False),
                name="box_task_one_open_per_image",
            ),
        ]
        indexes = [
            # The scheduler: open tasks of one kind in a project that still need answers.
            models.Index(
                fields=["project", "kind", "synset", "id"],
                condition=Q(state="open", is_gold=False, answers_needed__gt=0),
                name="box_task_scheduler_open",
            ),
            models.Index(
                fields=["project", "synset"], condition=Q(is_gold=True), name="box_task_gold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} task {self.pk} ({self.state})"


class BoxAssignment(LeasedAssignment):
    """Box work given to one worker under a lease: one draw task, or a grid of verifications."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="box_assignments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="box_assignments"
    )
    kind = models.CharField(max_length=8, choices=TaskKind.choices)
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+")
    result = models.JSONField(null=True, blank=True, help_text="Replayed on a re-post.")
    tasks = models.ManyToManyField(BoxTask, through="BoxAssignmentTask", related_name="assignments")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="submitted") | Q(submitted_at__isnull=False),
                name="box_assignment_submitted_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="leased"),
                name="box_assignment_lease_expiry",
            ),
            models.Index(fields=["worker", "kind", "status"], name="box_assignment_by_worker"),
        ]

    def __str__(self) -> str:
        return f"box assignment {self.pk} ({self.kind}, {self.status})"


class BoxAssignmentTask(models.Model):
    assignment = models.ForeignKey(
        BoxAssignment, on_delete=models.CASCADE, related_name="assignment_tasks"
    )
    task = models.ForeignKey(BoxTask, on_delete=models.CASCADE, related_name="assignment_tasks")
    position = models.PositiveSmallIntegerField()
    is_gold = models.BooleanField(default=False)

    class Meta:
        ordering = ["assignment_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "task"], name="box_assignment_task_once"),
            models.UniqueConstraint(
                fields=["assignment", "position"], name="box_assignment_position_once"
            ),
        ]
        indexes = [models.Index(fields=["task"], name="box_assignment_task_by_task")]

    def __str__(self) -> str:
        return f"{self.assignment_id}#{self.position}: {self.task_id}"


class BoxVote(models.Model):
    """A verification answer: quality ("tight around one whole instance?") or coverage ("every
    instance boxed?"). A drawer's "nothing left to box" is a coverage yes."""

    task = models.ForeignKey(BoxTask, on_delete=models.CASCADE, related_name="votes")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assignment = models.ForeignKey(BoxAssignment, on_delete=models.CASCADE, related_name="votes")
    label = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "worker"], name="box_vote_once_per_task_worker"
            ),
        ]

    def __str__(self) -> str:
        return f"box vote {self.task_id} by {self.worker_id}: {self.label}"


class BoxConsensusState(TimeStampedModel):
    """Per project, synset and verification kind: whether consensus must run again, and the
    last run's summary."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=TaskKind.choices)
    needs_recompute = models.BooleanField(default=False)
    recomputed_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["project_id", "synset_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "synset", "kind"], name="box_consensus_state_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.synset_id}:{self.kind}"


class BoxAuditReview(TimeStampedModel):
    """The box audit: a reviewer boxes every instance of a sampled covered image, without seeing
    the crowd's boxes; the crowd's accepted boxes are then scored by IoU against the reviewer's."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(BoxImage, on_delete=models.CASCADE, related_name="audit_reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    boxes = models.JSONField(
        default=list, blank=True, help_text="The reviewer's [x, y, w, h] boxes."
    )
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "reviewer"], name="box_audit_review_once"),
        ]

    def __str__(self) -> str:
        return f"audit of {self.image_id} by {self.reviewer_id}"
