"""Labeling projects, the images (items) to verify, HIT assignments with leases, votes and worker
quality records (Deng et al. 2009 §3.2)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from candidates.models import Candidate
from config.models import TimeStampedModel
from synsets.models import Synset

# Deng et al. 2009 §3.2: the seed set collects "at least 10 votes" per image.
MIN_SEED_VOTES = 10
# Toloka-style skill smoothing of a worker's gold record: q = (K + correct) / (2K + total), K = 0.5.
# A new worker starts at 0.5, and one lucky or unlucky answer does not decide a block.
GOLD_SMOOTHING_K = 0.5


def gold_accuracy_smoothed(*, correct: int, total: int, k: float = GOLD_SMOOTHING_K) -> float:
    return (k + correct) / (2 * k + total)


class Project(TimeStampedModel):
    """A verification campaign over a set of synsets, with its HIT and consensus settings."""

    class ConsensusMethod(models.TextChoices):
        IMAGENET_TABLE = "imagenet_table", "ImageNet confidence table (Deng et al. 2009)"
        WORKER_EM = "worker_em", "worker reliability EM (Dawid–Skene)"

    class CrowdBackend(models.TextChoices):
        BUILTIN = "builtin", "built-in crowd"
        MTURK = "mturk", "Amazon Mechanical Turk"
        PANEL = "panel", "link-based panel (Prolific-style)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="owned_labeling_projects",
        help_text="Admins of this project (may edit it).",
    )
    active = models.BooleanField(default=True)
    # Who of the built-in crowd may label: off, only annotators invited to this project (a
    # ProjectMember row); on, every account of the ``annotators`` group. Panel participants and
    # MTurk workers never label here: they work through their own crowd's flow.
    open_to_all_annotators = models.BooleanField(
        default=False,
        help_text="Every annotator may label this project (otherwise only invited ones).",
    )
    # HIT shape.
    images_per_hit = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    gold_per_hit = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(50)])
    # Consensus.
    target_per_synset = models.PositiveIntegerField(default=1000)
    # ImageNet labelled leaves and internal nodes alike, each on images of its own (a "dog"
    # image that shows no particular breed); off, internal synsets only group their subtree.
    label_internal = models.BooleanField(
        default=True,
        help_text="Label internal synsets on images of their own, as ImageNet did; "
        "off: only the leaves of the project are labelled.",
    )
    seed_size = models.PositiveIntegerField(
        default=50, help_text="Images per synset in the seed set."
    )
    seed_votes = models.PositiveSmallIntegerField(
        default=MIN_SEED_VOTES, validators=[MinValueValidator(MIN_SEED_VOTES)]
    )
    min_votes = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Votes first asked for a non-seed image; consensus asks for more if needed.",
    )
    max_votes = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    consensus_method = models.CharField(
        max_length=16, choices=ConsensusMethod.choices, default=ConsensusMethod.WORKER_EM
    )
    accept_threshold = models.FloatField(
        default=0.95, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)]
    )
    reject_threshold = models.FloatField(
        default=0.95, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)]
    )
    # Leases and pay.
    lease_seconds = models.PositiveIntegerField(default=600, validators=[MinValueValidator(30)])
    reward_cents_per_hit = models.PositiveIntegerField(default=5)
    # Crowds (crowds/, docs/crowds.md): where HITs are published, and the spending cap
    # that publishing to a paid crowd never exceeds (rewards + platform fees + bonuses).
    crowd_backend = models.CharField(
        max_length=8,
        choices=CrowdBackend.choices,
        default=CrowdBackend.BUILTIN,
    )
    budget_cents = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Spending cap for paid crowds; unset: nothing is published.",
    )
    # Quality control.
    gold_min_answers = models.PositiveSmallIntegerField(default=5)
    gold_block_below = models.FloatField(
        default=0.6, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(seed_votes__gte=MIN_SEED_VOTES), name="project_seed_votes_min"
            ),
            models.CheckConstraint(
                condition=Q(max_votes__gte=F("min_votes")), name="project_max_votes_ge_min"
            ),
            models.CheckConstraint(condition=Q(images_per_hit__gte=1), name="project_hit_size"),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectMember(models.Model):
    """A built-in annotator admitted to a project (through an invite link or by an owner)."""

    class Source(models.TextChoices):
        INVITE = "invite", "invite link"
        OWNER = "owner", "added by an owner"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeling_memberships"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.INVITE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.project_id}"


class ProjectSynset(TimeStampedModel):
    """A synset of a project with its consensus summary (written by the recompute task)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="project_synsets")
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+")
    accepted_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    undecided_count = models.PositiveIntegerField(default=0)
    difficulty = models.FloatField(null=True, blank=True)
    confidence_table = models.JSONField(default=dict, blank=True)
    # What the calibrated consensus stood on at its last recompute: reference (seed) images,
    # gold images, the model chosen. Empty for the ImageNet table method.
    calibration = models.JSONField(default=dict, blank=True)
    needs_recompute = models.BooleanField(default=False)
    recomputed_at = models.DateTimeField(null=True, blank=True)
    # How long the last recompute took: the next one waits in proportion (consensus.tasks).
    recompute_seconds = models.FloatField(null=True, blank=True)
    # When the pending recompute's task was sent (null: none was, the broker refused it); the
    # periodic sweep takes over flags whose task is overdue or was never sent.
    recompute_queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "synset_id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "synset"], name="project_synset_unique"),
        ]
        indexes = [
            # The periodic sweep: "which synsets still wait for a consensus recompute?"
            models.Index(
                fields=["project"],
                condition=Q(needs_recompute=True),
                name="project_synset_needs_recompute",
            ),
            # The scheduler: a project's synsets, fewest accepted images first.
            models.Index(
                fields=["project", "accepted_count", "synset"],
                name="project_synset_by_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.synset_id}"


class Item(TimeStampedModel):
    """One candidate image to verify in one project; carries the scheduler's counters."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        UNDECIDED = "undecided", "undecided (vote cap reached)"

    # No single-column indexes of their own (Django's default for a foreign key, with a
    # pattern-ops twin for a text key): "item_candidate_once" leads with the candidate (a
    # candidate's images, and the cascade when a candidate is deleted) and "item_by_synset"
    # with the project. Every write that moves an image's counters or state (each lease, vote
    # and recompute) changes a column of the open-work index, so PostgreSQL cannot keep the new
    # row version on its page and inserts it into every full index of the row: each index
    # fewer is paid on every image of every HIT.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+", db_index=False)
    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="labeling_items", db_index=False
    )
    is_seed = models.BooleanField(default=False)
    is_gold = models.BooleanField(default=False)
    gold_label = models.BooleanField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    votes_needed = models.PositiveSmallIntegerField(
        default=0, help_text="More votes to ask for now (the consensus wiring updates it)."
    )
    active_leases = models.PositiveSmallIntegerField(default=0)
    yes_votes = models.PositiveSmallIntegerField(default=0)
    no_votes = models.PositiveSmallIntegerField(default=0)
    posterior = models.FloatField(null=True, blank=True, help_text="P(image shows the synset).")

    class Meta:
        ordering = ["project_id", "synset_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "project"], name="item_candidate_once"),
            models.CheckConstraint(
                condition=Q(is_gold=False) | Q(gold_label__isnull=False),
                name="item_gold_has_label",
            ),
            models.CheckConstraint(
                condition=Q(posterior__isnull=True) | Q(posterior__gte=0, posterior__lte=1),
                name="item_posterior_probability",
            ),
        ]
        indexes = [
            # The scheduler's open work: per synset, the images that can take one more lease,
            # in the order they are handed out (seed images first, then those closest to a
            # decision). Partial: an image enters when it needs more votes than are leased out
            # and leaves when its last needed vote is leased or it is decided, so the index
            # holds only open work and a HIT reads O(HIT size) entries whatever the project's
            # size. PostgreSQL maintains it on every write that changes these columns.
            models.Index(
                F("project"),
                F("synset"),
                F("is_seed").desc(),
                (F("yes_votes") + F("no_votes")).desc(),
                F("id"),
                condition=Q(state="pending", is_gold=False, votes_needed__gt=F("active_leases")),
                name="item_open_work",
            ),
            # Gold images mixed into a synset's HITs.
            models.Index(
                fields=["project", "synset"], condition=Q(is_gold=True), name="item_gold_by_synset"
            ),
            # A project's synset: the consensus recompute, the gold and audit pages.
            models.Index(fields=["project", "synset"], name="item_by_synset"),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.synset_id}, {self.state})"


class WorkerProfile(TimeStampedModel):
    """A worker's gold record, flags and block status (one per user, created on first HIT)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="worker_profile"
    )
    blocked = models.BooleanField(default=False)
    blocked_reason = models.CharField(max_length=255, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    gold_correct = models.PositiveIntegerField(default=0)
    gold_total = models.PositiveIntegerField(default=0)
    flags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gold_correct__lte=F("gold_total")), name="worker_gold_correct_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"worker {self.user_id}"

    @property
    def gold_accuracy(self) -> float:
        return gold_accuracy_smoothed(correct=self.gold_correct, total=self.gold_total)


class LeasedAssignment(TimeStampedModel):
    """Work given to one worker under a lease: leased until ``lease_expires_at``, then submitted
    (with its time, duration and reward) or expired. Every kind of assignment shares this life
    cycle (HITs here, box tasks in the box stage); each concrete model adds its project, worker,
    work rows and stored result, and declares its own constraints and indexes."""

    class Status(models.TextChoices):
        LEASED = "leased", "leased"
        SUBMITTED = "submitted", "submitted"
        EXPIRED = "expired", "expired"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LEASED)
    lease_expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    reward_cents = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class Assignment(LeasedAssignment):
    """One HIT given to one worker: a batch of items of one synset under a lease."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    # The worker's index is "assignment_by_worker_status"; the synset's is declared below,
    # without the pattern-ops twin Django adds to a text key (nothing matches synsets by
    # prefix here).
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="labeling_assignments",
        db_index=False,
    )
    synset = models.ForeignKey(Synset, on_delete=models.PROTECT, related_name="+", db_index=False)
    result = models.JSONField(
        null=True, blank=True, help_text="The submission's response, replayed on a re-post."
    )
    items = models.ManyToManyField(Item, through="AssignmentItem", related_name="assignments")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="submitted") | Q(submitted_at__isnull=False),
                name="assignment_submitted_has_time",
            ),
        ]
        indexes = [
            # leases_expire: leased assignments past their expiry.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="leased"),
                name="assignment_lease_expiry",
            ),
            # Worker stats and the "already shown to W" exclusion.
            models.Index(fields=["worker", "status"], name="assignment_by_worker_status"),
            models.Index(fields=["synset"], name="assignment_by_synset"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.worker_id}, {self.status})"


class AssignmentItem(models.Model):
    """An item's place in an assignment's grid; gold items are never revealed to the worker."""

    # Indexed by "assignment_item_once" (assignment first) and "assignment_item_seen" (item,
    # then worker): a HIT inserts 26 of these rows, and each index costs every insert.
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="assignment_items", db_index=False
    )
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="assignment_items", db_index=False
    )
    # The assignment's worker, copied here so that "was this image ever shown to W?" is one
    # index probe (item, worker) instead of a join over the worker's whole history.
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    is_gold = models.BooleanField(default=False)

    class Meta:
        ordering = ["assignment_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "item"], name="assignment_item_once"),
            models.UniqueConstraint(
                fields=["assignment", "position"], name="assignment_position_once"
            ),
        ]
        indexes = [
            # The scheduler's "never show W an image twice" (the HIT on screen, the prefetched
            # one, submitted and abandoned ones, gold included): W's seen set, probed per image
            # with both columns given. The item leads, so the same index serves every lookup
            # by image (an image's or a project's deletion) and no index of its own is needed
            # for that; what it no longer serves is a lookup by worker alone, which only
            # deleting a user account makes (a scan of this table, once per account).
            models.Index(fields=["item", "worker"], name="assignment_item_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment_id}#{self.position}: {self.item_id}"


class Vote(models.Model):
    """One worker's answer about one item: does the image show the synset?"""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "confirmed"
        PENDING = "pending", "pending (crowd platform has not confirmed)"
        EXCLUDED = "excluded", "excluded (worker blocked)"

    # Indexed by "vote_once_per_item_worker" (item first) and "vote_by_worker_status": a HIT
    # inserts 26 votes, and each index costs every insert.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="votes", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="labeling_votes",
        db_index=False,
    )
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="votes")
    label = models.BooleanField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "worker"], name="vote_once_per_item_worker"),
        ]
        indexes = [
            # Consensus input: the counted votes of a synset's items.
            models.Index(fields=["item"], condition=Q(status="confirmed"), name="vote_counted"),
            # Blocking: every vote of a worker.
            models.Index(fields=["worker", "status"], name="vote_by_worker_status"),
        ]

    def __str__(self) -> str:
        return f"vote {self.item_id} by {self.worker_id}: {self.label}"



class GoldReview(TimeStampedModel):
    """A staff decision about an image offered as gold: a seed image with a clear consensus
    (Deng et al. 2009 §3.2: seed images get at least 10 votes) or any candidate picked by hand.
    Skipped images are not offered again."""

    class Decision(models.TextChoices):
        GOLD_YES = "gold_yes", "gold: shows the synset"
        GOLD_NO = "gold_no", "gold: does not show the synset"
        SKIPPED = "skipped", "skipped (not gold)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_reviews")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="gold_review")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    proposed_label = models.BooleanField(
        null=True, blank=True, help_text="The seed consensus offered; empty when picked by hand."
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"gold review {self.item_id}: {self.decision}"
