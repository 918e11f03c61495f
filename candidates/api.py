"""Candidates REST API: a synset's candidates and queries, collection jobs. Permission: admins
(staff) only — candidates include rejected downloads and provenance that annotators never need."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from synsets.models import Synset

from . import queries, selectors
from .collection import collection_job_cancel, collection_job_create
from .models import Candidate, CollectionJob, SearchQuery
from .sources.registry import SOURCE_NAMES


class CandidateOutputSerializer(serializers.ModelSerializer):
    thumbnail_url = serializers.SerializerMethodField()
    image_url_local = serializers.SerializerMethodField()

    class Meta:
        model = Candidate
        fields = [
            "id", "synset", "status", "reject_reason", "reject_detail", "duplicate_of",
            "cross_synset_duplicate_of", "source", "query", "rank", "image_url", "page_url",
            "title", "license", "attribution", "sha256", "width", "height", "format", "bytes",
            "thumbnail_url", "image_url_local", "created_at",
        ]  # fmt: skip

    def get_thumbnail_url(self, candidate) -> str | None:
        if not candidate.thumbnail:
            return None
        return reverse("candidates:thumbnail", args=[candidate.pk])

    def get_image_url_local(self, candidate) -> str | None:
        if not candidate.image:
            return None
        return reverse("candidates:image", args=[candidate.pk])


class SynsetCandidatesApi(generics.ListAPIView):
    """A synset's candidates, filterable by status. Permission: admins."""

    permission_classes = [IsAdminUser]
    serializer_class = CandidateOutputSerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[c for c, _ in Candidate.Status.choices])]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        wnid = self.kwargs["wnid"]
        get_object_or_404(Synset, wnid=wnid)
        status_filter = self.request.query_params.get("status") or None
        # Only allow-listed filters reach the ORM (no `__` lookups from the query string).
        if status_filter and status_filter not in Candidate.Status.values:
            raise serializers.ValidationError({"status": f"one of {Candidate.Status.values}"})
        return selectors.candidate_list(wnid=wnid, status=status_filter)


class SearchQuerySerializer(serializers.ModelSerializer):
    class Meta:
        model = SearchQuery
        fields = ["id", "synset", "text", "kind", "language", "enabled"]
        read_only_fields = ["id", "synset", "kind"]


class SynsetQueriesApi(APIView):
    """A synset's search queries (built on first access); POST adds one. Permission: admins."""

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SearchQueryInput"

        text = serializers.CharField(max_length=255)
        language = serializers.RegexField(r"^[a-z]{2,8}$", default="eng")

    @extend_schema(responses=SearchQuerySerializer(many=True))
    def get(self, request, wnid: str):
        synset = get_object_or_404(Synset, wnid=wnid)
        return Response(
            SearchQuerySerializer(queries.synset_queries_ensure(synset=synset), many=True).data
        )

    @extend_schema(request=InputSerializer, responses={201: SearchQuerySerializer})
    def post(self, request, wnid: str):
        synset = get_object_or_404(Synset, wnid=wnid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = queries.search_query_add(synset=synset, **data.validated_data)
        return Response(SearchQuerySerializer(query).data, status=status.HTTP_201_CREATED)


class SearchQueryDetailApi(APIView):
    """Enable or disable one query. Permission: admins."""

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SearchQueryEnabledInput"

        enabled = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses=SearchQuerySerializer)
    def patch(self, request, pk: int):
        get_object_or_404(SearchQuery, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = queries.search_query_set_enabled(query_id=pk, **data.validated_data)
        return Response(SearchQuerySerializer(query).data)


WEB_SOURCES = [name for name in SOURCE_NAMES if name in {"openverse", "wikimedia", "flickr"}]


class CollectionJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = CollectionJob
        fields = [
            "id", "source", "wnids", "limit_per_synset", "status", "seen", "stored",
            "duplicates", "already_seen", "rejected", "rejected_by_reason", "source_report",
            "synsets_done", "progress", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class CollectionJobListApi(APIView):
    """List jobs, or start one for some synsets with a server-side source. Permission: admins.

    Only the web search APIs can be started from here: folder, URL-list and S3 sources take
    server paths or credentials and are CLI-only, so a web admin cannot read the server's disk.
    """

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CollectionJobInput"

        wnids = serializers.ListField(
            child=serializers.RegexField(r"^n\d{8}$"), min_length=1, max_length=5000
        )
        source = serializers.ChoiceField(choices=WEB_SOURCES)
        limit_per_synset = serializers.IntegerField(min_value=1, required=False)

    @extend_schema(responses=CollectionJobSerializer(many=True))
    def get(self, request):
        jobs = selectors.collection_job_list()[:100]
        return Response(CollectionJobSerializer(jobs, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CollectionJobSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = collection_job_create(created_by=request.user, **data.validated_data)
        except ValueError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return Response(CollectionJobSerializer(job).data, status=status.HTTP_201_CREATED)


class CollectionJobDetailApi(generics.RetrieveAPIView):
    """One job's progress. Permission: admins."""

    permission_classes = [IsAdminUser]
    serializer_class = CollectionJobSerializer
    queryset = CollectionJob.objects.all()


class CollectionJobCancelApi(APIView):
    """Cancel a job (it stops after its current batch). Permission: admins."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=CollectionJobSerializer)
    def post(self, request, pk: int):
        get_object_or_404(CollectionJob, pk=pk)
        return Response(CollectionJobSerializer(collection_job_cancel(job_id=pk)).data)
