from django.contrib import admin

from .models import Synset, SynsetLemma


class SynsetLemmaInline(admin.TabularInline):
    model = SynsetLemma
    extra = 0
    fields = ["language", "lemma", "position"]


@admin.register(Synset)
class SynsetAdmin(admin.ModelAdmin):
    list_display = ["wnid", "name", "lexname", "depth", "subtree_size"]
    list_filter = ["lexname"]
    search_fields = ["wnid", "=lemma_rows__lemma_folded"]
    readonly_fields = ["wnid", "lemmas", "gloss", "lexname", "depth", "max_depth", "subtree_size"]
    inlines = [SynsetLemmaInline]
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False

    # WordNet is imported, not edited by hand: every admin (staff) may browse it, nobody edits it.
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
