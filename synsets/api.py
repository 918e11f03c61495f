"""REST API for browsing synsets; public read-only like the synset pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from . import selectors
from .models import Synset


class SynsetBriefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Synset
        fields = ["wnid", "name", "lemmas", "gloss", "depth", "subtree_size"]


class SynsetWithDistanceSerializer(SynsetBriefSerializer):
    distance = serializers.IntegerField(read_only=True)

    class Meta(SynsetBriefSerializer.Meta):
        fields = [*SynsetBriefSerializer.Meta.fields, "distance"]


class SynsetSearchResultSerializer(SynsetBriefSerializer):
    """A search hit with the lemma that matched, its language (``wnid`` when the wnid matched)
    and how (``exact`` or ``prefix``); all null when listing without a search."""

    matched_lemma = serializers.CharField(read_only=True, default=None, allow_null=True)
    matched_language = serializers.CharField(read_only=True, default=None, allow_null=True)
    match = serializers.SerializerMethodField()

    class Meta(SynsetBriefSerializer.Meta):
        fields = [*SynsetBriefSerializer.Meta.fields, "matched_lemma", "matched_language", "match"]

    def get_match(self, synset) -> str | None:
        rank = getattr(synset, "match_rank", None)
        return None if rank is None else ("exact" if rank == 0 else "prefix")


class SynsetListApi(generics.ListAPIView):
    """Search synsets by wnid or lemma prefix (any language), best matches first: exact lemma,
    then prefix, closer matches first. Permission: public."""

    permission_classes = [AllowAny]
    serializer_class = SynsetSearchResultSerializer

    @extend_schema(parameters=[OpenApiParameter("search", str, description="wnid or lemma prefix")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        search = self.request.query_params.get("search", "")
        if search:
            return selectors.synset_search(search[:200])
        return Synset.objects.order_by("wnid")


class SynsetDetailApi(generics.RetrieveAPIView):
    """One synset with its parents, children and depth. Permission: public."""

    class OutputSerializer(SynsetBriefSerializer):
        lexname = serializers.CharField()
        max_depth = serializers.IntegerField()
        parents = serializers.SerializerMethodField()
        children = serializers.SerializerMethodField()
        languages = serializers.SerializerMethodField()

        class Meta(SynsetBriefSerializer.Meta):
            fields = [
                *SynsetBriefSerializer.Meta.fields,
                "lexname", "max_depth", "parents", "children", "languages",
            ]  # fmt: skip

        def get_parents(self, synset) -> list[dict]:
            return SynsetBriefSerializer(selectors.synset_parents(synset.wnid), many=True).data

        def get_children(self, synset) -> list[dict]:
            return SynsetBriefSerializer(selectors.synset_children(synset.wnid), many=True).data

        def get_languages(self, synset) -> dict[str, list[str]]:
            languages: dict[str, list[str]] = {}
            for row in synset.lemma_rows.all():
                languages.setdefault(row.language, []).append(row.lemma)
            return languages

    permission_classes = [AllowAny]
    serializer_class = OutputSerializer
    lookup_field = "wnid"
    queryset = Synset.objects.prefetch_related("lemma_rows")


class _SynsetRelativesApi(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = SynsetWithDistanceSerializer

    def relatives(self, wnid: str):
        raise NotImplementedError

    def get_queryset(self):
        wnid = self.kwargs["wnid"]
        get_object_or_404(Synset, wnid=wnid)
        return self.relatives(wnid)


class SynsetAncestorsApi(_SynsetRelativesApi):
    """All ancestors of a synset, nearest first. Permission: public."""

    def relatives(self, wnid: str):
        return selectors.synset_ancestors(wnid)


class SynsetDescendantsApi(_SynsetRelativesApi):
    """All descendants of a synset (the subtree), nearest first, paginated. Permission: public."""

    def relatives(self, wnid: str):
        return selectors.synset_descendants(wnid)
