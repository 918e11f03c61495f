"""``{% gold_notice project %}``: what a project's quality control rests on, for dashboards — gold
answers when the project has some, agreement between workers alone when it has none."""

from __future__ import annotations

from django import template
from django.db.models import Count, Q

from labeling.models import Item, Project

register = template.Library()


@register.inclusion_tag("labeling/projects/_gold_notice.html")
def gold_notice(project: Project) -> dict:
    counts = Item.objects.filter(project=project, is_gold=True).aggregate(
        gold=Count("pk"), yes=Count("pk", filter=Q(gold_label=True))
    )
    return {"project": project, "gold": counts["gold"], "gold_yes": counts["yes"],
            "gold_no": counts["gold"] - counts["yes"]}  # fmt: skip
