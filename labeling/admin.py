"""Admin pages for labeling: projects with their synsets, items, assignments, votes and workers
(block/unblock actions go through labeling.quality services)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .models import (
    Assignment,
    AssignmentItem,
    GoldReview,
    Item,
    Project,
    ProjectSynset,
    Vote,
    WorkerProfile,
)
from .quality import gold_mark, worker_block, worker_unblock


class ProjectSynsetInline(admin.TabularInline):
    model = ProjectSynset
    extra = 0
    raw_id_fields = ["synset"]
    fields = ["synset", "accepted_count", "rejected_count", "undecided_count", "difficulty",
              "needs_recompute", "recomputed_at"]  # fmt: skip
    readonly_fields = ["accepted_count", "rejected_count", "undecided_count", "difficulty",
                       "needs_recompute", "recomputed_at"]  # fmt: skip


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "images_per_hit", "gold_per_hit", "consensus_method"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["owners"]
    inlines = [ProjectSynsetInline]
    search_fields = ["name", "slug"]


@admin.register(GoldReview)
class GoldReviewAdmin(admin.ModelAdmin):
    """Read-only record of gold decisions (made on the project's gold page or the API)."""

    list_display = ["item", "project", "decision", "proposed_label", "reviewer", "created_at"]
    list_filter = ["decision", "project"]
    raw_id_fields = ["item", "project", "reviewer"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "id", "project", "synset", "state", "is_seed", "is_gold", "gold_label",
        "yes_votes", "no_votes", "votes_needed", "active_leases", "posterior",
    ]  # fmt: skip
    list_filter = ["state", "is_seed", "is_gold", "project"]
    raw_id_fields = ["synset", "candidate"]
    search_fields = ["synset__wnid"]
    list_select_related = ["project", "synset"]
    actions = ["mark_gold_positive", "mark_gold_negative"]

    @admin.action(description="Mark as gold: shows the synset")
    def mark_gold_positive(self, request, queryset):
        for item in queryset:
            gold_mark(item=item, label=True)

    @admin.action(description="Mark as gold: does not show the synset")
    def mark_gold_negative(self, request, queryset):
        for item in queryset:
            gold_mark(item=item, label=False)


class AssignmentItemInline(admin.TabularInline):
    model = AssignmentItem
    extra = 0
    raw_id_fields = ["item"]
    can_delete = False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "worker", "synset", "status", "lease_expires_at",
                    "submitted_at", "duration_ms", "reward_cents"]  # fmt: skip
    list_filter = ["status", "project"]
    raw_id_fields = ["worker", "synset"]
    list_select_related = ["project", "worker"]
    inlines = [AssignmentItemInline]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "worker", "label", "status", "created_at"]
    list_filter = ["status", "label"]
    raw_id_fields = ["item", "worker", "assignment"]
    list_select_related = ["worker"]


@admin.register(WorkerProfile)
class WorkerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "blocked", "gold_correct", "gold_total", "accuracy", "blocked_reason"]
    list_filter = ["blocked"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]
    actions = ["block", "unblock"]

    @admin.display(description="gold accuracy (smoothed)")
    def accuracy(self, profile: WorkerProfile) -> str:
        return f"{profile.gold_accuracy:.2f}"

    @admin.action(description="Block: exclude their votes and return their images to the pool")
    def block(self, request, queryset):
        excluded = sum(
            worker_block(worker=p.user, reason=f"blocked by {request.user.get_username()}")
            for p in queryset.select_related("user")
        )
        self.message_user(request, f"{excluded} votes excluded.", messages.SUCCESS)

    @admin.action(description="Unblock (excluded votes stay excluded)")
    def unblock(self, request, queryset):
        for profile in queryset.select_related("user"):
            worker_unblock(worker=profile.user)


# --- users: staff cannot escalate to superuser (CVAT's, docs/architecture.md §6) --

User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class SafeUserAdmin(UserAdmin):
    """Django's UserAdmin lets any staff member with ``change_user`` tick ``is_superuser`` or
    grant themselves every permission. Only superusers may change superuser status, permissions
    and groups (groups carry permissions), or touch a superuser's account at all."""

    PRIVILEGE_FIELDS = ("is_superuser", "user_permissions", "groups")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in self.PRIVILEGE_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)
