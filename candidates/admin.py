from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .models import Candidate, CollectionJob, SearchQuery
from .sources.base import ConfigurationError
from .sources.registry import job_config_validate


@admin.register(SearchQuery)
class SearchQueryAdmin(admin.ModelAdmin):
    list_display = ["synset", "text", "kind", "language", "enabled"]
    list_filter = ["kind", "language", "enabled"]
    search_fields = ["text", "=synset__wnid"]
    raw_id_fields = ["synset"]


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["id", "synset", "status", "reject_reason", "source", "query", "width",
                    "height", "created_at"]  # fmt: skip
    list_filter = ["status", "reject_reason", "source"]
    search_fields = ["=synset__wnid", "=sha256", "image_url"]
    raw_id_fields = ["synset", "job", "duplicate_of", "cross_synset_duplicate_of"]
    readonly_fields = ["sha256", "phash", "url_hash", "width", "height", "format", "bytes"]
    show_full_result_count = False


class CollectionJobAdminForm(forms.ModelForm):
    """A job added here is checked like one made through the service: ``source_config`` by the
    source's own schema (no loopback switch, no limits: those are settings)."""

    class Meta:
        model = CollectionJob
        fields = ["source", "source_config"]  # the admin adds the rest of its fields

    def clean(self):
        data = super().clean()
        if "source" in data and "source_config" in data:
            try:
                data["source_config"] = job_config_validate(data["source"], data["source_config"])
            except ConfigurationError as exc:
                raise ValidationError({"source_config": str(exc)}) from None
        return data


@admin.register(CollectionJob)
class CollectionJobAdmin(admin.ModelAdmin):
    form = CollectionJobAdminForm
    list_display = ["id", "source", "status", "synsets_done", "stored", "duplicates", "rejected",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "source"]
    readonly_fields = ["seen", "stored", "duplicates", "rejected", "rejected_by_reason",
                       "synsets_done", "error", "started_at", "finished_at"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        # Where a job reads from is fixed when it is created (through the service, which checks
        # source_config against the source's schema): editing a queued web job into a server
        # folder read, or its config into loopback access, is not an admin's edit to make.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["source", "source_config", "wnids", "created_by"]
        return fields
