from django.contrib import admin

from .models import Candidate, CollectionJob, SearchQuery


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


@admin.register(CollectionJob)
class CollectionJobAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "synsets_done", "stored", "duplicates", "rejected",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "source"]
    readonly_fields = ["seen", "stored", "duplicates", "rejected", "rejected_by_reason",
                       "synsets_done", "error", "started_at", "finished_at"]  # fmt: skip
