"""Admin pages of the box stage: settings per project, images in the loop with their boxes and
tasks, assignments and votes (read-mostly: the loop's state changes go through its services)."""

from __future__ import annotations

from django.contrib import admin

from .models import Box, BoxAssignment, BoxImage, BoxProject, BoxTask, BoxVote


@admin.register(BoxProject)
class BoxProjectAdmin(admin.ModelAdmin):
    list_display = [
        "project", "quality_threshold", "coverage_threshold", "max_draw_rounds",
        "draw_reward_cents", "quality_reward_cents", "coverage_reward_cents",
    ]  # fmt: skip
    raw_id_fields = ["project"]


class BoxInline(admin.TabularInline):
    model = Box
    extra = 0
    fields = ["x", "y", "w", "h", "state", "posterior", "drawer", "is_gold"]
    readonly_fields = fields


@admin.register(BoxImage)
class BoxImageAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "synset", "state", "draw_rounds", "is_gold"]
    list_filter = ["state", "is_gold"]
    raw_id_fields = ["project", "item", "synset"]
    readonly_fields = ["state", "draw_rounds"]
    inlines = [BoxInline]


@admin.register(BoxTask)
class BoxTaskAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "image", "state", "answers_needed", "active_leases", "decision",
                    "posterior", "is_gold"]  # fmt: skip
    list_filter = ["kind", "state", "is_gold"]
    raw_id_fields = ["project", "synset", "image", "box"]


@admin.register(BoxAssignment)
class BoxAssignmentAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "worker", "kind", "status", "lease_expires_at", "reward_cents"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["project", "worker", "synset"]


@admin.register(BoxVote)
class BoxVoteAdmin(admin.ModelAdmin):
    list_display = ["pk", "task", "worker", "label", "created_at"]
    raw_id_fields = ["task", "worker", "assignment"]
