"""Admin forms of the crowd page: backend and budget, MTurk publishing, the panel link."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from labeling.models import Project

from .models import MTURK_MAX_ASSIGNMENTS_PER_HIT


class CrowdSettingsForm(forms.Form):
    crowd_backend = forms.ChoiceField(choices=Project.CrowdBackend.choices)
    budget_dollars = forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=10, decimal_places=2,
        help_text="Spending cap for paid crowds (rewards + fees + bonuses). Empty: none.",
    )  # fmt: skip

    def budget_cents(self) -> int | None:
        value = self.cleaned_data.get("budget_dollars")
        return None if value is None else int(value * 100)


class MTurkPublishForm(forms.Form):
    reward_cents = forms.IntegerField(min_value=1, max_value=10_000, initial=5)
    bonus_cents = forms.IntegerField(min_value=0, max_value=10_000, initial=0, required=False)
    assignments_per_hit = forms.IntegerField(
        min_value=1, max_value=MTURK_MAX_ASSIGNMENTS_PER_HIT, initial=MTURK_MAX_ASSIGNMENTS_PER_HIT
    )
    max_hits = forms.IntegerField(min_value=1, max_value=10_000, required=False)
    title = forms.CharField(max_length=128, required=False)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea)
    keywords = forms.CharField(max_length=1000, initial="image, labeling, categorization")


class PanelForm(forms.Form):
    participant_param = forms.CharField(max_length=40, initial="PROLIFIC_PID")
    extra_params = forms.CharField(
        max_length=200, required=False, initial="STUDY_ID, SESSION_ID",
        help_text="Other URL parameters to keep per participant, comma-separated.",
    )  # fmt: skip
    hits_per_participant = forms.IntegerField(min_value=1, max_value=500, initial=5)
    reward_cents_per_hit = forms.IntegerField(min_value=0, max_value=10_000, initial=5)
    fee_percent = forms.IntegerField(min_value=0, max_value=100, initial=0)
    completion_code = forms.CharField(max_length=64)
    completion_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    def extra_param_list(self) -> list[str]:
        raw = self.cleaned_data.get("extra_params") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]
