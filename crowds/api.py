"""Crowd API: a project's costs (staff)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crowds.costs import project_costs
from labeling.models import Project
from labeling.permissions import IsStaff


class ProjectCostsApi(APIView):
    """Rewards, platform fees and bonuses of a project: totals, per backend, per synset, per HIT
    and per accepted image (integer cents). Permission: staff."""

    permission_classes = [IsStaff]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectCosts"

        class SynsetSerializer(serializers.Serializer):
            class Meta:
                ref_name = "SynsetCost"

            wnid = serializers.CharField()
            name = serializers.CharField(help_text="The synset's first lemma.")
            hits = serializers.IntegerField()
            rewards_cents = serializers.IntegerField()
            fees_cents = serializers.IntegerField()
            bonuses_cents = serializers.IntegerField()
            total_cents = serializers.IntegerField()
            accepted_images = serializers.IntegerField()
            cents_per_accepted_image = serializers.FloatField(allow_null=True)

        project = serializers.CharField()
        crowd_backend = serializers.CharField()
        budget_cents = serializers.IntegerField(allow_null=True)
        committed_cents = serializers.IntegerField()
        hits = serializers.IntegerField()
        rewards_cents = serializers.IntegerField()
        fees_cents = serializers.IntegerField()
        bonuses_cents = serializers.IntegerField()
        total_cents = serializers.IntegerField()
        accepted_images = serializers.IntegerField()
        cents_per_hit = serializers.FloatField(allow_null=True)
        cents_per_accepted_image = serializers.FloatField(allow_null=True)
        by_backend = serializers.DictField(child=serializers.DictField())
        synsets = SynsetSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request, slug: str):
        project = get_object_or_404(Project, slug=slug)
        return Response(self.OutputSerializer(project_costs(project=project)).data)
