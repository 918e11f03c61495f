"""REST API for a script that drives a project end to end: preview a synset selection, add
synsets, start a collection job, and set up gold (proposals, review, by hand). Scripts
authenticate with a per-user token (``Authorization: Token <key>``; /account/tokens/).
Permission: staff read; the project's owners and superusers change."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from candidates.api import CollectionJobSerializer

from .collect import SOURCES, CollectionInputError, project_collection_start
from .gold import (
    gold_add,
    gold_batch,
    gold_proposals,
    gold_review_submit,
    gold_summary,
)
from .models import Item, Project
from .permissions import IsStaff
from .projects import project_add_synsets, project_can_edit
from .selection import PRESET_NAMES, selection_resolve


def _api_error(error: DjangoValidationError) -> ApiValidationError:
    detail = error.message_dict if hasattr(error, "error_dict") else error.messages
    return ApiValidationError(detail)


def _editable(request, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug)
    if not project_can_edit(project=project, user=request.user):
        raise PermissionDenied("only the project's owners may change it")
    return project


class SelectionInputSerializer(serializers.Serializer):
    """One way of selecting synsets: ``synsets`` (wnids or lemmas in any language), ``preset``
    (one of the 12 ImageNet 2009 subtrees) or ``wnid_list``; subtrees are included by default,
    except for a wnid list."""

    class Meta:
        ref_name = "SynsetSelectionInput"

    synsets = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=100
    )
    preset = serializers.ChoiceField(
        choices=PRESET_NAMES, required=False, allow_blank=True, default=""
    )
    wnid_list = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, default=list, max_length=5000
    )
    include_subtrees = serializers.BooleanField(required=False, allow_null=True, default=None)


class SelectionOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SynsetSelection"

    class RootSerializer(serializers.Serializer):
        spec = serializers.CharField()
        wnid = serializers.CharField()
        name = serializers.CharField()
        matched = serializers.CharField()
        other_senses = serializers.ListField(child=serializers.DictField())

    roots = RootSerializer(many=True)
    synsets = serializers.IntegerField()
    leaves = serializers.IntegerField()
    internal = serializers.IntegerField()
    depth_min = serializers.IntegerField()
    depth_max = serializers.IntegerField()
    synsets_with_candidates = serializers.IntegerField()
    stored_candidates = serializers.IntegerField()
    suggested_target_per_synset = serializers.IntegerField()
    wnids = serializers.ListField(child=serializers.CharField())


class ProjectPreviewApi(APIView):
    """What a selection covers before a project is created: synsets, leaves, depth range,
    candidates already stored, a suggested target per synset. Permission: staff."""

    permission_classes = [IsStaff]

    @extend_schema(request=SelectionInputSerializer, responses={200: SelectionOutputSerializer})
    def post(self, request):
        data = SelectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            selection = selection_resolve(**data.validated_data)
        except DjangoValidationError as error:
            raise _api_error(error) from None
        return Response(SelectionOutputSerializer(selection.as_dict()).data)


class ProjectSynsetsApi(APIView):
    """Add synsets to a project (one way of selecting, as for creation); their stored
    candidates become items at once. Permission: the project's owners."""

    permission_classes = [IsStaff]

    @extend_schema(
        request=SelectionInputSerializer,
        responses={200: inline_serializer("ProjectSynsetsAdded", {
            "added": serializers.IntegerField(), "synsets": serializers.IntegerField(),
            "items": serializers.IntegerField()})},
    )  # fmt: skip
    def post(self, request, slug: str):
        project = _editable(request, slug)
        data = SelectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            added = project_add_synsets(
                project=project, selection=selection_resolve(**data.validated_data)
            )
        except DjangoValidationError as error:
            raise _api_error(error) from None
        return Response(
            {
                "added": added,
                "synsets": project.project_synsets.count(),
                "items": Item.objects.filter(project=project).count(),
            }
        )


class ProjectCollectApi(APIView):
    """Start a collection job for the project, or for some of its synsets (an internal synset
    covers its subtree). Sources: ``openverse``, ``wikimedia``, ``flickr`` (needs the server's
    key), ``urls`` (multipart upload ``url_list``: CSV/TXT, with or without a wnid column),
    ``s3`` (``s3_bucket``, ``s3_prefix``, optional ``s3_endpoint_url``/``s3_region``;
    credentials are the server's) and ``folder`` (a path under CANDIDATES_FOLDER_ROOTS).
    Progress: ``GET /api/collection-jobs/<id>/``. Permission: the project's owners."""

    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectCollectInput"

        source = serializers.ChoiceField(choices=SOURCES)
        wnids = serializers.ListField(
            child=serializers.RegexField(r"^n\d{8}$"), required=False, default=list,
            max_length=5000,
        )  # fmt: skip
        limit_per_synset = serializers.IntegerField(min_value=1, required=False)
        # Empty files reach the service, which says so in its own words.
        url_list = serializers.FileField(required=False, allow_empty_file=True)
        folder = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        s3_bucket = serializers.CharField(required=False, allow_blank=True, max_length=63)
        s3_prefix = serializers.CharField(required=False, allow_blank=True, max_length=1024)
        s3_endpoint_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
        s3_region = serializers.CharField(required=False, allow_blank=True, max_length=40)

    @extend_schema(
        request={"multipart/form-data": InputSerializer, "application/json": InputSerializer},
        responses={201: CollectionJobSerializer},
    )
    def post(self, request, slug: str):
        project = _editable(request, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            job = project_collection_start(
                project=project,
                source=values["source"],
                wnids=values["wnids"],
                limit_per_synset=values.get("limit_per_synset"),
                url_list=values.get("url_list"),
                folder=values.get("folder", ""),
                s3={key.removeprefix("s3_"): values.get(key, "")
                    for key in ("s3_bucket", "s3_prefix", "s3_endpoint_url", "s3_region")},
                created_by=request.user,
            )  # fmt: skip
        except CollectionInputError as error:
            raise ApiValidationError({"detail": str(error)}) from None
        return Response(CollectionJobSerializer(job).data, status=status.HTTP_201_CREATED)


class GoldItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        ref_name = "GoldItem"
        fields = ["id", "synset", "candidate", "gold_label", "is_seed", "yes_votes", "no_votes"]


class GoldSummarySerializer(serializers.Serializer):
    class Meta:
        ref_name = "GoldSummary"

    gold = serializers.IntegerField()
    gold_yes = serializers.IntegerField()
    gold_no = serializers.IntegerField()
    synsets = serializers.IntegerField(help_text="synsets with at least one gold image")
    proposals = serializers.IntegerField(help_text="seed images waiting for review")
    synsets_labelled = serializers.IntegerField()
    agreement_only = serializers.BooleanField(
        help_text="no gold: quality control rests on agreement between workers alone"
    )


class ProjectGoldApi(APIView):
    """GET: the project's gold summary and gold images (up to 1000). POST: make a stored
    candidate of the project gold with a known answer. Permission: staff read; owners add."""

    permission_classes = [IsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GoldAddInput"

        candidate = serializers.IntegerField(min_value=1)
        label = serializers.BooleanField(help_text="true: shows the synset; false: does not")

    @extend_schema(
        responses={200: inline_serializer("ProjectGold", {
            "summary": GoldSummarySerializer(), "gold": GoldItemSerializer(many=True)})}
    )  # fmt: skip
    def get(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        gold = Item.objects.filter(project=project, is_gold=True).order_by("synset_id", "pk")
        return Response(
            {
                "summary": GoldSummarySerializer(gold_summary(project=project)).data,
                "gold": GoldItemSerializer(gold[:1000], many=True).data,
            }
        )

    @extend_schema(request=InputSerializer, responses={201: GoldItemSerializer})
    def post(self, request, slug: str):
        project = _editable(request, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            item = gold_add(
                project=project,
                candidate_id=data.validated_data["candidate"],
                label=data.validated_data["label"],
                reviewer=request.user,
            )
        except DjangoValidationError as error:
            raise _api_error(error) from None
        return Response(GoldItemSerializer(item).data, status=status.HTTP_201_CREATED)


class GoldProposalsApi(APIView):
    """Seed images whose ≥ 10 votes agree clearly (≥ 90%), offered as gold with the label they
    agree on (up to 1000). Permission: staff."""

    permission_classes = [IsStaff]

    class OutputSerializer(serializers.ModelSerializer):
        proposed = serializers.BooleanField()

        class Meta:
            model = Item
            ref_name = "GoldProposal"
            fields = ["id", "synset", "candidate", "yes_votes", "no_votes", "proposed"]

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        return Response(
            self.OutputSerializer(gold_proposals(project=project)[:1000], many=True).data
        )


class GoldBatchSerializer(serializers.Serializer):
    class Meta:
        ref_name = "GoldBatch"

    class ItemSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GoldBatchItem"

        id = serializers.IntegerField()
        thumbnail_url = serializers.CharField()
        image_url = serializers.CharField()
        yes_votes = serializers.IntegerField()
        no_votes = serializers.IntegerField()
        proposed = serializers.BooleanField(allow_null=True)

    mode = serializers.CharField()
    project = serializers.CharField()
    remaining = serializers.IntegerField()
    submit_url = serializers.CharField()
    synset = serializers.DictField()
    items = ItemSerializer(many=True)


class GoldNextApi(APIView):
    """The next grid to review, all of one synset: ``mode`` "proposals" (the seed set's clear
    consensus, label preset) or "items" (any other image of the project, to add gold by hand).
    204 when nothing is left. Permission: the project's owners."""

    permission_classes = [IsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GoldNextInput"

        mode = serializers.ChoiceField(choices=["proposals", "items"], default="proposals")
        synset = serializers.RegexField(r"^n\d{8}$", required=False)
        exclude = serializers.ListField(
            child=serializers.IntegerField(), required=False, default=list, max_length=2000
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: GoldBatchSerializer, 204: OpenApiResponse(description="Nothing left")},
    )
    def post(self, request, slug: str):
        project = _editable(request, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = gold_batch(
            project=project,
            mode=data.validated_data["mode"],
            synset_id=data.validated_data.get("synset"),
            exclude=data.validated_data["exclude"],
        )
        if batch is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(GoldBatchSerializer(batch).data)


class GoldReviewApi(APIView):
    """Record a reviewed grid: ``yes`` / ``no`` item ids become gold with that answer, ``skip``
    ids are not offered again. All or nothing. Permission: the project's owners."""

    permission_classes = [IsStaff]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GoldReviewInput"

        yes = serializers.ListField(child=serializers.IntegerField(), default=list, max_length=200)
        no = serializers.ListField(child=serializers.IntegerField(), default=list, max_length=200)
        skip = serializers.ListField(child=serializers.IntegerField(), default=list, max_length=200)

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("GoldReviewResult", {
            "gold_yes": serializers.IntegerField(), "gold_no": serializers.IntegerField(),
            "skipped": serializers.IntegerField()})},
    )  # fmt: skip
    def post(self, request, slug: str):
        project = _editable(request, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = gold_review_submit(project=project, reviewer=request.user,
                                        **data.validated_data)  # fmt: skip
        except DjangoValidationError as error:
            raise _api_error(error) from None
        return Response(result.as_dict())
